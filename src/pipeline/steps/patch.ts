/** Applies the recipe's patches: every one is checked with --dry-run before any is applied. */
import { join } from "node:path";
import { run } from "../../exec.js";
import { UsageError } from "../../errors.js";
import type { BuildContext } from "../context.js";
import type { Reporter } from "../step.js";
import type { PreviewContext } from "../preview.js";

function patchArgs(tree: string, file: string, dryRun: boolean): string[] {
  return [
    "-p1",
    "--forward",
    "--batch",
    "--no-backup-if-mismatch",
    "-r",
    "-",
    "-d",
    tree,
    "-i",
    file,
    ...(dryRun ? ["--dry-run"] : []),
  ];
}

/** From GNU patch's output, the file a failing hunk belongs to and the failure line. */
function whereItFailed(output: string): string {
  let file = "?";
  for (const line of output.split("\n")) {
    const m = /^(?:checking|patching) file (.+)$/.exec(line);
    if (m) file = m[1]!.replace(/^'|'$/g, "");
    if (/FAILED|can't find file|Reversed|malformed|Only garbage/.test(line)) return `${file}: ${line.trim()}`;
  }
  return output.split("\n").slice(-3).join(" ").trim();
}

export async function applyPatches(ctx: BuildContext, task: Reporter): Promise<void> {
  const tree = ctx.treeDir!;
  for (const p of ctx.patches) {
    const r = await run("patch", patchArgs(tree, join(ctx.opts.patchesDir, p.file), true), {
      allowFailure: true,
    });
    if (r.exitCode !== 0) {
      throw new UsageError(
        `patch ${p.file} does not apply to Kubernetes ${ctx.version}: ${whereItFailed(r.stdout + "\n" + r.stderr)}`,
        `nothing was changed; check that ${ctx.recipe.file} is the right recipe for this tree (versions: ${ctx.recipe.versions})`,
      );
    }
  }
  for (const p of ctx.patches) {
    await run("patch", patchArgs(tree, join(ctx.opts.patchesDir, p.file), false), {
      what: `apply ${p.file}`,
    });
    ctx.log(`applied ${p.file} sha256=${p.sha256}`);
  }
  task.output = `applied ${ctx.patches.map((p) => p.file).join(", ")}`;
}

export function previewPatches(ctx: PreviewContext): void {
  ctx.shown.patches = ctx.recipe.patches;
}
