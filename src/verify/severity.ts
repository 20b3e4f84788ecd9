/**
 * The order of a fleet page, worst first: by fix state (the kubelet that still arms kmem on every new
 * pod before the node that only waits for its reboot), then by verdict, kmem-caused OOM kills and the
 * largest kmem charge; equal hosts keep their input order.
 */
import type { HostOutcome, NodeReport } from "./report.js";

/**
 * A host's place in the fix; "no report" when there is no report to read (unreachable, timed out, an
 * invalid report), "not reported" for a report of a script older than fix states.
 */
export type PageState = string;

/** Worst first; with each, a few words an operator reads in the fleet summary (the script's own are longer). */
export const STATE_ORDER: readonly { state: PageState; label: string; cls: string }[] = [
  { state: "install", label: "the kubelet on disk arms kmem on every new pod", cls: "fail" },
  { state: "restart", label: "nokmem kubelet installed, the old one still runs", cls: "fail" },
  { state: "runtime", label: "the container runtime's runc arms kmem", cls: "fail" },
  { state: "reboot", label: "nokmem kubelet runs, armed cgroups wait for a reboot", cls: "warn" },
  { state: "unknown", label: "the node could not tell", cls: "warn" },
  { state: "not reported", label: "the node's script predates fix states", cls: "warn" },
  { state: "no report", label: "no report (unreachable, timed out or invalid)", cls: "warn" },
  { state: "kernel", label: "the kernel charges kmem to every memory cgroup", cls: "info" },
  { state: "fixed", label: "nothing to do", cls: "ok" },
  { state: "not-affected", label: "nothing to do", cls: "ok" },
];

export function pageState(h: HostOutcome): PageState {
  if (!h.report) return "no report";
  const s = (h.report as { fix_state?: unknown }).fix_state;
  return typeof s === "string" ? s : "not reported";
}

/** A state this page does not know (a newer script's) sorts with "unknown". */
export function stateRank(s: PageState): number {
  const i = STATE_ORDER.findIndex((x) => x.state === s);
  return i >= 0 ? i : STATE_ORDER.findIndex((x) => x.state === "unknown");
}

export function stateClass(s: PageState): string {
  return STATE_ORDER[stateRank(s)]!.cls;
}

const VERDICT_RANK = { PROBLEM: 0, UNKNOWN: 1, OK: 2 } as const;

export function kmemCausedKills(r: NodeReport | null): number {
  return (r?.oom_kills ?? []).filter((k) => k.kmem_caused).length;
}

export function largestKmem(r: NodeReport | null): number {
  return (r?.cgroups ?? []).reduce((m, c) => {
    const k = c.kmem_usage_bytes;
    return typeof k === "number" && Number.isFinite(k) && k > m ? k : m;
  }, 0);
}

/** The hosts, worst first (a new array; the report is not changed). */
export function bySeverity(hosts: readonly HostOutcome[]): HostOutcome[] {
  return hosts
    .map((h, i) => ({ h, i }))
    .sort(
      (a, b) =>
        stateRank(pageState(a.h)) - stateRank(pageState(b.h)) ||
        (VERDICT_RANK[a.h.result] ?? 1) - (VERDICT_RANK[b.h.result] ?? 1) ||
        kmemCausedKills(b.h.report) - kmemCausedKills(a.h.report) ||
        largestKmem(b.h.report) - largestKmem(a.h.report) ||
        a.i - b.i,
    )
    .map((x) => x.h);
}

/** How many hosts are in each state, worst first, states with none left out. */
export function stateCounts(hosts: readonly HostOutcome[]): { state: PageState; count: number }[] {
  const counts = new Map<PageState, number>();
  for (const h of hosts) counts.set(pageState(h), (counts.get(pageState(h)) ?? 0) + 1);
  return [...counts.entries()]
    .map(([state, count]) => ({ state, count }))
    .sort((a, b) => stateRank(a.state) - stateRank(b.state) || a.state.localeCompare(b.state));
}
