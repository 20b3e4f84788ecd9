/**
 * The script classifies kubelet and runc binaries by the same byte rules as the build's inspection
 * (src/inspect/evidence.ts, docs/domain.md, "Telling a nokmem binary from its bytes"), with grep/tr only: no `go` on nodes.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { findEvidence } from "../../src/inspect/evidence.js";
import { fakeGoBinary, type FakeBinary } from "./helpers/binaries.js";
import { runJson } from "./helpers/run-script.js";
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
