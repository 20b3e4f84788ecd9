/**
 * The shell steps of release.yml, run for real: release-jobs.sh (what to build), merge-release.sh (one
 * directory per version) and publish-release.sh (idempotent GitHub release), with a fake `gh`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { ROOT } from "./helpers.js";

const SCRIPTS = join(ROOT, ".github/scripts");
const FAKE_BIN = join(ROOT, "test/ci/fixtures/bin");
const V = "1.20.15";
const RPM = { amd64: `kubelet-${V}-2.nokmem.x86_64.rpm`, arm64: `kubelet-${V}-2.nokmem.aarch64.rpm` };

let tmp: string;
let ghState: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "kmem-release-scripts-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});
beforeEach(async () => {
  ghState = await mkdtemp(join(tmp, "gh-"));
  await mkdir(join(ghState, "releases"));
  await writeFile(join(ghState, "calls"), "");
});

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

async function script(name: string, args: string[], env: Record<string, string> = {}) {
  const r = await execa("bash", [join(SCRIPTS, name), ...args], {
    cwd: tmp,
    reject: false,
    stripFinalNewline: false,
    env: { PATH: `${FAKE_BIN}:${process.env.PATH}`, FAKE_GH_STATE: ghState, GITHUB_OUTPUT: "", ...env },
  });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** One build job's uploaded artifact, as `kmem-build build --out dist` leaves it. */
async function artifact(root: string, arch: "amd64" | "arm64", extra: Record<string, string> = {}) {
  const dir = join(root, `kmem-build-${V}-${arch}`, "dist", V);
  await mkdir(dir, { recursive: true });
  const files: Record<string, string> = {
    [RPM[arch]]: `rpm ${arch}\n`,
    [`kubelet-linux-${arch}`]: `elf ${arch}\n`,
    "verify-kmem.sh": "#!/bin/sh\necho verify\n",
    "build.log": `${arch} log at ${Date.now()}\n`,
    "manifest.json": `{"arch":"${arch}"}\n`,
    ...extra,
  };
  for (const [name, body] of Object.entries(files)) await writeFile(join(dir, name), body);
  const sums = Object.keys(files)
    .sort()
    .map((n) => `${sha256(files[n]!)}  ${n}\n`)
    .join("");
  await writeFile(join(dir, "SHA256SUMS"), sums);
  return dir;
}

async function merged(name: string, extra: Record<string, string> = {}) {
  const artifacts = join(tmp, `${name}-artifacts`);
  await artifact(artifacts, "amd64", extra);
  await artifact(artifacts, "arm64", extra);
  const out = join(tmp, `${name}-release`);
  const r = await script("merge-release.sh", [V, "amd64 arm64", artifacts, out]);
  expect(r.code, r.stderr).toBe(0);
  return out;
}

const releaseAssets = async () => (await readdir(join(ghState, "releases", `kubelet-v${V}-nokmem`))).sort();
const ghCalls = async () =>
  (await readFile(join(ghState, "calls"), "utf8")).trim().split("\n").filter(Boolean);

