/**
 * Network faults from a real HTTP server on 127.0.0.1 — 404, 5xx then success,
 * a connection reset mid-body, a stalled body, a redirect loop. Clear messages, bounded retries,
 * no partial file in the cache, nothing published.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from "vitest";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { createServer, type AddressInfo } from "node:net";
import { makeExample, type ExampleRelease } from "../helpers/example.js";
import { serveDirectory, type TestServer } from "../helpers/http-server.js";
import { kb, tmp, removeTmp, listTree, cacheLeftovers, cachedSources, buildArgs } from "./helpers.js";

let example: ExampleRelease;
let server: TestServer;
let cache: string;
const TARBALL = "/v1.20.15/kubernetes-src.tar.gz";

function build(out: string, args: string[], env: Record<string, string> = {}) {
  return kb(buildArgs(cache, out, "--arch", "amd64", "--no-rpm", ...args), {
    env: { KMEM_BUILD_BASE_URL: server.url, ...env },
  });
}

/** No partial download, no work directory, nothing published. */
async function expectClean(out: string) {
  expect(await cacheLeftovers(cache)).toEqual([]);
  expect(await listTree(join(cache, "work"))).toEqual([]);
  expect(await readdir(out)).toEqual([]);
}

beforeAll(async () => {
  example = await makeExample("tag-era", "1.20.15", await tmp("served"), ["--stable"]);
  server = await serveDirectory(example.dir);
  cache = await tmp("cache");
  // One real build warms the compile cache: the runs that succeed after a fault only download again.
  const warm = await build(await tmp("out"), ["--kubernetes", "1.20.15"]);
  expect(warm.code, warm.stderr).toBe(0);
});

afterAll(async () => {
  await server?.close();
  await removeTmp();
});

beforeEach(async () => {
  server.faults.clear();
  server.hits.clear();
  await rm(join(cache, "sources"), { recursive: true, force: true }); // every test downloads
});

describe("HTTP status errors", () => {
  it("404 on the tarball: exit 1, the URL and status named, not retried", async () => {
    server.faults.set(TARBALL, { kind: "status", status: 404 });
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20.15"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: GET ${server.url}${TARBALL} answered HTTP 404`);
    expect(r.stderr).toMatch(
      /hint: check the version exists and the base URL \(--base-url \/ KMEM_BUILD_BASE_URL\)/,
    );
    expect(server.hits.get(TARBALL)).toBe(1);
    await expectClean(out);
  });

  it("a version the server does not have (no published checksum): exit 2, says how to give one", async () => {
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20.3"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `error: no published checksum at ${server.url}/v1.20.3/kubernetes-src.tar.gz.sha512`,
    );
    expect(r.stderr).toMatch(/hint: pass --sha512 HEX/);
    expect(server.hits.get("/v1.20.3/kubernetes-src.tar.gz")).toBeUndefined();
    await expectClean(out);
  });

  it("404 on the release marker of a minor: exit 1, before any lock or download", async () => {
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.17"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`GET ${server.url}/release/stable-1.17.txt answered HTTP 404`);
    expect(await readdir(out)).toEqual([]);
  });

  it("500 twice, then the tarball: retried, and the build succeeds", async () => {
    server.faults.set(TARBALL, { kind: "status", status: 500, times: 2 });
    server.faults.set("/release/stable-1.20.txt", { kind: "status", status: 503, times: 1 });
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20"]);
    expect(r.code, r.stderr).toBe(0);
    expect(server.hits.get("/release/stable-1.20.txt")).toBe(2);
    expect(server.hits.get(TARBALL)).toBe(3);
    // Progress (plain lines on stderr without a TTY) names each retry and why.
    expect(r.stderr).toMatch(/retry 1 after: GET .* answered HTTP 500/);
    expect(r.stderr).toMatch(/retry 2 after: GET .* answered HTTP 500/);
    expect(await readdir(join(out, "1.20.15"))).toContain("kubelet-linux-amd64");
    expect(await cachedSources(cache)).toEqual([`v1.20.15/${example.sha512.slice(0, 32)}.tar.gz`]);
    expect(await cacheLeftovers(cache)).toEqual([]);
  });

  it("500 every time: gives up after 4 attempts (bounded), exit 1", async () => {
    server.faults.set(TARBALL, { kind: "status", status: 500 });
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20.15"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: GET ${server.url}${TARBALL} answered HTTP 500`);
    expect(server.hits.get(TARBALL)).toBe(4);
    await expectClean(out);
  });
});

