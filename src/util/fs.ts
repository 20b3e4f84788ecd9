import { rename, rm, mkdir, cp } from "node:fs/promises";
import { dirname, join, basename } from "node:path";
import { randomBytes } from "node:crypto";

/** A hidden sibling path for staging something that is renamed into place when complete. */
export function stagingPathFor(target: string, tag = "partial"): string {
  return join(dirname(target), `.${basename(target)}.${tag}-${randomBytes(4).toString("hex")}`);
}

/**
 * Replace `target` (file or directory) by the complete `staged` with renames only: the old one
 * is put back if `staged` cannot take its place, and removed once it has.
 */
export async function replaceWith(staged: string, target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const old = stagingPathFor(target, "old");
  let moved = false;
  try {
    await rename(target, old);
    moved = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  try {
    await rename(staged, target);
  } catch (err) {
    if (moved) await rename(old, target);
    throw err;
  }
  if (moved) await rm(old, { recursive: true, force: true });
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
