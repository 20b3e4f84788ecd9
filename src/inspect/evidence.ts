/**
 * The byte rules (docs/domain.md, "Telling a nokmem binary from its bytes") that tell from a
 * compiled binary whether runc's kmem-enabling code was linked. scripts/verify-kmem.sh applies the
 * same rules on nodes.
 */
export const KMEM_ENABLING_STRING =
  "failed to set %s, because either tasks have already joined this cgroup or it has children";
export const NOKMEM_MARKER_STRING = "kernel memory accounting disabled in this runc build";
/**
 * The build metadata kmem-build stamps on the kubelet's version (`v1.20.2+nokmem`). Go packs string
 * data without separators, so the mark is looked for as these bytes, not as a whole version.
 */
export const VERSION_MARK_STRING = "+nokmem";

export interface Evidence {
  /** The kmem-enabling code (EnableKernelMemoryAccounting / setKernelMemory) is linked. */
  kmemEnablingCode: boolean;
  /** The nokmem variant's error string is linked (runc rc7..rc93 built with the tag). */
  disabledMarker: boolean;
  /** Go toolchain that built the binary, from its embedded build info (Go >= 1.18), else a best guess. */
  goVersion: string | null;
  /** `-tags=` from the embedded build settings (Go >= 1.18), null when not recorded. */
  buildTags: string[] | null;
  /** The version carries kmem-build's mark (VERSION_MARK_STRING): the binary claims to be a nokmem build. */
  marked: boolean;
  /** The summary a person reads. */
  verdict: "kmem-code-linked" | "nokmem-variant-linked" | "no-kmem-code";
}

export const BUILDINFO_MAGIC = Buffer.from("\xff Go buildinf:", "latin1");

function readUvarint(buf: Buffer, off: number): [number, number] {
  let x = 0;
  let shift = 0;
  for (let i = off; i < buf.length; i++) {
    const b = buf[i]!;
    x += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [x, i + 1];
    shift += 7;
  }
  return [0, buf.length];
}

/** Go >= 1.18 inlines version and module info after the 32-byte build info header. */
export function goBuildInfo(buf: Buffer): { version: string; modinfo: string } | null {
  const at = buf.indexOf(BUILDINFO_MAGIC);
  if (at < 0 || at + 32 > buf.length) return null;
  const flags = buf[at + 15]!;
  if ((flags & 0x2) === 0) return null;
  let [len, off] = readUvarint(buf, at + 32);
  const version = buf.toString("utf8", off, off + len);
  [len, off] = readUvarint(buf, off + len);
  const modinfo = buf.toString("utf8", off, off + len);
  return { version, modinfo };
}

/** What the rules need from a binary, however it was read. */
export interface BinaryFacts {
  has: (needle: string) => boolean;
  buildInfo: { version: string; modinfo: string } | null;
  /** First `go1.N[.M]` string, for binaries without inline build info (Go < 1.18). */
  goGuess: string | null;
}

export function evidenceFrom(f: BinaryFacts): Evidence {
  const kmemEnablingCode = f.has(KMEM_ENABLING_STRING);
  const disabledMarker = f.has(NOKMEM_MARKER_STRING);
  const marked = f.has(VERSION_MARK_STRING);
  let buildTags: string[] | null = null;
  let goVersion: string | null = f.buildInfo?.version || null;
  if (f.buildInfo) {
    const m = /^build\t-tags=(.*)$/m.exec(f.buildInfo.modinfo);
    buildTags = m ? m[1]!.split(",").filter(Boolean) : [];
  } else goVersion = f.goGuess;
  const verdict = kmemEnablingCode
    ? "kmem-code-linked"
    : disabledMarker
      ? "nokmem-variant-linked"
      : "no-kmem-code";
  return { kmemEnablingCode, disabledMarker, goVersion, buildTags, marked, verdict };
}

/**
 * Why a binary's version mark is false, or null when it is not marked or the bytes agree: a marked
 * kubelet must not link the kmem-enabling code, and where Go recorded the build tags, nokmem is one.
 */
export function markContradiction(ev: Evidence): string | null {
  if (!ev.marked) return null;
  if (ev.kmemEnablingCode)
    return `its version carries the nokmem mark (${VERSION_MARK_STRING}) but it links runc's kmem-enabling code`;
  if (ev.buildTags !== null && !ev.buildTags.includes("nokmem"))
    return `its version carries the nokmem mark (${VERSION_MARK_STRING}) but its Go build settings record tags [${ev.buildTags.join(",")}], without nokmem`;
  return null;
}

export const GO_VERSION = /go1\.\d+(?:\.\d+)?/;

export function findEvidence(buf: Buffer): Evidence {
  return evidenceFrom({
    has: (n) => buf.includes(n),
    buildInfo: goBuildInfo(buf),
    goGuess: GO_VERSION.exec(buf.toString("latin1", 0, Math.min(buf.length, 64 << 20)))?.[0] ?? null,
  });
}
