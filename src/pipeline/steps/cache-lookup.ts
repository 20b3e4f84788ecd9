/**
 * The content-addressed compile cache: a binary is keyed by everything that determines its
 * bytes. When every requested arch is cached, nothing is extracted, patched or compiled.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { hashFile, hashText } from "../../util/hash.js";
import { TOOL_VERSION } from "../../version.js";
import type { Arch } from "../../options.js";
import type { BuildContext } from "../context.js";
import type { Reporter } from "../step.js";

export function cachedBinaryPath(ctx: BuildContext, key: string): string {
  return join(ctx.opts.cacheDir, "binaries", key, "kubelet");
}

export function binaryCacheKey(ctx: BuildContext, arch: Arch): string | null {
  if (!ctx.source?.sha512 || !ctx.image?.id) return null; // directory sources are not addressable
  return hashText(
    JSON.stringify({
      tool: TOOL_VERSION,
      version: ctx.version,
      source: ctx.source.sha512,
      recipe: ctx.recipe.sha256,
      patches: ctx.patches.map((p) => p.sha256),
      image: ctx.image.id,
      arch,
      build: ctx.recipe.build,
      versionMark: ctx.opts.versionMark,
    }),
  );
}

export async function lookUpCache(ctx: BuildContext, task: Reporter): Promise<void> {
  ctx.patches = [];
  for (const p of ctx.recipe.patches)
    ctx.patches.push({ file: p, sha256: await hashFile(join(ctx.opts.patchesDir, p), "sha256") });
  ctx.binaries = [];
  for (const arch of ctx.opts.arches) {
    const key = binaryCacheKey(ctx, arch);
    const path = key ? cachedBinaryPath(ctx, key) : "";
    const hit =
      !!key &&
      !ctx.opts.rebuild &&
      (await stat(path).then(
        (s) => s.isFile(),
        () => false,
      ));
    ctx.binaries.push({
      arch,
      path: hit ? path : "",
      cacheKey: key ?? "",
      compiled: !hit,
      size: 0,
      sha256: "",
    });
  }
  const todo = ctx.binaries.filter((b) => b.compiled).map((b) => b.arch);
  task.output = todo.length
    ? `to compile: ${todo.join(", ")}`
    : "every binary is cached for these exact inputs: nothing to compile";
}

export function nothingToCompile(ctx: BuildContext): string | false {
  return ctx.binaries.every((b) => !b.compiled) ? "binaries cached for these exact inputs" : false;
}
