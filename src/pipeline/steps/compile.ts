/** Compiles kubelet for one architecture inside the builder container, offline. */
import { mkdir, writeFile, stat, rm } from "node:fs/promises";
import { join } from "node:path";
import semver from "semver";
import { BuildError } from "../../errors.js";
import { copyAtomic } from "../../util/fs.js";
import { cachedBinaryPath } from "./plan.js";
import type { Arch } from "../../options.js";
import type { BuildContext } from "../context.js";
import type { Reporter, SubStep } from "../step.js";

const TREE_IN_CONTAINER = "/go/src/k8s.io/kubernetes";
const CACHE_IN_CONTAINER = "/kmem-cache";
/**
 * hack/lib/golang.sh (1.14+) overrides GOCACHE with ${KUBE_GOPATH}/cache, inside the freshly
 * extracted tree, so the GOCACHE variable alone never reaches the real build: the Go build cache is
 * also mounted there. Older trees honour GOCACHE.
 */
export const TREE_GO_CACHE = "_output/local/go/cache";
const VERSION_FILE = ".kmem-build/version.env";

/** What KUBE_GIT_VERSION_FILE must hold when there is no .git to read the version from. */
export function versionFile(version: string, patched: boolean): string {
  const v = semver.parse(version)!;
  return [
    "KUBE_GIT_COMMIT=",
    `KUBE_GIT_TREE_STATE=${patched ? "dirty" : "clean"}`,
    `KUBE_GIT_VERSION=v${version}`,
    `KUBE_GIT_MAJOR=${v.major}`,
    `KUBE_GIT_MINOR=${v.minor}`,
    "",
  ].join("\n");
}

/** The make command line: the recipe's command, its variables, the platform and version file. */
export function compileCommand(ctx: BuildContext, arch: Arch): string[] {
  return [
    ...ctx.recipe.build.command,
    ...Object.entries(ctx.recipe.build.env).map(([k, v]) => `${k}=${v}`),
    `KUBE_BUILD_PLATFORMS=linux/${arch}`,
    `KUBE_GIT_VERSION_FILE=${TREE_IN_CONTAINER}/${VERSION_FILE}`,
  ];
}

async function compileArch(ctx: BuildContext, arch: Arch, task: Reporter): Promise<void> {
  const tree = ctx.treeDir!;
  const goCache = join(ctx.opts.cacheDir, "go");
  await mkdir(join(goCache, "go-build"), { recursive: true });
  await mkdir(join(tree, ".kmem-build"), { recursive: true });
  await mkdir(join(tree, TREE_GO_CACHE), { recursive: true });
  await writeFile(join(tree, VERSION_FILE), versionFile(ctx.version, ctx.patches.length > 0));
  const built = join(tree, "_output", "local", "bin", "linux", arch, "kubelet");
  await rm(built, { force: true });
  const command = compileCommand(ctx, arch);
  ctx.log(`$ ${ctx.engine!.name} run ${ctx.image!.reference} ${command.join(" ")}`);
  await ctx.engine!.run({
    image: ctx.image!.reference,
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
  if (
    !(await stat(built).then(
      (s) => s.isFile(),
      () => false,
    ))
  ) {
    throw new BuildError(
      `the build for ${arch} finished but produced no _output/local/bin/linux/${arch}/kubelet`,
      "see the build log",
    );
  }
  const b = ctx.binaries.find((x) => x.arch === arch)!;
  b.path = built;
  if (b.cacheKey) {
    const cached = cachedBinaryPath(ctx, b.cacheKey);
    await mkdir(join(cached, ".."), { recursive: true });
    await copyAtomic(built, cached);
  }
}

export function compileSubSteps(ctx: BuildContext): SubStep[] {
  return ctx.binaries
    .filter((b) => b.compiled)
    .map((b) => ({
      title: `compile ${b.arch}`,
      run: (c: BuildContext, task: Reporter) => compileArch(c, b.arch, task),
    }));
}
