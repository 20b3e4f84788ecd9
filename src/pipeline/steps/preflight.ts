/** Everything that can be checked in a second is checked before the long work starts. */
import { requireTools } from "../../exec.js";
import { detectEngine } from "../../engine/index.js";
import { resolveSigningKey } from "../../package/sign.js";
import type { BuildContext } from "../context.js";
import type { Reporter } from "../step.js";
import type { PreviewContext } from "../preview.js";

export async function preflight(ctx: BuildContext, task: Reporter): Promise<void> {
  const tools: string[] = [];
  if (ctx.recipe.patches.length) tools.push("patch");
  if (ctx.opts.rpm) tools.push("rpmbuild", "rpm");
  if (ctx.opts.signKey) tools.push("gpg", "rpmsign");
  await requireTools(tools, `build Kubernetes ${ctx.version} as asked`);
  ctx.engine = await detectEngine(ctx.opts.engine);
  if (ctx.opts.signKey) await resolveSigningKey(ctx.opts.signKey, { gnupgHome: ctx.opts.gnupgHome });
  task.output = `engine ${ctx.engine.name}${tools.length ? `; ${tools.join(", ")} found` : ""}`;
}

export function previewPreflight(ctx: PreviewContext): void {
  ctx.shown.engine = ctx.opts.engine;
}
