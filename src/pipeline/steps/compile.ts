/** Compiles kubelet for one architecture inside the builder container, offline. */
import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import semver from "semver";
import { BuildError } from "../../errors.js";
import { copyAndHash } from "../../util/hash.js";
import { BINARY_MODE, privateDir, putKept } from "../custody.js";
import { ensureDirIn, isRegularFileIn, removeFileIn, writeFileIn } from "../../util/tree-guard.js";
import { cachedBinaryPath } from "./cache-lookup.js";
import { noteUse } from "../../cache/use.js";
import { readPinnedSha512 } from "../../recipes/pins.js";
import type { Arch } from "../../options.js";
import type { BuildContext, SourceInfo } from "../context.js";
import type { Reporter, SubStep } from "../step.js";
import type { PreviewContext } from "../preview.js";

const TREE_IN_CONTAINER = "/go/src/k8s.io/kubernetes";
const CACHE_IN_CONTAINER = "/kmem-cache";
/**
 * hack/lib/golang.sh (1.14+) overrides GOCACHE with ${KUBE_GOPATH}/cache, inside the freshly
 * extracted tree, so the GOCACHE variable alone never reaches the real build: the Go build cache is
 * also mounted there. Older trees honour GOCACHE.
 */
export const TREE_GO_CACHE = "_output/local/go/cache";
const VERSION_FILE = ".kmem-build/version.env";

/**
 * Semver build metadata on the version our kubelets report (`v1.20.2+nokmem`, as k3s marks
 * `v1.27.4+k3s1`): seen in `kubelet --version`, the Node's kubeletVersion and kube_node_info;
 * build metadata leaves version precedence as upstream's.
 */
export const VERSION_MARK = "nokmem";

/** The version string the kubelet is stamped with. */
export function stampedVersion(version: string, mark: boolean): string {
  return `v${version}${mark ? `+${VERSION_MARK}` : ""}`;
}

/** What KUBE_GIT_VERSION_FILE must hold when there is no .git to read the version from. */
export function versionFile(version: string, patched: boolean, mark = false): string {
  const v = semver.parse(version)!;
  return [
    "KUBE_GIT_COMMIT=",
    `KUBE_GIT_TREE_STATE=${patched ? "dirty" : "clean"}`,
    `KUBE_GIT_VERSION=${stampedVersion(version, mark)}`,
    `KUBE_GIT_MAJOR=${v.major}`,
    `KUBE_GIT_MINOR=${v.minor}`,
    "",
  ].join("\n");
}

/**
 * Which Go build cache a build may use: a build runs the tree's own Makefile with the cache
 * mounted read-write, and Go trusts whatever its cache holds (an action ID maps to an output it
 * never re-verifies), so a hostile tree could plant outputs a later build would link. goCacheKey
 * is the one place that names the cache a build may use.
 */
export function goCacheDir(ctx: BuildContext): string {
  return join(ctx.opts.cacheDir, "go", goCacheKey(ctx.source!));
}

/** The one Go build cache of all verified sources (one publisher, or the operator, vouched for each). */
export const SHARED_GO_CACHE = "verified";

/**
 * Sources whose sha512 was verified against the release's published or pinned checksum or an
 * operator-given --sha512 share one cache, so a further patch release recompiles only what
 * changed. Anything else keeps its own, named by content, never by path: an unverified tarball by
 * its sha512, a --source directory by the digest of the copy that is built (two trees at one
 * path, e.g. a CI workspace, get two caches).
 */
export function goCacheKey(
  source: Pick<SourceInfo, "sha512"> & Partial<Pick<SourceInfo, "treeDigest" | "checksumFrom">>,
): string {
  if (source.sha512 && source.checksumFrom && source.checksumFrom !== "none") return SHARED_GO_CACHE;
  if (source.sha512) return `sha512-${source.sha512.slice(0, 32)}`;
  if (source.treeDigest) return `dir-${source.treeDigest.slice(0, 32)}`;
  throw new Error("no content digest of the source to name its Go build cache by");
}

/** Whether Kubernetes' code generators run before the kubelet is compiled, and why. */
export interface CodeGenerators {
  run: boolean;
  why: string;
}

/**
 * `make` runs the code generators (generated_files) over the whole tree before compiling: 34-117 s
 * per build here that no Go build cache shortens, most of a further release's build. A release
 * tarball already carries every generated file the kubelet links (it links no openapi or bindata
 * package), so the recipe's withoutGenerators command builds the same bytes; it is used only where
 * both hold: the minor was proven so on a real tree, and the source is one a publisher or the
 * operator vouched for (an unverified tree may carry generated files its types no longer match).
 */
export function codeGenerators(
  ctx: Pick<BuildContext, "recipe" | "version" | "opts">,
  verified: boolean,
): CodeGenerators {
  const direct = ctx.recipe.build.withoutGenerators;
  const minor = `${semver.major(ctx.version)}.${semver.minor(ctx.version)}`;
  if (!direct) return { run: true, why: `recipe ${ctx.recipe.name} has no build without them` };
  if (ctx.opts.runGenerators) return { run: true, why: "--run-generators" };
  if (!direct.provenMinors.includes(minor))
    return { run: true, why: `the build without them is not proven for ${minor}` };
  if (!verified) return { run: true, why: "the source was not verified against a checksum" };
  return {
    run: false,
    why: `a verified ${minor} release carries its generated files; proven to give the same kubelet`,
  };
}

