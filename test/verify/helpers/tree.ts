/**
 * Lays out a directory tree from an object: a string or Buffer is a file with that content, an object
 * is a directory, symlink(target) a symbolic link. A name starting with "\0hex:" is given as hex bytes
 * (for names that are not UTF-8).
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";

const LINK = "\0symlink";

/** A symbolic link to `target`. */
export function symlink(target: string): Tree {
  return { [LINK]: target };
}

function linkTarget(node: TreeNode): string | undefined {
  return typeof node === "object" && !Buffer.isBuffer(node) ? (node[LINK] as string | undefined) : undefined;
}

export type TreeNode = string | Buffer | Tree;
export interface Tree {
  [name: string]: TreeNode;
}

/** A directory entry whose name is raw bytes (e.g. invalid UTF-8). */
export function hexName(bytes: Buffer): string {
  return `\0hex:${bytes.toString("hex")}`;
}

function nameBytes(name: string): Buffer {
  return name.startsWith("\0hex:") ? Buffer.from(name.slice(5), "hex") : Buffer.from(name, "utf8");
}

export function layTree(dir: string | Buffer, tree: Tree): void {
  const base = typeof dir === "string" ? Buffer.from(dir, "utf8") : dir;
  mkdirSync(base, { recursive: true });
  for (const [name, node] of Object.entries(tree)) {
    const p = Buffer.concat([base, Buffer.from("/"), nameBytes(name)]);
    const target = linkTarget(node);
    if (typeof node === "string" || Buffer.isBuffer(node)) writeFileSync(p, node);
    else if (target !== undefined) symlinkSync(target, p);
    else layTree(p, node);
  }
}

/** Number of directories in a tree, the root included (what `find -type d` lists). */
export function countDirs(tree: Tree): number {
  let n = 1;
  for (const node of Object.values(tree)) {
    if (typeof node === "object" && !Buffer.isBuffer(node) && linkTarget(node) === undefined)
      n += countDirs(node);
  }
  return n;
}
