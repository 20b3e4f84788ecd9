/** Fake Go binaries carrying (or not) the strings the kmem byte rules look for. */
import { KMEM_ENABLING_STRING, NOKMEM_MARKER_STRING } from "../../../src/inspect/evidence.js";

export { KMEM_ENABLING_STRING, NOKMEM_MARKER_STRING };

/** Deterministic filler with NULs and high bytes, as in a real binary's rodata. */
function junk(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = i % 7 === 0 ? 0 : (x >> 16) & 0xff;
  }
  return b;
}

export interface FakeBinary {
  /** Links runc's kmem-enabling code (its error string). */
  kmem?: boolean;
  /** Links the nokmem variant (its error string). */
  nokmem?: boolean;
  /** Go >= 1.18 build info with `build\t-tags=<tags>`. */
  tags?: string;
  path?: string;
  /** The version string the binary is stamped with (`v1.20.2+nokmem` for kmem-build's mark). */
  version?: string;
}

export function fakeGoBinary(f: FakeBinary): Buffer {
  const parts: Buffer[] = [Buffer.from("\x7fELF\x02\x01\x01\x00", "latin1"), junk(4096, 1)];
  // Go string data is not NUL-terminated: strings sit next to each other.
  if (f.kmem) parts.push(Buffer.from(`cgroup: ${KMEM_ENABLING_STRING}invalid memory limit`), junk(512, 2));
  if (f.version) parts.push(Buffer.from(`gitTreeState${f.version}linux/amd64`), junk(256, 5));
  if (f.nokmem) parts.push(Buffer.from(`swap${NOKMEM_MARKER_STRING}memory.kmem`), junk(512, 3));
  if (f.tags !== undefined) {
    const modinfo =
      `0w\xaf\x0c\x92t\b\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6path\t${f.path ?? "k8s.io/kubernetes/cmd/kubelet"}\n` +
      `mod\tk8s.io/kubernetes\t(devel)\t\nbuild\t-buildmode=exe\nbuild\t-compiler=gc\nbuild\t-tags=${f.tags}\nbuild\tCGO_ENABLED=1\nbuild\tGOARCH=amd64\nbuild\tGOOS=linux\n\xf92C1\x82B\x10A\x16\xd8\xf2`;
    parts.push(
      Buffer.from("\xff Go buildinf:\x08\x02", "latin1"),
      Buffer.alloc(16),
      Buffer.from([8]),
      Buffer.from("go1.19.8"),
    );
    parts.push(
      Buffer.from([(modinfo.length & 0x7f) | 0x80, modinfo.length >> 7]),
      Buffer.from(modinfo, "latin1"),
    );
  }
  parts.push(junk(2048, 4));
  return Buffer.concat(parts);
}
