/**
 * SIGINT and SIGTERM while fetching (a stalling server), compiling (the builder
 * container running) and packaging (rpmbuild running). Afterwards: exit 130/143, no container left,
 * nothing half-made in the output directory, the work directory gone, the cache intact and used by
 * the next build.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { chmod, mkdir, readdir, readFile, writeFile, stat } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { ResultPromise } from "execa";
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
  containersOf,
  descendants,
  waitFor,
  buildArgs,
} from "./helpers.js";

let example: ExampleRelease;
let server: TestServer;
const TARBALL = "/v1.20.15/kubernetes-src.tar.gz";

beforeAll(async () => {
  example = await makeExample("tag-era", "1.20.15", await tmp("served"));
  server = await serveDirectory(example.dir);
});
afterAll(async () => {
  await server?.close();
  await removeTmp();
});

function startBuild(cache: string, out: string, extra: string[] = [], env: Record<string, string> = {}) {
  const started = Date.now();
  const p = start(buildArgs(cache, out, "--kubernetes", "1.20.15", "--arch", "amd64", ...extra), {
    env: { KMEM_BUILD_BASE_URL: server.url, ...env },
  });
  return { p, started };
}

async function signalAndWait(p: ResultPromise, sig: "SIGINT" | "SIGTERM") {
  const sent = Date.now();
  p.kill(sig);
  const r = await finish(p);
  return { ...r, afterSignalMs: Date.now() - sent };
}

/** The output directory holds no release and no staging directory (at most the failed run's log). */
async function expectNothingPublished(out: string) {
  const left = await readdir(out);
  expect(left.filter((f) => f !== ".1.20.15.failed.log")).toEqual([]);
}

async function expectCacheIntact(cache: string) {
  expect(await cacheLeftovers(cache)).toEqual([]);
  expect(await listTree(join(cache, "work"))).toEqual([]); // the work directory was removed
  // No half-copied compile result in the binary cache.
  expect((await listTree(join(cache, "binaries"))).filter((p) => /\.tmp-|\.partial/.test(p))).toEqual([]);
}

async function expectSourceCached(cache: string) {
  const [entry] = await cachedSources(cache);
  expect(entry).toBe(`v1.20.15/${example.sha512.slice(0, 32)}.tar.gz`);
  const bytes = await readFile(join(cache, "sources", entry!));
  expect(createHash("sha512").update(bytes).digest("hex")).toBe(example.sha512);
}

describe("during fetch (the server stalls mid-download)", () => {
  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)("%s: exit %i at once, no partial download, then a clean retry works", async (sig, code) => {
    const cache = await tmp("cache");
    const out = await tmp("out");
    server.faults.set(TARBALL, { kind: "stall" });
    server.hits.delete(TARBALL);
    try {
      const run = startBuild(cache, out, ["--no-rpm"]);
      await waitFor("the download to start", async () => (server.hits.get(TARBALL) ?? 0) >= 1);
      await waitFor("a partial download in the cache", async () =>
        (await listTree(join(cache, "sources"))).some((f) => /\.download-/.test(f)),
      );
      const r = await signalAndWait(run.p, sig);
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toContain(`error: interrupted by ${sig}`);
      expect(r.afterSignalMs).toBeLessThan(5_000);
      expect(await readdir(out)).toEqual([]);
      expect(await cachedSources(cache)).toEqual([]);
      await expectCacheIntact(cache);
    } finally {
      server.faults.delete(TARBALL);
    }
  });
});

/** Fresh for the compile tests (so they compile), then reused warm by the packaging tests. */
let cache: string;

