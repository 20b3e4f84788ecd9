/** A lock file (O_EXCL) so two runs never write into the same directory at once. */
import { readFileSync } from "node:fs";
import { open, readFile, rm, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { BuildError } from "../errors.js";

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * When the process started (clock ticks after boot, field 22 of /proc/PID/stat), or "" where
 * /proc cannot tell: with the pid it names one process, so a reused pid is not taken for the owner.
 */
export function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

/** The record a lock or a work directory keeps of the run that made it: `pid start-time`. */
export function ownerRecord(): string {
  return `${process.pid} ${startTime(process.pid)}`;
}

/** Whether the run a record names is gone: its pid is free, or taken by a process that started at another time. */
export function ownerGone(record: string): boolean {
  const [pid, start] = record.trim().split(" ");
  if (!pid || !/^\d+$/.test(pid)) return false; // not a record of ours: never taken as proof of anything
  if (!alive(Number(pid))) return true;
  return !!start && !!startTime(Number(pid)) && startTime(Number(pid)) !== start;
}

export async function acquireLock(dir: string, purpose: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, ".kmem-build.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, "wx");
      await fh.writeFile(`${process.pid}\n${purpose}\n${startTime(process.pid)}\n`);
      await fh.close();
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const [pid, what, start] = (await readFile(file, "utf8").catch(() => "")).split("\n");
      if (pid && !ownerGone(`${pid} ${start ?? ""}`)) {
        throw new BuildError(
          `${dir} is in use by another kmem-build (pid ${pid}: ${what || "unknown"})`,
          "wait for it to finish, or use another --out directory",
        );
      }
      await rm(file, { force: true }); // left by a run that died
    }
  }
  throw new BuildError(`could not lock ${dir}`, `remove ${file} if no kmem-build is running`);
}
