/** `kmem-build build`: parse flags into BuildOptions, then run the pipeline or print its preview (--dry-run). */
import { Command, Option } from "commander";
import { join, resolve } from "node:path";
import { statSync } from "node:fs";
import { UsageError } from "../errors.js";
import { baseUrl, cacheDir, parseArches } from "../options.js";
import { maxCacheSize } from "../cache/lru.js";
import { DEFAULT_PATCHES_DIR, DEFAULT_RECIPES_DIR } from "../recipes/load.js";
import { runBuild } from "../pipeline/index.js";
import { isWithin, realPathish } from "../util/fs.js";
import { interruptSignal } from "../signals.js";
import { previewBuild, printPreview } from "../pipeline/preview.js";
import { printJson, printError } from "./output.js";
import type { BuildOptions } from "../pipeline/context.js";
import { checkPackagerVendor, DEFAULT_PACKAGER, DEFAULT_VENDOR } from "../package/rpm.js";
import { checkRelease, rebuildNotice } from "../package/release.js";

/** The flags as commander gives them: the options taken as they are, and those still to resolve. */
type Flags = Pick<
  BuildOptions,
  | "kubernetes"
  | "source"
  | "sha512"
  | "origin"
  | "engine"
  | "image"
  | "release"
  | "packager"
  | "vendor"
  | "signKey"
  | "gnupgHome"
  | "rpm"
> & {
  arch: string;
  out: string;
  baseUrl?: string;
  cacheDir?: string;
  cacheMaxSize?: string;
  workDir?: string;
  recipes?: string;
  patches?: string;
  rebuild?: boolean;
  runGenerators?: boolean;
  versionMark?: boolean;
  dryRun?: boolean;
  json?: boolean;
};

