/** Human text for a fleet report: one table row per host, then what each host must fix. */
import type { CgroupRow, FleetReport, HostOutcome, NodeReport, OomKill } from "./report.js";
import { durationSeconds } from "./script-args.js";
import { terminalSafe } from "./terminal.js";

export function humanBytes(n: number | null): string {
  if (n === null) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows
    .map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  "))
    .join("\n");
}

/** "pod shop/web-0", "container app of pod shop/web-0"; the UID or directory name when not named. */
export function cgroupName(c: CgroupRow): string {
  const pod = c.pod_name ? (c.pod_namespace ? `${c.pod_namespace}/` : "") + c.pod_name : c.pod_uid;
  if (c.level === "pod") return `pod ${pod}`;
  return `container ${c.container_name ?? c.container ?? "?"} of pod ${pod}`;
}

/** One OOM kill from the kernel log: when, whom, and how much of the usage was kernel memory. */
/** One kill; `unauthenticated`: read from a plain file (the report's kernel_log.authenticated false). */
export function oomKillLine(k: OomKill, unauthenticated = false): string {
  const pod = k.pod_name ? (k.pod_namespace ? `${k.pod_namespace}/` : "") + k.pod_name : k.pod_uid;
  const ctr = k.container_name ?? k.container;
  const share = k.kmem_share === null ? "?" : `${(k.kmem_share * 100).toFixed(2)}%`;
  return (
    `OOM kill ${k.time ?? "(no time)"} of ${ctr ? `container ${ctr} of ` : ""}pod ${pod}: ` +
    `kmem ${humanBytes(k.kmem_usage_bytes)} = ${share} of usage ${humanBytes(k.usage_bytes)} (limit ${humanBytes(k.limit_bytes)})` +
    (k.kmem_caused ? " <- kernel memory" : "") +
    (unauthenticated ? " [not authenticated: read from a file any local user can write]" : "")
  );
}

function kmemCgroups(rows: CgroupRow[]): CgroupRow[] {
  return rows.filter((r) => (r.kmem_usage_bytes ?? 0) > 0);
}

function row(h: HostOutcome): string[] {
  const r = h.report;
  if (!r) return [h.host, h.result, "-", "-", "-", "-", "-", "-", "-", "-", "-", h.error ?? ""];
  const pods = r.cgroups.filter((c) => c.level === "pod").length;
  const charged = kmemCgroups(r.cgroups);
  const max = charged.reduce((m, c) => Math.max(m, c.kmem_usage_bytes ?? 0), 0);
  return [
    h.host,
    h.result,
    String(r.totals.pass),
    String(r.totals.fail),
    String(r.totals.warn),
    r.node.kernel ?? "?",
    r.node.cgroup_layout,
    String(pods),
    String(charged.length),
    charged.length ? humanBytes(max) : "0",
    r.fix_state ?? "-", // reports of older scripts have none
    r.node.hostname ?? "",
  ];
}

