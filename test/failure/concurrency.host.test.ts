/**
 * Two builds at once. Into the same output directory: the second fails at once and
 * clearly (a lock), the first is unharmed, nothing interleaves. Sharing only the cache (different
 * --out): both succeed, and the cache holds one clean copy of everything.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { makeExample, type ExampleRelease } from "../helpers/example.js";
import { serveDirectory, type TestServer } from "../helpers/http-server.js";
import {
  start,
  finish,
  tmp,
  removeTmp,
  listTree,
  cacheLeftovers,
  cachedSources,
  waitFor,
  buildArgs,
} from "./helpers.js";

let example: ExampleRelease;
let server: TestServer;
let cache: string;
const TARBALL = "/v1.20.15/kubernetes-src.tar.gz";
const RELEASE_FILES = ["SHA256SUMS", "build.log", "kubelet-linux-amd64", "manifest.json", "verify-kmem.sh"];

function startBuild(out: string, extra: string[] = []) {
  return start(
    buildArgs(cache, out, "--kubernetes", "1.20.15", "--arch", "amd64", "--no-rpm", "--json", ...extra),
    {
      env: { KMEM_BUILD_BASE_URL: server.url },
    },
  );
}

/** A complete, self-consistent release directory: exactly the expected files, SHA256SUMS verifies. */
async function expectCompleteRelease(out: string) {
  expect(await readdir(out)).toEqual(["1.20.15"]); // no staging dir, no lock, no failed log
  const dir = join(out, "1.20.15");
  expect((await readdir(dir)).sort()).toEqual([...RELEASE_FILES].sort());
  await execa("sha256sum", ["--strict", "-c", "SHA256SUMS"], { cwd: dir });
}

beforeAll(async () => {
  example = await makeExample("tag-era", "1.20.15", await tmp("served"));
  server = await serveDirectory(example.dir);
  cache = await tmp("cache");
});
afterAll(async () => {
  await server?.close();
  await removeTmp();
});

describe("two builds into the same output directory", () => {
  it("the second fails at once naming the first one's pid; the first completes untouched", async () => {
    const out = await tmp("out");
    const first = startBuild(out);
    const lock = join(out, ".kmem-build.lock");
    const holder = await waitFor("the first build to take the lock", async () =>
      readFile(lock, "utf8").catch(() => null),
    );
    // pid, what it does, and when that process started (a reused pid is not taken for it)
    expect(holder).toMatch(new RegExp(`^${first.pid}\\nbuild 1\\.20\\.15\\n\\d+\\n$`));
    const t = Date.now();
    const second = await finish(startBuild(out));
    expect(second.code, second.stderr).toBe(1);
    expect(second.stderr).toContain(
      `error: ${out} is in use by another kmem-build (pid ${first.pid}: build 1.20.15)`,
    );
    expect(second.stderr).toContain("hint: wait for it to finish, or use another --out directory");
    expect(JSON.parse(second.stdout)).toMatchObject({ ok: false }); // --json still answers
    expect(Date.now() - t).toBeLessThan(10_000); // it did not wait for the first build
    // The first build was still running when the second gave up, and did not notice it.
    const r = await finish(first);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, compiled: ["amd64"] });
    await expectCompleteRelease(out);
  });

  it("a lock left by a run that died (its pid is gone) does not block the next build", async () => {
    const out = await tmp("out");
    const dead = await execa("sh", ["-c", "echo $$"]);
    await writeFile(join(out, ".kmem-build.lock"), `${dead.stdout.trim()}\nbuild 1.20.15\n`);
    const r = await finish(startBuild(out));
    expect(r.code, r.stderr).toBe(0);
    await expectCompleteRelease(out);
  });
});

describe("two builds sharing only the cache (different --out)", () => {
  it("both succeed at once, both releases are complete and identical, the cache is clean", async () => {
    // Both must download and compile at the same time: empty the shared source and binary caches
    // (the Go build cache stays warm, which keeps this quick).
    await rm(join(cache, "sources"), { recursive: true, force: true });
    await rm(join(cache, "binaries"), { recursive: true, force: true });
    const hits = server.hits.get(TARBALL) ?? 0;
    const [outA, outB] = [await tmp("out"), await tmp("out")];
    const [a, b] = await Promise.all([finish(startBuild(outA)), finish(startBuild(outB))]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(a.stdout).compiled).toEqual(["amd64"]);
    expect(JSON.parse(b.stdout).compiled).toEqual(["amd64"]);
    // Each downloads unless the other's verified copy is already in the cache when it looks.
    expect(server.hits.get(TARBALL)).toBeGreaterThanOrEqual(hits + 1);
    expect(server.hits.get(TARBALL)).toBeLessThanOrEqual(hits + 2);
    await expectCompleteRelease(outA);
    await expectCompleteRelease(outB);
    const bin = (o: string) => readFile(join(o, "1.20.15", "kubelet-linux-amd64"));
    expect((await bin(outA)).equals(await bin(outB))).toBe(true);
    expect(await cachedSources(cache)).toEqual([`v1.20.15/${example.sha512.slice(0, 32)}.tar.gz`]);
    expect(await cacheLeftovers(cache)).toEqual([]);
    expect(await listTree(join(cache, "work"))).toEqual([]);
    const binaries = await listTree(join(cache, "binaries"));
    expect(binaries.filter((p) => !p.endsWith("/"))).toEqual([expect.stringMatching(/^[0-9a-f]+\/kubelet$/)]);
  });
});
