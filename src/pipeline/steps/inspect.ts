/** Proves from each binary's bytes that it is what we claim, before anything is packaged (one streaming read per binary). */
import { join } from "node:path";
import { mkdir } from "node:fs/promises";
import { InspectionError } from "../../errors.js";
import { copyAtomic, removeOwned } from "../../util/fs.js";
import { REJECTED_OUTPUT, writeMarker } from "../../util/out-dir.js";
import { readElf, ELF_MACHINE_OF } from "../../inspect/elf.js";
import { KMEM_ENABLING_STRING, NOKMEM_MARKER_STRING, markContradiction } from "../../inspect/evidence.js";
import { readBinary } from "../../inspect/read-binary.js";
import { markerRequired } from "../../recipes/resolve.js";
import { stampedVersion } from "./compile.js";
import type { BinaryOutput, BuildContext } from "../context.js";
import type { Reporter } from "../step.js";

export async function inspectBinary(ctx: BuildContext, b: BinaryOutput): Promise<string[]> {
  const problems: string[] = [];
  const version = stampedVersion(ctx.version, ctx.opts.versionMark);
  const read = await readBinary(b.path, [version]);
  const elf = readElf(read.head);
  if (!elf) return [`kubelet for ${b.arch} is not an ELF binary`];
  if (elf.machine !== ELF_MACHINE_OF[b.arch])
    problems.push(`ELF machine is ${elf.machineName}, expected the one for ${b.arch}`);
  if (!elf.static)
    problems.push(
      "it is dynamically linked (needs the node's glibc); expected a static binary (KUBE_STATIC_OVERRIDES=kubelet)",
    );
  if (!read.found.has(version))
    problems.push(`the version string ${version} is not in the binary (KUBE_GIT_VERSION_FILE not honoured?)`);
  const ev = read.evidence;
  if (ev.marked && !ctx.opts.versionMark)
    problems.push("its version carries the nokmem mark although it was built with --no-version-mark");
  const lie = markContradiction(ev);
  if (lie) problems.push(lie);
  if (ev.kmemEnablingCode) {
    problems.push(
      `it still links runc's kmem-enabling code (found "${KMEM_ENABLING_STRING.slice(0, 40)}…"): the nokmem build tag did not take effect`,
    );
  }
  if (markerRequired(ctx.recipe, ctx.version) && !ev.disabledMarker) {
    problems.push(
      `the nokmem variant's marker "${NOKMEM_MARKER_STRING}" is missing, which ${ctx.recipe.name} requires`,
    );
  }
  if (ev.buildTags !== null) {
    for (const tag of ctx.recipe.build.tags) {
      if (!ev.buildTags.includes(tag))
        problems.push(`the Go build settings record tags [${ev.buildTags.join(",")}], without ${tag}`);
    }
  }
  b.evidence = ev;
  b.elf = { machine: elf.machineName, static: elf.static };
  b.size = read.size;
  b.sha256 = read.sha256;
  return problems;
}

/** Where refused binaries are kept: hidden, and named so nobody takes them for a release. */
export function rejectedDir(outDir: string, version: string): string {
  return join(outDir, `.${version}.rejected`);
}

export async function inspectBinaries(ctx: BuildContext, task: Reporter): Promise<void> {
  const failures: string[] = [];
  const refused = [];
  // One streaming read per binary, side by side (one core each; a read is a few MiB of memory).
  const results = await Promise.all(ctx.binaries.map((b) => inspectBinary(ctx, b)));
  for (const [i, b] of ctx.binaries.entries()) {
    const problems = results[i]!;
    for (const p of problems) failures.push(`kubelet-linux-${b.arch}: ${p}`);
    if (problems.length) refused.push(b);
    ctx.log(`inspect ${b.arch}: ${problems.length ? "FAIL" : "ok"} ${JSON.stringify(b.evidence)}`);
  }
  const keep = rejectedDir(ctx.opts.outDir, ctx.version);
  await removeOwned(keep, REJECTED_OUTPUT);
  if (failures.length) {
    // The work dir goes away with the run; the refused binaries stay for `strings`/`go version -m`.
    await mkdir(keep); // exclusively: nothing planted there is written through
    for (const b of refused) await copyAtomic(b.path, join(keep, `kubelet-linux-${b.arch}`));
    await writeMarker(keep, REJECTED_OUTPUT);
    throw new InspectionError(
      `inspection failed, nothing was published:\n  ${failures.join("\n  ")}\n  refused binaries kept for examination in ${keep}/`,
      `check that recipe ${ctx.recipe.name} fits this tree (and that its patches applied); the build log has the compiler output`,
    );
  }
  task.output = ctx.binaries.map((b) => `${b.arch}: ${b.evidence!.verdict}`).join(", ");
}