export function renderFleet(report: FleetReport, verbose = false): string {
  const f = terminalSafe(report);
  const out: string[] = [];
  out.push(
    table([
      [
        "HOST",
        "RESULT",
        "PASS",
        "FAIL",
        "WARN",
        "KERNEL",
        "CGROUP",
        "PODS",
        "KMEM>0",
        "MAX KMEM",
        "FIX STATE",
        "NODE / ERROR",
      ],
      ...f.hosts.map(row),
    ]),
  );
  for (const h of f.hosts) {
    const shown = (h.report?.checks ?? []).filter(
      (c) => verbose || c.status === "FAIL" || c.status === "WARN",
    );
    if (!shown.length) continue;
    out.push("", `${h.host}:`);
    if (h.report?.next_step) out.push(`  fix state ${h.report.fix_state}: next step: ${h.report.next_step}`);
    for (const c of shown) {
      out.push(`  [${c.status}] ${c.id}: ${c.seen}`);
      if (c.cause && c.status !== "PASS" && c.status !== "INFO") out.push(`         cause: ${c.cause}`);
      if (c.remedy && c.status !== "PASS") out.push(`         fix: ${c.remedy}`);
    }
    const charged = kmemCgroups(h.report!.cgroups);
    for (const c of charged.slice(0, verbose ? charged.length : 5)) {
      out.push(
        `  kmem ${humanBytes(c.kmem_usage_bytes)} (hidden ${humanBytes(c.hidden_bytes)}) in ${cgroupName(c)} (${c.path})`,
      );
    }
    if (!verbose && charged.length > 5)
      out.push(`  ... ${charged.length - 5} more charged cgroups (--verbose)`);
    // kills kernel memory caused (every kill with --verbose); reports of older scripts have none
    const kills = (h.report!.oom_kills ?? []).filter((k) => verbose || k.kmem_caused);
    const unauth = h.report!.kernel_log?.authenticated === false;
    for (const k of kills.slice(0, verbose ? kills.length : 5)) out.push(`  ${oomKillLine(k, unauth)}`);
    if (!verbose && kills.length > 5)
      out.push(`  ... ${kills.length - 5} more kmem-caused OOM kills (--verbose)`);
  }
  const t = f.totals;
  out.push(
    "",
    `Result: ${f.result} (exit ${f.exit_code}): ${t.hosts} host${t.hosts === 1 ? "" : "s"}, ${t.ok} OK, ${t.problem} PROBLEM, ${t.unknown} UNKNOWN`,
  );
  return out.join("\n") + "\n";
}

/**
 * One line per host, node-problem-detector style, shaped like the script's own --brief:
 * `HOST: RESULT [fix state]: CHECK: SEEN; next: NEXT STEP` (`HOST: OK [fixed]; next: nothing to do`);
 * `HOST: UNKNOWN: WHY` when there is no report. Reports of scripts older than fix states have neither part.
 */
export function renderBrief(report: FleetReport): string {
  const f = terminalSafe(report);
  return (
    f.hosts
      .map((h) => {
        if (!h.report) return `${h.host}: UNKNOWN: ${h.error}`;
        const r = h.report as NodeReport & { fix_state?: unknown; next_step?: unknown };
        const state = typeof r.fix_state === "string" ? ` [${r.fix_state}]` : "";
        const next = typeof r.next_step === "string" ? `; next: ${r.next_step}` : "";
        const c = r.checks.find((x) => (h.exit_code === 1 ? x.status === "FAIL" : !x.conclusive));
        const why = h.exit_code === 0 || !c ? "" : `: ${c.id}: ${c.seen}`;
        return `${h.host}: ${h.result}${state}${why}${next}`;
      })
      .join("\n") + "\n"
  );
}

/** The samples a --duration run takes, as the script counts them (one now, then one per interval). */
export interface SamplingPlan {
  seconds: number;
  interval: number;
  samples: number;
}

export function samplingPlan(duration: string, interval?: string): SamplingPlan {
  const seconds = durationSeconds(duration, "--duration");
  let every = interval !== undefined ? durationSeconds(interval, "--interval") : 10;
  if (every > seconds && seconds > 0) every = seconds;
  return { seconds, interval: every, samples: Math.floor(seconds / every) + 1 };
}

function clock(s: number): string {
  const t = Math.max(0, Math.ceil(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h ? `${h}h${String(m).padStart(2, "0")}m` : m ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
}

/** "sample 3/61, about 9m40s left" after `elapsed` seconds (the script sleeps one interval between samples). */
export function samplingProgress(p: SamplingPlan, elapsed: number): string {
  const k = Math.min(p.samples, Math.floor(elapsed / p.interval) + 1);
  const left = p.seconds - elapsed;
  return left > 0
    ? `sample ${k}/${p.samples}, about ${clock(left)} left`
    : `sample ${p.samples}/${p.samples}, finishing the report`;
}