describe("broken connections", () => {
  it("a reset mid-body once: retried, the build succeeds from a complete download", async () => {
    server.faults.set(TARBALL, { kind: "reset", afterBytes: 1000, times: 1 });
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20.15"]);
    expect(r.code, r.stderr).toBe(0);
    expect(server.hits.get(TARBALL)).toBe(2);
    expect(r.stderr).toMatch(/retry 1 after: /);
    expect(await cachedSources(cache)).toEqual([`v1.20.15/${example.sha512.slice(0, 32)}.tar.gz`]);
    expect(await cacheLeftovers(cache)).toEqual([]);
  });

  it("a reset mid-body every time: exit 1 after 4 attempts, no partial file kept", async () => {
    server.faults.set(TARBALL, { kind: "reset", afterBytes: 1000 });
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20.15"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `error: GET ${server.url}${TARBALL} failed after 4 attempt\\(s\\): UND_ERR_SOCKET \\(other side closed\\)`,
      ),
    );
    expect(r.stderr).toMatch(/hint: check the network or the base URL .*for air-gapped builds use --source/);
    expect(server.hits.get(TARBALL)).toBe(4);
    await expectClean(out);
    expect(await cachedSources(cache)).toEqual([]);
  });

  it("nothing listening (connection refused): exit 1 after 4 attempts, the reason named", async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, "127.0.0.1", () => {
        const { port } = srv.address() as AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20.15", "--base-url", `http://127.0.0.1:${closed}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: GET http://127.0.0.1:${closed}/v1.20.15/kubernetes-src.tar.gz.sha512 failed after 4 attempt(s): ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:${closed})`,
    );
    await expectClean(out);
  });

  it('a port fetch refuses to use: the reason is named, not just "fetch failed"', async () => {
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20.15", "--base-url", "http://127.0.0.1:1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/failed after 4 attempt\(s\): fetch failed: bad port/);
  });

  it("a server that stalls mid-download: times out (KMEM_BUILD_HTTP_TIMEOUT_MS), retries, exit 1", async () => {
    server.faults.set(TARBALL, { kind: "stall" });
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20.15"], { KMEM_BUILD_HTTP_TIMEOUT_MS: "400" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: GET ${server.url}${TARBALL} failed after 4 attempt(s): no data for 400 ms (stalled)`,
    );
    expect(server.hits.get(TARBALL)).toBe(4);
    expect(r.ms).toBeLessThan(30_000); // 4 × 0.4 s + back-off, not 4 × 30 s
    await expectClean(out);
  });

  it("a stalled checksum file times out the same way", async () => {
    server.faults.set(`${TARBALL}.sha512`, { kind: "stall" });
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20.15"], { KMEM_BUILD_HTTP_TIMEOUT_MS: "300" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/failed after 4 attempt\(s\): no data for 300 ms \(stalled\)/);
    expect(server.hits.get(TARBALL)).toBeUndefined();
    await expectClean(out);
  });

  it("a malformed KMEM_BUILD_HTTP_TIMEOUT_MS is refused (exit 2), not silently ignored", async () => {
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20.15"], { KMEM_BUILD_HTTP_TIMEOUT_MS: "5s" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('KMEM_BUILD_HTTP_TIMEOUT_MS must be a whole number of milliseconds, not "5s"');
    await expectClean(out);
  });
});

describe("redirects", () => {
  it("a redirect loop: exit 1, names the loop, not retried", async () => {
    server.faults.set(TARBALL, { kind: "redirect", to: TARBALL });
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20.15"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: GET ${server.url}${TARBALL}: too many redirects (loop through ${server.url}${TARBALL})`,
    );
    expect(server.hits.get(TARBALL)).toBeLessThanOrEqual(6);
    await expectClean(out);
  });

  it("a chain of more than 5 redirects: exit 1", async () => {
    server.faults.set(TARBALL, { kind: "redirect", to: "/hop/1" });
    for (let i = 1; i <= 8; i++) server.faults.set(`/hop/${i}`, { kind: "redirect", to: `/hop/${i + 1}` });
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20.15"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/too many redirects/);
    expect(server.hits.get("/hop/7")).toBeUndefined();
    await expectClean(out);
  });

  it("one redirect to a mirror path is followed", async () => {
    server.faults.set(TARBALL, { kind: "redirect", to: `${TARBALL}?mirror=1`, times: 1 });
    const out = await tmp("out");
    const r = await build(out, ["--kubernetes", "1.20.15"]);
    expect(r.code, r.stderr).toBe(0);
    expect(server.hits.get(TARBALL)).toBe(2);
  });
});
