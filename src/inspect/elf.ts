/** Just enough ELF reading to tell the machine and whether a program interpreter is requested. */
import type { Arch } from "../options.js";

const EM: Record<number, string> = { 62: "x86-64", 183: "aarch64", 21: "ppc64", 22: "s390" };
export const ELF_MACHINE_OF: Record<Arch, number> = { amd64: 62, arm64: 183, ppc64le: 21, s390x: 22 };
const PT_INTERP = 3;
const PT_DYNAMIC = 2;

export interface ElfInfo {
  machine: number;
  machineName: string;
  bits: 32 | 64;
  endian: "little" | "big";
  /** No PT_INTERP and no PT_DYNAMIC: needs nothing from the node's libc or loader. */
  static: boolean;
}

export function readElf(buf: Buffer): ElfInfo | null {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) return null;
  const bits = buf[4] === 2 ? 64 : 32;
  const endian = buf[5] === 2 ? "big" : "little";
  const u16 = (o: number) => (endian === "little" ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (endian === "little" ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const u64 = (o: number) => Number(endian === "little" ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o));
  const machine = u16(18);
  const phoff = bits === 64 ? u64(32) : u32(28);
  const phentsize = u16(bits === 64 ? 54 : 42);
  const phnum = u16(bits === 64 ? 56 : 44);
  let isStatic = true;
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 4 > buf.length) return null;
    const type = u32(off);
    if (type === PT_INTERP || type === PT_DYNAMIC) isStatic = false;
  }
  return { machine, machineName: EM[machine] ?? `machine ${machine}`, bits, endian, static: isStatic };
}

export interface LoadSegment {
  offset: number;
  vaddr: number;
  filesz: number;
}

/** PT_LOAD segments from the program headers in `head`: how virtual addresses map to file offsets. */
export function loadSegments(head: Buffer): LoadSegment[] {
  const elf = readElf(head);
  if (!elf) return [];
  const le = elf.endian === "little";
  const u16 = (o: number) => (le ? head.readUInt16LE(o) : head.readUInt16BE(o));
  const u32 = (o: number) => (le ? head.readUInt32LE(o) : head.readUInt32BE(o));
  const u64 = (o: number) => Number(le ? head.readBigUInt64LE(o) : head.readBigUInt64BE(o));
  const is64 = elf.bits === 64;
  const phoff = is64 ? u64(32) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const segments: LoadSegment[] = [];
  for (let i = 0; i < u16(is64 ? 56 : 44); i++) {
    const p = phoff + i * phentsize;
    if (p + (is64 ? 56 : 32) > head.length || u32(p) !== 1) continue;
    segments.push(
      is64
        ? { offset: u64(p + 8), vaddr: u64(p + 16), filesz: u64(p + 32) }
        : { offset: u32(p + 4), vaddr: u32(p + 8), filesz: u32(p + 16) },
    );
  }
  return segments;
}

export function fileOffsetOf(segments: LoadSegment[], vaddr: number): number | null {
  const s = segments.find((x) => vaddr >= x.vaddr && vaddr < x.vaddr + x.filesz);
  return s ? s.offset + (vaddr - s.vaddr) : null;
}
