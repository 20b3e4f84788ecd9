/** Which exact version, which recipe, and what the user must know about it. */
import { fetchText } from "../../net/http.js";
import { markerUrl } from "../../releases/markers.js";
import { parseStableMarker, parseVersionRequest, recipeFor } from "../../recipes/resolve.js";
import { loadRecipes } from "../../recipes/load.js";
import type { Recipe } from "../../recipes/types.js";
import type { BuildOptions, ResolvedBuild } from "../context.js";

/** `1.18` → latest 1.18.x from `<base>/release/stable-1.18.txt`; exact versions pass through. */
export async function resolveVersion(input: string, base: string, signal?: AbortSignal): Promise<string> {
  const req = parseVersionRequest(input);
  if (req.kind === "exact") return req.version;
  const url = markerUrl(base, req.minor);
  return parseStableMarker(await fetchText(url, { signal }), req.minor, url);
}

export function resolveRecipe(version: string, recipes: Recipe[]): { recipe: Recipe; notices: string[] } {
  const recipe = recipeFor(version, recipes);
  const notices = recipe.notice ? [recipe.notice.replaceAll("{version}", version).trim()] : [];
  return { recipe, notices };
}

/** Before the steps (the release directory and its lock are named by the version): for a build and a preview alike. */
export async function resolveBuild(
  opts: BuildOptions,
  signal?: AbortSignal,
): Promise<ResolvedBuild & { notices: string[] }> {
  const recipes = await loadRecipes(opts.recipesDir, opts.patchesDir);
  const version = await resolveVersion(opts.kubernetes, opts.baseUrl, signal);
  const { recipe, notices } = resolveRecipe(version, recipes);
  return { opts, version, recipe, notices };
}
