/** The one object every build step reads and writes: inputs, what was resolved, what was made. */
import type { Arch } from "../options.js";
import type { Recipe } from "../recipes/types.js";
import type { Evidence } from "../inspect/evidence.js";
import type { Engine } from "../engine/index.js";

export interface BuildOptions {
  kubernetes: string;
  arches: Arch[];
  outDir: string;
  source?: string;
  sha512?: string;
  origin: "dl" | "github";
  baseUrl: string;
  engine: "auto" | "podman" | "docker";
  image?: string;
  cacheDir: string;
  /** Bytes the cache may hold: after the build, least recently used entries go (src/cache/prune.ts). */
  cacheMaxSize?: number;
  /** Where a build makes its own work directory (--work-dir); in a running build's ctx.opts, that directory. */
  workDir: string;
  recipesDir: string;
  patchesDir: string;
  release?: string;
  /** RPM Packager and Vendor tags (src/package/rpm.ts defaults when absent). */
  packager?: string;
  vendor?: string;
  signKey?: string;
  gnupgHome?: string;
  rpm: boolean;
  /** Recompile even when a binary for exactly these inputs is cached. */
  rebuild: boolean;
  /** Run Kubernetes' code generators even where the recipe proved the kubelet the same without them. */
  runGenerators?: boolean;
  /** Stamp the kubelet's version with the build metadata `+nokmem` (`--no-version-mark`: upstream's string). */
  versionMark: boolean;
  dryRun: boolean;
  json: boolean;
}

export interface SourceInfo {
  kind: "tarball" | "directory";
  /** Where the source came from (a --source path, or the download cache): named in messages. */
  path: string;
  /**
   * What is read: for a tarball, this run's private copy of exactly the bytes whose sha512 was
   * checked (check source scans it, extract unpacks it); for a directory, the directory.
   */
  file: string;
  /** A directory source's content digest (of the copy that is built), set by extract. */
  treeDigest?: string;
  url: string | null;
  sha512: string | null;
  /** Where the expected checksum came from. */
  checksumFrom: "flag" | "pinned" | "published" | "none";
  cacheHit: boolean;
}

export interface ImageInfo {
  reference: string;
  /** How the reference was chosen: --image, a file in the tree, or the recipe's table. */
  from: string;
  goVersion: string | null;
  id?: string;
}

export interface BinaryOutput {
  arch: Arch;
  path: string;
  size: number;
  sha256: string;
  cacheKey: string;
  compiled: boolean;
  evidence?: Evidence;
  elf?: { machine: string; static: boolean };
}

export interface Artifact {
  file: string; // name relative to the release directory
  kind: "binary" | "rpm" | "script" | "log" | "key" | "signature" | "result";
  arch?: Arch;
  size: number;
  sha256: string;
}

/** What is settled before the first step: the options, the exact version and its recipe. */
export interface ResolvedBuild {
  opts: BuildOptions;
  version: string;
  recipe: Recipe;
}

export interface BuildContext extends ResolvedBuild {
  signal: AbortSignal;
  log: (line: string) => void;
  logText: () => string;
  source?: SourceInfo;
  treeDir?: string;
  /** Files the image strategy reads, from the tree without extracting it all. */
  treeFiles: Record<string, string>;
  archiveStrip?: number;
  sourceDateEpoch?: number;
  patches: { file: string; sha256: string }[];
  image?: ImageInfo;
  engine?: Engine;
  /** This run's private directory in the work directory (src/pipeline/custody.ts). */
  custodyDir?: string;
  /** Hidden directory next to the release directory; renamed into place at the end. */
  stageDir: string;
  binaries: BinaryOutput[];
  artifacts: Artifact[];
  notices: string[];
}
