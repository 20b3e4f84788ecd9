/** Copies the binaries and the node verification script into the staging directory. */
import { copyFile, mkdir, chmod } from "node:fs/promises";
import { join } from "node:path";
import { bundledScriptPath } from "../../verify/script-args.js";
import { addArtifact } from "../artifacts.js";
import type { BuildContext } from "../context.js";
import type { Reporter } from "../step.js";

export async function stageBinaries(ctx: BuildContext, task: Reporter): Promise<void> {
  await mkdir(ctx.stageDir, { recursive: true });
  for (const b of ctx.binaries) {
    const name = `kubelet-linux-${b.arch}`;
    await copyFile(b.path, join(ctx.stageDir, name));
    await chmod(join(ctx.stageDir, name), 0o755);
    // inspect hashed these bytes already (b.sha256)
    await addArtifact(ctx, name, "binary", b.arch, b.sha256 || undefined);
  }
  await copyFile(bundledScriptPath(), join(ctx.stageDir, "verify-kmem.sh"));
  await chmod(join(ctx.stageDir, "verify-kmem.sh"), 0o755);
  await addArtifact(ctx, "verify-kmem.sh", "script");
  task.output = `${ctx.binaries.length} binaries and verify-kmem.sh staged`;
}
