/**
 * What a running build uses in the cache, and when each entry was last used: a build names each
 * entry it is about to use in its in-use record (`<cache>/in-use/<pid>-<start>`, with its owner
 * record, src/util/lock.ts) and stamps the entry's last use (`<cache>/usage/<entry>.json`). Eviction
 * leaves alone every entry a live run's record names; a record of a run that is gone is ignored.
 * Both live outside the entries: a Go cache is written by the tree's own build, which must not be
 * able to make its cache look recent or in use.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { lstat, mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { ownerGone, ownerRecord, startTime } from "../util/lock.js";

/** The cache's own subdirectories whose entries are counted, kept and evicted. */
export const CATEGORIES = ["go", "binaries", "rpms", "sources", "work"] as const;
export type Category = (typeof CATEGORIES)[number];

const IN_USE = "in-use";
const USAGE = "usage";

/** The entry a path in the cache belongs to (`go/<key>`, `sources/v<ver>/<file>`, …), or null. */
export function entryOf(cacheDir: string, path: string): string | null {
  const rel = relative(cacheDir, path);
  if (!rel || rel.startsWith("..") || rel.startsWith(sep)) return null;
  const parts = rel.split(sep);
  if (!(CATEGORIES as readonly string[]).includes(parts[0]!)) return null;
  const depth = parts[0] === "sources" ? 3 : 2;
  return parts.length >= depth ? parts.slice(0, depth).join("/") : null;
}

function recordFile(cacheDir: string): string {
  return join(cacheDir, IN_USE, `${process.pid}-${startTime(process.pid) || "0"}`);
}

/** Writes `text` to `file` through a new name renamed over it: a link planted at `file` is replaced, never followed. */
async function writeRenamed(file: string, text: string, flags: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  // one new name per write: a build notes the entries of its arches concurrently
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  const fh = await open(
    tmp,
    flags | constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

const named = new Map<string, Set<string>>();

/**
 * Says that this run uses the cache entry `path` belongs to, for `release`: named in the run's
 * in-use record before it is used, and its last use stamped now.
 */
export function noteUse(cacheDir: string, path: string, release: string): Promise<void> {
  // one after the other: a later record must never be overtaken by an earlier, shorter one
  const next = noting.then(() => noteUseNow(cacheDir, path, release));
  noting = next.catch(() => {});
  return next;
}
let noting: Promise<void> = Promise.resolve();

async function noteUseNow(cacheDir: string, path: string, release: string): Promise<void> {
  const entry = entryOf(cacheDir, path);
  if (!entry) return;
  const mine = named.get(cacheDir) ?? new Set<string>();
  named.set(cacheDir, mine);
  if (!mine.has(entry)) {
    mine.add(entry);
    await writeRenamed(recordFile(cacheDir), `${ownerRecord()}\n${[...mine].join("\n")}\n`, 0);
  }
  await writeRenamed(
    join(cacheDir, USAGE, `${entry}.json`),
    JSON.stringify({ release, lastUse: Date.now() }) + "\n",
    0,
  );
}

/** This run uses nothing in the cache any more: its in-use record goes. */
export async function endUse(cacheDir: string): Promise<void> {
  if (!named.delete(cacheDir)) return;
  await rm(recordFile(cacheDir), { force: true });
}

/** The entries live runs' records name; records of runs that are gone are removed. */
export async function entriesInUse(cacheDir: string): Promise<Set<string>> {
  const used = new Set<string>();
  const dir = join(cacheDir, IN_USE);
  const st = await lstat(dir).catch(() => null);
  if (!st?.isDirectory()) return used;
  for (const name of await readdir(dir)) {
    if (!/^\d+-\d+$/.test(name)) continue;
    const file = join(dir, name);
    const fst = await lstat(file).catch(() => null);
    if (!fst?.isFile() || fst.size > 1 << 20) continue;
    const [owner, ...entries] = (await readFile(file, "utf8").catch(() => "")).split("\n");
    if (!owner || ownerGone(owner)) {
      if (owner) await rm(file, { force: true });
      continue;
    }
    for (const e of entries) if (e) used.add(e);
  }
  return used;
}

/** When an entry was last used, and for which release, as its usage record says. */
export async function usageOf(
  cacheDir: string,
  entry: string,
): Promise<{ release?: string; lastUse?: number }> {
  const file = join(cacheDir, USAGE, `${entry}.json`);
  const st = await lstat(file).catch(() => null);
  if (!st?.isFile() || st.size > 4096) return {};
  try {
    const v = JSON.parse(await readFile(file, "utf8")) as { release?: unknown; lastUse?: unknown };
    return {
      release: typeof v.release === "string" ? v.release : undefined,
      lastUse: typeof v.lastUse === "number" ? v.lastUse : undefined,
    };
  } catch {
    return {};
  }
}

/** Removes an entry's usage record (with the entry). */
export async function forgetUsage(cacheDir: string, entry: string): Promise<void> {
  await rm(join(cacheDir, USAGE, `${entry}.json`), { force: true });
}
