/** `kmem-build recipes`: which Kubernetes versions are supported, and how each is built. */
import type { Command } from "commander";
import { resolve } from "node:path";
import { DEFAULT_PATCHES_DIR, DEFAULT_RECIPES_DIR, loadRecipes } from "../recipes/load.js";
import { printJson } from "./output.js";

export function registerRecipes(program: Command): void {
  program
    .command("recipes")
    .description("list the recipes: supported Kubernetes versions and how each range is built")
    .option("--recipes <dir>", "recipes directory")
    .option("--json", "machine-readable output")
    .action(async (f: { recipes?: string; json?: boolean }) => {
      const recipes = await loadRecipes(resolve(f.recipes ?? DEFAULT_RECIPES_DIR), DEFAULT_PATCHES_DIR);
      if (f.json) {
        printJson(
          recipes.map(({ name, summary, versions, minors, needsRebuild, patches, build, sha256 }) => ({
            name,
            summary,
            versions,
            minors,
            needsRebuild,
            patches,
            tags: build.tags,
            sha256,
          })),
        );
        return;
      }
      const rows = recipes.map((r) => [
        r.versions,
        r.name,
        r.needsRebuild ? "yes" : "no",
        r.patches.join(",") || "-",
        r.summary,
      ]);
      const head = ["VERSIONS", "RECIPE", "REBUILD", "PATCHES", "HOW"];
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [head, ...rows])
        process.stdout.write(r.map((c, i) => (i < 4 ? c.padEnd(w[i]!) : c)).join("  ") + "\n");
      process.stdout.write("Older versions are refused: their vendored runc predates every known fix.\n");
    });
}
