import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFile, cp, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { run } from "../../src/exec.js";
import { UsageError } from "../../src/errors.js";
import { buildRpm, changelogDate, DEFAULT_PACKAGER, type BuiltRpm } from "../../src/package/rpm.js";
import { toBuildOptions } from "../../src/commands/build.js";
import { exportPublicKey, signRpms } from "../../src/package/sign.js";
import {
  removeTempDirs,
  rpmQuery,
  SDE,
  standInVerifyScript,
  stopAgent,
  tempDir,
  throwawayKey,
} from "./helpers.js";

const RPMLINTRC = resolve("rpmlintrc");
/** Exactly what the committed rpmlintrc filters, each for a stated reason. */
const INTENDED = [
  "E: no-signature",
  "E: statically-linked-binary /usr/bin/kubelet",
  "W: invalid-license ASL 2.0",
  "W: no-documentation",
  "W: no-manual-page-for-binary kubelet",
  "W: only-non-binary-in-usr-lib",
  "W: position-independent-executable-suggested /usr/bin/kubelet",
];

let rpm: BuiltRpm;
let custom: BuiltRpm;

async function rpmlint(file: string, rc?: string, extra: string[] = [], env: Record<string, string> = {}) {
  const args = [...(rc ? ["-r", rc] : []), ...extra, file];
  return run("rpmlint", args, { env: { LC_ALL: "C.UTF-8", ...env }, allowFailure: true });
}

function findings(stdout: string): string[] {
  return stdout
    .split("\n")
    .map((l) => /^kubelet\.\w+: ([EW]: .*)$/.exec(l)?.[1])
    .filter((l): l is string => !!l)
    .sort();
}

beforeAll(async () => {
  const src = await tempDir("lint-src");
  // A real static ELF in place of kubelet (busybox-static): rpmlint judges binaries, not names.
  const kubelet = join(src, "kubelet");
  await copyFile("/bin/busybox", kubelet);
  const common = {
    version: "1.20.15",
    release: "2.nokmem",
    arch: "amd64" as const,
    binary: kubelet,
    verifyScript: await standInVerifyScript(src),
    sourceDateEpoch: SDE,
    workDir: await tempDir("lint-work"),
    evidence: "nokmem marker present",
  };
  rpm = await buildRpm({ ...common, outDir: await tempDir("lint-out") });
  custom = await buildRpm({
    ...common,
    outDir: await tempDir("lint-out2"),
    packager: "Platform Team <platform@example.com>",
    vendor: "Example Corp",
  });
});
afterAll(removeTempDirs);

describe("rpmlint", () => {
  it("finds only the intended issues without the rpmlintrc, and none with it", async () => {
    const bare = await rpmlint(rpm.file);
    expect(bare.exitCode).not.toBe(0);
    expect(findings(bare.stdout)).toEqual(INTENDED);
    const filtered = await rpmlint(rpm.file, RPMLINTRC);
    expect(findings(filtered.stdout)).toEqual([]);
    expect(filtered.stdout).toMatch(/1 packages and 0 specfiles checked; 0 errors, 0 warnings/);
    expect(filtered.exitCode).toBe(0);
  });

  it("passes a signed build whose key rpm knows with the same rpmlintrc, no filter left unused", async () => {
    const key = await throwawayKey("rsa2048");
    const dir = await tempDir("lint-signed");
    const signed = join(dir, rpm.name);
    await cp(rpm.file, signed);
    await signRpms([signed], key.fingerprint, { gnupgHome: key.home });
    // rpmlint asks the rpm database for the key: a throwaway one (HOME/.rpmmacros), not the host's.
    const home = join(dir, "home");
    await mkdir(home);
    await writeFile(join(home, ".rpmmacros"), `%_dbpath ${join(dir, "rpmdb")}\n`);
    const pub = join(dir, "key.asc");
    await exportPublicKey(key.fingerprint, pub, { gnupgHome: key.home });
    await stopAgent(key.home);
    // Without the rpmlintrc a signed build shows the intended findings less the missing signature.
    await run("rpm", ["--import", pub], { env: { HOME: home } });
    const bare = await rpmlint(signed, undefined, [], { HOME: home });
    expect(findings(bare.stdout)).toEqual(INTENDED.filter((f) => f !== "E: no-signature"));
    const r = await rpmlint(signed, RPMLINTRC, [], { HOME: home });
    expect(findings(r.stdout)).toEqual([]);
    expect(r.stdout).toMatch(/1 packages and 0 specfiles checked; 0 errors, 0 warnings/);
    expect(r.exitCode).toBe(0);
    // A key rpm does not know is still an error: the rpmlintrc does not hide it.
    const other = join(dir, "home2");
    await mkdir(other);
    await writeFile(join(other, ".rpmmacros"), `%_dbpath ${join(dir, "rpmdb2")}\n`);
    const unknown = await rpmlint(signed, RPMLINTRC, [], { HOME: other });
    expect(findings(unknown.stdout)).toEqual([expect.stringMatching(/^E: unknown-key [0-9a-f]{8}$/)]);
    expect(unknown.exitCode).not.toBe(0);
  });

  it("still reports what the rpmlintrc does not mean to hide (a script where the binary belongs)", async () => {
    const src = await tempDir("lint-script");
    const script = join(src, "kubelet");
    await copyFile(await standInVerifyScript(src), script);
    const r = await buildRpm({
      version: "1.20.15",
      release: "2.nokmem",
      arch: "amd64",
      binary: script,
      sourceDateEpoch: SDE,
      workDir: await tempDir("lint-work2"),
      outDir: await tempDir("lint-out3"),
    });
    const filtered = await rpmlint(r.file, RPMLINTRC);
    const left = findings(filtered.stdout);
    expect(left).toContain("E: no-binary");
    // rpmlint also names the filters this package did not need: none of them is a blanket filter.
    expect(left.filter((l) => !l.startsWith("E: unused-rpmlintrc-filter"))).toEqual(["E: no-binary"]);
    expect(filtered.exitCode).not.toBe(0);
  });
});

