/**
 * Hostile or broken sources, through the real CLI, from a local file (--source) and
 * downloaded over HTTP. Each is refused with a specific message and exit 2, nothing is written outside
 * the work directory, nothing is published, and the cache never keeps a bad download.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdir, readFile, writeFile, readdir, stat, cp, rm } from "node:fs/promises";
import { createHash, randomBytes } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { join } from "node:path";
import { tarGz, MINIMAL_TREE, type RawEntry } from "../helpers/tarball.js";
import { makeExample, type ExampleRelease } from "../helpers/example.js";
import { serveDirectory, type TestServer } from "../helpers/http-server.js";
import { kb, tmp, removeTmp, listTree, cacheLeftovers, buildArgs, REPO } from "./helpers.js";

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );
const sha512 = (b: Buffer) => createHash("sha512").update(b).digest("hex");

let example: ExampleRelease;
let server: TestServer;
let served: string;
/**
 * An existing, writable directory outside every work directory: a link into it would let an
 * extraction write here. Nothing may ever appear in it.
 */
let outside: string;
let full: Buffer; // the example release tarball
let rawTar: Buffer; // the same, uncompressed
const tag = randomBytes(4).toString("hex");

interface Case {
  name: string;
  bytes: () => Buffer;
  message: RegExp;
  /** Paths (absolute) that must not exist afterwards. */
  sentinels?: () => string[];
}

const minimal = (...extra: RawEntry[]) => tarGz([...MINIMAL_TREE, ...extra]);

