/** Turns what the user typed (`1.20.15`, `v1.18`, `1.21.0-rc.1`) into a version and its recipe. */
import semver from "semver";
import { UsageError } from "../errors.js";
import type { Recipe } from "./types.js";

export type VersionRequest = { kind: "exact"; version: string } | { kind: "minor"; minor: string };

const EXACT = /^v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$/;
const MINOR = /^v?(\d+)\.(\d+)$/;

export function parseVersionRequest(input: string): VersionRequest {
  const s = input.trim();
  const exact = EXACT.exec(s);
  if (exact && semver.valid(s.replace(/^v/, ""))) return { kind: "exact", version: s.replace(/^v/, "") };
  const minor = MINOR.exec(s);
  if (minor) return { kind: "minor", minor: `${Number(minor[1])}.${Number(minor[2])}` };
  throw new UsageError(
    `invalid Kubernetes version ${JSON.stringify(input)}`,
    "give a release like 1.20.15 (or v1.20.15), a prerelease like 1.21.0-rc.1, or a minor like 1.18 for its latest patch",
  );
}

/** Parses the body of an official `stable-<minor>.txt` marker (`v1.18.20\n`). */
export function parseStableMarker(body: string, minor: string, url: string): string {
  const v = body.trim().replace(/^v/, "");
  if (!semver.valid(v) || `${semver.major(v)}.${semver.minor(v)}` !== minor) {
    throw new UsageError(
      `release marker ${url} does not name a ${minor}.x release: ${JSON.stringify(body.slice(0, 80))}`,
    );
  }
  return v;
}

export function supportedRanges(recipes: Recipe[]): string {
  return recipes.map((r) => `${r.versions} (${r.name})`).join(", ");
}

export function recipeFor(version: string, recipes: Recipe[]): Recipe {
  // A prerelease (1.14.0-rc.1) takes its release's recipe: it vendors that release's runc.
  const release = semver.coerce(version)!.version;
  const found = recipes.filter((r) => semver.satisfies(release, r.versions));
  if (found.length === 1) return found[0]!;
  if (found.length === 0) {
    throw new UsageError(
      `Kubernetes ${version} is not supported by any recipe`,
      `supported: ${supportedRanges(recipes)}`,
    );
  }
  throw new UsageError(
    `Kubernetes ${version} matches several recipes: ${found.map((r) => r.file).join(", ")}`,
  );
}

/** The Go version for a minor from the recipe's table (used when the tree records none). */
export function goFromTable(recipe: Recipe, version: string): string | undefined {
  return recipe.image.goByMinor[`${semver.major(version)}.${semver.minor(version)}`];
}

/** Whether the build must show the "kernel memory accounting disabled" marker. */
export function markerRequired(recipe: Recipe, version: string): boolean {
  const e = recipe.evidence;
  if (e.disabledMarker !== "present") return false;
  return !e.disabledMarkerFrom || semver.gte(semver.coerce(version)!.version, e.disabledMarkerFrom);
}