/** A source a publisher (published or pinned checksum) or the operator (--sha512) vouched for. */
export function isVerified(source: Pick<SourceInfo, "sha512" | "checksumFrom">): boolean {
  return !!source.sha512 && source.checksumFrom !== "none";
}

/**
 * The compile command line. With the generators: the recipe's make command, its variables, the
 * platform and version file as make arguments. Without: the same variables in the environment of
 * the recipe's direct command (`env` sets them; build.sh takes its arguments as targets).
 */
export function compileCommand(
  ctx: Pick<BuildContext, "recipe">,
  arch: Arch,
  generators: CodeGenerators,
): string[] {
  const vars = [
    ...Object.entries(ctx.recipe.build.env).map(([k, v]) => `${k}=${v}`),
    `KUBE_BUILD_PLATFORMS=linux/${arch}`,
    `KUBE_GIT_VERSION_FILE=${TREE_IN_CONTAINER}/${VERSION_FILE}`,
  ];
  const direct = ctx.recipe.build.withoutGenerators;
  if (generators.run || !direct) return [...ctx.recipe.build.command, ...vars];
  return ["env", ...vars, ...direct.command];
}

/** The generators decision of this build (the source is known from fetch source on). */
export function buildGenerators(ctx: BuildContext): CodeGenerators {
  return codeGenerators(ctx, isVerified(ctx.source!));
}

async function compileArch(ctx: BuildContext, arch: Arch, task: Reporter): Promise<void> {
  const tree = ctx.treeDir!;
  const goCache = goCacheDir(ctx);
  await noteUse(ctx.opts.cacheDir, goCache, ctx.version);
  await mkdir(join(goCache, "go-build"), { recursive: true });
  // Inside the untrusted tree: never through a link (src/util/tree-guard.ts).
  await ensureDirIn(tree, TREE_GO_CACHE);
  await writeFileIn(
    tree,
    VERSION_FILE,
    versionFile(ctx.version, ctx.patches.length > 0, ctx.opts.versionMark),
  );
  const builtRel = `_output/local/bin/linux/${arch}/kubelet`;
  const built = join(tree, builtRel);
  await removeFileIn(tree, builtRel);
  const generators = buildGenerators(ctx);
  const command = compileCommand(ctx, arch, generators);
  ctx.log(`code generators: ${generators.run ? "run" : "skipped"} (${generators.why})`);
  // The image that was checked (builder image) is run, by its ID: a tag re-pointed since is not followed.
  const image = runnableImage(ctx);
  ctx.log(`$ ${ctx.engine!.name} run ${image} (${ctx.image!.reference}) ${command.join(" ")}`);
  await ctx.engine!.run({
    image,
    mounts: [
      { host: tree, container: TREE_IN_CONTAINER },
      { host: goCache, container: CACHE_IN_CONTAINER },
      { host: join(goCache, "go-build"), container: `${TREE_IN_CONTAINER}/${TREE_GO_CACHE}` },
    ],
    env: {
      HOME: "/tmp",
      GOCACHE: `${CACHE_IN_CONTAINER}/go-build`,
      GOPROXY: "off",
      SOURCE_DATE_EPOCH: String(ctx.sourceDateEpoch ?? 0),
    },
    workdir: TREE_IN_CONTAINER,
    command,
    signal: ctx.signal,
    what: `compile kubelet for ${arch}`,
    onLine: (line) => {
      ctx.log(`[${arch}] ${line}`);
      task.output = line;
    },
  });
  // The tree's own build ran in between: a kubelet that is a link (to a host file) is refused.
  if (!(await isRegularFileIn(tree, builtRel))) {
    throw new BuildError(
      `the build for ${arch} finished but produced no _output/local/bin/linux/${arch}/kubelet`,
      "see the build log",
    );
  }
  // From here on only this run's copy is used: inspected, staged, packaged and kept, all the same bytes.
  const b = ctx.binaries.find((x) => x.arch === arch)!;
  b.path = join(await privateDir(ctx), `kubelet-linux-${arch}`);
  await rm(b.path, { force: true });
  const { digest } = await copyAndHash(built, b.path, "sha256", { noFollow: true, mode: BINARY_MODE });
  if (b.cacheKey)
    await putKept(ctx, "kept-binary", b.cacheKey, b.path, cachedBinaryPath(ctx, b.cacheKey), digest);
}

/** What the compile runs: the image ID the builder image step checked (its reference only without one). */
export function runnableImage(ctx: Pick<BuildContext, "image">): string {
  return ctx.image!.id ?? ctx.image!.reference;
}

/** Whether the source will be verified: a download always is (or the build stops), a directory never. */
async function previewVerified(ctx: PreviewContext): Promise<boolean> {
  if (!ctx.opts.source) return true;
  if ((await stat(ctx.opts.source).catch(() => null))?.isDirectory()) return false;
  return !!ctx.opts.sha512 || !!(await readPinnedSha512(ctx.version, ctx.opts.recipesDir));
}

export async function previewCompile(ctx: PreviewContext): Promise<void> {
  const generators = codeGenerators(ctx, await previewVerified(ctx));
  ctx.shown.arches = ctx.opts.arches;
  ctx.shown.commands = Object.fromEntries(
    ctx.opts.arches.map((a) => [a, compileCommand(ctx, a, generators).join(" ")]),
  );
  ctx.shown.generators = generators;
}

export function compileSubSteps(ctx: BuildContext): SubStep[] {
  return ctx.binaries
    .filter((b) => b.compiled)
    .map((b) => ({
      title: `compile ${b.arch}`,
      run: (c: BuildContext, task: Reporter) => compileArch(c, b.arch, task),
    }));
}