describe("merge-release.sh", () => {
  it("merges the arches into one directory whose SHA256SUMS covers the reproducible files, sorted", async () => {
    const out = await merged("ok");
    expect((await readdir(out)).sort()).toEqual([
      "SHA256SUMS",
      "build-amd64.log",
      "build-arm64.log",
      "kubelet-1.20.15-2.nokmem.aarch64.rpm",
      "kubelet-1.20.15-2.nokmem.x86_64.rpm",
      "kubelet-linux-amd64",
      "kubelet-linux-arm64",
      "manifest-amd64.json",
      "manifest-arm64.json",
      "verify-kmem.sh",
    ]);
    expect(await readFile(join(out, "SHA256SUMS"), "utf8")).toBe(
      [
        `${sha256("rpm arm64\n")}  ${RPM.arm64}`,
        `${sha256("rpm amd64\n")}  ${RPM.amd64}`,
        `${sha256("elf amd64\n")}  kubelet-linux-amd64`,
        `${sha256("elf arm64\n")}  kubelet-linux-arm64`,
        `${sha256("#!/bin/sh\necho verify\n")}  verify-kmem.sh`,
        "",
      ].join("\n"),
    );
    const check = await execa("sha256sum", ["--check", "--strict", "SHA256SUMS"], {
      cwd: out,
      reject: false,
    });
    expect(check.exitCode).toBe(0);
  });

  it("fails when an arch's build is missing, was altered, or a shared file differs between arches", async () => {
    const artifacts = join(tmp, "bad-artifacts");
    await artifact(artifacts, "amd64");
    const missing = await script("merge-release.sh", [V, "amd64 arm64", artifacts, join(tmp, "bad-1")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no build output for ${V} arm64`);

    await writeFile(join(await artifact(artifacts, "arm64"), RPM.arm64), "tampered\n");
    const altered = await script("merge-release.sh", [V, "amd64 arm64", artifacts, join(tmp, "bad-2")]);
    expect(altered.code).toBe(1);
    expect(altered.stderr).toContain("checksum mismatch");

    await artifact(artifacts, "arm64", { "verify-kmem.sh": "#!/bin/sh\necho other\n" });
    const differs = await script("merge-release.sh", [V, "amd64 arm64", artifacts, join(tmp, "bad-3")]);
    expect(differs.code).toBe(1);
    expect(differs.stderr).toContain("verify-kmem.sh differs between architectures");
  });
});

describe("release-jobs.sh", () => {
  const matrix = JSON.stringify({
    include: ["1.19.16", "1.20.15"].flatMap((k) =>
      ["amd64", "arm64"].map((arch) => ({ kubernetes: k, arch })),
    ),
  });

  it("builds what is not yet published; publish jobs get one version each with its arches", async () => {
    await mkdir(join(ghState, "releases", "kubelet-v1.19.16-nokmem"));
    await writeFile(join(tmp, "matrix.json"), matrix);
    const r = await script("release-jobs.sh", ["matrix.json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        'build={"include":[{"kubernetes":"1.20.15","arch":"amd64"},{"kubernetes":"1.20.15","arch":"arm64"}]}',
        'publish={"include":[{"kubernetes":"1.20.15","arches":"amd64 arm64"}]}',
        "count=2",
        "",
      ].join("\n"),
    );
    expect(r.stderr).toContain("1.19.16 is already published");

    const forced = await script("release-jobs.sh", ["matrix.json"], { FORCE: "true" });
    expect(forced.stdout).toContain("count=4\n");
    expect(forced.stdout).toContain('{"kubernetes":"1.19.16","arches":"amd64 arm64"}');
  });

  it("all published: no jobs; gh failing for another reason: exit 1", async () => {
    await mkdir(join(ghState, "releases", "kubelet-v1.19.16-nokmem"));
    await mkdir(join(ghState, "releases", "kubelet-v1.20.15-nokmem"));
    await writeFile(join(tmp, "matrix.json"), matrix);
    const r = await script("release-jobs.sh", ["matrix.json"]);
    expect(r.stdout).toBe('build={"include":[]}\npublish={"include":[]}\ncount=0\n');
    const broken = await script("release-jobs.sh", ["matrix.json"], { FAKE_GH_FAIL: "1" });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("Bad credentials");
  });
});

describe("publish-release.sh", () => {
  /** What sign-release.sh leaves for the check: BUILD-SHA256SUMS as merged, SHA256SUMS over signed bytes. */
  async function asSigned(dir: string) {
    await cp(join(dir, "SHA256SUMS"), join(dir, "BUILD-SHA256SUMS"));
    await writeFile(join(dir, "SHA256SUMS"), `${sha256(`signed at ${Date.now()}`)}  ${RPM.amd64}\n`);
  }

  it("creates the release once, skips it while the build outputs match, replaces changed and stale assets", async () => {
    const first = await merged("pub-1");
    const repo = join(tmp, `kmem-build-repo-${V}.tar.gz`);
    await writeFile(repo, "repo\n");

    expect((await script("publish-release.sh", ["check", V, first])).stdout).toBe("changed=true\n");
    await asSigned(first);
    const created = await script("publish-release.sh", ["upload", V, first, repo]);
    expect(created.code, created.stderr).toBe(0);
    expect(await releaseAssets()).toEqual([...(await readdir(first)), `kmem-build-repo-${V}.tar.gz`].sort());
    expect((await ghCalls()).filter((c) => c.startsWith("gh release create"))).toHaveLength(1);

    // A rebuild with the same RPMs (new logs) is not published (nor signed) again: the check compares
    // the published BUILD-SHA256SUMS, not the SHA256SUMS of the signed files (new at every signing).
    const same = await merged("pub-2");
    const check = await script("publish-release.sh", ["check", V, same]);
    expect(check.stdout).toBe("changed=false\n");
    expect(check.stderr).toContain("from the same build outputs (BUILD-SHA256SUMS); nothing to do");

    // Different RPMs: assets replaced in place, the ones no longer produced deleted.
    const other = await merged("pub-3", { "verify-kmem.sh": "#!/bin/sh\necho v2\n" });
    await rm(join(other, "kubelet-linux-arm64"));
    await execa("bash", ["-c", "sha256sum kubelet-* verify-kmem.sh > SHA256SUMS"], { cwd: other });
    expect((await script("publish-release.sh", ["check", V, other])).stdout).toBe("changed=true\n");
    await asSigned(other);
    const updated = await script("publish-release.sh", ["upload", V, other]);
    expect(updated.code, updated.stderr).toBe(0);
    expect(await releaseAssets()).toEqual((await readdir(other)).sort());
    const tag = `kubelet-v${V}-nokmem`;
    expect(await ghCalls()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^gh release upload ${tag} .* --clobber$`)),
        `gh release delete-asset ${tag} kubelet-linux-arm64 --yes`,
        `gh release delete-asset ${tag} kmem-build-repo-${V}.tar.gz --yes`,
      ]),
    );
    expect((await ghCalls()).filter((c) => c.startsWith("gh release create"))).toHaveLength(1);
    expect(await readFile(join(ghState, "releases", tag, "verify-kmem.sh"), "utf8")).toBe(
      "#!/bin/sh\necho v2\n",
    );
  });

  it("a release without a BUILD-SHA256SUMS asset (none, or published unsigned) counts as changed", async () => {
    await mkdir(join(ghState, "releases", `kubelet-v${V}-nokmem`));
    const dir = await merged("pub-4");
    expect((await script("publish-release.sh", ["check", V, dir])).stdout).toBe("changed=true\n");
    await cp(join(dir, "SHA256SUMS"), join(ghState, "releases", `kubelet-v${V}-nokmem`, "SHA256SUMS"));
    expect((await script("publish-release.sh", ["check", V, dir])).stdout).toBe("changed=true\n");
  });
});
