/** Compiles kubelet for one architecture inside the builder container, offline. */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import semver from "semver";
import { BuildError } from "../../errors.js";
import { copyAndHash } from "../../util/hash.js";
import { BINARY_MODE, privateDir, putKept } from "../custody.js";
import { ensureDirIn, isRegularFileIn, removeFileIn, writeFileIn } from "../../util/tree-guard.js";
import { cachedBinaryPath } from "./cache-lookup.js";
import { noteUse } from "../../cache/use.js";
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

/** The make command line: the recipe's command, its variables, the platform and version file. */
export function compileCommand(ctx: Pick<BuildContext, "recipe">, arch: Arch): string[] {
  return [
    ...ctx.recipe.build.command,
    ...Object.entries(ctx.recipe.build.env).map(([k, v]) => `${k}=${v}`),
    `KUBE_BUILD_PLATFORMS=linux/${arch}`,
    `KUBE_GIT_VERSION_FILE=${TREE_IN_CONTAINER}/${VERSION_FILE}`,
  ];
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
  const command = compileCommand(ctx, arch);
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

export function previewCompile(ctx: PreviewContext): void {
  ctx.shown.arches = ctx.opts.arches;
  ctx.shown.commands = Object.fromEntries(ctx.opts.arches.map((a) => [a, compileCommand(ctx, a).join(" ")]));
}

export function compileSubSteps(ctx: BuildContext): SubStep[] {
  return ctx.binaries
    .filter((b) => b.compiled)
    .map((b) => ({
      title: `compile ${b.arch}`,
      run: (c: BuildContext, task: Reporter) => compileArch(c, b.arch, task),
    }));
}
