import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, cli, closedPort, startMarkerServer, type MarkerServer } from "./helpers.js";

const FIXTURE_RECIPES = join(ROOT, "test/ci/fixtures/recipes");

let server: MarkerServer;
let tmp: string;
let cache: string;
let caches = 0;

beforeAll(async () => {
  server = await startMarkerServer();
  tmp = await mkdtemp(join(tmpdir(), "kmem-releases-"));
});
afterAll(async () => {
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  cache = join(tmp, `cache-${caches++}`); // a fresh cache per test unless a test reuses it
  server.hits.clear();
});

const env = (base = server.url) => ({ KMEM_BUILD_BASE_URL: base, KMEM_BUILD_CACHE_DIR: cache });
const fixture = (...args: string[]) => cli(["releases", "--recipes", FIXTURE_RECIPES, ...args], env());
const marker = (minor: string) => `${server.url}/release/stable-${minor}.txt`;
const markerHits = () => [...server.hits.values()].reduce((a, b) => a + b, 0);

describe("kmem-build releases", () => {
  it("prints an aligned table: latest patch, recipe, rebuild need; a 404 minor is 'no release'", async () => {
    const r = await fixture();
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "MINOR  LATEST      RECIPE  REBUILD",
        "1.18   1.18.20     old     yes",
        "1.19   1.19.16     old     yes",
        "1.20   1.20.15     old     yes",
        "1.21   1.21.14     new     no (upstream has no kmem code)",
        "1.22   1.22.17     new     no (upstream has no kmem code)",
        "1.99   no release  -       -",
      ].join("\n"),
    );
  });

  it("--json lists every covered minor, retrying a marker that answered 500", async () => {
    const r = await fixture("--json");
    expect(r.code).toBe(0);
    const row = (
      minor: string,
      latest: string | null,
      recipe: string | null,
      needsRebuild: boolean | null,
    ) => ({
      minor,
      latest,
      recipe,
      needsRebuild,
      marker: marker(minor),
    });
    expect(JSON.parse(r.stdout)).toEqual({
      baseUrl: server.url,
      releases: [
        row("1.18", "1.18.20", "old", true),
        row("1.19", "1.19.16", "old", true),
        row("1.20", "1.20.15", "old", true),
        row("1.21", "1.21.14", "new", false),
        row("1.22", "1.22.17", "new", false),
        row("1.99", null, null, null),
      ],
    });
    expect(server.hits.get("/release/stable-1.19.txt")).toBe(2);
    expect(r.stderr).toContain(
      `warning: GET ${marker("1.19")}: GET ${marker("1.19")} answered HTTP 500; retrying`,
    );
  });

  it("--matrix: by default only releases that need a rebuild, on amd64 and arm64", async () => {
    const r = await fixture("--matrix");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      '{"include":[{"kubernetes":"1.18.20","arch":"amd64"},{"kubernetes":"1.18.20","arch":"arm64"},' +
        '{"kubernetes":"1.19.16","arch":"amd64"},{"kubernetes":"1.19.16","arch":"arm64"},' +
        '{"kubernetes":"1.20.15","arch":"amd64"},{"kubernetes":"1.20.15","arch":"arm64"}]}',
    );
  });

  it("--matrix filters: --all, --since, --minor, --arch", async () => {
    const all = await fixture("--matrix", "--all", "--since", "1.20", "--arch", "amd64");
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual({
      include: [
        { kubernetes: "1.20.15", arch: "amd64" },
        { kubernetes: "1.21.14", arch: "amd64" },
        { kubernetes: "1.22.17", arch: "amd64" },
      ],
    });
    server.hits.clear();
    const some = await fixture("--matrix", "--minor", "1.20,1.19", "--arch", "arm64,ppc64le", "--refresh");
    expect(some.code).toBe(0);
    expect(JSON.parse(some.stdout)).toEqual({
      include: [
        { kubernetes: "1.19.16", arch: "arm64" },
        { kubernetes: "1.19.16", arch: "ppc64le" },
        { kubernetes: "1.20.15", arch: "arm64" },
        { kubernetes: "1.20.15", arch: "ppc64le" },
      ],
    });
    // Only the selected minors are fetched.
    expect([...server.hits.keys()].sort()).toEqual(["/release/stable-1.19.txt", "/release/stable-1.20.txt"]);
  });

  it("--matrix --kubernetes: one exact release (or a minor's latest) × arches, whatever its rebuild need", async () => {
    const exact = await fixture("--matrix", "--kubernetes", "v1.21.5", "--arch", "amd64");
    expect(exact.code).toBe(0);
    expect(exact.stdout).toBe('{"include":[{"kubernetes":"1.21.5","arch":"amd64"}]}');
    expect(markerHits()).toBe(0); // an exact version needs no network

    const minor = await fixture("--matrix", "--kubernetes", "1.20");
    expect(minor.code).toBe(0);
    expect(minor.stdout).toBe(
      '{"include":[{"kubernetes":"1.20.15","arch":"amd64"},{"kubernetes":"1.20.15","arch":"arm64"}]}',
    );

    const unsupported = await fixture("--matrix", "--kubernetes", "1.9.11");
    expect(unsupported.code).toBe(2);
    expect(unsupported.stderr).toContain("Kubernetes 1.9.11 is not supported by any recipe");
  });

  it("caches markers: a second run asks nothing, --refresh asks again", async () => {
    expect((await fixture("--json")).code).toBe(0);
    const first = markerHits();
    expect(first).toBe(7); // 6 minors + one retry
    const again = await fixture("--json");
    expect(again.code).toBe(0);
    expect(markerHits()).toBe(first);
    const refreshed = await fixture("--json", "--refresh");
    expect(refreshed.code).toBe(0);
    expect(markerHits()).toBe(2 * first);
    expect(JSON.parse(refreshed.stdout)).toEqual(JSON.parse(again.stdout));
  });

  it("the shipped recipes: every 1.10-1.20 release needs a rebuild, 1.21.14 does not", async () => {
    const r = await cli(["releases", "--matrix"], env());
    expect(r.code).toBe(0);
    // This exact line is quoted in docs/ci-and-releases.md.
    expect(r.stdout).toBe(
      '{"include":[' +
        [
          "1.10.13",
          "1.11.10",
          "1.12.10",
          "1.13.12",
          "1.14.10",
          "1.15.12",
          "1.16.15",
          "1.17.17",
          "1.18.20",
          "1.19.16",
          "1.20.15",
        ]
          .map((v) => `{"kubernetes":"${v}","arch":"amd64"},{"kubernetes":"${v}","arch":"arm64"}`)
          .join(",") +
        "]}",
    );
    const table = await cli(["releases", "--minor", "1.21,1.13"], env());
    expect(table.stdout).toMatch(/^1\.13 +1\.13\.12 +patch-era +yes$/m);
    expect(table.stdout).toMatch(/^1\.21 +1\.21\.14 +post-fix +no \(upstream has no kmem code\)$/m);
  });

  it("offline: exit 1 naming the marker URL and suggesting --base-url", async () => {
    const base = `http://127.0.0.1:${await closedPort()}`;
    const r = await cli(["releases", "--recipes", FIXTURE_RECIPES, "--minor", "1.20"], env(base));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: cannot fetch release marker ${base}/release/stable-1.20.txt`);
    expect(r.stderr).toContain("ECONNREFUSED");
    expect(r.stderr).toContain("--base-url");
    expect(r.stdout).toBe("");
  });

  it("a server that keeps failing: exit 1 after retries; a marker naming another minor: exit 2", async () => {
    const down = await cli(
      ["releases", "--recipes", FIXTURE_RECIPES, "--minor", "1.20"],
      env(`${server.url}/down`),
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`cannot fetch release marker ${server.url}/down/release/stable-1.20.txt`);
    expect(server.hits.get("/down/release/stable-1.20.txt")).toBe(4); // 1 + 3 retries

    const broken = await cli(
      ["releases", "--recipes", FIXTURE_RECIPES, "--minor", "1.20"],
      env(`${server.url}/broken`),
    );
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain("does not name a 1.20.x release");
  });

  it.each([
    [["--arch", "amd64"], "--arch only applies with --matrix"],
    [["--kubernetes", "1.20.15"], "--kubernetes only applies with --matrix"],
    [["--json", "--matrix"], "--json and --matrix cannot be combined"],
    [["--matrix", "--kubernetes", "1.20.15", "--since", "1.18"], "cannot be combined with --minor"],
    [["--minor", "1.5"], "minor 1.5 is not covered by any recipe"],
    [["--since", "latest"], 'invalid Kubernetes version "latest"'],
    [["--matrix", "--arch", "mips"], 'unknown architecture "mips"'],
  ])("usage error %j → exit 2", async (args, message) => {
    const r = await fixture(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(markerHits()).toBe(0);
  });
});
