/**
 * The source tree is hostile until checked, and stays so while its own build runs (the Makefile is
 * the tree's code). Host-side steps therefore never go through a link inside it: every component
 * of a path they touch must be a real directory, a file they write is created anew and renamed
 * into place (never written through an existing name), a file they remove or read must be a
 * regular file. `checkTree` is the check of what actually landed on disk, made before any
 * host-side step, whatever the archive's headers claimed.
 */
import { lstat, mkdir, readdir, readlink, realpath, rename, rm, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { UsageError } from "../errors.js";
import { hashFile } from "./hash.js";

const HINT = "use an official kubernetes-src.tar.gz or a GitHub archive of a release tag";

function refuseTree(root: string, rel: string, why: string): never {
  throw new UsageError(`refusing the source tree ${root}: ${rel} ${why}`, HINT);
}

async function lstatOrNull(p: string) {
  return lstat(p).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw err;
  });
}

/** Walks `rel`'s directories below `root` without following links; creates missing ones when asked. */
async function realDirs(root: string, relDir: string, create: boolean): Promise<boolean> {
  let here = root;
  for (const c of relDir.split("/").filter((x) => x && x !== ".")) {
    if (c === "..") refuseTree(root, relDir, "leaves the tree");
    here = join(here, c);
    const st = await lstatOrNull(here);
    if (!st) {
      if (!create) return false;
      await mkdir(here);
      continue;
    }
    if (st.isSymbolicLink())
      refuseTree(
        root,
        posix.relative("", here.slice(root.length + 1)),
        "is a symbolic link (host-side steps never follow links in the tree)",
      );
    if (!st.isDirectory()) refuseTree(root, here.slice(root.length + 1), "is not a directory");
  }
  return true;
}

export async function ensureDirIn(root: string, rel: string): Promise<string> {
  await realDirs(root, rel, true);
  return join(root, rel);
}

/** Writes a new file at `rel` (temp name + rename: an existing link or hard link is replaced, not written through). */
export async function writeFileIn(root: string, rel: string, data: string): Promise<string> {
  await ensureDirIn(root, posix.dirname(rel));
  const dest = join(root, rel);
  const tmp = `${dest}.kmem-build-${randomBytes(4).toString("hex")}`;
  try {
    await writeFile(tmp, data, { flag: "wx" });
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { force: true });
  }
  return dest;
}

/** Removes the file at `rel` if it is there (a link is removed itself, never its target). */
export async function removeFileIn(root: string, rel: string): Promise<void> {
  if (!(await realDirs(root, posix.dirname(rel), false))) return;
  const p = join(root, rel);
  const st = await lstatOrNull(p);
  if (!st) return;
  if (st.isDirectory()) refuseTree(root, rel, "is a directory where a file belongs");
  await rm(p, { force: true });
}

/** Whether `rel` is a regular file reached through real directories only; a link there is refused. */
export async function isRegularFileIn(root: string, rel: string): Promise<boolean> {
  if (!(await realDirs(root, posix.dirname(rel), false))) return false;
  const st = await lstatOrNull(join(root, rel));
  if (!st) return false;
  if (st.isSymbolicLink())
    refuseTree(root, rel, "is a symbolic link (host-side steps never follow links in the tree)");
  return st.isFile();
}

/**
 * The extracted (or copied) tree as it is on disk: only files, directories and symbolic links
 * that resolve inside it; no device, fifo or socket; no hard link to a file outside it.
 */
export async function checkTree(root: string): Promise<number> {
  const top = await realpath(root);
  const inodes = new Map<string, { nlink: number; seen: number; rel: string }>();
  let count = 0;
  const todo = [""];
  while (todo.length) {
    const relDir = todo.pop()!;
    for (const d of await readdir(join(top, relDir), { withFileTypes: true })) {
      const rel = relDir ? `${relDir}/${d.name}` : d.name;
      const abs = join(top, rel);
      count++;
      if (d.isDirectory()) {
        todo.push(rel);
      } else if (d.isSymbolicLink()) {
        const target = await readlink(abs);
        if (target.startsWith("/"))
          refuseTree(root, rel, `is a symbolic link to ${target}, outside the tree`);
        const lexical = posix.normalize(posix.join(posix.dirname(rel), target));
        if (lexical === ".." || lexical.startsWith("../"))
          refuseTree(root, rel, `is a symbolic link to ${target}, outside the tree`);
        const resolved = await realpath(abs).catch(() => null);
        if (resolved !== null && resolved !== top && !resolved.startsWith(`${top}/`))
          refuseTree(
            root,
            rel,
            `is a symbolic link to ${target} that resolves to ${resolved}, outside the tree`,
          );
      } else if (d.isFile()) {
        const st = await lstat(abs);
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          const e = inodes.get(key) ?? { nlink: st.nlink, seen: 0, rel };
          e.seen++;
          inodes.set(key, e);
        }
      } else {
        refuseTree(
          root,
          rel,
          "is a device, fifo or socket (only files, directories and links inside the tree are allowed)",
        );
      }
    }
  }
  for (const e of inodes.values())
    if (e.seen < e.nlink) refuseTree(root, e.rel, "is a hard link to a file outside the tree");
  return count;
}

/**
 * A digest of a tree's content, links not followed: every entry's path, type, executable bit and
 * content (a file's sha256, a link's target), in sorted order. Two trees with the same digest build
 * the same; a tree changed in any file has another. Names the caches of a --source directory.
 */
export async function treeDigest(root: string): Promise<string> {
  const h = createHash("sha256");
  const walk = async (relDir: string): Promise<void> => {
    const entries = (await readdir(join(root, relDir), { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const d of entries) {
      const rel = relDir ? `${relDir}/${d.name}` : d.name;
      const abs = join(root, rel);
      if (d.isDirectory()) {
        h.update(`d ${JSON.stringify(rel)}\n`);
        await walk(rel);
      } else if (d.isSymbolicLink()) {
        h.update(`l ${JSON.stringify(rel)} ${JSON.stringify(await readlink(abs))}\n`);
      } else if (d.isFile()) {
        const exec = ((await lstat(abs)).mode & 0o111) !== 0;
        h.update(`f ${JSON.stringify(rel)} ${exec ? "x" : "-"} ${await hashFile(abs, "sha256")}\n`);
      } else
        refuseTree(
          root,
          rel,
          "is a device, fifo or socket (only files, directories and links inside the tree are allowed)",
        );
    }
  };
  await walk("");
  return h.digest("hex");
}
