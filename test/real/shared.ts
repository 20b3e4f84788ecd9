/**
 * What the real suites (release, node, cluster) share, built at most once per test run:
 * the genuine Kubernetes 1.20.2 tree (Debian's source package), the Go 1.15 builder image,
 * the kmem-build kubelets, the upstream (tag not applied) kubelet and the control plane.
 *
 * Two directories:
 *   KMEM_BUILD_TEST_CACHE (default /var/cache/kmem-build-test): kept across runs, never product
 *     output: the verified Debian source, the Go build cache, the control-plane binaries.
 *   KMEM_BUILD_TEST_RUN (default $KMEM_BUILD_TEST_CACHE/run; scripts/test.sh sets a fresh one per
 *     run): kmem-build's own cache and output, so every CI run builds through kmem-build for real.
 *
 * Test files run one after another (fileParallelism: false) but in separate workers, and
 * developers run suites side by side: each artifact is made under a lock and recorded in a JSON
 * file, and whoever comes next reads the record instead of building again.
 */
import { execa } from "execa";
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, readFile, rm, symlink, writeFile, rename, open, lstat } from "node:fs/promises";
import { join } from "node:path";
import { cli, REPO, type CliResult } from "../helpers/cli.js";
import { alive } from "../../src/util/lock.js";
import { goCacheKey } from "../../src/pipeline/steps/compile.js";

export const TEST_CACHE = process.env.KMEM_BUILD_TEST_CACHE ?? "/var/cache/kmem-build-test";
export const RUN_DIR = process.env.KMEM_BUILD_TEST_RUN ?? join(TEST_CACHE, "run");
/** Go 1.15: the Go minor Kubernetes 1.20 was released with (scripts/build-image.sh --go 1.15). */
export const REAL_IMAGE = process.env.KMEM_BUILD_REAL_IMAGE ?? "localhost/kmem-build-go:1.15";
export const REAL_VERSION = "1.20.2";
/** Both arches by default; KMEM_BUILD_REAL_ARCHES=amd64 to save CI time. */
export const REAL_ARCHES = (process.env.KMEM_BUILD_REAL_ARCHES ?? "amd64,arm64").split(",");
export const GO_CACHE = join(TEST_CACHE, "go");
export const TAG_IGNORED_RECIPES = join(REPO, "test", "real", "fixtures", "recipes-tag-ignored");

export const BUILD_TIMEOUT_MS = 45 * 60_000;

/** Runs `make` once per RUN_DIR (or per TEST_CACHE when `persistent`), under a lock; returns its record. */
export async function once<T>(name: string, make: () => Promise<T>, persistent = false): Promise<T> {
  const dir = persistent ? TEST_CACHE : RUN_DIR;
  await mkdir(dir, { recursive: true });
  const record = join(dir, `${name}.json`);
  const lock = join(dir, `${name}.lock`);
  for (;;) {
    if (existsSync(record)) return JSON.parse(await readFile(record, "utf8")) as T;
    try {
      const fh = await open(lock, "wx");
      await fh.writeFile(String(process.pid));
      await fh.close();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number(await readFile(lock, "utf8").catch(() => "0"));
      if (pid && alive(pid)) {
        await new Promise((r) => setTimeout(r, 2000));
      } else {
        await rm(lock, { force: true });
      }
      continue;
    }
    try {
      if (existsSync(record)) continue;
      const value = await make();
      await writeFile(`${record}.tmp`, JSON.stringify(value, null, 2));
      await rename(`${record}.tmp`, record);
      return value;
    } finally {
      await rm(lock, { force: true });
    }
  }
}

