/**
 * Bad arguments and bad recipes. Every message names the value, the file and the
 * field or line, and what is accepted; exit 2; nothing is written.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { cp, readFile, readdir, writeFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { makeExample, type ExampleRelease } from "../helpers/example.js";
import { kb, tmp, removeTmp, listTree, buildArgs, REPO } from "./helpers.js";

let example: ExampleRelease;
let cache: string;

beforeAll(async () => {
  example = await makeExample("tag-era", "1.20.15", await tmp("served"));
  cache = await tmp("cache");
});
afterAll(removeTmp);

/** No network: an unroutable base URL makes any download attempt fail loudly instead. */
const OFFLINE = { KMEM_BUILD_BASE_URL: "http://127.0.0.1:9" };

async function build(args: string[], out?: string) {
  const o = out ?? (await tmp("out"));
  const r = await kb(buildArgs(cache, o, "--no-rpm", ...args), { env: OFFLINE });
  return { ...r, out: o };
}

function expectUsage(r: { code: number; stderr: string }) {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/internal error| {4}at /);
}

describe("versions", () => {
  it.each([
    ["1.x", '"1.x"'],
    ["v1.18.20; rm -rf /", '"v1.18.20; rm -rf /"'],
    ["", '""'],
    ["1.20.15.1", '"1.20.15.1"'],
    ["latest", '"latest"'],
    ["--help-me", '"--help-me"'],
  ])("--kubernetes %j is refused, the value quoted, the accepted forms listed", async (value, quoted) => {
    const r = await build([`--kubernetes=${value}`]);
    expectUsage(r);
    expect(r.stderr).toContain(`error: invalid Kubernetes version ${quoted}`);
    expect(r.stderr).toContain(
      "hint: give a release like 1.20.15 (or v1.20.15), a prerelease like 1.21.0-rc.1, or a minor like 1.18 for its latest patch",
    );
    expect(await readdir(r.out)).toEqual([]);
    expect(await listTree(cache)).toEqual([]); // nothing fetched, no work dir
  });

  it("an unsupported version (1.9.11) names the supported ranges and recipes", async () => {
    const r = await build(["--kubernetes", "1.9.11"]);
    expectUsage(r);
    expect(r.stderr).toContain("error: Kubernetes 1.9.11 is not supported by any recipe");
    expect(r.stderr).toMatch(/hint: supported: .*>=1\.10\.0 <1\.14\.0 \(patch-era\)/);
    expect(r.stderr).toMatch(/\(tag-era\)/);
    expect(r.stderr).toMatch(/\(post-fix\)/);
    expect(await readdir(r.out)).toEqual([]);
  });

  it("--kubernetes missing entirely: commander's message, exit 2", async () => {
    const r = await kb(["build", "--out", await tmp("out")]);
    expectUsage(r);
    expect(r.stderr).toMatch(/required option '-k, --kubernetes <version>' not specified/);
  });
});

