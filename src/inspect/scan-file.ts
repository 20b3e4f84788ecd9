/**
 * Reads a binary once, in chunks, for everything inspection needs: its sha256, its first bytes
 * (ELF headers), which of the given strings it contains, and its Go build info. Memory stays at a
 * few chunks whatever the size of the kubelet (real ones are ~110 MB).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { fileOffsetOf, loadSegments } from "./elf.js";
import {
  BUILDINFO_MAGIC,
  GO_VERSION,
  KMEM_ENABLING_STRING,
  NOKMEM_MARKER_STRING,
  goBuildInfo,
  evidenceFrom,
  type Evidence,
} from "./evidence.js";

const HEAD = 64 * 1024;
const BUILDINFO_WINDOW = 64 * 1024;

export interface FileScan {
  size: number;
  sha256: string;
  head: Buffer;
  found: Set<string>;
  evidence: Evidence;
}

export async function scanFile(path: string, extra: string[] = [], chunkSize = 4 << 20): Promise<FileScan> {
  const needles = [...new Set([KMEM_ENABLING_STRING, NOKMEM_MARKER_STRING, ...extra])];
  const longest = [...needles, BUILDINFO_MAGIC.toString("latin1")].map((n) => Buffer.byteLength(n, "latin1"));
  const overlap = Math.max(...longest) - 1;
  const hash = createHash("sha256");
  const found = new Set<string>();
  let head = Buffer.alloc(0);
  let tail = Buffer.alloc(0);
  let offset = 0; // file offset of the first byte of `tail`
  let magicAt = -1;
  let goGuess: string | null = null;
  for await (const chunk of createReadStream(path, { highWaterMark: chunkSize }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    if (head.length < HEAD) head = Buffer.concat([head, chunk.subarray(0, HEAD - head.length)]);
    const window = Buffer.concat([tail, chunk]);
    for (const n of needles) if (!found.has(n) && window.includes(n, 0, "latin1")) found.add(n);
    if (magicAt < 0) {
      const i = window.indexOf(BUILDINFO_MAGIC);
      if (i >= 0) magicAt = offset + i;
    }
    if (goGuess === null && offset < 64 << 20)
      goGuess = GO_VERSION.exec(window.toString("latin1"))?.[0] ?? null;
    const keep = Math.min(overlap, window.length);
    offset += window.length - keep;
    tail = window.subarray(window.length - keep);
  }
  let buildInfo: ReturnType<typeof goBuildInfo> = null;
  if (magicAt >= 0) {
    const fh = await open(path, "r");
    try {
      const win = Buffer.alloc(BUILDINFO_WINDOW);
      const { bytesRead } = await fh.read(win, 0, win.length, magicAt);
      buildInfo = goBuildInfo(win.subarray(0, bytesRead));
      // Go < 1.18 stores pointers to runtime.buildVersion instead of the string itself.
      if (!buildInfo) goGuess = (await goVersionByPointer(fh, head, win.subarray(0, bytesRead))) ?? goGuess;
    } finally {
      await fh.close();
    }
  }
  const evidence = evidenceFrom({ has: (n) => found.has(n), buildInfo, goGuess });
  return { size: offset + tail.length, sha256: hash.digest("hex"), head, found, evidence };
}

/**
 * Go 1.13-1.17 build info header: magic (14 bytes), pointer size, flags (bit 0: big endian), then a
 * pointer to the runtime.buildVersion string header {data, len}. Followed through the ELF load
 * segments to the bytes, as `go version FILE` does.
 */
async function goVersionByPointer(fh: FileHandle, head: Buffer, info: Buffer): Promise<string | null> {
  if (info.length < 32) return null;
  const size = info[14]!;
  const big = (info[15]! & 1) === 1;
  if (size !== 4 && size !== 8) return null;
  const ptr = (b: Buffer, o: number) =>
    size === 8
      ? Number(big ? b.readBigUInt64BE(o) : b.readBigUInt64LE(o))
      : big
        ? b.readUInt32BE(o)
        : b.readUInt32LE(o);
  const segments = loadSegments(head);
  const at = async (vaddr: number, length: number): Promise<Buffer | null> => {
    const off = fileOffsetOf(segments, vaddr);
    if (off === null) return null;
    const b = Buffer.alloc(length);
    const { bytesRead } = await fh.read(b, 0, length, off);
    return bytesRead === length ? b : null;
  };
  const header = await at(ptr(info, 16), 2 * size);
  if (!header) return null;
  const len = ptr(header, size);
  if (len <= 0 || len > 64) return null;
  const text = (await at(ptr(header, 0), len))?.toString("latin1") ?? "";
  return GO_VERSION.test(text) ? text : null;
}