describe("package metadata", () => {
  it("carries an EL7-era Group, a short Summary, Packager and Vendor, settable", async () => {
    const info = await rpmQuery(rpm.file, ["-i"]);
    expect(info).toMatch(/^Group\s+: System Environment\/Daemons$/m);
    expect(info).toMatch(/^License\s+: ASL 2\.0$/m);
    expect(info).toMatch(/^Packager\s+: kmem-build <kmem-build@localhost>$/m);
    expect(info).toMatch(/^Vendor\s+: kmem-build$/m);
    const summary = (await rpmQuery(rpm.file, ["--qf", "%{SUMMARY}"])).trim();
    expect(summary.length).toBeLessThanOrEqual(79);
    const other = await rpmQuery(custom.file, ["--qf", "%{PACKAGER}|%{VENDOR}"]);
    expect(other).toBe("Platform Team <platform@example.com>|Example Corp");
  });

  it("has a %changelog entry for this build: what changed from upstream and the evidence", async () => {
    expect(changelogDate(SDE)).toBe("Tue Nov 14 2023");
    expect(changelogDate(Date.UTC(2026, 0, 5) / 1000)).toBe("Mon Jan 05 2026");
    const log = await rpmQuery(custom.file, ["--changelog"]);
    expect(log.split("\n")[0]).toBe(
      "* Tue Nov 14 2023 Platform Team <platform@example.com> - 1.20.15-2.nokmem",
    );
    expect(log).toContain("Rebuilt upstream kubelet v1.20.15 with the Go build tag nokmem");
    expect(log).toContain("- Build evidence: nokmem marker present");
    expect((await rpmQuery(rpm.file, ["--changelog"])).split("\n")[0]).toContain(DEFAULT_PACKAGER);
  });

  it("rejects a packager or vendor that is not one plain line", async () => {
    const base = {
      version: "1.20.15",
      release: "2.nokmem",
      arch: "amd64" as const,
      binary: "/bin/busybox",
      sourceDateEpoch: SDE,
      workDir: await tempDir("lint-bad"),
      outDir: await tempDir("lint-bad-out"),
    };
    for (const bad of [
      { packager: "no email" },
      { packager: "A <a@b>\nRequires: evil" },
      { vendor: "100%{?x}" },
      { vendor: "" },
    ]) {
      await expect(buildRpm({ ...base, ...bad }), JSON.stringify(bad)).rejects.toThrow(UsageError);
    }
  });

  it("takes --packager and --vendor on kmem-build build, checked before any work", () => {
    const flags = {
      kubernetes: "1.20.15",
      arch: "amd64",
      out: "dist",
      origin: "dl",
      engine: "auto",
      rpm: true,
    } as const;
    const o = toBuildOptions({
      ...flags,
      packager: "Platform Team <platform@example.com>",
      vendor: "Example Corp",
    });
    expect(o).toMatchObject({ packager: "Platform Team <platform@example.com>", vendor: "Example Corp" });
    expect(() => toBuildOptions({ ...flags, packager: "Platform Team" })).toThrow(/invalid RPM packager/);
    expect(() => toBuildOptions({ ...flags, vendor: "50%" })).toThrow(/invalid RPM vendor/);
  });
});