/** What both the real run and --dry-run refuse, before anything is resolved or written. */
function checkFlags(f: Flags): void {
  const out = statSync(resolve(f.out), { throwIfNoEntry: false });
  if (out && !out.isDirectory())
    throw new UsageError(
      `--out ${f.out} exists and is not a directory`,
      "give a directory (it is created if missing)",
    );
  if (f.release !== undefined) checkRelease(f.release);
  if (f.image !== undefined && !/^[^\s"'\\;]+$/.test(f.image))
    throw new UsageError(
      `--image "${f.image}" is not an image reference`,
      "e.g. localhost/kmem-build-go:1.15",
    );
}

/** How `inner` lies to `outer`, or null when apart. */
function overlap(inner: string, outer: string): string | null {
  if (inner === outer) return "is";
  if (isWithin(inner, outer)) return "is inside";
  if (isWithin(outer, inner)) return "contains";
  return null;
}

/**
 * The cache, the work directory, the source and the output each hold their own things: a cache in
 * the source tree would be copied into the build and scanned as source; a work directory that is,
 * holds or sits in the source, the output or the cache would mix scratch files with what they keep.
 */
function checkPlaces(o: BuildOptions, workFlag: string): void {
  const cache = realPathish(o.cacheDir);
  const work = realPathish(o.workDir);
  const source =
    o.source && statSync(o.source, { throwIfNoEntry: false })?.isDirectory() ? realPathish(o.source) : null;
  if (source && isWithin(cache, source))
    throw new UsageError(
      `the cache directory ${o.cacheDir} is inside the --source tree ${o.source}`,
      "keep the cache out of the source tree (it would be copied into the build as source): give --cache-dir another directory",
    );
  const st = statSync(o.workDir, { throwIfNoEntry: false });
  if (st && !st.isDirectory())
    throw new UsageError(
      `${workFlag} ${o.workDir} exists and is not a directory`,
      "give --work-dir a directory (it is created if missing)",
    );
  const places: [string, string | null][] = [
    ["--source directory", source],
    ["--out directory", realPathish(o.outDir)],
  ];
  // The default work directory is <cache>/work; anywhere else in the cache mixes with what it keeps.
  if (!isWithin(work, join(cache, "work"))) places.push(["cache directory", cache]);
  for (const [what, place] of places) {
    const how = place && overlap(work, place);
    if (how)
      throw new UsageError(
        `${workFlag} ${o.workDir} ${how} the ${what} ${place}`,
        "give --work-dir a scratch directory apart from --source, --out and the cache (the build makes its own directory in it and removes only that)",
      );
  }
}

export function toBuildOptions(f: Flags): BuildOptions {
  checkFlags(f);
  const cache = cacheDir(f.cacheDir);
  checkPackagerVendor(f);
  const opts: BuildOptions = {
    kubernetes: f.kubernetes,
    arches: parseArches(f.arch),
    outDir: resolve(f.out),
    source: f.source,
    sha512: f.sha512,
    origin: f.origin,
    baseUrl: baseUrl(f.baseUrl),
    engine: f.engine,
    image: f.image,
    cacheDir: cache,
    cacheMaxSize: maxCacheSize(f.cacheMaxSize, "--cache-max-size"),
    workDir: resolve(f.workDir ?? join(cache, "work")),
    recipesDir: resolve(f.recipes ?? DEFAULT_RECIPES_DIR),
    patchesDir: resolve(f.patches ?? DEFAULT_PATCHES_DIR),
    release: f.release,
    packager: f.packager,
    vendor: f.vendor,
    signKey: f.signKey,
    gnupgHome: f.gnupgHome ?? process.env.GNUPGHOME,
    rpm: f.rpm,
    rebuild: !!f.rebuild,
    runGenerators: !!f.runGenerators,
    versionMark: f.versionMark !== false,
    dryRun: !!f.dryRun,
    json: !!f.json,
  };
  checkPlaces(opts, f.workDir !== undefined ? "--work-dir" : "the work directory (default: <cache>/work)");
  return opts;
}

export function registerBuild(program: Command): void {
  program
    .command("build")
    .description("fetch a Kubernetes release, build kubelet without kmem accounting, prove it, package it")
    .requiredOption(
      "-k, --kubernetes <version>",
      "release (1.20.15, v1.20.15, 1.21.0-rc.1) or minor (1.18 = its latest patch)",
    )
    .option("-a, --arch <list>", "comma-separated: amd64, arm64, ppc64le, s390x", "amd64")
    .option("-o, --out <dir>", "output directory; the release lands in <dir>/<version>/", "dist")
    .option("--source <path>", "local kubernetes-src.tar.gz or extracted source directory (air-gapped)")
    .option("--sha512 <hex>", "expected sha512 of the source tarball")
    .addOption(
      new Option("--origin <where>", "download the official tarball or the GitHub archive")
        .choices(["dl", "github"])
        .default("dl"),
    )
    .option("--base-url <url>", "download base URL (env KMEM_BUILD_BASE_URL)", undefined)
    .addOption(
      new Option("--engine <name>", "container engine").choices(["auto", "podman", "docker"]).default("auto"),
    )
    .option(
      "--image <ref>",
      "builder image (default: the Go version the source records, else the recipe's table)",
    )
    .option("--cache-dir <dir>", "downloads, Go build cache and compiled binaries (env KMEM_BUILD_CACHE_DIR)")
    .option(
      "--cache-max-size <size>",
      "after the build, least recently used cache entries go until the cache fits, e.g. 20G (env KMEM_BUILD_CACHE_MAX_SIZE; default 20G)",
    )
    .option(
      "--work-dir <dir>",
      "where the build makes its scratch directory (removed afterwards; DIR itself never is; default: <cache>/work)",
    )
    .option("--recipes <dir>", "recipes directory", undefined)
    .option("--patches <dir>", "patches directory", undefined)
    .option(
      "--release <rpm-release>",
      "RPM Release (default 2.nokmem; must contain nokmem and sort above the official 0 and 1.1; a rebuild of a published version takes the next: 3.nokmem)",
    )
    .option(
      "--packager <who>",
      `RPM Packager tag and %changelog author, "Name <email>" (default: ${DEFAULT_PACKAGER})`,
    )
    .option("--vendor <name>", `RPM Vendor tag (default: ${DEFAULT_VENDOR})`)
    .option("--sign-key <key>", "GPG key (id, fingerprint or user id) to sign RPMs and SHA256SUMS")
    .option("--gnupg-home <dir>", "GnuPG home holding the signing key (env GNUPGHOME)")
    .option("--no-rpm", "skip RPM packaging (binaries, checksums and manifest only)")
    .option("--rebuild", "compile even when binaries for exactly these inputs are cached")
    .option(
      "--run-generators",
      "run Kubernetes' code generators (make generated_files) even where the recipe proved the kubelet the same without them",
    )
    .option(
      "--no-version-mark",
      "report upstream's version (v1.20.2) instead of the marked v1.20.2+nokmem (kubelet --version, kubectl get nodes)",
    )
    .option("--dry-run", "print what the build would do (each step's preview) and do nothing")
    .option("--json", "print a machine-readable result on stdout (progress is not shown)")
    .action(async (flags: Flags) => {
      const opts = toBuildOptions(flags);
      const rebuild = rebuildNotice(opts.outDir, opts.kubernetes, opts.release);
      if (rebuild) process.stderr.write(`notice: ${rebuild}\n`);
      if (opts.dryRun) {
        const preview = await previewBuild(opts);
        if (opts.json) printJson(preview);
        else printPreview(preview);
        return;
      }
      const { signal, dispose } = interruptSignal();
      try {
        const result = await runBuild(opts, signal);
        if (opts.json) printJson(result);
        else {
          for (const n of result.notices) process.stderr.write(`notice: ${n}\n`);
          process.stdout.write(
            `built Kubernetes ${result.kubernetes} (${result.recipe}) in ${result.seconds}s → ${result.outDir}\n`,
          );
          for (const a of result.artifacts)
            process.stdout.write(`  ${a.file}  ${a.size} bytes  sha256:${a.sha256.slice(0, 16)}…\n`);
        }
      } catch (err) {
        if (opts.json) printError(err);
        throw err;
      } finally {
        dispose();
      }
    });
}
