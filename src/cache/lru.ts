/** Which cache entries go when the cache is over its limit: the least recently used, never one in use. */
import { UsageError } from "../errors.js";

export interface Entry {
  /** Relative to the cache directory, e.g. `go/verified`, `binaries/<key>`, `sources/v1.20.15/<file>`. */
  path: string;
  size: number;
  /** Milliseconds since the epoch. */
  lastUse: number;
  /** A running build uses it (its in-use record names it, or it is the work directory of a live run). */
  inUse: boolean;
}

export interface Selection {
  remove: Entry[];
  keep: Entry[];
  sizeBefore: number;
  sizeAfter: number;
}

/**
 * The oldest entries by last use, until the rest fit in `maxSize`; an entry in use is never
 * chosen, so the rest may stay above the limit while builds run. Ties go by path, so a run is repeatable.
 */
export function selectEvictions(entries: Entry[], maxSize: number): Selection {
  const sizeBefore = entries.reduce((n, e) => n + e.size, 0);
  const order = [...entries].sort((a, b) => a.lastUse - b.lastUse || a.path.localeCompare(b.path));
  const remove: Entry[] = [];
  let size = sizeBefore;
  for (const e of order) {
    if (size <= maxSize) break;
    if (e.inUse) continue;
    remove.push(e);
    size -= e.size;
  }
  const gone = new Set(remove);
  return { remove, keep: entries.filter((e) => !gone.has(e)), sizeBefore, sizeAfter: size };
}

const UNITS: Record<string, number> = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** `20G`, `512M`, `1.5G`, `1000000` (bytes); K/M/G/T are powers of 1024. */
export function parseSize(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m)
    throw new UsageError(
      `${what} ${JSON.stringify(text)} is not a size`,
      "give a size in bytes or with a unit: 500M, 20G, 1.5T",
    );
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
}

export function formatSize(bytes: number): string {
  for (const [unit, n] of [
    ["T", 2 ** 40],
    ["G", 2 ** 30],
    ["M", 2 ** 20],
    ["K", 2 ** 10],
  ] as const)
    if (bytes >= n) return `${(bytes / n).toFixed(1)}${unit}`;
  return `${bytes}B`;
}

export const DEFAULT_MAX_SIZE = "20G";

/** The limit: --cache-max-size / --max-size, else KMEM_BUILD_CACHE_MAX_SIZE, else 20G. */
export function maxCacheSize(flag: string | undefined, flagName: string): number {
  if (flag !== undefined) return parseSize(flag, flagName);
  const env = process.env.KMEM_BUILD_CACHE_MAX_SIZE;
  if (env) return parseSize(env, "KMEM_BUILD_CACHE_MAX_SIZE");
  return parseSize(DEFAULT_MAX_SIZE, "the default");
}
