/** Loads recipes/*.yaml, validates each against schemas/recipe.schema.json, checks ranges. */
import { readFile, readdir, access } from "node:fs/promises";
import { join } from "node:path";
import { parseDocument, LineCounter } from "yaml";
import { Ajv } from "ajv";
import semver from "semver";
import { UsageError } from "../errors.js";
import { hashText } from "../util/hash.js";
import { PKG_ROOT } from "../version.js";
import type { Recipe } from "./types.js";

export const DEFAULT_RECIPES_DIR = join(PKG_ROOT, "recipes");
export const DEFAULT_PATCHES_DIR = join(PKG_ROOT, "patches");

let validator: ReturnType<Ajv["compile"]> | undefined;
async function validate() {
  if (!validator) {
    const schema = JSON.parse(await readFile(join(PKG_ROOT, "schemas", "recipe.schema.json"), "utf8"));
    validator = new Ajv({ allErrors: true, strict: false }).compile(schema);
  }
  return validator;
}

function fail(file: string, where: string, what: string): never {
  throw new UsageError(
    `recipe ${file}: ${where}: ${what}`,
    "fix the recipe file (see schemas/recipe.schema.json)",
  );
}

export async function loadRecipe(file: string, patchesDir = DEFAULT_PATCHES_DIR): Promise<Recipe> {
  const bytes = await readFile(file);
  const lines = new LineCounter();
  const doc = parseDocument(bytes.toString("utf8"), { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = lines.linePos(e.pos[0]);
    fail(file, `line ${pos.line}`, e.message.split("\n")[0]!);
  }
  const data = doc.toJS() as Recipe;
  const check = await validate();
  if (!check(data)) {
    const e = check.errors![0]!;
    const field = e.instancePath ? e.instancePath.slice(1).replace(/\//g, ".") : "(top level)";
    const detail =
      e.keyword === "required"
        ? `missing field "${(e.params as { missingProperty: string }).missingProperty}"`
        : e.message;
    fail(
      file,
      `field ${field}`,
      `${detail}${e.keyword === "enum" ? ` (allowed: ${(e.params as { allowedValues: string[] }).allowedValues.join(", ")})` : ""}`,
    );
  }
  if (!semver.validRange(data.versions))
    fail(file, "field versions", `"${data.versions}" is not a valid semver range`);
  for (const p of data.patches) {
    try {
      await access(join(patchesDir, p));
    } catch {
      fail(file, "field patches", `patch file "${p}" not found in ${patchesDir}`);
    }
  }
  for (const m of data.build.withoutGenerators?.provenMinors ?? []) {
    if (!data.minors.includes(m))
      fail(file, "field build.withoutGenerators.provenMinors", `${m} is not one of this recipe's minors`);
  }
  if (data.evidence.disabledMarkerFrom && !semver.valid(data.evidence.disabledMarkerFrom)) {
    fail(file, "field evidence.disabledMarkerFrom", `"${data.evidence.disabledMarkerFrom}" is not a version`);
  }
  return { ...data, file, sha256: hashText(bytes) };
}

export async function loadRecipes(
  dir = DEFAULT_RECIPES_DIR,
  patchesDir = DEFAULT_PATCHES_DIR,
): Promise<Recipe[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".yaml") || n.endsWith(".yml")).sort();
  } catch {
    throw new UsageError(
      `recipes directory not found: ${dir}`,
      "pass --recipes DIR pointing at a directory of *.yaml recipes",
    );
  }
  if (!names.length) throw new UsageError(`no recipes (*.yaml) in ${dir}`);
  const recipes = await Promise.all(names.map((n) => loadRecipe(join(dir, n), patchesDir)));
  for (let i = 0; i < recipes.length; i++) {
    for (let j = i + 1; j < recipes.length; j++) {
      if (semver.intersects(recipes[i]!.versions, recipes[j]!.versions)) {
        throw new UsageError(
          `recipes overlap: ${recipes[i]!.file} (${recipes[i]!.versions}) and ${recipes[j]!.file} (${recipes[j]!.versions})`,
          "each Kubernetes version must match exactly one recipe",
        );
      }
    }
  }
  return recipes;
}