describe("architectures, engine, URLs, unknown options", () => {
  it.each([
    ["amd64,mips", /error: unknown architecture "mips"/],
    ["x86_64", /error: unknown architecture "x86_64"/],
    ["AMD64", /error: unknown architecture "AMD64"/],
  ])("--arch %s: names the value and lists the accepted ones", async (arch, message) => {
    const r = await build(["--kubernetes", "1.20.15", "--arch", arch]);
    expectUsage(r);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("hint: accepted: amd64, arm64, ppc64le, s390x");
    expect(await readdir(r.out)).toEqual([]);
  });

  it("--arch with nothing in it", async () => {
    const r = await build(["--kubernetes", "1.20.15", "--arch", ","]);
    expectUsage(r);
    expect(r.stderr).toContain("error: no architecture given");
  });

  it("--engine not in the list", async () => {
    const r = await kb(["build", "--kubernetes", "1.20.15", "--engine", "podmn"]);
    expectUsage(r);
    expect(r.stderr).toMatch(/argument 'podmn' is invalid\. Allowed choices are auto, podman, docker/);
  });

  it.each([
    ["ftp://mirror.example/k8s", /base URL must be http or https: ftp:\/\/mirror\.example\/k8s/],
    ["not a url", /invalid base URL "not a url"/],
  ])("--base-url %s", async (url, message) => {
    const r = await build(["--kubernetes", "1.20.15", "--base-url", url]);
    expectUsage(r);
    expect(r.stderr).toMatch(message);
  });

  it("an unknown option", async () => {
    const r = await kb(["build", "--kubernetes", "1.20.15", "--frobnicate"]);
    expectUsage(r);
    expect(r.stderr).toMatch(/unknown option '--frobnicate'/);
  });

  it("--source that does not exist", async () => {
    const r = await build(["--kubernetes", "1.20.15", "--source", "/nonexistent/kubernetes-src.tar.gz"]);
    expectUsage(r);
    expect(r.stderr).toContain("error: --source /nonexistent/kubernetes-src.tar.gz does not exist");
    expect(r.stderr).toContain("give a kubernetes-src.tar.gz or an extracted source directory");
  });
});

