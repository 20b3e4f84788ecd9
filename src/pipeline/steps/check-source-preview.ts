/**
 * What --dry-run reads of a --source: the small files the image choice needs, with the same scan
 * the check source step runs (src/pipeline/steps/archive.ts; this joins it when that file is split).
 */
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { scanArchive, scanDirectory } from "./archive.js";
import { imageFilesOf } from "./image.js";
import type { PreviewContext } from "../preview.js";

export async function previewSourceFiles(ctx: PreviewContext): Promise<void> {
  if (!ctx.opts.source) return;
  const src = resolve(ctx.opts.source);
  const isDir = await stat(src).then(
    (s) => s.isDirectory(),
    () => false,
  );
  const wanted = imageFilesOf(ctx.recipe);
  ctx.treeFiles = (isDir ? await scanDirectory(src, wanted) : await scanArchive(src, wanted)).files;
}
