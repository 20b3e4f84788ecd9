/**
 * A build's work directory: a fresh directory the run makes inside the one it is given (`--work-dir`,
 * default `<cache>/work`) and removes at its end; the directory given is never removed. Each records
 * its owner (pid and start time), so the next run collects what a killed run (SIGKILL) left behind,
 * and only directories carrying that record.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { isWithin } from "./fs.js";
import { ownerGone, ownerRecord } from "./lock.js";

const PREFIX = "kmem-build-work-";
const OWNER = ".kmem-build-owner";

export interface WorkDir {
  dir: string;
  /** Removes the run's directory, and the directories above it up to `parent` that this run made, if empty. */
  remove: () => Promise<void>;
}

/** A staging directory of a release (`<out>/.<version>.partial-<8 hex>`), the only kind a record may name. */
const STAGING = /^\.[^/]+\.partial-[0-9a-f]{8}$/;

/**
 * Makes the run's own work directory (0700) inside `parent`, with its owner record; the record
 * also names `staging`, the run's staging directory elsewhere, so that is collected with it.
 */
export async function makeWorkDir(parent: string, staging?: string): Promise<WorkDir> {
  let made: string | undefined;
  let dir: string | undefined;
  for (let attempt = 0; !dir; attempt++) {
    made ??= await mkdir(parent, { recursive: true });
    // Another run may remove an empty parent it made between our mkdir and mkdtemp: once more.
    dir = await mkdtemp(join(parent, PREFIX)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT" || attempt > 0) throw err;
      return undefined;
    });
  }
  const also = staging && STAGING.test(basename(staging)) ? `staging ${staging}\n` : "";
  await writeFile(join(dir, OWNER), `${ownerRecord()}\n${also}`, { flag: "wx", mode: 0o600 });
  const own = dir;
  return {
    dir: own,
    remove: async () => {
      await rm(own, { recursive: true, force: true });
      // rmdir removes only an empty directory: one another run works in stays.
      for (let p = parent; made && isWithin(p, made); p = dirname(p))
        if (
          !(await rmdir(p).then(
            () => true,
            () => false,
          ))
        )
          break;
    },
  };
}

/**
 * Removes the work directories in `parent` whose owner is gone: a real directory of our uid named
 * like ours holding an owner record (a regular file of our uid) that names a process no longer
 * there; with it the staging directory the record names (a real directory of our uid named like
 * one). Anything else is left alone. Returns what was removed.
 */
export async function collectOrphans(parent: string): Promise<{ dir: string; what: "work" | "staging" }[]> {
  const removed: { dir: string; what: "work" | "staging" }[] = [];
  const uid = process.getuid?.() ?? -1;
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(parent, name);
    const st = await lstat(dir).catch(() => null);
    if (!st?.isDirectory() || st.uid !== uid) continue;
    const rec = await lstat(join(dir, OWNER)).catch(() => null);
    if (!rec?.isFile() || rec.uid !== uid || rec.size > 8192) continue;
    const text = await readFile(join(dir, OWNER), "utf8").catch(() => "");
    const m = /^(\d+ \d*)\n(?:staging (\/.*)\n)?$/.exec(text);
    if (!m || !ownerGone(m[1]!)) continue;
    const staging = m[2];
    if (staging && STAGING.test(basename(staging))) {
      const sst = await lstat(staging).catch(() => null);
      if (sst?.isDirectory() && sst.uid === uid) {
        await rm(staging, { recursive: true, force: true });
        removed.push({ dir: staging, what: "staging" });
      }
    }
    await rm(dir, { recursive: true, force: true });
    removed.push({ dir, what: "work" });
  }
  return removed;
}
