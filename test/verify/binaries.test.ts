/**
 * The script classifies kubelet and runc binaries by the same byte rules as the build's inspection
 * (src/inspect/evidence.ts, docs/domain.md, "Telling a nokmem binary from its bytes"), with grep/tr only: no `go` on nodes.
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { findEvidence } from "../../src/inspect/evidence.js";
import { fakeGoBinary, type FakeBinary } from "./helpers/binaries.js";
import { runJson, SHELLS } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-binaries-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const node = S.centos7Systemd(join(TMP, "node"));
const base = node.args.filter(
  (a, i, all) =>
    a !== "--kubelet" && a !== "--runtime" && all[i - 1] !== "--kubelet" && all[i - 1] !== "--runtime",
);

const cases: Record<string, FakeBinary> = {
  "kmem code, no build info (Go < 1.18)": { kmem: true },
  "kmem code, build info without tags": { kmem: true, tags: "" },
  "nokmem variant with tag": { nokmem: true, tags: "nokmem" },
  "nokmem tag among others": { nokmem: true, tags: "selinux,nokmem" },
  "no kmem code (runc >= rc94 era)": { tags: "seccomp" },
  "nothing at all": {},
};

describe("same verdict as the build's inspection", () => {
  test.each(Object.entries(cases))("%s", (name, spec) => {
    const p = join(TMP, name.replace(/\W+/g, "-"));
    writeFileSync(p, fakeGoBinary(spec));
    const { report } = runJson([...base, "--kubelet", p, "--runtime", p]);
    const ev = findEvidence(readFileSync(p));
    const [k, r] = report.binaries;
    expect(k!.verdict).toBe(ev.verdict);
    expect(r!.verdict).toBe(ev.verdict);
    expect(k!.build_tags).toEqual(ev.buildTags && ev.buildTags.length ? ev.buildTags : null);
  });
});

test("the runc installed on this machine, classified like the inspection does", () => {
  const runc = ["/usr/bin/runc", "/usr/sbin/runc"].find((p) => existsSync(p));
  if (!runc) return;
  const { report } = runJson([...base, "--runtime", runc]);
  const ev = findEvidence(readFileSync(runc));
  expect(report.binaries.find((b) => b.role === "runtime")!.verdict).toBe(ev.verdict);
  expect(report.binaries.find((b) => b.role === "runtime")!.build_tags).toEqual(ev.buildTags);
});

describe("kubelet checksums", () => {
  const kubelet = join(TMP, "kubelet");
  writeFileSync(kubelet, fakeGoBinary({ nokmem: true, tags: "nokmem" }));
  const hex = createHash("sha256").update(readFileSync(kubelet)).digest("hex");
  const sums = join(TMP, "SHA256SUMS");
  writeFileSync(
    sums,
    `${"0".repeat(64)}  kmem-build-1.20.15.tar.gz\n${hex.toUpperCase()} *kubelet-1.20.15-linux-amd64\n`,
  );
  const other = join(TMP, "OTHER.SUMS");
  writeFileSync(other, `${"1".repeat(64)}  kubelet-1.20.15-linux-amd64\n`);

  test("listed in --checksums (sha256sum -c format, binary marker, any case): PASS", () => {
    const { code, report } = runJson([...base, "--kubelet", kubelet, "--checksums", sums]);
    const c = report.checks.find((x) => x.id === "kubelet-checksum")!;
    expect([c.status, code]).toEqual(["PASS", 0]);
    expect(report.binaries[0]).toMatchObject({ sha256: hex, checksum_match: "kubelet-1.20.15-linux-amd64" });
  });
  test("not listed: FAIL, exit 1", () => {
    const { code, report } = runJson([...base, "--kubelet", kubelet, "--checksums", other]);
    expect(report.checks.find((x) => x.id === "kubelet-checksum")!.status).toBe("FAIL");
    expect(code).toBe(1);
  });
  test("requested but no kubelet: could not tell", () => {
    const { code, report } = runJson([...base, "--kubelet", join(TMP, "missing"), "--expect-sha256", hex]);
    expect(report.checks.find((x) => x.id === "kubelet-checksum")).toMatchObject({
      status: "WARN",
      conclusive: false,
    });
    expect(code).toBe(2);
  });
});

describe("kmem-build's version mark (v1.20.2+nokmem)", () => {
  // busybox grep as well as GNU grep find the mark (nodes may have either)
  const bbDir = join(TMP, "busybox-grep");
  mkdirSync(bbDir, { recursive: true });
  symlinkSync("/bin/busybox", join(bbDir, "grep"));
  const greps: Record<string, NodeJS.ProcessEnv> = {
    "GNU grep": process.env,
    "busybox grep": { ...process.env, PATH: `${bbDir}:${process.env.PATH}` },
  };
  const kubelet = (name: string, spec: FakeBinary) => {
    const p = join(TMP, `marked-${name}`);
    writeFileSync(p, fakeGoBinary(spec));
    return p;
  };
  const kubeletCheck = (r: ReturnType<typeof runJson>) =>
    r.report.checks.find((c) => c.id === "kubelet-binary")!;

  test.each(Object.entries(greps))(
    "a marked nokmem kubelet passes and its version is reported (%s)",
    (_, env) => {
      for (const shell of Object.values(SHELLS)) {
        const p = kubelet("nokmem", { nokmem: true, version: "v1.20.2+nokmem" });
        const r = runJson([...base, "--kubelet", p], { shell, env });
        expect(r.report.binaries[0]!.version_mark).toBe("v1.20.2+nokmem");
        expect(findEvidence(readFileSync(p)).marked).toBe(true);
        expect(kubeletCheck(r)).toMatchObject({ status: "PASS" });
        expect(kubeletCheck(r).seen).toContain("; version v1.20.2+nokmem");
      }
    },
  );

  test.each(Object.entries(greps))("a marked kubelet that links the kmem code is a FAIL (%s)", (_, env) => {
    for (const shell of Object.values(SHELLS)) {
      const p = kubelet("kmem", { kmem: true, version: "v1.20.2+nokmem" });
      const r = runJson([...base, "--kubelet", p], { shell, env });
      expect(r.code).toBe(1);
      expect(kubeletCheck(r)).toMatchObject({ status: "FAIL", cause: "kubelet" });
      expect(kubeletCheck(r).seen).toMatch(
        /reports version v1\.20\.2\+nokmem \(the kmem-build nokmem mark\) but contains the kmem-enabling code of runc: not a binary kmem-build built/,
      );
    }
  });

  test("a marked kubelet whose Go build tags lack nokmem is a FAIL; an unmarked one has no version_mark", () => {
    const lying = kubelet("tags", { version: "v1.24.17+nokmem", tags: "selinux,notest" });
    const r = runJson([...base, "--kubelet", lying]);
    expect(kubeletCheck(r).status).toBe("FAIL");
    expect(kubeletCheck(r).seen).toContain("its Go build tags are selinux,notest, without nokmem");
    const plain = kubelet("plain", { nokmem: true, version: "v1.20.2" });
    const u = runJson([...base, "--kubelet", plain]);
    expect(u.report.binaries[0]!.version_mark).toBeNull();
    expect(kubeletCheck(u).seen).not.toContain("version v1.20.2");
  });

  test("the mark is kept in the verdict cache; a cache line of an older script is read again", () => {
    const cache = join(TMP, "mark-cache");
    mkdirSync(cache, { recursive: true });
    const p = kubelet("cached", { kmem: true, version: "v1.20.2+nokmem" });
    const first = runJson([...base, "--kubelet", p, "--cache-dir", cache]);
    const again = runJson([...base, "--kubelet", p, "--cache-dir", cache]);
    expect(again.report.binaries[0]!.reused).toBe(true);
    expect(again.report.binaries[0]!.version_mark).toBe("v1.20.2+nokmem");
    expect(kubeletCheck(again).status).toBe("FAIL");
    expect(kubeletCheck(first).status).toBe("FAIL");
    // the cache of a script without the mark: six fields; taken as it was, the mark would be lost
    const file = join(cache, `verify-kmem.${process.getuid!()}`, "binaries");
    expect(readFileSync(file, "utf8")).toContain("\tv1.20.2+nokmem\n");
    writeFileSync(
      file,
      readFileSync(file, "utf8")
        .split("\n")
        .map((l) => l.split("\t").slice(0, 6).join("\t"))
        .join("\n"),
    );
    const old = runJson([...base, "--kubelet", p, "--cache-dir", cache]);
    expect(old.report.binaries[0]!.reused).toBe(false);
    expect(old.report.binaries[0]!.version_mark).toBe("v1.20.2+nokmem");
  });
});
