/**
 * The build end to end, for real: the example releases served over HTTP from 127.0.0.1,
 * kubelet compiled in podman with the local Go image, inspected, packaged, checksummed.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execa } from "execa";
import { mkdtemp, readFile, readdir, writeFile, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { cli, TEST_IMAGE, REPO } from "../helpers/cli.js";
import { makeExample, EXAMPLES } from "../helpers/example.js";
import { serveDirectory, type TestServer } from "../helpers/http-server.js";
import { throwawayKey, stopAgent } from "../package/helpers.js";
import { KMEM_ENABLING_STRING } from "../../src/inspect/evidence.js";

let server: TestServer;
let served: string;
let cache: string;
const tmp = (p: string) => mkdtemp(join(tmpdir(), p));

function build(args: string[], env: Record<string, string> = {}) {
  return cli(["build", "--image", TEST_IMAGE, "--cache-dir", cache, "--engine", "podman", ...args], {
    env: { KMEM_BUILD_BASE_URL: server.url, ...env },
  });
}

beforeAll(async () => {
  served = await tmp("kmem-served-");
  await makeExample("tag-era", EXAMPLES["tag-era"], served, ["--stable"]);
  await makeExample("patch-era", EXAMPLES["patch-era"], served);
  await makeExample("broken-tag", EXAMPLES["broken-tag"], served);
  server = await serveDirectory(served);
  cache = await tmp("kmem-cache-");
});
afterAll(() => server?.close());

describe("tag era (1.14 – 1.21.1): GOFLAGS=-tags=nokmem", () => {
  let out: string;
  let first: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    out = await tmp("kmem-out-");
    first = await build(["--kubernetes", "1.20", "--arch", "amd64,arm64", "--out", out, "--json"]);
  });

  it("resolves 1.20 to its latest patch, builds both arches and passes inspection", () => {
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const r = JSON.parse(first.stdout);
    expect(r).toMatchObject({
      ok: true,
      kubernetes: "1.20.15",
      recipe: "tag-era",
      compiled: ["amd64", "arm64"],
      cached: [],
    });
    expect(server.hits.get("/release/stable-1.20.txt")).toBe(1);
  });

  it("publishes binaries, RPMs, the verify script, log, manifest and SHA256SUMS — and nothing half-made", async () => {
    const files = (await readdir(join(out, "1.20.15"))).sort();
    expect(files).toEqual(
      [
        "SHA256SUMS",
        "build.log",
        "kubelet-1.20.15-2.nokmem.aarch64.rpm",
        "kubelet-1.20.15-2.nokmem.x86_64.rpm",
        "kubelet-linux-amd64",
        "kubelet-linux-arm64",
        "manifest.json",
        "verify-kmem.sh",
      ].sort(),
    );
    expect(await readdir(out)).toEqual(["1.20.15"]); // no staging directory, no lock file left
    await execa("sha256sum", ["-c", "SHA256SUMS"], { cwd: join(out, "1.20.15") });
  });

  it("stamps the release it packages into the shipped verify-kmem.sh, and the RPM installs that same file", async () => {
    const script = await readFile(join(out, "1.20.15", "verify-kmem.sh"), "utf8");
    expect(script).toContain('\nBUILD_RELEASE="2.nokmem"\n');
    const rpm = join(out, "1.20.15", "kubelet-1.20.15-2.nokmem.x86_64.rpm");
    const inRpm = await execa(
      "sh",
      [
        "-c",
        'rpm2cpio "$1" | cpio -i --quiet --to-stdout ./usr/libexec/kmem-build/verify-kmem.sh',
        "sh",
        rpm,
      ],
      { stripFinalNewline: false },
    );
    expect(inRpm.stdout).toBe(script);
  });

  it("records the evidence found in each binary in the manifest", async () => {
    const m = JSON.parse(await readFile(join(out, "1.20.15", "manifest.json"), "utf8"));
    expect(m.source).toMatchObject({
      url: `${server.url}/v1.20.15/kubernetes-src.tar.gz`,
      checksumFrom: "published",
    });
    expect(m.source.sha512).toMatch(/^[0-9a-f]{128}$/);
    expect(m.builder).toMatchObject({ engine: "podman", image: TEST_IMAGE });
    expect(m.builder.imageId).toMatch(/^[0-9a-f]{64}$|^sha256:/);
    const bin = m.outputs.find((o: { file: string }) => o.file === "kubelet-linux-arm64");
    expect(bin.evidence).toMatchObject({
      kmemEnablingCode: false,
      disabledMarker: true,
      verdict: "nokmem-variant-linked",
      buildTags: ["nokmem"],
      marked: true,
    });
    expect(m.sourceDateEpoch).toBeGreaterThan(1_000_000_000);
    const schema = JSON.parse(await readFile(join(REPO, "schemas", "manifest.schema.json"), "utf8"));
    const validate = new Ajv({ allErrors: true }).compile(schema);
    expect(validate(m), JSON.stringify(validate.errors)).toBe(true);
  });

  it("produces a static amd64 kubelet that reports the requested version, marked +nokmem", async () => {
    const bin = join(out, "1.20.15", "kubelet-linux-amd64");
    const { stdout } = await execa(bin, ["--version"]);
    expect(stdout).toContain("v1.20.15+nokmem");
    expect((await stat(bin)).uid).toBe(process.getuid!());
  });

  it("a second build downloads nothing and compiles nothing (content-addressed cache)", async () => {
    const outAgain = await tmp("kmem-out-");
    const again = await build([
      "--kubernetes",
      "1.20.15",
      "--arch",
      "amd64,arm64",
      "--out",
      outAgain,
      "--json",
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ compiled: [], cached: ["amd64", "arm64"] });
    expect(server.hits.get("/v1.20.15/kubernetes-src.tar.gz")).toBe(1);
    const log = await readFile(join(outAgain, "1.20.15", "build.log"), "utf8");
    expect(log.match(/\[rpm (amd64|arm64)\] .*cached for these exact inputs/g)).toHaveLength(2);
  });

  it("--rebuild compiles again with the warm Go cache and gives byte-identical binaries and RPMs", async () => {
    const out2 = await tmp("kmem-out-");
    const again = await build([
      "--kubernetes",
      "1.20.15",
      "--arch",
      "amd64,arm64",
      "--out",
      out2,
      "--rebuild",
      "--json",
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).compiled).toEqual(["amd64", "arm64"]);
    const sums = async (d: string) =>
      (await readFile(join(d, "1.20.15", "SHA256SUMS"), "utf8")).split("\n").filter((l) => /kubelet/.test(l));
    expect(await sums(out2)).toEqual(await sums(out));
  });
});

describe("patch era (1.10 – 1.13): patch the vendored runc, then tag", () => {
  it("applies the patch, records it, and passes inspection", async () => {
    const out = await tmp("kmem-out-");
    const r = await build([
      "--kubernetes",
      EXAMPLES["patch-era"],
      "--arch",
      "amd64",
      "--out",
      out,
      "--no-rpm",
      "--json",
    ]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const m = JSON.parse(await readFile(join(out, EXAMPLES["patch-era"], "manifest.json"), "utf8"));
    expect(m.recipe.name).toBe("patch-era");
    expect(m.patches).toEqual([
      { file: "runc-pre-rc6-nokmem.patch", sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    ]);
    expect(
      m.outputs.find((o: { file: string }) => o.file === "kubelet-linux-amd64").evidence.kmemEnablingCode,
    ).toBe(false);
  });
});

describe("a build where the tag does not take effect", () => {
  it("fails inspection, says why, and publishes nothing", async () => {
    const out = await tmp("kmem-out-");
    const r = await build(["--kubernetes", EXAMPLES["broken-tag"], "--arch", "amd64", "--out", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/still links runc's kmem-enabling code/);
    expect(r.stderr).toMatch(/nothing was published/);
    const rejected = `.${EXAMPLES["broken-tag"]}.rejected`;
    expect((await readdir(out)).filter((f) => !f.endsWith(".failed.log")).sort()).toEqual([rejected]);
    expect(r.stderr).toContain(`refused binaries kept for examination in ${join(out, rejected)}/`);
    const kept = await readFile(join(out, rejected, "kubelet-linux-amd64"));
    expect(kept.includes(KMEM_ENABLING_STRING)).toBe(true);
  });
});

describe("checksums", () => {
  it("refuses a tarball that does not match --sha512, and caches nothing", async () => {
    const out = await tmp("kmem-out-");
    const cache2 = await tmp("kmem-cache-");
    const r = await cli(
      [
        "build",
        "--kubernetes",
        "1.20.15",
        "--sha512",
        "0".repeat(128),
        "--image",
        TEST_IMAGE,
        "--cache-dir",
        cache2,
        "--out",
        out,
      ],
      { env: { KMEM_BUILD_BASE_URL: server.url } },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sha512 mismatch for .*kubernetes-src\.tar\.gz: expected 0000000000000000…/);
    expect(await readdir(join(cache2, "sources", "v1.20.15"))).toEqual([]);
    expect(await readdir(out)).toEqual([]);
  });

  it("refuses a malformed published checksum file", async () => {
    const bad = await tmp("kmem-served-");
    await makeExample("tag-era", "1.20.14", bad);
    await writeFile(join(bad, "v1.20.14", "kubernetes-src.tar.gz.sha512"), "<html>oops</html>\n");
    const s = await serveDirectory(bad);
    try {
      const r = await cli(
        [
          "build",
          "--kubernetes",
          "1.20.14",
          "--image",
          TEST_IMAGE,
          "--cache-dir",
          await tmp("kmem-cache-"),
          "--out",
          await tmp("kmem-out-"),
        ],
        {
          env: { KMEM_BUILD_BASE_URL: s.url },
        },
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/malformed sha512 checksum from .*kubernetes-src\.tar\.gz\.sha512/);
    } finally {
      await s.close();
    }
  });
});

describe("signed build", () => {
  it("signs the RPMs (v3+v4) and SHA256SUMS, exports the key, and checksums after signing", async () => {
    const key = await throwawayKey();
    try {
      const out = await tmp("kmem-out-");
      const r = await build([
        "--kubernetes",
        "1.20.15",
        "--arch",
        "amd64",
        "--out",
        out,
        "--sign-key",
        key.fingerprint,
        "--gnupg-home",
        key.home,
        "--json",
      ]);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const dir = join(out, "1.20.15");
      const files = await readdir(dir);
      expect(files).toEqual(
        expect.arrayContaining(["SHA256SUMS", "SHA256SUMS.asc", "RPM-GPG-KEY-kmem-build"]),
      );
      await execa("sha256sum", ["-c", "SHA256SUMS"], { cwd: dir });
      await execa("gpg", ["--batch", "--verify", "SHA256SUMS.asc", "SHA256SUMS"], {
        cwd: dir,
        env: { GNUPGHOME: key.home },
      });
      const db = await tmp("kmem-rpmdb-");
      await execa("rpm", ["--dbpath", db, "--import", join(dir, "RPM-GPG-KEY-kmem-build")]);
      const { stdout } = await execa("rpm", [
        "--dbpath",
        db,
        "-Kv",
        join(dir, "kubelet-1.20.15-2.nokmem.x86_64.rpm"),
      ]);
      expect(stdout).toMatch(/Header V4 RSA\/SHA256 Signature, key ID [0-9a-f]+: OK/);
      expect(stdout).toMatch(/V4 RSA\/SHA256 Signature, key ID [0-9a-f]+: OK/);
    } finally {
      await stopAgent(key.home);
    }
  });

  it("refuses an unknown signing key before any long work", async () => {
    const key = await throwawayKey();
    try {
      const out = await tmp("kmem-out-");
      const r = await build([
        "--kubernetes",
        "1.20.15",
        "--out",
        out,
        "--sign-key",
        "nobody@example.invalid",
        "--gnupg-home",
        key.home,
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/nobody@example\.invalid/);
      expect(r.stderr).toMatch(/--list-secret-keys/);
      expect(await readdir(out)).toEqual([]);
    } finally {
      await stopAgent(key.home);
    }
  });
});

/** The tag-era example release 1.20.15 as an extracted tree (a --source directory). */
async function exampleTree(): Promise<string> {
  const tree = join(await tmp("kmem-tree-"), "kubernetes");
  await execa("sh", [
    join(REPO, "scripts", "make-example.sh"),
    "--tree",
    tree,
    "tag-era",
    "1.20.15",
    await tmp("kmem-unused-"),
  ]);
  return tree;
}

