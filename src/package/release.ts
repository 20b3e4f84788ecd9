/**
 * The RPM Release of a nokmem kubelet: what it may be, how it compares (rpm's own rpmvercmp), and the
 * next one for a rebuild. yum takes a package only when its version-release sorts above the installed
 * one, so a rebuild of the same version must carry a higher release to reach a node.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../errors.js";

export const DEFAULT_RELEASE = "2.nokmem";

/** The releases of the official kubelet RPMs for EL7 (legacy Google repository 0, some builds 1.1). */
export const OFFICIAL_RELEASES = ["0", "1.1"] as const;

const isDigit = (c: string) => c >= "0" && c <= "9";
const isAlpha = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
const isAlnum = (c: string) => isDigit(c) || isAlpha(c);

/**
 * rpm's rpmvercmp (lib/rpmvercmp.c of rpm 4.x): -1, 0 or 1. Segments of digits compare as numbers
 * and beat letters; `~` sorts before anything, even the end; `^` after the end, before anything else.
 */
export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const at = (s: string, k: number) => (k < s.length ? s[k]! : "");
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(a[i]!) && a[i] !== "~" && a[i] !== "^") i++;
    while (j < b.length && !isAlnum(b[j]!) && b[j] !== "~" && b[j] !== "^") j++;
    const x = at(a, i);
    const y = at(b, j);
    if (x === "~" || y === "~") {
      if (x !== "~") return 1;
      if (y !== "~") return -1;
      i++;
      j++;
      continue;
    }
    if (x === "^" || y === "^") {
      if (x === "") return -1;
      if (y === "") return 1;
      if (x !== "^") return 1;
      if (y !== "^") return -1;
      i++;
      j++;
      continue;
    }
    if (x === "" || y === "") break;
    const numeric = isDigit(x);
    const take = numeric ? isDigit : isAlpha;
    let ei = i;
    let ej = j;
    while (ei < a.length && take(a[ei]!)) ei++;
    while (ej < b.length && take(b[ej]!)) ej++;
    let s1 = a.slice(i, ei);
    let s2 = b.slice(j, ej);
    if (s1 === "") return -1;
    if (s2 === "") return numeric ? 1 : -1;
    if (numeric) {
      s1 = s1.replace(/^0+/, "");
      s2 = s2.replace(/^0+/, "");
      if (s1.length !== s2.length) return s1.length > s2.length ? 1 : -1;
    }
    if (s1 !== s2) return s1 < s2 ? -1 : 1;
    i = ei;
    j = ej;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/**
 * Refuses a release that yum would not prefer over the official package of the same version, that
 * does not carry the `nokmem` mark as one of its dot-separated parts, or that rpm cannot take.
 */
export function checkRelease(release: string): void {
  if (!/^[A-Za-z0-9._+~^]+$/.test(release))
    throw new UsageError(
      `invalid RPM release "${release}": only letters, digits and . _ + ~ ^ are allowed`,
      `e.g. ${DEFAULT_RELEASE}, or ${nextRelease(DEFAULT_RELEASE)} for a rebuild`,
    );
  if (!release.split(/[._+~^]/).includes("nokmem"))
    throw new UsageError(
      `invalid RPM release "${release}": it must carry the mark "nokmem" as one of its parts`,
      `e.g. ${DEFAULT_RELEASE}, or ${nextRelease(DEFAULT_RELEASE)} for a rebuild (rpm -q --whatprovides kubelet-nokmem finds it on a node either way)`,
    );
  const beaten = OFFICIAL_RELEASES.filter((o) => rpmvercmp(release, o) <= 0);
  if (beaten.length)
    throw new UsageError(
      `RPM release "${release}" sorts at or below the official release ${beaten.map((o) => `"${o}"`).join(" and ")}: yum would keep the official kubelet of the same version`,
      `start the release with a number of 2 or more, e.g. ${DEFAULT_RELEASE}; a rebuild takes the next one (${nextRelease(DEFAULT_RELEASE)})`,
    );
}

/** The release a rebuild of the same version takes: the leading number plus one (2.nokmem -> 3.nokmem). */
export function nextRelease(release: string): string {
  const m = /^(\d+)(.*)$/.exec(release);
  if (!m) return `2.${release}`;
  return `${BigInt(m[1]!) + 1n}${m[2]}`;
}

/**
 * The lowest release above every release in `taken` (the releases of this version already built or
 * published), keeping the shape of `release`.
 */
export function nextFreeRelease(release: string, taken: readonly string[]): string {
  let r = release;
  while (taken.some((t) => rpmvercmp(r, t) <= 0)) r = nextRelease(r);
  return r;
}

/** The releases of `kubelet-<version>-<release>.<arch>.rpm` files in a build output's `<version>/` directory. */
export function releasesIn(versionDir: string, version: string): string[] {
  const prefix = `kubelet-${version}-`;
  let names: string[];
  try {
    names = readdirSync(versionDir);
  } catch {
    return [];
  }
  const out = new Set<string>();
  for (const n of names) {
    if (!n.startsWith(prefix) || !n.endsWith(".rpm")) continue;
    const m = /^(.+)\.[A-Za-z0-9_]+\.rpm$/.exec(n.slice(prefix.length));
    if (m) out.add(m[1]!);
  }
  return [...out];
}

/**
 * What to tell the user who builds a version whose output directory already holds a package of it with
 * this release or a higher one: nodes that installed that one will not take the new build.
 */
export function rebuildNotice(
  outDir: string,
  kubernetes: string,
  release: string | undefined,
): string | null {
  const version = kubernetes.replace(/^v/, "");
  const r = release ?? DEFAULT_RELEASE;
  const taken = releasesIn(join(outDir, version), version);
  if (!taken.some((t) => rpmvercmp(r, t) <= 0)) return null;
  return (
    `${join(outDir, version)} already holds kubelet-${version}-${taken.sort(rpmvercmp).at(-1)}: a node that installed it ` +
    `will not take this build as kubelet-${version}-${r}; to publish a rebuild, build it with --release ${nextFreeRelease(r, taken)}`
  );
}
