import type { Command } from "commander";
import { cacheDir } from "../options.js";
import { listEntries, type CacheEntry } from "../cache/entries.js";
import { formatSize, maxCacheSize } from "../cache/lru.js";
import { pruneCache } from "../cache/prune.js";
import { printJson } from "./output.js";

interface CacheOptions {
  cacheDir?: string;
  json?: boolean;
  maxSize?: string;
  dryRun?: boolean;
}

const CACHE_DIR_HELP = "cache directory (env KMEM_BUILD_CACHE_DIR; default ~/.cache/kmem-build)";

function row(e: CacheEntry): string {
  const when = new Date(e.lastUse).toISOString().replace(/\.\d+Z$/, "Z");
  return [
    e.path.padEnd(58),
    (e.release ?? "-").padEnd(10),
    formatSize(e.size).padStart(8),
    when,
    e.inUse ? "in use" : "",
  ]
    .join("  ")
    .trimEnd();
}

const jsonEntry = (e: CacheEntry) => ({ ...e, lastUse: new Date(e.lastUse).toISOString() });

export function registerCache(program: Command): void {
  const cache = program
    .command("cache")
    .description(
      "Show what the cache keeps (Go build caches, kept binaries, RPMs, sources, work directories) and prune it",
    );
  cache
    .command("list")
    .description(
      "Every entry the cache keeps: its release, size, last use, and whether a running build uses it",
    )
    .option("--cache-dir <dir>", CACHE_DIR_HELP)
    .option("--json", "print the list as JSON")
    .action(async (o: CacheOptions) => {
      const dir = cacheDir(o.cacheDir);
      const entries = (await listEntries(dir)).sort((a, b) => b.lastUse - a.lastUse);
      const total = entries.reduce((n, e) => n + e.size, 0);
      if (o.json) {
        printJson({ cacheDir: dir, size: total, entries: entries.map(jsonEntry) });
        return;
      }
      for (const e of entries) process.stdout.write(row(e) + "\n");
      process.stdout.write(`total ${formatSize(total)} in ${entries.length} entries (${dir})\n`);
    });
  cache
    .command("prune")
    .description(
      "Remove the least recently used entries until the cache fits its limit; never one a running build uses. " +
        "Work directories of runs that are gone are removed first",
    )
    .option("--cache-dir <dir>", CACHE_DIR_HELP)
    .option("--max-size <size>", "the limit, e.g. 20G, 500M (env KMEM_BUILD_CACHE_MAX_SIZE; default 20G)")
    .option("--dry-run", "say what would be removed, remove nothing")
    .option("--json", "print the result as JSON")
    .action(async (o: CacheOptions) => {
      const dir = cacheDir(o.cacheDir);
      const r = await pruneCache(dir, maxCacheSize(o.maxSize, "--max-size"), Boolean(o.dryRun));
      if (o.json) {
        printJson({ ...r, removed: r.removed.map(jsonEntry), kept: r.kept.map(jsonEntry) });
        return;
      }
      for (const d of r.collected)
        process.stdout.write(`removed the work directory of a run that is gone: ${d}\n`);
      for (const e of r.removed) process.stdout.write(`${o.dryRun ? "would remove" : "removed"} ${row(e)}\n`);
      process.stdout.write(
        `${formatSize(r.sizeBefore)} → ${formatSize(r.sizeAfter)} (limit ${formatSize(r.maxSize)})` +
          (r.sizeAfter > r.maxSize ? ": still over the limit, the rest is in use by running builds" : "") +
          "\n",
      );
    });
}
