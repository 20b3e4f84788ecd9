/** --dry-run: what a build would do, resolved as far as possible without side effects. */
import { join, resolve } from "node:path";
import { loadRecipes } from "../recipes/load.js";
import { resolveRecipe, resolveVersion } from "./steps/resolve.js";
import { sourceUrl } from "./steps/fetch.js";
import { scanArchive, scanDirectory } from "./steps/archive.js";
import { chooseImage, imageFilesOf } from "./steps/image.js";
import { compileCommand } from "./steps/compile.js";
import { stat } from "node:fs/promises";
import type { BuildContext, BuildOptions } from "./context.js";

export async function planOf(opts: BuildOptions) {
  const recipes = await loadRecipes(opts.recipesDir, opts.patchesDir);
  const version = await resolveVersion(opts.kubernetes, opts.baseUrl);
  const { recipe, notices } = resolveRecipe(version, recipes);
  let treeFiles: Record<string, string> = {};
  if (opts.source) {
    const src = resolve(opts.source);
    const isDir = await stat(src).then(
      (s) => s.isDirectory(),
      () => false,
    );
    treeFiles = (
      isDir ? await scanDirectory(src, imageFilesOf(recipe)) : await scanArchive(src, imageFilesOf(recipe))
    ).files;
  }
  let image: { reference: string; from: string } | { reference: null; from: string };
  try {
    image = chooseImage(recipe, version, treeFiles, opts.image);
  } catch (err) {
    image = { reference: null, from: (err as Error).message };
  }
  const ctx = { opts, version, recipe } as unknown as BuildContext;
  return {
    dryRun: true,
    kubernetes: version,
    recipe: {
      name: recipe.name,
      file: recipe.file,
      summary: recipe.summary,
      needsRebuild: recipe.needsRebuild,
    },
    notices,
    source: opts.source ? { path: resolve(opts.source) } : { url: sourceUrl(ctx) },
    patches: recipe.patches,
    image:
      opts.source || opts.image ? image : { ...image, note: "the source tree may record another Go version" },
    engine: opts.engine,
    arches: opts.arches,
    commands: Object.fromEntries(opts.arches.map((a) => [a, compileCommand(ctx, a).join(" ")])),
    rpm: opts.rpm,
    signed: !!opts.signKey,
    outDir: join(opts.outDir, version),
  };
}

export function printPlan(plan: Awaited<ReturnType<typeof planOf>>): void {
  const out = (s: string) => process.stdout.write(s + "\n");
  out(`Kubernetes ${plan.kubernetes}: recipe ${plan.recipe.name} — ${plan.recipe.summary}`);
  for (const n of plan.notices) out(`  notice: ${n}`);
  out(`  source:  ${"url" in plan.source ? plan.source.url : plan.source.path}`);
  out(`  patches: ${plan.patches.length ? plan.patches.join(", ") : "none"}`);
  out(`  image:   ${plan.image.reference ?? "?"} (${plan.image.from})`);
  out(`  engine:  ${plan.engine}`);
  for (const [arch, cmd] of Object.entries(plan.commands)) out(`  ${arch}: ${cmd}`);
  out(
    `  output:  ${plan.outDir}/ (${plan.rpm ? "binaries, RPMs" : "binaries"}, verify-kmem.sh, SHA256SUMS, manifest.json${plan.signed ? ", signatures" : ""})`,
  );
}
