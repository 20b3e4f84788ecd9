/**
 * Reads a binary once, in chunks, for everything inspection needs: its sha256, its first bytes
 * (ELF headers), which of the given strings it contains, and its Go build info. One buffer is
 * allocated and reused for every chunk (the end of the previous chunk is moved to its start, so
 * a string across a chunk boundary is seen whole): memory stays at one chunk whatever the size of
 * the kubelet (real ones are ~110 MB).
 */
import { createHash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { fileOffsetOf, loadSegments } from "./elf.js";
import {
  BUILDINFO_MAGIC,
  GO_VERSION,
  KMEM_ENABLING_STRING,
  NOKMEM_MARKER_STRING,
  VERSION_MARK_STRING,
  goBuildInfo,
  evidenceFrom,
  type Evidence,
} from "./evidence.js";

const HEAD = 64 * 1024;
const BUILDINFO_WINDOW = 64 * 1024;
/** The Go version guess is looked for in the first 64 MiB only (as findEvidence does). */
const GO_GUESS_LIMIT = 64 << 20;
/** Longest `go1.N.M` taken whole across a boundary (a longer run of digits is no Go version). */
const GO_VERSION_MAX = 32;
const GO_PREFIX = Buffer.from("go1.", "latin1");

export interface BinaryReading {
  size: number;
  sha256: string;
  head: Buffer;
  found: Set<string>;
  evidence: Evidence;
}

const isDigit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39;

/**
 * The first match of GO_VERSION (`go1\.\d+(?:\.\d+)?`) in `buf[from..end)`. A match that reaches
 * the end of the buffer could go on in the next chunk (`go1.15.1` of `go1.15.15`): unless this is
 * the end of the file, it is "undecided" and the next window (which starts with these bytes) decides.
 */
export function goVersionIn(
  buf: Buffer,
  from: number,
  end: number,
  atEof: boolean,
): string | "undecided" | null {
  for (let i = buf.indexOf(GO_PREFIX, from); i >= 0 && i < end; i = buf.indexOf(GO_PREFIX, i + 1)) {
    let j = i + GO_PREFIX.length;
    if (j >= end && !atEof) return "undecided";
    if (!isDigit(buf[j]) || j >= end) continue;
    while (j < end && isDigit(buf[j])) j++;
    if (j + 1 < end && buf[j] === 0x2e && isDigit(buf[j + 1])) {
      j += 2;
      while (j < end && isDigit(buf[j])) j++;
    }
    // Undecided when the bytes that could extend the match lie beyond `end`.
    if (!atEof && j + 2 > end) return "undecided";
    return buf.toString("latin1", i, j);
  }
  return null;
}

export async function readBinary(
  path: string,
  extra: string[] = [],
  chunkSize = 4 << 20,
): Promise<BinaryReading> {
  const needles = [
    ...new Set([KMEM_ENABLING_STRING, NOKMEM_MARKER_STRING, VERSION_MARK_STRING, ...extra]),
  ].map((n) => ({
    text: n,
    bytes: Buffer.from(n, "latin1"),
  }));
  const overlap = Math.max(GO_VERSION_MAX, BUILDINFO_MAGIC.length, ...needles.map((n) => n.bytes.length)) - 1;
  const buf = Buffer.allocUnsafe(overlap + chunkSize);
  const hash = createHash("sha256");
  const found = new Set<string>();
  const head = Buffer.alloc(HEAD);
  let headLength = 0;
  let kept = 0; // bytes carried over from the previous chunk, at the start of buf
  let offset = 0; // file offset of buf[0]
  let magicAt = -1;
  let goGuess: string | null = null;
  let goDone = false;
  const fh = await open(path, "r");
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, kept, chunkSize, null);
      const end = kept + bytesRead;
      const atEof = bytesRead === 0;
      if (!atEof) {
        const chunk = buf.subarray(kept, end);
        hash.update(chunk);
        if (headLength < HEAD) headLength += chunk.copy(head, headLength, 0, HEAD - headLength);
        for (const n of needles)
          if (!found.has(n.text) && buf.subarray(0, end).includes(n.bytes)) found.add(n.text);
        if (magicAt < 0) {
          const i = buf.subarray(0, end).indexOf(BUILDINFO_MAGIC);
          if (i >= 0) magicAt = offset + i;
        }
      }
      if (!goDone) {
        // Only a match that lies in the first 64 MiB counts, as with findEvidence.
        const regionEnd = Math.min(end, GO_GUESS_LIMIT - offset);
        const regionClosed = atEof || offset + end >= GO_GUESS_LIMIT;
        const g = regionEnd > 0 ? goVersionIn(buf, 0, regionEnd, regionClosed) : null;
        if (g !== "undecided") {
          goGuess = g;
          goDone = g !== null || regionClosed;
        }
      }
      if (atEof) break;
      const keep = Math.min(overlap, end);
      buf.copyWithin(0, end - keep, end);
      offset += end - keep;
      kept = keep;
    }
  } finally {
    await fh.close();
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
  return {
    size: offset + kept,
    sha256: hash.digest("hex"),
    head: head.subarray(0, headLength),
    found,
    evidence,
  };
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
