/**
 * Stages binaries, the node verification script and one RPM per architecture. RPMs are cached
 * by content key like binaries (a rebuild with unchanged inputs reuses them; --rebuild does not)
 * and built concurrently, one rpmbuild per arch: its gzip payload compression is single-threaded.
 */
import { copyFile, mkdir, stat, chmod } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { buildRpm, defaultRelease, rpmArch } from "../../package/rpm.js";
import { readTemplate } from "../../package/template.js";
import { signRpms } from "../../package/sign.js";
import { run } from "../../exec.js";
import { copyAtomic } from "../../util/fs.js";
import { hashFile, hashText } from "../../util/hash.js";
import { PKG_ROOT, TOOL_VERSION } from "../../version.js";
import type { Artifact, BinaryOutput, BuildContext } from "../context.js";
import type { Reporter } from "../step.js";

export const VERIFY_SCRIPT = join(PKG_ROOT, "scripts", "verify-kmem.sh");

/** `sha256` may be given when the caller already hashed exactly these bytes (saves a read of a ~100 MB kubelet). */
export async function addArtifact(
  ctx: BuildContext,
  file: string,
  kind: Artifact["kind"],
  arch?: Artifact["arch"],
  sha256?: string,
): Promise<void> {
  const path = join(ctx.stageDir, file);
  const size = (await stat(path)).size;
  const digest = sha256 ?? (await hashFile(path, "sha256"));
  ctx.artifacts = ctx.artifacts.filter((a) => a.file !== file);
  ctx.artifacts.push({ file, kind, arch, size, sha256: digest });
}

export async function stageBinaries(ctx: BuildContext, task: Reporter): Promise<void> {
  await mkdir(ctx.stageDir, { recursive: true });
  for (const b of ctx.binaries) {
    const name = `kubelet-linux-${b.arch}`;
    await copyFile(b.path, join(ctx.stageDir, name));
    await chmod(join(ctx.stageDir, name), 0o755);
    // inspect hashed these bytes already (b.sha256)
    await addArtifact(ctx, name, "binary", b.arch, b.sha256 || undefined);
  }
  await copyFile(VERIFY_SCRIPT, join(ctx.stageDir, "verify-kmem.sh"));
  await chmod(join(ctx.stageDir, "verify-kmem.sh"), 0o755);
  await addArtifact(ctx, "verify-kmem.sh", "script");
  task.output = `${ctx.binaries.length} binaries and verify-kmem.sh staged`;
}

export function rpmRelease(ctx: BuildContext): string {
  return ctx.opts.release ?? defaultRelease();
}

/**
 * Everything that determines an RPM's bytes: the binary, the verify script, the templates, the
 * RPM fields, SOURCE_DATE_EPOCH and the rpmbuild that packs it.
 */
async function rpmCacheKey(ctx: BuildContext, b: BinaryOutput, rpmbuild: string): Promise<string> {
  const verify = ctx.artifacts.find((a) => a.file === "verify-kmem.sh")?.sha256 ?? "";
  const templates: Record<string, string> = {};
  for (const t of ["kubelet.spec.in", "kubelet.service", "kubelet.sysconfig"])
    templates[t] = hashText(await readTemplate(t));
  return hashText(
    JSON.stringify({
      tool: TOOL_VERSION,
      binary: b.sha256,
      verify,
      templates,
      version: ctx.version,
      release: rpmRelease(ctx),
      arch: b.arch,
      epoch: ctx.sourceDateEpoch,
      evidence: b.evidence?.verdict ?? null,
      packager: ctx.opts.packager ?? null,
      vendor: ctx.opts.vendor ?? null,
      compression: "gzip",
      rpmbuild,
    }),
  );
}

function rpmName(ctx: BuildContext, b: BinaryOutput): string {
  return `kubelet-${ctx.version.replaceAll("-", "~")}-${rpmRelease(ctx)}.${rpmArch(b.arch)}.rpm`;
}

async function packageOne(ctx: BuildContext, b: BinaryOutput, rpmbuild: string): Promise<"cached" | "built"> {
  const name = rpmName(ctx, b);
  const cached = b.sha256 ? join(ctx.opts.cacheDir, "rpms", await rpmCacheKey(ctx, b, rpmbuild), name) : null;
  if (cached && !ctx.opts.rebuild) {
    const hit = await copyFile(cached, join(ctx.stageDir, name)).then(
      () => true,
      () => false,
    );
    if (hit) {
      ctx.log(`[rpm ${b.arch}] ${name}: cached for these exact inputs (${cached})`);
      return "cached";
    }
  }
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
    packager: ctx.opts.packager,
    vendor: ctx.opts.vendor,
    onLine: (l) => ctx.log(`[rpm ${b.arch}] ${l}`),
    signal: ctx.signal,
  });
  if (cached) await copyAtomic(rpm.file, cached);
  return "built";
}

export async function packageRpms(ctx: BuildContext, task: Reporter): Promise<void> {
  const rpmbuild = (await run("rpmbuild", ["--version"], { env: { LC_ALL: "C" } })).stdout.trim();
  const todo = [...ctx.binaries];
  const how = new Map<BinaryOutput, "cached" | "built">();
  const failures: unknown[] = [];
  task.output = `rpmbuild ${todo.map((b) => b.arch).join(", ")}`;
  // One worker per core at most; every worker finishes its package before the step fails.
  const worker = async () => {
    while (todo.length && !failures.length) {
      const b = todo.shift()!;
      try {
        how.set(b, await packageOne(ctx, b, rpmbuild));
      } catch (err) {
        failures.push(err);
      }
    }
  };
  const workers = Math.max(1, Math.min(ctx.binaries.length, availableParallelism()));
  await Promise.all(Array.from({ length: workers }, worker));
  if (failures.length) throw failures[0];
  // Artifacts in arch order, whatever order the packages finished in.
  for (const b of ctx.binaries) await addArtifact(ctx, rpmName(ctx, b), "rpm", b.arch);
  task.output = ctx.binaries
    .map((b) => `${rpmName(ctx, b)}${how.get(b) === "cached" ? " (cached)" : ""}`)
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