describe("during compile (the builder container is running)", () => {
  const before = { hits: 0 };

  beforeAll(async () => {
    cache = await tmp("cache");
  });

  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)("%s: exit %i, the container is gone, nothing published", async (sig, code) => {
    const out = await tmp("out");
    const run = startBuild(cache, out, ["--no-rpm", "--rebuild"]);
    const container = await waitFor(
      "the kmem-build container to run",
      async () => {
        const mine = await containersOf(cache);
        return mine.length ? mine[0] : null;
      },
      120_000,
      100,
    );
    expect(container).toMatch(/^kmem-build-[0-9a-f]+$/);
    const r = await signalAndWait(run.p, sig);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toContain(`error: interrupted by ${sig}`);
    expect(r.afterSignalMs).toBeLessThan(30_000);
    expect(await containersOf(cache)).toEqual([]);
    await expectNothingPublished(out);
    await expectCacheIntact(cache);
    await expectSourceCached(cache);
    before.hits = server.hits.get(TARBALL) ?? 0;
  });

  it("the next build uses the cached source (no download) and succeeds", async () => {
    const out = await tmp("out");
    const run = startBuild(cache, out, ["--no-rpm", "--json"]);
    const r = await finish(run.p);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, compiled: ["amd64"] });
    expect(server.hits.get(TARBALL) ?? 0).toBe(before.hits);
    expect((await readdir(join(out, "1.20.15"))).sort()).toEqual(
      ["SHA256SUMS", "build.log", "kubelet-linux-amd64", "manifest.json", "verify-kmem.sh"].sort(),
    );
    await expectCacheIntact(cache);
  });
});

describe("during packaging (rpmbuild is running)", () => {
  let slowBin: string;

  beforeAll(async () => {
    // Warm (a cache hit after the compile tests): source and binary cached, straight to packaging.
    const warm = await finish(startBuild(cache, await tmp("out"), ["--no-rpm"]).p);
    expect(warm.code, warm.stderr).toBe(0);
    // rpmbuild of the example takes half a second: a wrapper holds it for a while first, so the
    // signal lands while "rpmbuild" is running. It forwards nothing and leaves no child behind.
    slowBin = join(await tmp("bin"), "bin");
    await mkdir(slowBin);
    const real = (await import("execa")).execaSync("sh", ["-c", "command -v rpmbuild"]).stdout.trim();
    await writeFile(
      join(slowBin, "rpmbuild"),
      [
        "#!/bin/sh",
        'if [ "$1" = -bb ]; then',
        "  sleep 20 &",
        "  nap=$!",
        "  trap 'kill $nap; exit 143' TERM INT",
        "  wait $nap",
        "fi",
        `exec ${real} "$@"`,
        "",
      ].join("\n"),
    );
    await chmod(join(slowBin, "rpmbuild"), 0o755);
  });

  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)("%s: exit %i promptly, rpmbuild stopped, no RPM or release left", async (sig, code) => {
    const out = await tmp("out");
    const run = startBuild(cache, out, [], { PATH: `${slowBin}:${process.env.PATH}` });
    const rpmbuild = await waitFor(
      "rpmbuild to run",
      async () =>
        (await descendants(run.p.pid!)).find((d) => d.comm === "rpmbuild" && d.args.includes("-bb")),
      60_000,
      50,
    );
    const r = await signalAndWait(run.p, sig);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toContain(`error: interrupted by ${sig}`);
    expect(r.afterSignalMs).toBeLessThan(10_000); // not after rpmbuild (and the rest) finished
    // rpmbuild did not outlive the build.
    expect(
      await stat(`/proc/${rpmbuild.pid}`).then(
        () => "alive",
        () => "gone",
      ),
    ).toBe("gone");
    await expectNothingPublished(out);
    await expectCacheIntact(cache);
    await expectSourceCached(cache);
  });

  it("afterwards a build with the real rpmbuild succeeds from the cache", async () => {
    const out = await tmp("out");
    const hits = server.hits.get(TARBALL) ?? 0;
    const r = await finish(startBuild(cache, out, ["--json"]).p);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ compiled: [], cached: ["amd64"] });
    expect(server.hits.get(TARBALL) ?? 0).toBe(hits);
    expect(await readdir(join(out, "1.20.15"))).toContain("kubelet-1.20.15-2.nokmem.x86_64.rpm");
  });
});
