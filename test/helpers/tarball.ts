/**
 * Writes tar archives byte by byte (ustar headers), so tests can make the hostile entries
 * that well-behaved tar writers refuse to produce: `../` paths, outside links, devices.
 */
import { gzipSync } from "node:zlib";

export interface RawEntry {
  path: string;
  type?: "file" | "dir" | "symlink" | "hardlink" | "chardev" | "fifo";
  body?: string;
  linkpath?: string;
  mtime?: number;
}

const TYPEFLAG = { file: "0", hardlink: "1", symlink: "2", chardev: "3", dir: "5", fifo: "6" } as const;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

function header(e: RawEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.path, 0, 100, "utf8");
  h.write(octal(e.type === "dir" ? 0o755 : 0o644, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(e.mtime ?? 1600000000, 12), 136);
  h.write("        ", 148);
  h.write(TYPEFLAG[e.type ?? "file"], 156);
  if (e.linkpath) h.write(e.linkpath, 157, 100, "utf8");
  h.write("ustar\u000000", 257, "latin1");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "latin1");
  return h;
}

export function tarGz(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.type === undefined || e.type === "file" ? (e.body ?? "") : "");
    parts.push(header(e, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}

/** The smallest tree the pipeline accepts as Kubernetes-shaped. */
export const MINIMAL_TREE: RawEntry[] = [
  { path: "Makefile", body: "all:\n" },
  { path: "cmd/", type: "dir" },
  { path: "cmd/kubelet/", type: "dir" },
  { path: "cmd/kubelet/main.go", body: "package main\n" },
];
