import { describe, it, expect } from "vitest";
import { mkdtemp, writeFile, readFile, cp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadRecipes, DEFAULT_RECIPES_DIR } from "../../src/recipes/load.js";

async function recipesWith(name: string, edit: (text: string) => string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kmem-recipes-"));
  await cp(DEFAULT_RECIPES_DIR, dir, { recursive: true });
  const file = join(dir, name);
  await writeFile(file, edit(await readFile(file, "utf8")));
  return dir;
}

describe("recipes are data, validated on load", () => {
  it("loads the bundled recipes, each with its file and hash", async () => {
    const recipes = await loadRecipes();
    expect(recipes.map((r) => r.name).sort()).toEqual(["patch-era", "post-fix", "tag-era"]);
    for (const r of recipes) expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("names the file and the missing field", async () => {
    const dir = await recipesWith("tag-era.yaml", (t) => t.replace(/^summary:.*$/m, ""));
    await expect(loadRecipes(dir)).rejects.toThrow(
      /tag-era\.yaml: field \(top level\): missing field "summary"/,
    );
  });

  it("names the file and field of a bad semver range", async () => {
    const dir = await recipesWith("tag-era.yaml", (t) =>
      t.replace(/^versions:.*$/m, 'versions: ">=1.14 <<banana"'),
    );
    await expect(loadRecipes(dir)).rejects.toThrow(
      /tag-era\.yaml: field versions: ">=1.14 <<banana" is not a valid semver range/,
    );
  });

  it("names the field of a wrongly typed value", async () => {
    const dir = await recipesWith("post-fix.yaml", (t) =>
      t.replace(/^needsRebuild:.*$/m, "needsRebuild: maybe"),
    );
    await expect(loadRecipes(dir)).rejects.toThrow(/post-fix\.yaml: field needsRebuild: must be boolean/);
  });

  it("names the line of a YAML syntax error", async () => {
    const dir = await recipesWith("post-fix.yaml", (t) => t.replace(/^name:.*$/m, "name: [unclosed"));
    await expect(loadRecipes(dir)).rejects.toThrow(/post-fix\.yaml: line \d+/);
  });

  it("refuses overlapping ranges", async () => {
    const dir = await recipesWith("post-fix.yaml", (t) =>
      t.replace(/^versions:.*$/m, 'versions: ">=1.20.0"'),
    );
    await expect(loadRecipes(dir)).rejects.toThrow(/recipes overlap/);
  });

  it("refuses a build without the code generators proven for a minor the recipe does not build", async () => {
    const dir = await recipesWith("tag-era.yaml", (t) =>
      t.replace(/provenMinors: \["1\.20"\]/, 'provenMinors: ["1.20", "1.22"]'),
    );
    await expect(loadRecipes(dir)).rejects.toThrow(
      /tag-era\.yaml: field build\.withoutGenerators\.provenMinors: 1\.22 is not one of this recipe's minors/,
    );
  });

  it("refuses a recipe naming a patch that does not exist", async () => {
    const dir = await recipesWith("tag-era.yaml", (t) =>
      t.replace(/^patches: \[\]$/m, "patches: [missing.patch]"),
    );
    await expect(loadRecipes(dir)).rejects.toThrow(
      /tag-era\.yaml: field patches: patch file "missing.patch" not found/,
    );
  });
});