describe("recipes (--recipes DIR with an edited copy)", () => {
  async function recipesWith(edit: (tagEra: string) => string, file = "tag-era.yaml") {
    const dir = join(await tmp("recipes"), "recipes");
    await cp(join(REPO, "recipes"), dir, { recursive: true });
    const f = join(dir, file);
    await writeFile(f, edit(await readFile(f, "utf8")));
    return { dir, file: f };
  }

  it.each<[string, (t: string) => string, RegExp]>([
    [
      "a missing field",
      (t) => t.replace(/^summary:.*\n/m, ""),
      /field \(top level\): missing field "summary"/,
    ],
    [
      "a bad version range",
      (t) => t.replace(/^versions:.*$/m, 'versions: ">=1.14.0 <<1.21.2"'),
      /field versions: ">=1\.14\.0 <<1\.21\.2" is not a valid semver range/,
    ],
    [
      "a value outside an enum",
      (t) => t.replace(/disabledMarker: present/, "disabledMarker: maybe"),
      /field evidence\.disabledMarker: .*\(allowed: present, absent, any\)/,
    ],
    [
      "a wrong type",
      (t) => t.replace(/^needsRebuild: true$/m, "needsRebuild: sometimes"),
      /field needsRebuild: must be boolean/,
    ],
    ["broken YAML", (t) => t.replace(/^minors: \[/m, "minors: [[\n"), /: line \d+: /],
    [
      "a patch file that does not exist",
      (t) => t.replace(/^patches: \[\]$/m, 'patches: ["missing.patch"]'),
      /field patches: patch file "missing\.patch" not found in /,
    ],
  ])("%s: names the file and the field or line, exit 2", async (_what, edit, message) => {
    const { dir, file } = await recipesWith(edit);
    const r = await build(["--kubernetes", "1.20.15", "--recipes", dir]);
    expectUsage(r);
    expect(r.stderr).toContain(`error: recipe ${file}: `);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("hint: fix the recipe file (see schemas/recipe.schema.json)");
    expect(await readdir(r.out)).toEqual([]);
  });

  it("overlapping ranges name both files", async () => {
    const { dir } = await recipesWith((t) => t.replace(/^versions:.*$/m, 'versions: ">=1.14.0 <1.23.0"'));
    const r = await build(["--kubernetes", "1.20.15", "--recipes", dir]);
    expectUsage(r);
    expect(r.stderr).toMatch(
      /recipes overlap: .*post-fix\.yaml \(>=1\.21\.2\) and .*tag-era\.yaml \(>=1\.14\.0 <1\.23\.0\)/,
    );
    expect(r.stderr).toContain("each Kubernetes version must match exactly one recipe");
  });

  it("a --recipes directory that does not exist, or has no recipes", async () => {
    let r = await build(["--kubernetes", "1.20.15", "--recipes", "/nonexistent-recipes"]);
    expectUsage(r);
    expect(r.stderr).toContain("error: recipes directory not found: /nonexistent-recipes");
    r = await build(["--kubernetes", "1.20.15", "--recipes", await tmp("empty")]);
    expectUsage(r);
    expect(r.stderr).toMatch(/error: no recipes \(\*\.yaml\) in /);
  });

  it("a patch that conflicts with the tree: names the patch, the file and the hunk; nothing published", async () => {
    const base = await tmp("recipes");
    const recipes = join(base, "recipes");
    const patches = join(base, "patches");
    await cp(join(REPO, "recipes"), recipes, { recursive: true });
    await cp(join(REPO, "patches"), patches, { recursive: true });
    const recipe = join(recipes, "tag-era.yaml");
    await writeFile(
      recipe,
      (await readFile(recipe, "utf8")).replace(/^patches: \[\]$/m, 'patches: ["conflict.patch"]'),
    );
    await writeFile(
      join(patches, "conflict.patch"),
      [
        "--- a/Makefile",
        "+++ b/Makefile",
        "@@ -1,3 +1,3 @@",
        " this line is not in the Makefile",
        "-and neither is this one",
        "+replaced",
        " nor this one",
        "",
      ].join("\n"),
    );
    const r = await build([
      "--kubernetes",
      "1.20.15",
      "--arch",
      "amd64",
      "--source",
      example.tarball,
      "--sha512",
      example.sha512,
      "--recipes",
      recipes,
      "--patches",
      patches,
    ]);
    expectUsage(r);
    expect(r.stderr).toMatch(
      /error: patch conflict\.patch does not apply to Kubernetes 1\.20\.15: Makefile: Hunk #1 FAILED at 1/,
    );
    expect(r.stderr).toContain(
      `hint: nothing was changed; check that ${recipe} is the right recipe for this tree`,
    );
    // Only the log of the failed run, under a name nobody takes for a release.
    expect(await readdir(r.out)).toEqual([".1.20.15.failed.log"]);
    expect(await readFile(join(r.out, ".1.20.15.failed.log"), "utf8")).toMatch(
      /FAILED: patch conflict\.patch/,
    );
    expect(await listTree(join(cache, "work"))).toEqual([]);
    // The user's source is untouched.
    expect((await stat(example.tarball)).isFile()).toBe(true);
  });
});

describe("flags the real run refuses are refused by --dry-run too", () => {
  it("--out naming an existing file: usage error, exit 2, the file untouched", async () => {
    const file = join(await tmp("outfile"), "taken");
    await writeFile(file, "mine\n");
    const r = await build(["--kubernetes", "1.20.15", "--source", example.tarball], file);
    expectUsage(r);
    expect(r.stderr).toContain(`--out ${file} exists and is not a directory`);
    expect(await readFile(file, "utf8")).toBe("mine\n");
  });

  it.each([
    [["--release", "2;rm"], /invalid RPM release "2;rm"/],
    [["--image", "a b"], /--image "a b" is not an image reference/],
    [["--out", "/etc/passwd"], /--out \/etc\/passwd exists and is not a directory/],
  ])("--dry-run %j: exit 2", async (flags, message) => {
    const r = await build(["--kubernetes", "1.20.15", "--source", example.tarball, "--dry-run", ...flags]);
    expectUsage(r);
    expect(r.stderr).toMatch(message);
  });

  it("--dry-run --source naming nothing: the run's usage error, not an internal error", async () => {
    const missing = join(await tmp("nosource"), "kubernetes-src.tar.gz");
    for (const dry of [["--dry-run"], []]) {
      const r = await build(["--kubernetes", "1.20.15", "--source", missing, ...dry]);
      expectUsage(r);
      expect(r.stderr).toContain(`--source ${missing} does not exist`);
    }
  });
});
