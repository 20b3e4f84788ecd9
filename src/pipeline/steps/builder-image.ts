/**
 * Chooses the builder image (--image; the tree's own kube-cross image; else golang:<go> from the
 * Go version the tree records or the recipe table) and checks inside it for every command the
 * build needs before anything is compiled.
 */
import { ToolMissingError, UsageError } from "../../errors.js";
import { detectEngine } from "../../engine/index.js";
import { goFromTable } from "../../recipes/resolve.js";
import type { Recipe } from "../../recipes/types.js";
import { hashText } from "../../util/hash.js";
import { keepResult, readKeptResult } from "../../util/kept-results.js";
import { TOOL_VERSION } from "../../version.js";
import type { BuildContext, ImageInfo } from "../context.js";
import type { Reporter } from "../step.js";
import type { PreviewContext } from "../preview.js";

const IMAGE_TOOLS_RESULT = "image-tools";

/** What the tool check of a builder image depends on: the engine, the image's content (its ID), the tools. */
export function imageVerdictKey(engine: string, imageId: string, needs: string[]): string {
  return hashText(JSON.stringify({ format: 1, tool: TOOL_VERSION, engine, imageId, needs }));
}

/** `.go-version` holds `1.16.15`; kube-cross VERSION holds `v1.15.15-legacy-1` (Go 1.15.15). */
function goFromFile(text: string): string | null {
  const m = /^v?(\d+\.\d+(?:\.\d+)?)/.exec(text.trim());
  return m ? m[1]! : null;
}

/** Every tree file the image choice reads (scanned from the archive without extracting it). */
export function imageFilesOf(recipe: Recipe): string[] {
  const k = recipe.image.kubeCross;
  return [...(k ? [k.dockerfile, k.tag] : []), ...recipe.image.fromTree];
}

/**
 * Upstream builds kubelet inside kube-cross: the tree's build/build-image/Dockerfile says
 * `FROM <registry>/kube-cross:KUBE_BUILD_IMAGE_CROSS_TAG` and cross/VERSION holds the tag. It has
 * the tree's exact Go, rsync (needed by generated_files) and the cross C toolchains.
 */
export function kubeCrossOf(recipe: Recipe, treeFiles: Record<string, string>): ImageInfo | null {
  const k = recipe.image.kubeCross;
  const tag = k && treeFiles[k.tag]?.trim();
  if (!k || !tag || !/^v?[0-9][A-Za-z0-9_.-]*$/.test(tag)) return null;
  const from = /^FROM\s+(\S*KUBE_BUILD_IMAGE_CROSS_TAG\S*)/m.exec(treeFiles[k.dockerfile] ?? "")?.[1];
  if (!from) return null;
  let reference = from.replace("KUBE_BUILD_IMAGE_CROSS_TAG", tag);
  for (const [old, now] of Object.entries(k.registryMoves)) {
    if (reference.startsWith(`${old}/`)) reference = now + reference.slice(old.length);
  }
  return { reference, from: `tree:${k.dockerfile}`, goVersion: goFromFile(tag) };
}

export function chooseImage(
  recipe: Recipe,
  version: string,
  treeFiles: Record<string, string>,
  flag?: string,
): ImageInfo {
  if (flag) return { reference: flag, from: "--image", goVersion: null };
  const cross = kubeCrossOf(recipe, treeFiles);
  if (cross) return cross;
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

/** Without a source tree or --image the choice is the recipe's; the tree may record another Go. */
export function previewImage(ctx: PreviewContext): void {
  let image: PreviewContext["shown"]["image"];
  try {
    image = chooseImage(ctx.recipe, ctx.version, ctx.treeFiles, ctx.opts.image);
  } catch (err) {
    image = { reference: null, from: (err as Error).message };
  }
  ctx.shown.image =
    ctx.opts.source || ctx.opts.image
      ? image
      : { ...image, note: "the source tree may record another Go version" };
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
  const needs = ctx.recipe.build.needs;
  // An image ID is the hash of the image's content: its tool check is kept by it (one container
  // start saved per build). Without an ID (nothing to bind a verdict to) the check always runs.
  const key = id ? imageVerdictKey(ctx.engine.name, id, needs) : null;
  const kept = key
    ? await readKeptResult<{ missing: string[] }>(ctx.opts.cacheDir, IMAGE_TOOLS_RESULT, key)
    : null;
  let missing: string[];
  if (Array.isArray(kept?.missing) && kept.missing.length === 0) {
    missing = [];
    ctx.log(`builder image ${image.reference} (${id}): tool check kept for this image ID, reused`);
  } else {
    task.output = `checking ${image.reference} for ${needs.join(", ")}`;
    // By ID, as the compile runs it: the verdict is about that image, whatever the tag names later.
    missing = await ctx.engine.missingTools(id ?? image.reference, needs);
    if (key && !missing.length) await keepResult(ctx.opts.cacheDir, IMAGE_TOOLS_RESULT, key, { missing });
  }
  if (missing.length) {
    throw new ToolMissingError(
      `the builder image ${image.reference} (${image.from}) has no ${missing.join(", ")}; the Kubernetes build needs ${needs.join(", ")}`,
      "use the tree's kube-cross image (the default), build a local one with scripts/build-image.sh --go 1.15 (or 1.19) and pass --image localhost/kmem-build-go:1.15, or add the tools to your image",
    );
  }
  task.output = `${ctx.engine.name}: ${image.reference} (${image.from}) ${id?.slice(0, 19) ?? ""}`;
}
