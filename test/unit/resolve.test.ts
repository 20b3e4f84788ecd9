import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseVersionRequest, recipeFor, markerRequired } from "../../src/recipes/resolve.js";
import { loadRecipes } from "../../src/recipes/load.js";
import { resolveVersion } from "../../src/pipeline/steps/resolve.js";
import { UsageError } from "../../src/errors.js";
import { serveDirectory, type TestServer } from "../helpers/http-server.js";
import type { Recipe } from "../../src/recipes/types.js";

let recipes: Recipe[];
let server: TestServer;

beforeAll(async () => {
  recipes = await loadRecipes();
  const root = await mkdtemp(join(tmpdir(), "kmem-markers-"));
  await mkdir(join(root, "release"));
  await writeFile(join(root, "release", "stable-1.18.txt"), "v1.18.20\n");
  await writeFile(join(root, "release", "stable-1.19.txt"), "v1.20.1\n"); // a wrong marker
  server = await serveDirectory(root);
});
afterAll(() => server.close());

describe("version requests", () => {
  it.each([
    ["1.20.15", { kind: "exact", version: "1.20.15" }],
    ["v1.20.15", { kind: "exact", version: "1.20.15" }],
    ["1.21.0-rc.1", { kind: "exact", version: "1.21.0-rc.1" }],
    ["1.18", { kind: "minor", minor: "1.18" }],
    ["v1.18", { kind: "minor", minor: "1.18" }],
  ])("%s", (input, want) => expect(parseVersionRequest(input)).toEqual(want));

  it.each(["1.x", "", "v1.18.20; rm -rf /", "1", "1.20.15.1", "latest"])(
    "refuses %j with a usage error",
    (input) => {
      expect(() => parseVersionRequest(input)).toThrow(UsageError);
      expect(() => parseVersionRequest(input)).toThrow(/invalid Kubernetes version/);
    },
  );
});

describe("recipe resolution", () => {
  it.each([
    ["1.10.0", "patch-era"],
    ["1.13.12", "patch-era"],
    ["1.14.0", "tag-era"],
    ["1.14.0-rc.1", "tag-era"], // a prerelease takes its release's recipe
    ["1.20.15", "tag-era"],
    ["1.21.1", "tag-era"],
    ["1.21.2", "post-fix"],
    ["1.30.4", "post-fix"],
  ])("%s → %s", (v, name) => expect(recipeFor(v, recipes).name).toBe(name));

  it("refuses versions older than every recipe and names the supported ranges", () => {
    expect(() => recipeFor("1.9.11", recipes)).toThrow(UsageError);
    try {
      recipeFor("1.9.11", recipes);
    } catch (e) {
      expect((e as UsageError).hint).toContain(">=1.10.0 <1.14.0");
      expect((e as UsageError).hint).toContain(">=1.21.2");
    }
  });

  it("requires the disabled marker only where that runc era has one", () => {
    const tag = recipes.find((r) => r.name === "tag-era")!;
    expect(markerRequired(tag, "1.15.12")).toBe(false); // f000fe11: the variant has no strings
    expect(markerRequired(tag, "1.16.0")).toBe(true);
    expect(
      markerRequired(
        recipes.find((r) => r.name === "post-fix")!,
        "1.22.0",
      ),
    ).toBe(false);
  });
});

describe("latest patch of a minor", () => {
  it("reads the official stable-<minor>.txt marker", async () => {
    expect(await resolveVersion("1.18", server.url)).toBe("1.18.20");
    expect(server.hits.get("/release/stable-1.18.txt")).toBe(1);
  });
  it("passes exact versions through without asking the network", async () => {
    expect(await resolveVersion("1.20.15", "http://127.0.0.1:9")).toBe("1.20.15");
  });
  it("refuses a marker that names another minor", async () => {
    await expect(resolveVersion("1.19", server.url)).rejects.toThrow(/does not name a 1.19.x release/);
  });
  it("reports a missing minor with the URL", async () => {
    await expect(resolveVersion("1.7", server.url)).rejects.toThrow(/stable-1.7.txt answered HTTP 404/);
  });
});
