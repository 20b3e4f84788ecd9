/**
 * Writes tar archives byte by byte (ustar headers), so tests can make the hostile entries
 * that well-behaved tar writers refuse to produce: `../` paths, outside links, devices, and
 * headers that tar readers disagree on (a PAX record followed by a GNU long name or link).
 */
import { gzipSync } from "node:zlib";

export interface RawEntry {
  path: string;
  type?: "file" | "dir" | "symlink" | "hardlink" | "chardev" | "fifo";
  body?: string;
  linkpath?: string;
  mtime?: number;
  /** A PAX `x` record (e.g. `path`, `linkpath`) written before the entry's header. */
  pax?: Record<string, string>;
  /** A GNU `L` long-name record, written after the PAX record. */
  gnuLongName?: string;
  /** A GNU `K` long-link record, written after the PAX record. */
  gnuLongLink?: string;
}

const TYPEFLAG = { file: "0", hardlink: "1", symlink: "2", chardev: "3", dir: "5", fifo: "6" } as const;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

function header(e: RawEntry, size: number, typeflag: string = TYPEFLAG[e.type ?? "file"]): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.path, 0, 100, "utf8");
  h.write(octal(e.type === "dir" ? 0o755 : 0o644, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(e.mtime ?? 1600000000, 12), 136);
  h.write("        ", 148);
  h.write(typeflag, 156);
  if (e.linkpath) h.write(e.linkpath, 157, 100, "utf8");
  // GNU's own records carry the old GNU magic ("ustar  \0"), as GNU tar writes them
  h.write(/[LK]/.test(typeflag) ? "ustar  \u0000" : "ustar\u000000", 257, "latin1");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "latin1");
  return h;
}

function padded(body: Buffer): Buffer[] {
  return [body, Buffer.alloc((512 - (body.length % 512)) % 512)];
}

/** One PAX record: "<length> <key>=<value>\n", the length counting itself. */
function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(rest);
  while (Buffer.byteLength(`${len}${rest}`) !== len) len = Buffer.byteLength(`${len}${rest}`);
  return `${len}${rest}`;
}

/** The metadata records before an entry: PAX `x` first, then GNU `L` and `K` (the order that splits readers). */
function metaRecords(e: RawEntry): Buffer[] {
  const parts: Buffer[] = [];
  if (e.pax) {
    const body = Buffer.from(
      Object.entries(e.pax)
        .map(([k, v]) => paxRecord(k, v))
        .join(""),
    );
    parts.push(header({ path: "PaxHeaders/entry" }, body.length, "x"), ...padded(body));
  }
  for (const [flag, value] of [
    ["L", e.gnuLongName],
    ["K", e.gnuLongLink],
  ] as const) {
    if (value === undefined) continue;
    const body = Buffer.from(`${value}\0`);
    parts.push(header({ path: "././@LongLink" }, body.length, flag), ...padded(body));
  }
  return parts;
}

/** The tar stream of `entries` without the end-of-archive blocks (so more can be appended). */
export function tarEntries(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.type === undefined || e.type === "file" ? (e.body ?? "") : "");
    parts.push(...metaRecords(e), header(e, body.length), ...padded(body));
  }
  return Buffer.concat(parts);
}

/** `entries` as a .tar.gz; `before` is a tar stream (without its end blocks) to put first. */
export function tarGz(entries: RawEntry[], before: Buffer = Buffer.alloc(0)): Buffer {
  return gzipSync(Buffer.concat([before, tarEntries(entries), Buffer.alloc(1024)]));
}

/** The smallest tree the pipeline accepts as Kubernetes-shaped. */
export const MINIMAL_TREE: RawEntry[] = [
  { path: "Makefile", body: "all:\n" },
  { path: "cmd/", type: "dir" },
  { path: "cmd/kubelet/", type: "dir" },
  { path: "cmd/kubelet/main.go", body: "package main\n" },
];
