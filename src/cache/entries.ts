/**
 * What the cache keeps, entry by entry: only real directories and files of this uid in the tool's
 * own subdirectories (src/cache/use.ts CATEGORIES) count; a link is never followed, neither as an
 * entry nor inside one, and anything else there is left alone.
 */
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ownerGone } from "../util/lock.js";
import { CATEGORIES, entriesInUse, usageOf, type Category } from "./use.js";
import type { Entry } from "./lru.js";

export interface CacheEntry extends Entry {
  category: Category;
  /** The release it was last used for (a source's from its directory), when known. */
  release?: string;
}

const WORK_PREFIX = "kmem-build-work-";
const uid = () => process.getuid?.() ?? -1;

/** Disk use of a file or a directory tree, links counted as themselves and hard links once. */
export async function diskUse(path: string, seen = new Set<string>()): Promise<number> {
  const st = await lstat(path).catch(() => null);
  if (!st) return 0;
  const id = `${st.dev}:${st.ino}`;
  if (seen.has(id)) return 0;
  seen.add(id);
  let n = st.blocks * 512;
  if (st.isDirectory())
    for (const name of await readdir(path).catch(() => [] as string[]))
      n += await diskUse(join(path, name), seen);
  return n;
}

/** A real directory (or file, when `file`) of this uid: never a link. */
export async function ownReal(path: string, file = false): Promise<boolean> {
  const st = await lstat(path).catch(() => null);
  return !!st && st.uid === uid() && (file ? st.isFile() : st.isDirectory());
}

/** Whether the run that owns a work directory is still there (a directory without a readable record counts as in use). */
async function workInUse(dir: string): Promise<boolean> {
  const rec = join(dir, ".kmem-build-owner");
  if (!(await ownReal(rec, true))) return true;
  const owner = (await readFile(rec, "utf8").catch(() => "")).split("\n")[0] ?? "";
  return !ownerGone(owner);
}

async function candidates(cacheDir: string, category: Category): Promise<{ path: string; file: boolean }[]> {
  const top = join(cacheDir, category);
  if (!(await ownReal(top))) return [];
  const names = await readdir(top);
  if (category === "sources") {
    const out: { path: string; file: boolean }[] = [];
    for (const v of names) {
      if (!(await ownReal(join(top, v)))) continue;
      for (const f of await readdir(join(top, v))) out.push({ path: `sources/${v}/${f}`, file: true });
    }
    return out;
  }
  return names
    .filter((n) => category !== "work" || n.startsWith(WORK_PREFIX))
    .map((n) => ({ path: `${category}/${n}`, file: false }));
}

/** Every entry the cache keeps, with its size, last use and whether a running build uses it. */
export async function listEntries(cacheDir: string): Promise<CacheEntry[]> {
  const used = await entriesInUse(cacheDir);
  const entries: CacheEntry[] = [];
  for (const category of CATEGORIES) {
    for (const { path, file } of await candidates(cacheDir, category)) {
      const abs = join(cacheDir, path);
      if (!(await ownReal(abs, file))) continue; // a link, or not ours: never counted, never removed
      const st = await lstat(abs);
      const usage = category === "work" ? {} : await usageOf(cacheDir, path);
      entries.push({
        path,
        category,
        size: await diskUse(abs),
        lastUse: usage.lastUse ?? st.mtimeMs,
        release:
          usage.release ?? (category === "sources" ? path.split("/")[1]!.replace(/^v/, "") : undefined),
        inUse: used.has(path) || (category === "work" && (await workInUse(abs))),
      });
    }
  }
  return entries;
}
