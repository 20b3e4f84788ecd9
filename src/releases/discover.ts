/** Which releases exist for the minors the recipes cover, which recipe builds each, and CI matrices. */
import semver from "semver";
import { UsageError } from "../errors.js";
import { parseVersionRequest, recipeFor } from "../recipes/resolve.js";
import type { Recipe } from "../recipes/types.js";
import type { MarkerResult } from "./markers.js";

export interface ReleaseRow {
  minor: string;
  /** Latest patch release of the minor, or null when its marker does not exist. */
  latest: string | null;
  recipe: string | null;
  needsRebuild: boolean | null;
  marker: string;
}

export interface MatrixEntry {
  kubernetes: string;
  arch: string;
}

const minorKey = (m: string) => `${m}.0`;
const byMinor = (a: string, b: string) => semver.compare(minorKey(a), minorKey(b));

/** Every minor named by some recipe, once, in version order. */
export function coveredMinors(recipes: Recipe[]): string[] {
  return [...new Set(recipes.flatMap((r) => r.minors))].sort(byMinor);
}

export function parseMinor(input: string): string {
  const req = parseVersionRequest(input);
  if (req.kind !== "minor") {
    throw new UsageError(`expected a minor like 1.20, got ${JSON.stringify(input)}`);
  }
  return req.minor;
}

export function selectMinors(covered: string[], filter: { minors?: string[]; since?: string }): string[] {
  let out = covered;
  if (filter.minors) {
    const wanted = filter.minors.map(parseMinor);
    for (const m of wanted) {
      if (!covered.includes(m)) {
        throw new UsageError(
          `minor ${m} is not covered by any recipe`,
          `covered minors: ${covered.join(", ")}`,
        );
      }
    }
    out = out.filter((m) => wanted.includes(m));
  }
  if (filter.since) {
    const since = parseMinor(filter.since);
    out = out.filter((m) => byMinor(m, since) >= 0);
  }
  return out;
}

export function toRows(markers: MarkerResult[], recipes: Recipe[]): ReleaseRow[] {
  return markers.map(({ minor, url, version }) => {
    const recipe = version ? recipeFor(version, recipes) : null;
    return {
      minor,
      latest: version,
      recipe: recipe?.name ?? null,
      needsRebuild: recipe ? recipe.needsRebuild : null,
      marker: url,
    };
  });
}

/** Releases × arches; only those that need a rebuild unless `all`. */
export function matrixOf(rows: ReleaseRow[], arches: string[], all: boolean): MatrixEntry[] {
  return rows
    .filter((r) => r.latest !== null && (all || r.needsRebuild))
    .flatMap((r) => arches.map((arch) => ({ kubernetes: r.latest!, arch })));
}

export function formatTable(rows: ReleaseRow[]): string {
  const cells = [
    ["MINOR", "LATEST", "RECIPE", "REBUILD"],
    ...rows.map((r) => [
      r.minor,
      r.latest ?? "no release",
      r.recipe ?? "-",
      r.needsRebuild === null ? "-" : r.needsRebuild ? "yes" : "no (upstream has no kmem code)",
    ]),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells
    .map((c) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join("  "))
    .join("\n");
}
