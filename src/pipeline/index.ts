/**
 * The build, as an ordered list of steps. Reading STEPS tells the whole product; runBuild adds
 * the lock, the staging directory, signal handling and the listr2 task list around it.
 */
import { Listr, type ListrTask } from "listr2";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { progressOptions } from "../progress.js";
import { acquireLock } from "../util/lock.js";
import { endUse } from "../cache/use.js";
import { keepCacheBounded } from "../cache/prune.js";
import { replaceWith, stagingPathFor, writeFileSafely } from "../util/fs.js";
import { checkReplaceable, REJECTED_OUTPUT, RELEASE_OUTPUT } from "../util/out-dir.js";
import { collectOrphans, makeWorkDir, type WorkDir } from "../util/work-dir.js";
import { resolveBuild } from "./steps/resolve.js";
import { preflight, previewPreflight } from "./steps/preflight.js";
import { fetchSource, previewSource } from "./steps/fetch-source.js";
import { checkSource, previewSourceFiles } from "./steps/check-source.js";
import { extractSource } from "./steps/extract.js";
import { prepareImage, previewImage } from "./steps/builder-image.js";
import { lookUpCache, nothingToCompile } from "./steps/cache-lookup.js";
import { applyPatches, previewPatches } from "./steps/patch.js";
import { compileSubSteps, previewCompile } from "./steps/compile.js";
import { inspectBinaries, rejectedDir } from "./steps/inspect.js";
import { stageBinaries } from "./steps/stage.js";
import { packageRpms, previewRpm } from "./steps/rpm.js";
import { signPackages, previewSign } from "./steps/sign.js";
import { writeManifestAndSums } from "./steps/checksums-and-manifest.js";
import type { BuildContext, BuildOptions } from "./context.js";
import type { Step, Reporter } from "./step.js";

export const STEPS: Step[] = [
  { title: "preflight", run: preflight, preview: previewPreflight },
  { title: "fetch source", run: fetchSource, preview: previewSource },
  { title: "check source", run: checkSource, preview: previewSourceFiles },
  { title: "builder image", run: prepareImage, preview: previewImage },
  { title: "cache lookup", run: lookUpCache },
  { title: "extract", skip: nothingToCompile, run: extractSource },
  {
    title: "patch",
    skip: (c) => nothingToCompile(c) || (!c.patches.length && "the recipe has no patches"),
    run: applyPatches,
    preview: previewPatches,
  },
  { title: "compile", skip: nothingToCompile, subSteps: compileSubSteps, preview: previewCompile },
  { title: "inspect", run: inspectBinaries },
  { title: "stage", run: stageBinaries },
  { title: "rpm", skip: (c) => !c.opts.rpm && "--no-rpm", run: packageRpms, preview: previewRpm },
  { title: "sign", skip: (c) => !c.opts.signKey && "no --sign-key", run: signPackages, preview: previewSign },
  { title: "checksums and manifest", run: writeManifestAndSums },
];

export interface BuildResult {
  ok: true;
  kubernetes: string;
  recipe: string;
  needsRebuild: boolean;
  outDir: string;
  compiled: string[];
  cached: string[];
  artifacts: BuildContext["artifacts"];
  notices: string[];
  seconds: number;
}

function toListr(step: Step): ListrTask<BuildContext> {
  return {
    title: step.title,
    skip: step.skip ? (ctx) => step.skip!(ctx) : undefined,
    task: async (ctx, task) => {
      // Once interrupted, no further step starts (a step that ignores the signal must not be followed).
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const reporter = task as unknown as Reporter;
      if (step.subSteps) {
        return task.newListr(
          step.subSteps(ctx).map((s) => ({
            title: s.title,
            task: (c: BuildContext, t) => {
              if (c.signal.aborted) throw c.signal.reason;
              return s.run(c, t as unknown as Reporter);
            },
          })),
          { concurrent: false },
        );
      }
      await step.run!(ctx, reporter);
    },
  };
}

export async function runBuild(opts: BuildOptions, signal: AbortSignal): Promise<BuildResult> {
  const started = Date.now();
  const lines: string[] = [];
  const log = (l: string) => lines.push(`${new Date().toISOString()} ${l}`);
  const { version, recipe, notices } = await resolveBuild(opts, signal);
  log(`kmem-build: Kubernetes ${version}, recipe ${recipe.name} (${recipe.file})`);
  const release = releaseDir(opts, version);
  await checkReplaceable(release, RELEASE_OUTPUT);
  await checkReplaceable(rejectedDir(opts.outDir, version), REJECTED_OUTPUT);
  const unlock = await acquireLock(opts.outDir, `build ${version}`);
  const staging = stagingPathFor(release);
  let work: WorkDir;
  try {
    for (const { dir, what } of await collectOrphans(opts.workDir))
      process.stderr.write(`removed the ${what} directory of a run that is gone: ${dir}\n`);
    work = await makeWorkDir(opts.workDir, staging);
  } catch (err) {
    await unlock();
    throw err;
  }
  const ctx: BuildContext = {
    // The steps work in this run's own directory inside the one given.
    opts: { ...opts, workDir: work.dir },
    signal,
    log,
    logText: () => lines.join("\n") + "\n",
    version,
    recipe,
    treeFiles: {},
    patches: [],
    stageDir: staging,
    binaries: [],
    artifacts: [],
    notices,
  };
  let staged = false;
  try {
    // Made here, exclusively: the staging directory removed below is this run's own.
    await mkdir(ctx.stageDir);
    staged = true;
    const list = new Listr<BuildContext, "default" | "simple" | "silent", "simple">(
      [
        {
          title: `resolve: Kubernetes ${version} → recipe ${recipe.name} (${recipe.summary})`,
          task: async () => {},
        },
        ...STEPS.map(toListr),
      ],
      {
        ctx,
        concurrent: false,
        exitOnError: true,
        ...progressOptions(opts.json),
      },
    );
    await list.run();
    if (signal.aborted) throw signal.reason;
    await replaceWith(ctx.stageDir, release, RELEASE_OUTPUT);
  } catch (err) {
    const why = signal.aborted ? signal.reason : err;
    // Once compiling started, keep the log where a user finds it, under a name nobody takes for a release.
    if (ctx.treeDir) {
      log(`FAILED: ${(why as Error)?.message ?? String(why)}`);
      const failedLog = join(opts.outDir, `.${version}.failed.log`);
      await writeFileSafely(failedLog, ctx.logText(), "the build log").then(
        () => process.stderr.write(`build log of the failed run: ${failedLog}\n`),
        (e: Error) => process.stderr.write(`build log of the failed run not written: ${e.message}\n`),
      );
    }
    throw why;
  } finally {
    if (staged) await rm(ctx.stageDir, { recursive: true, force: true });
    await work.remove();
    await endUse(opts.cacheDir);
    await unlock();
  }
  if (opts.cacheMaxSize !== undefined) await keepCacheBounded(opts.cacheDir, opts.cacheMaxSize);
  return {
    ok: true,
    kubernetes: version,
    recipe: recipe.name,
    needsRebuild: recipe.needsRebuild,
    outDir: release,
    compiled: ctx.binaries.filter((b) => b.compiled).map((b) => b.arch),
    cached: ctx.binaries.filter((b) => !b.compiled).map((b) => b.arch),
    artifacts: ctx.artifacts,
    notices: ctx.notices,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

/** `<out>/<version>/`: where a build's files land (renamed there from the staging directory). */
export function releaseDir(opts: BuildOptions, version: string): string {
  return join(opts.outDir, version);
}
