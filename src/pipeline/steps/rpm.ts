/**
 * One RPM per architecture. RPMs are cached by content key like binaries (a rebuild with
 * unchanged inputs reuses them; --rebuild does not), sealed like them (src/pipeline/custody.ts)
 * and checked for what they hold before reuse; they are built concurrently, one rpmbuild per
 * arch: its gzip payload compression is single-threaded.
 */
import { rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { buildRpm, defaultRelease, payloadOf, rpmArch } from "../../package/rpm.js";
import { readTemplate } from "../../package/template.js";
import { run } from "../../exec.js";
import { hashFile, hashText } from "../../util/hash.js";
import { rpmProblems } from "../../package/rpm-contents.js";
import { putKept, takeKept } from "../custody.js";
import { TOOL_VERSION } from "../../version.js";
import { addArtifact } from "../artifacts.js";
import type { BinaryOutput, BuildContext } from "../context.js";
import type { Reporter } from "../step.js";
import type { PreviewContext } from "../preview.js";

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
      payload: payloadOf("gzip"),
      rpmbuild,
    }),
  );
}

function rpmName(ctx: BuildContext, b: BinaryOutput): string {
  return `kubelet-${ctx.version.replaceAll("-", "~")}-${rpmRelease(ctx)}.${rpmArch(b.arch)}.rpm`;
}

async function packageOne(ctx: BuildContext, b: BinaryOutput, rpmbuild: string): Promise<"cached" | "built"> {
  const name = rpmName(ctx, b);
  const key = b.sha256 ? await rpmCacheKey(ctx, b, rpmbuild) : null;
  const cached = key ? join(ctx.opts.cacheDir, "rpms", key, name) : null;
  const staged = join(ctx.stageDir, name);
  if (key && cached && !ctx.opts.rebuild) {
    // Reused only as the staged copy of the bytes sealed when it was kept, and only when that copy
    // holds the binary shipped and runs no script but ours.
    if (await takeKept(ctx, "kept-rpm", key, cached, staged, `RPM ${name}`)) {
      const problems = await rpmProblems(staged, b.sha256);
      if (!problems.length) {
        ctx.log(`[rpm ${b.arch}] ${name}: cached for these exact inputs (${cached})`);
        return "cached";
      }
      await rm(staged, { force: true });
      const line = `the cached RPM ${name} (${cached}) was not reused: ${problems.join("; ")}; made again`;
      ctx.log(line);
      ctx.notices.push(line);
    }
  }
  const rpm = await buildRpm({
    version: ctx.version.replaceAll("-", "~"),
    release: rpmRelease(ctx),
    arch: b.arch,
    binary: join(ctx.stageDir, `kubelet-linux-${b.arch}`),
    // the staged copy: stamped with this release, the bytes SHA256SUMS lists
    verifyScript: join(ctx.stageDir, "verify-kmem.sh"),
    sourceDateEpoch: ctx.sourceDateEpoch!,
    workDir: join(ctx.opts.workDir, "rpm"),
    outDir: ctx.stageDir,
    evidence: b.evidence?.verdict,
    packager: ctx.opts.packager,
    vendor: ctx.opts.vendor,
    onLine: (l) => ctx.log(`[rpm ${b.arch}] ${l}`),
    signal: ctx.signal,
  });
  if (key && cached)
    await putKept(ctx, "kept-rpm", key, rpm.file, cached, await hashFile(rpm.file, "sha256"));
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

export function previewRpm(ctx: PreviewContext): void {
  ctx.shown.rpm = ctx.opts.rpm;
}
