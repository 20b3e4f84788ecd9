/** Bringing the cache under its limit: the least recently used entries go, never one in use. */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { keptResultsDir } from "../util/kept-results.js";
import { collectOrphans } from "../util/work-dir.js";
import { listEntries, ownReal, type CacheEntry } from "./entries.js";
import { formatSize, selectEvictions } from "./lru.js";
import { entriesInUse, forgetUsage } from "./use.js";

export interface PruneResult {
  maxSize: number;
  sizeBefore: number;
  sizeAfter: number;
  removed: CacheEntry[];
  /** Work directories of runs that are gone, collected first whatever the size. */
  collected: string[];
  kept: CacheEntry[];
  dryRun: boolean;
}

const SEALS: Partial<Record<CacheEntry["category"], string>> = { binaries: "kept-binary", rpms: "kept-rpm" };

export async function pruneCache(cacheDir: string, maxSize: number, dryRun = false): Promise<PruneResult> {
  const work = join(cacheDir, "work");
  const collected = dryRun || !(await ownReal(work)) ? [] : (await collectOrphans(work)).map((r) => r.dir);
  const entries = await listEntries(cacheDir);
  const sel = selectEvictions(entries, maxSize);
  const removed: CacheEntry[] = [];
  for (const e of sel.remove as CacheEntry[]) {
    if (!dryRun) {
      // Asked again right before: a build that started since may have named it.
      if ((await entriesInUse(cacheDir)).has(e.path)) continue;
      const abs = join(cacheDir, e.path);
      if (!(await ownReal(abs, e.category === "sources"))) continue;
      await rm(abs, { recursive: true, force: true });
      await forgetUsage(cacheDir, e.path);
      const seal = SEALS[e.category];
      if (seal)
        await rm(join(keptResultsDir(cacheDir), seal, `${e.path.split("/")[1]}.json`), { force: true });
    }
    removed.push(e);
  }
  const gone = new Set(removed);
  const kept = entries.filter((e) => !gone.has(e));
  return {
    maxSize,
    sizeBefore: sel.sizeBefore,
    sizeAfter: kept.reduce((n, e) => n + e.size, 0),
    removed,
    collected,
    kept,
    dryRun,
  };
}

/** After a build: the cache brought under its limit; a failure to do so is said, and fails nothing. */
export async function keepCacheBounded(cacheDir: string, maxSize: number): Promise<void> {
  try {
    const r = await pruneCache(cacheDir, maxSize);
    if (r.removed.length)
      process.stderr.write(
        `cache: removed ${r.removed.length} least recently used entries (${formatSize(r.sizeBefore)} → ${formatSize(r.sizeAfter)}, limit ${formatSize(maxSize)})\n`,
      );
  } catch (err) {
    process.stderr.write(`warning: the cache was not pruned: ${(err as Error).message}\n`);
  }
}