export async function sha512Of(file: string): Promise<string> {
  const h = createHash("sha512");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export interface RealSource {
  tarball: string;
  sha512: string;
}

/** The orig tarball of Debian's `kubernetes` source package, checked against its .dsc. */
export function realSource(): Promise<RealSource> {
  return once(
    "debian-source",
    async () => {
      const r = await execa("sh", [join(REPO, "scripts", "real-source.sh")], {
        env: { KMEM_BUILD_TEST_CACHE: TEST_CACHE },
      });
      const tarball = r.stdout.trim();
      return { tarball, sha512: await sha512Of(tarball) };
    },
    true,
  );
}

/** kmem-build's cache for this run, with the Go build cache shared across runs. */
export async function runCacheDir(): Promise<string> {
  const cache = join(RUN_DIR, "cache");
  await mkdir(cache, { recursive: true });
  await mkdir(join(GO_CACHE, "go-build"), { recursive: true });
  const link = join(cache, "go");
  if (!(await lstat(link).catch(() => null))) await symlink(GO_CACHE, link);
  return cache;
}

export interface RealBuild {
  args: string[];
  result: CliResult;
  seconds: number;
  outDir: string;
  releaseDir: string;
}

/** The arguments of a real kmem-build build of the Debian tree. */
export async function realBuildArgs(out: string, extra: string[] = []): Promise<string[]> {
  const src = await realSource();
  return [
    "build",
    "--kubernetes",
    REAL_VERSION,
    "--arch",
    REAL_ARCHES.join(","),
    "--source",
    src.tarball,
    "--sha512",
    src.sha512,
    "--image",
    REAL_IMAGE,
    "--engine",
    "podman",
    "--cache-dir",
    await runCacheDir(),
    "--out",
    out,
    ...extra,
  ];
}

async function timedCli(args: string[]): Promise<{ result: CliResult; seconds: number }> {
  const t0 = Date.now();
  const result = await cli(args, { timeout: BUILD_TIMEOUT_MS });
  return { result, seconds: (Date.now() - t0) / 1000 };
}

/** The first kmem-build build of the real tree in this run (nokmem kubelets + RPMs). */
export function realBuild(): Promise<RealBuild> {
  return once("real-build", async () => {
    const outDir = join(RUN_DIR, "out");
    const args = await realBuildArgs(outDir, ["--json"]);
    const { result, seconds } = await timedCli(args);
    return { args, result, seconds, outDir, releaseDir: join(outDir, REAL_VERSION) };
  });
}

/** The kmem-build kubelet for one arch (fails loudly when the real build did not succeed). */
export async function nokmemKubelet(arch = "amd64"): Promise<string> {
  const b = await realBuild();
  if (b.result.code !== 0)
    throw new Error(`the real build failed (exit ${b.result.code}):\n${b.result.stderr}`);
  return join(b.releaseDir, `kubelet-linux-${arch}`);
}

/**
 * The negative control: the same tree built with BUILDTAGS=nokmem (the documented mistake: it does
 * nothing for kubelet), so runc's kmem code stays in. kmem-build must refuse it; the refused binary
 * is kept in <out>/.<version>.rejected/, and that binary is the "upstream" kubelet of the real-node test.
 */
export function tagIgnoredBuild(): Promise<RealBuild & { rejectedKubelet: string }> {
  return once("tag-ignored-build", async () => {
    await realBuild(); // warms the Go cache first: this build then only recompiles what the tag changes
    const outDir = join(RUN_DIR, "out-tag-ignored");
    const args = await realBuildArgs(outDir, [
      "--recipes",
      TAG_IGNORED_RECIPES,
      "--arch",
      "amd64",
      "--no-rpm",
      // the stand-in for upstream's kubelet reports upstream's version string, unmarked
      "--no-version-mark",
    ]);
    const { result, seconds } = await timedCli(args);
    return {
      args,
      result,
      seconds,
      outDir,
      releaseDir: join(outDir, REAL_VERSION),
      rejectedKubelet: join(outDir, `.${REAL_VERSION}.rejected`, "kubelet-linux-amd64"),
    };
  });
}

export async function upstreamKubelet(): Promise<string> {
  const b = await tagIgnoredBuild();
  if (!existsSync(b.rejectedKubelet))
    throw new Error(
      `no rejected kubelet at ${b.rejectedKubelet} (exit ${b.result.code}):\n${b.result.stderr}`,
    );
  return b.rejectedKubelet;
}

export interface ControlPlane {
  dir: string;
  apiserver: string;
  controllerManager: string;
  scheduler: string;
}

/**
 * kube-apiserver, kube-controller-manager and kube-scheduler from the same real tree, built with
 * plain `make` in the same image and Go cache (test infrastructure, not product output: kept in
 * TEST_CACHE across runs, keyed by the source and the image).
 */
export async function controlPlane(): Promise<ControlPlane> {
  const src = await realSource();
  const imageId = (
    await execa("podman", ["image", "inspect", "--format", "{{.Id}}", REAL_IMAGE])
  ).stdout.trim();
  const key = createHash("sha256").update(`${src.sha512}\n${imageId}`).digest("hex").slice(0, 16);
  return once(
    `control-plane-${key}`,
    async () => {
      const dir = join(TEST_CACHE, "control-plane", key);
      const tree = join(RUN_DIR, "control-plane-tree");
      await rm(tree, { recursive: true, force: true });
      await mkdir(tree, { recursive: true });
      await execa("tar", ["-xzf", src.tarball, "-C", tree, "--strip-components=1"]);
      await mkdir(join(tree, ".kmem-build"), { recursive: true });
      await mkdir(join(tree, "_output", "local", "go", "cache"), { recursive: true });
      await writeFile(
        join(tree, ".kmem-build", "version.env"),
        "KUBE_GIT_COMMIT=\nKUBE_GIT_TREE_STATE=clean\nKUBE_GIT_VERSION=v1.20.2\nKUBE_GIT_MAJOR=1\nKUBE_GIT_MINOR=20\n",
      );
      // The kubelet builds' cache (built with --sha512: the one shared by verified sources).
      const goCache = join(GO_CACHE, goCacheKey({ sha512: src.sha512, checksumFrom: "flag" }));
      await mkdir(join(goCache, "go-build"), { recursive: true });
      const inTree = "/go/src/k8s.io/kubernetes";
      await execa(
        "podman",
        [
          "run",
          "--rm",
          "--network",
          "none",
          "-v",
          `${tree}:${inTree}`,
          "-v",
          `${goCache}:/kmem-cache`,
          // hack/lib/golang.sh points GOCACHE into the tree; share the cache with the kubelet builds.
          "-v",
          `${join(goCache, "go-build")}:${inTree}/_output/local/go/cache`,
          "-e",
          "GOCACHE=/kmem-cache/go-build",
          "-e",
          "GOPROXY=off",
          "-e",
          "HOME=/tmp",
          "-w",
          inTree,
          REAL_IMAGE,
          "make",
          "WHAT=cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler",
          `KUBE_GIT_VERSION_FILE=${inTree}/.kmem-build/version.env`,
        ],
        { timeout: BUILD_TIMEOUT_MS },
      );
      await mkdir(dir, { recursive: true });
      const bin = join(tree, "_output", "local", "bin", "linux", "amd64");
      for (const b of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"])
        await execa("cp", [join(bin, b), join(dir, b)]);
      await rm(tree, { recursive: true, force: true });
      return {
        dir,
        apiserver: join(dir, "kube-apiserver"),
        controllerManager: join(dir, "kube-controller-manager"),
        scheduler: join(dir, "kube-scheduler"),
      };
    },
    true,
  );
}
