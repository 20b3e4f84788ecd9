/**
 * The content-addressed compile cache: a binary is keyed by everything that determines its
 * bytes, and reused only when it still is what was sealed when it was kept (src/pipeline/custody.ts).
 * When every requested arch is cached, nothing is extracted, patched or compiled.
 */
import { join } from "node:path";
import { privateDir, takeKept } from "../custody.js";
import { hashFile, hashText } from "../../util/hash.js";
import { TOOL_VERSION } from "../../version.js";
import { buildGenerators, compileCommand } from "./compile.js";
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
      command: compileCommand(ctx, arch, buildGenerators(ctx)),
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
    // A kept binary is reused only as this run's copy of the bytes sealed when it was put in.
    const copy = join(await privateDir(ctx), `kubelet-linux-${arch}`);
    const hit =
      key && !ctx.opts.rebuild
        ? await takeKept(ctx, "kept-binary", key, cachedBinaryPath(ctx, key), copy, `kubelet for ${arch}`)
        : null;
    ctx.binaries.push({
      arch,
      path: hit ? copy : "",
      cacheKey: key ?? "",
      compiled: !hit,
      size: 0,
      sha256: hit?.sha256 ?? "",
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
