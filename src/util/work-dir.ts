/**
 * A build's work directory: a fresh directory the run makes inside the one it is given (`--work-dir`,
 * default `<cache>/work`) and removes at its end; the directory given is never removed. Each records
 * its owner (pid and start time), so the next run collects what a killed run (SIGKILL) left behind,
 * and only directories carrying that record.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isWithin } from "./fs.js";
import { ownerGone, ownerRecord } from "./lock.js";

const PREFIX = "kmem-build-work-";
const OWNER = ".kmem-build-owner";

export interface WorkDir {
  dir: string;
  /** Removes the run's directory, and the directories above it up to `parent` that this run made, if empty. */
  remove: () => Promise<void>;
}

/** Makes the run's own work directory (0700) inside `parent`, with its owner record. */
export async function makeWorkDir(parent: string): Promise<WorkDir> {
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
  await writeFile(join(dir, OWNER), ownerRecord() + "\n", { flag: "wx", mode: 0o600 });
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
 * there. Anything else is left alone. Returns what was removed.
 */
export async function collectOrphans(parent: string): Promise<string[]> {
  const removed: string[] = [];
  const uid = process.getuid?.() ?? -1;
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(parent, name);
    const st = await lstat(dir).catch(() => null);
    if (!st?.isDirectory() || st.uid !== uid) continue;
    const rec = await lstat(join(dir, OWNER)).catch(() => null);
    if (!rec?.isFile() || rec.uid !== uid || rec.size > 100) continue;
    const text = await readFile(join(dir, OWNER), "utf8").catch(() => "");
    if (!/^\d+ \d*\n$/.test(text) || !ownerGone(text)) continue;
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
