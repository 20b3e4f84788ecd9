/**
 * release.yml's signing step for real: sign-release.sh signs the merged RPMs with the release key
 * (rpmsign), and `kmem-build repo --sign-key` over the result writes gpgcheck=1 and repo_gpgcheck=1.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cp, readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { buildRpm } from "../../src/package/rpm.js";
import { sha256File, writeSha256Sums } from "../../src/package/checksums.js";
import {
  removeTempDirs,
  SDE,
  standInKubelet,
  standInVerifyScript,
  stopAgent,
  tempDir,
  throwawayKey,
} from "../package/helpers.js";
import { CLI, ROOT } from "./helpers.js";

const SIGN = join(ROOT, ".github/scripts/sign-release.sh");
let key: Awaited<ReturnType<typeof throwawayKey>>;
/** A merged release directory as merge-release.sh leaves it: unsigned RPMs, their SHA256SUMS. */
let merged: string;

beforeAll(async () => {
  key = await throwawayKey();
  merged = join(await tempDir("sign-release"), "1.20.15");
  const src = await tempDir("sign-release-src");
  const files: string[] = [];
  for (const arch of ["amd64", "arm64"] as const) {
    const built = await buildRpm({
      version: "1.20.15",
      release: "2.nokmem",
      arch,
      binary: await standInKubelet(src, `v1.20.15 ${arch}`),
      verifyScript: await standInVerifyScript(src),
      sourceDateEpoch: SDE,
      workDir: await tempDir("sign-release-work"),
      outDir: merged,
    });
    files.push(built.file);
  }
  await cp(await standInVerifyScript(src), join(merged, "verify-kmem.sh"));
  files.push(join(merged, "verify-kmem.sh"));
  await writeSha256Sums(merged, files);
});
afterAll(async () => {
  await stopAgent(key.home);
  await removeTempDirs();
});

const sign = (dir: string, k: string) =>
  execa("bash", [SIGN, k, dir], { reject: false, env: { GNUPGHOME: key.home, LC_ALL: "C" } });

describe("sign-release.sh", () => {
  it("signs every RPM, rewrites and signs SHA256SUMS, keeps the build's sums as BUILD-SHA256SUMS", async () => {
    const dir = join(await tempDir("sign-release-run"), "1.20.15");
    await cp(merged, dir, { recursive: true });
    const before = await readFile(join(dir, "SHA256SUMS"), "utf8");
    const r = await sign(dir, key.fingerprint);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`2 RPM(s) signed by ${key.fingerprint}`);
    expect(await readFile(join(dir, "BUILD-SHA256SUMS"), "utf8")).toBe(before);
    const after = await readFile(join(dir, "SHA256SUMS"), "utf8");
    expect(after).not.toBe(before);
    expect((await execa("sha256sum", ["--check", "--strict", "SHA256SUMS"], { cwd: dir })).exitCode).toBe(0);
    const rpm = "kubelet-1.20.15-2.nokmem.x86_64.rpm";
    expect(after).toContain(`${await sha256File(join(dir, rpm))}  ${rpm}`);
    expect(after).toContain("  RPM-GPG-KEY-kmem-build\n");

    // What a node or a downloader checks, from the published files alone (fresh keyring, fresh rpmdb).
    const fresh = await tempDir("sign-release-gnupg");
    const env = { GNUPGHOME: fresh };
    await execa("gpg", ["--batch", "--import", join(dir, "RPM-GPG-KEY-kmem-build")], { env });
    const v = await execa("gpg", ["--batch", "--verify", "SHA256SUMS.asc", "SHA256SUMS"], {
      cwd: dir,
      env,
      reject: false,
    });
    expect(v.exitCode, v.stderr).toBe(0);
    await stopAgent(fresh);
    const db = await tempDir("sign-release-rpmdb");
    await execa("rpmkeys", ["--dbpath", db, "--import", join(dir, "RPM-GPG-KEY-kmem-build")]);
    for (const f of (await readdir(dir)).filter((n) => n.endsWith(".rpm"))) {
      const k = await execa("rpmkeys", ["--dbpath", db, "--checksig", join(dir, f)], {
        env: { LC_ALL: "C" },
      });
      expect(k.stdout).toMatch(/digests signatures OK$/);
    }

    // The repository the workflow builds from it: both checks on, no warning.
    const repo = join(dir, "..", "repo");
    const out = await execa(
      "node",
      [
        CLI,
        "repo",
        "--from",
        dir,
        "--out",
        repo,
        "--sign-key",
        key.fingerprint,
        "--gnupg-home",
        key.home,
        "--json",
      ],
      { reject: false },
    );
    expect(out.exitCode, out.stderr).toBe(0);
    expect(out.stderr).not.toContain("warning:");
    const json = JSON.parse(out.stdout) as {
      packagesSigned: boolean;
      metadataSigned: boolean;
      repositories: { repoFileText: string }[];
    };
    expect(json).toMatchObject({ packagesSigned: true, metadataSigned: true });
    expect(json.repositories[0]!.repoFileText).toMatch(/\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=/);

    // Signing twice would hide what was built: refused.
    const again = await sign(dir, key.fingerprint);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain("is already signed");
  });

  it("refuses a key that is not in the keyring, and leaves the directory as it was", async () => {
    const dir = join(await tempDir("sign-release-nokey"), "1.20.15");
    await cp(merged, dir, { recursive: true });
    const r = await sign(dir, "nobody@example.invalid");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("signing key nobody@example.invalid is not in the keyring");
    expect((await readdir(dir)).sort()).toEqual((await readdir(merged)).sort());
    expect(await readFile(join(dir, "SHA256SUMS"), "utf8")).toBe(
      await readFile(join(merged, "SHA256SUMS"), "utf8"),
    );
  });
});
