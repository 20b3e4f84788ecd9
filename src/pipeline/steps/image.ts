/** Chooses the builder image (--image, the Go version the tree records, or the recipe table). */
import { UsageError } from "../../errors.js";
import { detectEngine } from "../../engine/index.js";
import { goFromTable } from "../../recipes/resolve.js";
import type { Recipe } from "../../recipes/types.js";
import type { BuildContext, ImageInfo } from "../context.js";
import type { Reporter } from "../step.js";

/** `.go-version` holds `1.16.15`; kube-cross VERSION holds `v1.15.15-legacy-1` (Go 1.15.15). */
function goFromFile(text: string): string | null {
  const m = /^v?(\d+\.\d+(?:\.\d+)?)/.exec(text.trim());
  return m ? m[1]! : null;
}

export function chooseImage(
  recipe: Recipe,
  version: string,
  treeFiles: Record<string, string>,
  flag?: string,
): ImageInfo {
  if (flag) return { reference: flag, from: "--image", goVersion: null };
  for (const f of recipe.image.fromTree) {
    const go = treeFiles[f] !== undefined ? goFromFile(treeFiles[f]!) : null;
    if (go)
      return { reference: recipe.image.reference.replaceAll("{go}", go), from: `tree:${f}`, goVersion: go };
  }
  const go = goFromTable(recipe, version);
  if (!go) {
    throw new UsageError(
      `no builder image known for Kubernetes ${version}: the tree records no Go version and ${recipe.file} has no goByMinor entry`,
      "pass --image REF (a Go builder image), or add the minor to the recipe's image.goByMinor",
    );
  }
  return { reference: recipe.image.reference.replaceAll("{go}", go), from: "recipe table", goVersion: go };
}

export async function prepareImage(ctx: BuildContext, task: Reporter): Promise<void> {
  const image = chooseImage(ctx.recipe, ctx.version, ctx.treeFiles, ctx.opts.image);
  ctx.engine ??= await detectEngine(ctx.opts.engine);
  let id = await ctx.engine.imageId(image.reference);
  if (!id) {
    task.output = `pulling ${image.reference}`;
    await ctx.engine.pull(image.reference, (l) => (task.output = l));
    id = await ctx.engine.imageId(image.reference);
  }
  ctx.image = { ...image, id: id ?? undefined };
  task.output = `${ctx.engine.name}: ${image.reference} (${image.from}) ${id?.slice(0, 19) ?? ""}`;
}