/** An offset 100 bytes into the header of an entry some way into `tar` (walked header by header). */
function insideAHeader(tar: Buffer, after = 20_000): number {
  for (let off = 0; off + 512 <= tar.length;) {
    if (off >= after) return off + 100;
    const size = parseInt(
      tar
        .toString("latin1", off + 124, off + 136)
        .replace(/\0.*$/s, "")
        .trim() || "0",
      8,
    );
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error("the example archive is shorter than expected");
}

const cases: Case[] = [
  {
    name: "a ../ path",
    // The work dir is <base>/w/work and the tree <base>/w/work/src: ../../ would land in <base>/w.
    bytes: () => minimal({ path: `../../escaped-${tag}`, body: "pwned" }),
    message: /entry "\.\.\/\.\.\/escaped-[0-9a-f]+" points outside the extraction directory/,
  },
  {
    name: "an absolute path",
    bytes: () => minimal({ path: `${outside}/absolute-${tag}`, body: "pwned" }),
    message: /entry "\/.*absolute-[0-9a-f]+" points outside the extraction directory/,
    sentinels: () => [join(outside, `absolute-${tag}`)],
  },
  {
    name: "a symlink to an absolute directory, then a file through it",
    bytes: () =>
      minimal(
        { path: "cmd/evil", type: "symlink", linkpath: outside },
        { path: "cmd/evil/through-link", body: "pwned" },
      ),
    message: /entry "cmd\/evil" is a symbolic link to \/.*, outside the tree/,
    sentinels: () => [join(outside, "through-link")],
  },
  {
    name: "a relative symlink climbing out of the tree, then a file through it",
    bytes: () =>
      minimal(
        { path: "cmd/up", type: "symlink", linkpath: "../../.." },
        { path: "cmd/up/climbed", body: "pwned" },
      ),
    message: /entry "cmd\/up" is a symbolic link to \.\.\/\.\.\/\.\., outside the tree/,
  },
  {
    name: "a chain of symlinks that each look inside but climb out (a -> ., b -> a/.., c -> b/..)",
    bytes: () =>
      minimal(
        { path: "a", type: "symlink", linkpath: "." },
        { path: "b", type: "symlink", linkpath: "a/.." },
        { path: "c", type: "symlink", linkpath: "b/.." },
        { path: "c/escaped-by-chain", body: "pwned" },
      ),
    message: /entry "b" is a symbolic link to a\/\.\. that leaves the tree through other links/,
  },
  {
    name: "a file beneath a symlink (written through the link)",
    bytes: () =>
      minimal(
        { path: "d", type: "symlink", linkpath: "cmd" },
        { path: "d/kubelet/extra.go", body: "package main\n" },
      ),
    message:
      /entry "d\/kubelet\/extra\.go" lies beneath the symbolic link d \(nothing is written through links\)/,
  },
  {
    name: "a GitHub-layout archive whose link leaves the stripped top directory",
    bytes: () =>
      tarGz([
        { path: "kubernetes-1.20.15/", type: "dir" },
        ...MINIMAL_TREE.map((e) => ({ ...e, path: `kubernetes-1.20.15/${e.path}` })),
        { path: "kubernetes-1.20.15/up", type: "symlink", linkpath: ".." },
      ]),
    message:
      /entry "kubernetes-1\.20\.15\/up" is a symbolic link to \.\. that leaves the tree through other links/,
  },
  {
    name: "a hard link to a file outside, then a write through it",
    bytes: () =>
      minimal(
        { path: "victim", type: "hardlink", linkpath: `${outside}/victim` },
        { path: "victim", body: "pwned" },
      ),
    message: /entry "victim" is a hard link to \/.*victim outside the tree/,
  },
  {
    name: "a character device",
    bytes: () => minimal({ path: "dev-null", type: "chardev" }),
    message:
      /entry "dev-null" is a CharacterDevice \(only files, directories and links inside the tree are allowed\)/,
  },
  {
    name: "a FIFO",
    bytes: () => minimal({ path: "pipe", type: "fifo" }),
    message: /entry "pipe" is a FIFO/,
  },
  {
    name: "a gzip stream cut in half",
    bytes: () => full.subarray(0, Math.floor(full.length / 2)),
    message: /cannot read .* as a gzip-compressed tar archive: .*unexpected end of file/,
  },
  {
    name: "a complete gzip of a tar cut inside a file's contents",
    bytes: () => gzipSync(rawTar.subarray(0, 10_000)),
    message: /cannot read .* as a gzip-compressed tar archive: .*Truncated input/,
  },
  {
    name: "a complete gzip of a tar cut inside a header (no end-of-archive marker)",
    bytes: () => gzipSync(rawTar.subarray(0, insideAHeader(rawTar))),
    message: /refusing .*: the archive is truncated/,
  },
  {
    name: "a text file (not gzip)",
    bytes: () => Buffer.from("<html><body>404 Not Found</body></html>\n"),
    message: /cannot read .* as a gzip-compressed tar archive: .*incorrect header check/,
  },
  {
    name: "an empty file",
    bytes: () => Buffer.alloc(0),
    message: /cannot read .* as a gzip-compressed tar archive: .*unexpected end of file/,
  },
  {
    name: "an empty archive",
    bytes: () => tarGz([]),
    message: /refusing .*: the archive is empty/,
  },
  {
    name: "an archive without cmd/kubelet",
    bytes: () =>
      tarGz([
        { path: "Makefile", body: "all:\n" },
        { path: "cmd/", type: "dir" },
        { path: "cmd/kubectl/main.go", body: "package main\n" },
      ]),
    message: /is not a Kubernetes source tree: cmd\/kubelet is missing/,
  },
];

beforeAll(async () => {
  served = await tmp("served");
  example = await makeExample("tag-era", "1.20.15", served);
  server = await serveDirectory(served);
  outside = await tmp("outside");
  full = await readFile(example.tarball);
  rawTar = gunzipSync(full);
});

afterAll(async () => {
  await server?.close();
  // Nothing ever reached the shared outside directory.
  expect(await readdir(outside)).toEqual([]);
  await removeTmp();
});

/** A fresh layout per run: <base>/{cache,out,w/work}. */
async function layout() {
  const base = await tmp("run");
  const dirs = { base, cache: join(base, "cache"), out: join(base, "out"), work: join(base, "w", "work") };
  await mkdir(join(base, "w"));
  return dirs;
}

function build(d: Awaited<ReturnType<typeof layout>>, version: string, extra: string[]) {
  return kb(
    buildArgs(
      d.cache,
      d.out,
      "--kubernetes",
      version,
      "--arch",
      "amd64",
      "--no-rpm",
      "--work-dir",
      d.work,
      ...extra,
    ),
    {
      env: { KMEM_BUILD_BASE_URL: server.url },
    },
  );
}

/** Nothing outside the work directory, nothing published, the work directory itself removed. */
async function expectNothingLeft(d: Awaited<ReturnType<typeof layout>>) {
  expect(await listTree(join(d.base, "w"))).toEqual([]); // the work dir is gone, nothing escaped next to it
  expect(await readdir(d.out)).toEqual([]); // no release, no staging dir, no lock, no failed log
  expect(await readdir(outside)).toEqual([]);
}

describe("hostile or broken tarball given with --source", () => {
  it.each(cases)("refuses $name (exit 2)", async (c) => {
    const d = await layout();
    const file = join(d.base, "kubernetes-src.tar.gz");
    await writeFile(file, c.bytes());
    const r = await build(d, "1.20.15", ["--source", file]);
    expect(r.code, `${c.name}\n${r.stderr}`).toBe(2);
    expect(r.stderr, c.name).toMatch(c.message);
    expect(r.stderr).toMatch(/^error: /m);
    expect(r.stderr).toMatch(/hint: /);
    expect(r.stderr).not.toMatch(/internal error| {4}at /);
    await expectNothingLeft(d);
    for (const s of c.sentinels?.() ?? []) expect(await exists(s), s).toBe(false);
    // The user's file is left alone.
    expect(await readFile(file)).toEqual(c.bytes());
  });
});

describe("hostile or broken tarball downloaded over HTTP (its published checksum matches)", () => {
  it.each(cases.map((c, i) => ({ ...c, i })))(
    "refuses $name (exit 2) and does not keep it in the cache",
    async (c) => {
      const version = `1.20.${100 + c.i}`;
      const bytes = c.bytes();
      await mkdir(join(served, `v${version}`), { recursive: true });
      await writeFile(join(served, `v${version}`, "kubernetes-src.tar.gz"), bytes);
      await writeFile(join(served, `v${version}`, "kubernetes-src.tar.gz.sha512"), sha512(bytes));
      const d = await layout();
      const r = await build(d, version, []);
      expect(r.code, `${c.name}\n${r.stderr}`).toBe(2);
      expect(r.stderr, c.name).toMatch(c.message);
      expect(r.stderr).not.toMatch(/internal error| {4}at /);
      expect(server.hits.get(`/v${version}/kubernetes-src.tar.gz`)).toBe(1);
      expect(r.stderr).toContain(
        `(downloaded from ${server.url}/v${version}/kubernetes-src.tar.gz; not kept in the cache)`,
      );
      await expectNothingLeft(d);
      // The verified-but-bad download is not cached: the next run fetches again rather than trusting it.
      expect(await listTree(join(d.cache, "sources"))).toEqual([`v${version}/`]);
    },
  );
});

describe("checksums", () => {
  it("--source with a --sha512 that does not match: refused, file named, nothing used", async () => {
    const d = await layout();
    const r = await build(d, "1.20.15", ["--source", example.tarball, "--sha512", "ab".repeat(64)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /sha512 mismatch for .*kubernetes-src\.tar\.gz: expected abababababababab…, got [0-9a-f]{16}…/,
    );
    expect(r.stderr).toMatch(/it was not used/);
    await expectNothingLeft(d);
  });

  it("a download whose published checksum does not match: refused, nothing cached", async () => {
    const version = "1.20.90";
    await mkdir(join(served, `v${version}`), { recursive: true });
    await cp(example.tarball, join(served, `v${version}`, "kubernetes-src.tar.gz"));
    await writeFile(join(served, `v${version}`, "kubernetes-src.tar.gz.sha512"), "cd".repeat(64) + "\n");
    const d = await layout();
    const r = await build(d, version, []);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `sha512 mismatch for ${server.url}/v${version}/kubernetes-src\\.tar\\.gz: expected cdcdcdcdcdcdcdcd…`,
      ),
    );
    await expectNothingLeft(d);
    expect(await cacheLeftovers(d.cache)).toEqual([]);
    expect(await listTree(join(d.cache, "sources"))).toEqual([`v${version}/`]);
  });

  it("a damaged cache entry is never trusted: it is dropped and fetched again", async () => {
    // The served release is a valid tarball without cmd/kubelet, so the run stops at "check source".
    const version = "1.20.95";
    const bytes = cases.find((c) => /without cmd\/kubelet/.test(c.name))!.bytes();
    const sum = sha512(bytes);
    await mkdir(join(served, `v${version}`), { recursive: true });
    await writeFile(join(served, `v${version}`, "kubernetes-src.tar.gz"), bytes);
    await writeFile(join(served, `v${version}`, "kubernetes-src.tar.gz.sha512"), sum);
    const d = await layout();
    const dir = join(d.cache, "sources", `v${version}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${sum.slice(0, 32)}.tar.gz`), "corrupted\n");
    const r = await build(d, version, []);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cmd\/kubelet is missing/);
    expect(server.hits.get(`/v${version}/kubernetes-src.tar.gz`)).toBe(1);
    expect(await readdir(dir)).toEqual([]);
    await expectNothingLeft(d);
  });

  it.each([
    ["not hex", "zz".repeat(64)],
    ["too short", "abc123"],
    ["a sha256", "ab".repeat(32)],
  ])("--sha512 that is %s: refused before anything is fetched", async (_what, value) => {
    const d = await layout();
    const before = server.hits.get("/v1.20.15/kubernetes-src.tar.gz") ?? 0;
    const r = await build(d, "1.20.15", ["--sha512", value]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`malformed sha512 checksum from --sha512: "${value.slice(0, 60)}"`);
    expect(r.stderr).toMatch(/a sha512 checksum is 128 hexadecimal characters/);
    expect(server.hits.get("/v1.20.15/kubernetes-src.tar.gz") ?? 0).toBe(before);
    await expectNothingLeft(d);
  });

  it.each([
    ["an HTML error page", "<html>oops</html>\n"],
    ["empty", ""],
    ["truncated", "ab".repeat(40)],
  ])(
    "a published checksum file that is %s: refused, the tarball is not even downloaded",
    async (_w, body) => {
      const version = `1.20.${91 + ["an HTML error page", "empty", "truncated"].indexOf(_w)}`;
      await mkdir(join(served, `v${version}`), { recursive: true });
      await cp(example.tarball, join(served, `v${version}`, "kubernetes-src.tar.gz"));
      await writeFile(join(served, `v${version}`, "kubernetes-src.tar.gz.sha512"), body);
      const d = await layout();
      const r = await build(d, version, []);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(
        `malformed sha512 checksum from ${server.url}/v${version}/kubernetes-src.tar.gz.sha512`,
      );
      expect(server.hits.get(`/v${version}/kubernetes-src.tar.gz`)).toBeUndefined();
      await expectNothingLeft(d);
    },
  );

  it("a malformed pinned checksum file names the file and line", async () => {
    const recipes = join(await tmp("recipes"), "recipes");
    await cp(join(REPO, "recipes"), recipes, { recursive: true });
    const pins = join(recipes, "pins", "sha512.txt");
    const text = await readFile(pins, "utf8");
    const line = text.split("\n").length; // the line we append
    await writeFile(pins, text.replace(/\n?$/, "\n") + "deadbeef  v1.20.15/kubernetes-src.tar.gz\n");
    const d = await layout();
    const r = await build(d, "1.20.15", ["--recipes", recipes]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${pins}:${line}: malformed line`);
    expect(r.stderr).toMatch(/expected `<128 hex> {2}v<version>\/kubernetes-src\.tar\.gz`/);
    await rm(recipes, { recursive: true, force: true });
  });
});
