/** Stages binaries, the node verification script and one RPM per architecture. */
import { copyFile, mkdir, stat, chmod } from "node:fs/promises";
import { join } from "node:path";
import { buildRpm, defaultRelease } from "../../package/rpm.js";
import { signRpms } from "../../package/sign.js";
import { hashFile } from "../../util/hash.js";
import { PKG_ROOT } from "../../version.js";
import type { Artifact, BuildContext } from "../context.js";
import type { Reporter } from "../step.js";

export const VERIFY_SCRIPT = join(PKG_ROOT, "scripts", "verify-kmem.sh");

export async function addArtifact(
  ctx: BuildContext,
  file: string,
  kind: Artifact["kind"],
  arch?: Artifact["arch"],
): Promise<void> {
  const path = join(ctx.stageDir, file);
  ctx.artifacts = ctx.artifacts.filter((a) => a.file !== file);
  ctx.artifacts.push({
    file,
    kind,
    arch,
    size: (await stat(path)).size,
    sha256: await hashFile(path, "sha256"),
  });
}

export async function stageBinaries(ctx: BuildContext, task: Reporter): Promise<void> {
  await mkdir(ctx.stageDir, { recursive: true });
  for (const b of ctx.binaries) {
    const name = `kubelet-linux-${b.arch}`;
    await copyFile(b.path, join(ctx.stageDir, name));
    await chmod(join(ctx.stageDir, name), 0o755);
    await addArtifact(ctx, name, "binary", b.arch);
  }
  await copyFile(VERIFY_SCRIPT, join(ctx.stageDir, "verify-kmem.sh"));
  await chmod(join(ctx.stageDir, "verify-kmem.sh"), 0o755);
  await addArtifact(ctx, "verify-kmem.sh", "script");
  task.output = `${ctx.binaries.length} binaries and verify-kmem.sh staged`;
}

export function rpmRelease(ctx: BuildContext): string {
  return ctx.opts.release ?? defaultRelease();
}

export async function packageRpms(ctx: BuildContext, task: Reporter): Promise<void> {
  for (const b of ctx.binaries) {
    task.output = `rpmbuild ${b.arch}`;
    const rpm = await buildRpm({
      version: ctx.version.replaceAll("-", "~"),
      release: rpmRelease(ctx),
      arch: b.arch,
      binary: join(ctx.stageDir, `kubelet-linux-${b.arch}`),
      verifyScript: VERIFY_SCRIPT,
      sourceDateEpoch: ctx.sourceDateEpoch!,
      workDir: join(ctx.opts.workDir, "rpm"),
      outDir: ctx.stageDir,
      evidence: b.evidence?.verdict,
      onLine: (l) => ctx.log(`[rpm ${b.arch}] ${l}`),
    });
    await addArtifact(ctx, rpm.name, "rpm", b.arch);
  }
  task.output = ctx.artifacts
    .filter((a) => a.kind === "rpm")
    .map((a) => a.file)
    .join(", ");
}

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
