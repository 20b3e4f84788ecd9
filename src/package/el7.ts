/** What an RPM may depend on to install on EL7 (CentOS/RHEL 7: rpm 4.11.3, glibc 2.17). */

const EL7_GLIBC: readonly [number, number] = [2, 17];

/**
 * The highest glibc symbol version among rpm's automatic requirements (e.g. "libc.so.6(GLIBC_2.34)(64bit)")
 * when it is newer than EL7's, else null. A kubelet linked against a newer glibc installs nowhere on EL7.
 */
export function glibcTooNewForEl7(requires: readonly string[]): string | null {
  let worst: { req: string; v: [number, number] } | null = null;
  for (const req of requires) {
    const m = /\(GLIBC_(\d+)\.(\d+)(?:\.\d+)?\)/.exec(req);
    if (!m) continue;
    const v: [number, number] = [Number(m[1]), Number(m[2])];
    const newer = v[0] > EL7_GLIBC[0] || (v[0] === EL7_GLIBC[0] && v[1] > EL7_GLIBC[1]);
    if (newer && (!worst || v[0] > worst.v[0] || (v[0] === worst.v[0] && v[1] > worst.v[1])))
      worst = { req, v };
  }
  return worst?.req ?? null;
}
