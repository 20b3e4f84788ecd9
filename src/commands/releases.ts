import { Option, type Command } from "commander";
import { UsageError } from "../errors.js";
import { baseUrl, cacheDir, parseArches } from "../options.js";
import { loadRecipes } from "../recipes/load.js";
import { parseVersionRequest, recipeFor } from "../recipes/resolve.js";
import type { Recipe } from "../recipes/types.js";
import {
  coveredMinors,
  formatTable,
  matrixOf,
  selectMinors,
  toRows,
  type MatrixEntry,
} from "../releases/discover.js";
import { latestReleases, type MarkerOptions } from "../releases/markers.js";

interface ReleasesOptions {
  json?: boolean;
  matrix?: boolean;
  minor?: string[];
  since?: string;
  arch: string;
  all?: boolean;
  kubernetes?: string;
  refresh?: boolean;
  baseUrl?: string;
  cacheDir?: string;
  recipes?: string;
}

const collectList = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
];

export function registerReleases(program: Command): void {
  program
    .command("releases")
    .description(
      "List the latest patch release of every minor the recipes cover (from <base>/release/stable-<minor>.txt), " +
        "the recipe that builds it and whether a rebuild is needed; or print a GitHub Actions build matrix",
    )
    .option("--json", "print the list as JSON")
    .option("--matrix", 'print a GitHub Actions matrix {"include":[{"kubernetes":…,"arch":…}]}')
    .option("--minor <list>", "only these minors, comma-separated (repeatable), e.g. 1.20,1.19", collectList)
    .option("--since <minor>", "only minors from this one on, e.g. 1.18")
    .addOption(new Option("--arch <list>", "matrix: architectures, comma-separated").default("amd64,arm64"))
    .option("--all", "matrix: also releases that need no rebuild (>= 1.21.2)")
    .option(
      "--kubernetes <version>",
      "matrix: exactly this release (1.20.15), or the latest of a minor (1.20), whatever its rebuild need",
    )
    .option("--refresh", "ignore cached release markers (cached for 1 hour)")
    .option(
      "--base-url <url>",
      "where releases are published (env KMEM_BUILD_BASE_URL; default https://dl.k8s.io)",
    )
    .option("--cache-dir <dir>", "cache directory (env KMEM_BUILD_CACHE_DIR; default ~/.cache/kmem-build)")
    .option("--recipes <dir>", "recipes directory (default: the recipes shipped with kmem-build)")
    .action(async (opts: ReleasesOptions, cmd: Command) => {
      const explicit = (name: string) => cmd.getOptionValueSource(name) === "cli";
      checkCombinations(opts, explicit);
      const arches = parseArches(opts.arch);
      const recipes = await loadRecipes(opts.recipes);
      const markerOpts: MarkerOptions = {
        baseUrl: baseUrl(opts.baseUrl),
        cacheDir: cacheDir(opts.cacheDir),
        refresh: opts.refresh,
        onRetry: (url, attempt, reason) =>
          process.stderr.write(`warning: GET ${url}: ${reason}; retrying (retry ${attempt})\n`),
      };
      if (opts.matrix && opts.kubernetes) {
        const version = await exactVersion(opts.kubernetes, recipes, markerOpts);
        printMatrix(arches.map((arch) => ({ kubernetes: version, arch })));
        return;
      }
      const minors = selectMinors(coveredMinors(recipes), { minors: opts.minor, since: opts.since });
      const rows = toRows(await latestReleases(minors, markerOpts), recipes);
      if (opts.matrix) printMatrix(matrixOf(rows, arches, Boolean(opts.all)));
      else if (opts.json)
        process.stdout.write(JSON.stringify({ baseUrl: markerOpts.baseUrl, releases: rows }, null, 2) + "\n");
      else process.stdout.write(formatTable(rows) + "\n");
    });
}

function checkCombinations(opts: ReleasesOptions, explicit: (name: string) => boolean): void {
  if (opts.json && opts.matrix)
    throw new UsageError("--json and --matrix cannot be combined (--matrix prints JSON)");
  for (const [name, flag] of [
    ["arch", "--arch"],
    ["all", "--all"],
    ["kubernetes", "--kubernetes"],
  ] as const) {
    if (!opts.matrix && explicit(name)) throw new UsageError(`${flag} only applies with --matrix`);
  }
  if (opts.kubernetes && (opts.minor || opts.since || opts.all)) {
    throw new UsageError(
      "--kubernetes selects one release: it cannot be combined with --minor, --since or --all",
    );
  }
}

/** An exact version passes through (after checking a recipe builds it); a minor resolves to its latest. */
async function exactVersion(input: string, recipes: Recipe[], markerOpts: MarkerOptions): Promise<string> {
  const req = parseVersionRequest(input);
  let version: string;
  if (req.kind === "exact") version = req.version;
  else {
    const [marker] = await latestReleases([req.minor], markerOpts);
    if (!marker!.version)
      throw new UsageError(`Kubernetes ${req.minor} has no release (${marker!.url} not found)`);
    version = marker!.version;
  }
  recipeFor(version, recipes);
  return version;
}

function printMatrix(include: MatrixEntry[]): void {
  process.stdout.write(JSON.stringify({ include }) + "\n");
}
