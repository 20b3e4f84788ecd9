/** Signs the RPMs (v3+v4 headers) with --sign-key; SHA256SUMS is signed by the last step. */
import { join } from "node:path";
import { signRpms } from "../../package/sign.js";
import { addArtifact } from "../artifacts.js";
import type { BuildContext } from "../context.js";
import type { Reporter } from "../step.js";
import type { PreviewContext } from "../preview.js";

export async function signPackages(ctx: BuildContext, task: Reporter): Promise<void> {
  const rpms = ctx.artifacts.filter((a) => a.kind === "rpm");
  await signRpms(
    rpms.map((a) => join(ctx.stageDir, a.file)),
    ctx.opts.signKey!,
    { gnupgHome: ctx.opts.gnupgHome },
  );
  // Signing rewrites the files: their checksums are taken again.
  for (const a of rpms) await addArtifact(ctx, a.file, "rpm", a.arch);
  task.output = `signed ${rpms.length} RPMs (v3+v4)`;
}

export function previewSign(ctx: PreviewContext): void {
  ctx.shown.signed = !!ctx.opts.signKey;
}
