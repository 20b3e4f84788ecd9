import { rename, rm, mkdir, cp, lstat, open } from "node:fs/promises";
import { constants, realpathSync } from "node:fs";
import { dirname, join, basename, resolve, relative, isAbsolute, sep } from "node:path";
import { randomBytes } from "node:crypto";
import { BuildError, UsageError } from "../errors.js";
import { checkReplaceable, isOwnedOrEmpty, type OwnedOutput } from "./out-dir.js";

/** A hidden sibling path for staging something that is renamed into place when complete. */
export function stagingPathFor(target: string, tag = "partial"): string {
  return join(dirname(target), `.${basename(target)}.${tag}-${randomBytes(4).toString("hex")}`);
}

/**
 * Moves the directory `target` aside and returns where it went (null: there was none). It is
 * judged after the move, so what is later removed is exactly what was checked: unless it is empty
 * or carries `owned`'s marker it is put back and the run refused.
 */
async function moveAsideOwned(target: string, owned: OwnedOutput): Promise<string | null> {
  const old = stagingPathFor(target, "old");
  try {
    await rename(target, old);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  if (!(await lstat(old)).isDirectory() || !(await isOwnedOrEmpty(old, owned))) {
    await rename(old, target);
    await checkReplaceable(target, owned);
    throw new UsageError(`${owned.flag} ${target} changed while it was replaced; nothing was deleted`);
  }
  return old;
}

/**
 * Replace the directory `target` by the complete `staged` with renames only: the old one (only an
 * earlier output carrying `owned`'s marker, or an empty directory) is put back if `staged` cannot
 * take its place, and removed once it has.
 */
export async function replaceWith(staged: string, target: string, owned: OwnedOutput): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const old = await moveAsideOwned(target, owned);
  try {
    await rename(staged, target);
  } catch (err) {
    if (old) await rename(old, target);
    throw err;
  }
  if (old) await rm(old, { recursive: true, force: true });
}

/** Removes the directory `target` if it is there and carries `owned`'s marker (or is empty); refuses otherwise. */
export async function removeOwned(target: string, owned: OwnedOutput): Promise<void> {
  const old = await moveAsideOwned(target, owned);
  if (old) await rm(old, { recursive: true, force: true });
}

/** Copy into place atomically (copy to a temp sibling, then rename). */
export async function copyAtomic(src: string, dest: string): Promise<void> {
  const tmp = stagingPathFor(dest, "tmp");
  await mkdir(dirname(dest), { recursive: true });
  try {
    await cp(src, tmp, { recursive: true });
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Writes a file a user named (a report, a log) without ever writing through a link planted there:
 * refused when something other than a regular file is at `file`; otherwise the data goes to a new
 * temporary file in the same directory (O_CREAT|O_EXCL|O_NOFOLLOW) that is renamed over `file`
 * (rename replaces a link put there meanwhile, it never follows it). `flag` names the option.
 */
export async function writeFileSafely(file: string, data: string, flag: string, mode = 0o644): Promise<void> {
  await checkFileTarget(file, flag);
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${randomBytes(4).toString("hex")}`);
  try {
    const fh = await open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      mode,
    );
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new BuildError(
      `cannot write ${flag} ${file}: ${(err as Error).message}`,
      "check that its directory exists and that you may write there",
    );
  }
}

/** Refuses (usage error) a path where a file is to be written that holds something other than a regular file. */
export async function checkFileTarget(file: string, flag: string): Promise<void> {
  const st = await lstat(file).catch(() => null);
  if (st && !st.isFile())
    throw new UsageError(
      `${flag} ${file} is ${st.isSymbolicLink() ? "a symbolic link" : "not a regular file"}: not written through`,
      "name a regular file or a new path (kmem-build replaces a regular file whole, never a link's target)",
    );
}

/** The path with links resolved as far as it exists (the rest appended), for comparing places. */
export function realPathish(p: string): string {
  const abs = resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return join(realpathSync(cur), ...rest.reverse());
    } catch {
      const up = dirname(cur);
      if (up === cur) return abs;
      rest.push(basename(cur));
      cur = up;
    }
  }
}

/** Whether `inner` is `outer` or lies beneath it (both absolute, normalised). */
export function isWithin(inner: string, outer: string): boolean {
  const r = relative(outer, inner);
  return r === "" || (!r.startsWith(".." + sep) && r !== ".." && !isAbsolute(r));
}
