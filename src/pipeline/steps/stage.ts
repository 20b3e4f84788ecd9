/** Copies the binaries and the node verification script into the staging directory. */
import { copyFile, mkdir, chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bundledScriptPath, stampRelease } from "../../verify/script-args.js";
import { rpmRelease } from "./rpm.js";
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
  // stamped with the release the rpm step packages: the node's next step names that package
  const script = stampRelease(await readFile(bundledScriptPath(), "utf8"), rpmRelease(ctx));
  await writeFile(join(ctx.stageDir, "verify-kmem.sh"), script, { mode: 0o755 });
  await chmod(join(ctx.stageDir, "verify-kmem.sh"), 0o755);
  await addArtifact(ctx, "verify-kmem.sh", "script");
  task.output = `${ctx.binaries.length} binaries and verify-kmem.sh staged`;
}
