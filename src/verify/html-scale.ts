/**
 * The one byte scale of an HTML report: every memory bar on the page, of every node, is drawn on it,
 * so a bar's length is bytes and two bars compare at a glance (4 KiB of kmem is a sliver, 3.2 GiB a
 * long red bar). Linear, not logarithmic: rss, cache and kmem are stacked, and only a linear scale
 * keeps a stack's length the sum of its parts. Its end is the largest memory a cgroup of the page holds,
 * rounded up to a tick; limits beyond it are named, not drawn.
 */
import { humanBytes } from "./render.js";
import type { CgroupRow, FleetReport } from "./report.js";

export const num = (v: unknown): number | null =>
  typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null;

/** What a cgroup's bar stacks: kmem as the kernel counts it, else the hidden rest of usage. */
export function parts(c: CgroupRow): { rss: number; cache: number; kmem: number; usage: number | null } {
  const usage = num(c.usage_bytes);
  const rss = num(c.total_rss_bytes) ?? 0;
  const cache = num(c.total_cache_bytes) ?? 0;
  const kmem = num(c.kmem_usage_bytes) ?? Math.max(0, (usage ?? 0) - rss - cache);
  return { rss, cache, kmem, usage };
}

/** The most memory one bar of the page must hold (limits not counted: a limit beyond it is named, not drawn). */
export function largestDrawn(f: FleetReport): number {
  let max = 0;
  for (const h of f.hosts)
    for (const c of h.report?.cgroups ?? []) {
      const p = parts(c);
      max = Math.max(max, p.usage ?? 0, p.rss + p.cache + p.kmem);
    }
  return max;
}

export interface Scale {
  /** bytes at the right end of every bar */
  end: number;
  /** bytes at each labelled tick, 0 first, `end` last */
  ticks: number[];
}

const UNITS = [1, 1024, 1024 ** 2, 1024 ** 3, 1024 ** 4];
const STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500];

/** At most `most` steps of 1, 2 or 5 × 10^n of a binary unit, so the tick labels read "2 GiB", "500 MiB". */
export function scaleFor(largest: number, most = 6): Scale {
  const want = Math.max(largest, 1);
  let step = UNITS[UNITS.length - 1]! * 1000;
  search: for (const u of UNITS)
    for (const s of STEPS)
      if (want / (s * u) <= most) {
        step = s * u;
        break search;
      }
  const n = Math.max(1, Math.ceil(want / step));
  return { end: n * step, ticks: Array.from({ length: n + 1 }, (_, i) => i * step) };
}

/** A tick's label: "0", "512 MiB", "2 GiB" (whole numbers print without ".0"). */
export function tickLabel(bytes: number): string {
  return bytes === 0 ? "0" : humanBytes(bytes).replace(/\.0 /, " ");
}

/** `v` as a CSS percentage of the scale, clamped to [0, 100]. */
export function pctOf(v: number, s: Scale): string {
  return `${Math.min(100, Math.max(0, (v / s.end) * 100)).toFixed(3)}%`;
}