describe("other sources", () => {
  it("builds from the GitHub archive layout (one top-level directory) with --origin github", async () => {
    const gh = await tmp("kmem-gh-");
    const { execa: x } = await import("execa");
    await x("sh", [join(REPO, "scripts", "make-example.sh"), "--top-dir", "tag-era", "1.20.15", gh]);
    const tarball = join(gh, "kubernetes", "kubernetes", "archive", "refs", "tags", "v1.20.15.tar.gz");
    const sha512 = (await x("sha512sum", [tarball])).stdout.split(" ")[0]!;
    const s = await serveDirectory(gh);
    try {
      const out = await tmp("kmem-out-");
      const noSum = await build(["--kubernetes", "1.20.15", "--origin", "github", "--out", out], {
        KMEM_BUILD_GITHUB_URL: s.url,
      });
      expect(noSum.code).toBe(2);
      expect(noSum.stderr).toMatch(/no checksum to verify the GitHub archive of v1\.20\.15 against/);
      const r = await build(
        [
          "--kubernetes",
          "1.20.15",
          "--origin",
          "github",
          "--sha512",
          sha512,
          "--no-rpm",
          "--out",
          out,
          "--json",
        ],
        {
          KMEM_BUILD_GITHUB_URL: s.url,
        },
      );
      expect(r.code, r.stderr).toBe(0);
      const m = JSON.parse(await readFile(join(out, "1.20.15", "manifest.json"), "utf8"));
      expect(m.source).toMatchObject({
        url: `${s.url}/kubernetes/kubernetes/archive/refs/tags/v1.20.15.tar.gz`,
        sha512,
        checksumFrom: "flag",
      });
    } finally {
      await s.close();
    }
  });

  it("builds from an already-extracted source directory without touching it", async () => {
    const tree = await exampleTree();
    const { execa: x } = await import("execa");
    const before = (await x("find", [tree, "-printf", "%p %s %T@\n"])).stdout;
    const out = await tmp("kmem-out-");
    const r = await build(["--kubernetes", "1.20.15", "--source", tree, "--no-rpm", "--out", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).compiled).toEqual(["amd64"]);
    expect((await x("find", [tree, "-printf", "%p %s %T@\n"])).stdout).toBe(before);
  });

  // A --source directory is checked for links like an extracted archive.
  it("--source DIR with .kmem-build -> a directory outside: refused (exit 2), nothing written there", async () => {
    const tree = await exampleTree();
    const outside = await tmp("kmem-outside-");
    await writeFile(join(outside, "precious"), "keep me\n");
    await symlink(outside, join(tree, ".kmem-build"));
    const out = await tmp("kmem-out-");
    const r = await build(["--kubernetes", "1.20.15", "--source", tree, "--no-rpm", "--out", out]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/\.kmem-build is a symbolic link to \//);
    expect(await readdir(outside)).toEqual(["precious"]);
    expect(await readFile(join(outside, "precious"), "utf8")).toBe("keep me\n");
    expect(await readdir(out)).toEqual([]);
  });

  // The tree's own Makefile runs with the Go build cache mounted read-write, and Go
  // trusts what its cache holds. A hostile tree writes into the cache it is given; that must never be
  // the cache a trusted tree's build reads.
  it("a hostile tree's writes into its Go build cache never reach another source's cache", async () => {
    const { execa: x } = await import("execa");
    const trusted = await exampleTree();
    const hostile = await exampleTree();
    const makefile = join(hostile, "Makefile");
    const planted = "planted-by-hostile-tree";
    await writeFile(
      makefile,
      (await readFile(makefile, "utf8")).replace(
        "all:\n",
        // a function: in a replacement string "$$" would become "$"
        () =>
          `all:\n\techo hostile > "$$GOCACHE/${planted}" && mkdir -p "$$GOCACHE/ff" && echo x > "$$GOCACHE/ff/${planted}-a"\n`,
      ),
    );
    const goCaches = join(cache, "go");
    for (const tree of [trusted, hostile, trusted]) {
      const r = await build(
        ["--kubernetes", "1.20.15", "--source", tree, "--no-rpm", "--rebuild"].concat([
          "--out",
          await tmp("kmem-out-"),
          "--json",
        ]),
      );
      expect(r.code, r.stderr).toBe(0);
    }
    const found = (await x("find", [goCaches, "-name", `${planted}*`])).stdout.split("\n").filter(Boolean);
    // the attack ran (into the hostile tree's own cache), and only there
    expect(found.length).toBe(2);
    const dirs = new Set(found.map((f) => f.slice(goCaches.length + 1).split("/")[0]));
    expect(dirs.size).toBe(1);
    const caches = await readdir(goCaches);
    expect(caches.length).toBeGreaterThanOrEqual(2);
    const trustedCache = caches.filter((c) => !dirs.has(c) && c.startsWith("dir-"));
    expect(trustedCache.length).toBeGreaterThanOrEqual(1);
  });
});
