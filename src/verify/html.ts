/**
 * `kmem-build verify --html FILE`: one self-contained HTML page for a node or a fleet. No script,
 * no external resource (a Content-Security-Policy forbids both): the page opens offline and from a
 * mail attachment. At the top, the fleet at a glance: how many hosts are in each fix state, worst
 * first, and one row per host, worst first, with its next step. Below, one <details> per host (open
 * when the page has one): its fix state, OOM kills, the pods with the most kmem as bars on the page's
 * one byte scale (html-scale.ts), the other cgroups and the check table one click away.
 *
 * Everything in a report comes from the node (hostnames, cgroup paths, pod names, process names,
 * check text) and is escaped; numbers are printed only when they are finite.
 */
import { PAGE_CSS } from "./html-css.js";
import { largestDrawn, num, parts, pctOf, scaleFor, tickLabel, type Scale } from "./html-scale.js";
import { containerId } from "./kube-names.js";
import { cgroupName, humanBytes } from "./render.js";
import type {
  CgroupRow,
  Check,
  FleetReport,
  HostOutcome,
  KernelLogInfo,
  NodeReport,
  OomKill,
} from "./report.js";
import {
  bySeverity,
  kmemCausedKills,
  largestKmem,
  pageState,
  STATE_ORDER,
  stateClass,
  stateCounts,
  stateRank,
} from "./severity.js";
import { terminalText } from "./terminal.js";

/** Text for HTML: markup characters as entities; control and bidi characters as visible escapes. */
export function escapeHtml(v: unknown): string {
  return terminalText(String(v ?? "")).replace(
    /[&<>"'`]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" })[c]!,
  );
}

const bytes = (v: unknown): string => humanBytes(num(v));
const share = (v: number | null): string => (v === null ? "?" : `${(v * 100).toFixed(2)}%`);
const pct = (v: number | null): string => (v === null ? "?" : `${(v * 100).toFixed(1)}%`);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Pods (or, where a node has none, containers) drawn before the "more" fold. */
export const TOP_CGROUPS = 10;

/** The node's fix state and next step, as its script reports them (`fix_state`, `next_step`). */
export interface FixState {
  state: string;
  detail: string | null;
}
export function fixStateOf(r: NodeReport | null): FixState | null {
  const o = r as { fix_state?: unknown; next_step?: unknown } | null;
  if (typeof o?.fix_state !== "string") return null;
  return { state: o.fix_state, detail: typeof o.next_step === "string" ? o.next_step : null };
}

function badge(text: string, cls: string, title?: string): string {
  return `<span class="badge ${cls}"${title ? ` title="${escapeHtml(title)}"` : ""}>${escapeHtml(text)}</span>`;
}
const resultClass = (r: string) => (r === "OK" ? "ok" : r === "PROBLEM" ? "fail" : "warn");
const statusClass = (s: string) => ({ PASS: "ok", FAIL: "fail", WARN: "warn" })[s] ?? "info";
const stateBadge = (s: string) => badge(s, stateClass(s));
const unauthenticated = (r: NodeReport) => r.kernel_log?.authenticated === false;

/** What a host's row and summary say it should do next: the report's next step, or why there is none. */
function nextStep(h: HostOutcome): { text: string; cls: string } {
  if (!h.report) return { text: `not checked: ${h.error ?? "no report"}`, cls: "error" };
  const fix = fixStateOf(h.report);
  if (!fix) return { text: "see the checks (the node's verify-kmem.sh predates fix states)", cls: "error" };
  return { text: fix.detail ?? "-", cls: "" };
}

/** The labelled ticks of the page's scale, above a list of bars. */
function axis(s: Scale): string {
  const ticks = s.ticks
    .map((t, i) => {
      const at = i === 0 ? "first" : i === s.ticks.length - 1 ? "last" : "";
      return `<span class="tick ${at}" style="left:${pctOf(t, s)}">${escapeHtml(tickLabel(t))}</span>`;
    })
    .join("");
  return `<div class="axis" aria-hidden="true">${ticks}</div>`;
}

/** One cgroup: rss | cache | kmem stacked on the page's scale; dashboards', the OOM killer's and the limit's marks. */
function cgroupBar(c: CgroupRow, s: Scale): string {
  const { rss, cache, kmem, usage } = parts(c);
  const limit = num(c.limit_bytes);
  const seg = (cls: string, v: number, label: string) =>
    v > 0
      ? `<span class="seg ${cls}" data-bytes="${v}" style="width:${pctOf(v, s)}" title="${escapeHtml(`${label} ${bytes(v)}`)}"></span>`
      : "";
  const mark = (cls: string, v: number | null, label: string) =>
    v === null || v > s.end
      ? ""
      : `<span class="mark ${cls}" data-bytes="${v}" style="left:${pctOf(v, s)}" title="${escapeHtml(label)}"></span>`;
  const dash = rss + cache;
  const ofLimit = (ratio: unknown) => (limit === null ? "" : ` = ${pct(num(ratio))} of limit`);
  const limitText =
    limit === null
      ? `<span class="k-limit">no limit</span>`
      : `<span class="k-limit">limit <b>${bytes(limit)}</b>${limit > s.end ? " (beyond the scale)" : ""}</span>`;
  return `<div class="cg" data-level="${escapeHtml(c.level)}">
<div class="cg-name"><b>${escapeHtml(cgroupName(c))}</b> <span class="path">${escapeHtml(c.path)}</span></div>
<div class="bar" role="img" aria-label="${escapeHtml(`kmem ${bytes(kmem)}, rss ${bytes(rss)}, cache ${bytes(cache)}, limit ${limit === null ? "none" : bytes(limit)}`)}">${seg("rss", rss, "rss")}${seg("cache", cache, "cache")}${seg("kmem", kmem, "kmem")}${mark("dash", dash, `dashboards: rss + cache ${bytes(dash)}`)}${mark("oom", usage, `OOM killer: usage ${bytes(usage)}`)}${mark("limit", limit, `limit ${bytes(limit)}`)}</div>
<div class="nums"><span class="k-kmem">kmem <b>${bytes(kmem)}</b></span> <span class="k-rss">rss <b>${bytes(rss)}</b></span> <span class="k-cache">cache <b>${bytes(cache)}</b></span> <span class="k-dash">dashboards <b>${bytes(dash)}</b>${ofLimit(c.rss_cache_limit_ratio)}</span> <span class="k-oom">OOM killer <b>${bytes(usage)}</b>${ofLimit(c.usage_limit_ratio)}</span> ${limitText}</div>
</div>`;
}

/** Most kmem first, then most usage; the report's order between equals. */
function byKmem(rows: CgroupRow[]): CgroupRow[] {
  return rows
    .map((c, i) => ({ c, i, p: parts(c) }))
    .sort((a, b) => b.p.kmem - a.p.kmem || (b.p.usage ?? 0) - (a.p.usage ?? 0) || a.i - b.i)
    .map((x) => x.c);
}

function memory(r: NodeReport, s: Scale): string {
  if (!r.cgroups.length) return `<p class="none">No pod or container memory cgroups.</p>`;
  const pods = byKmem(r.cgroups.filter((c) => c.level === "pod"));
  const ctrs = byKmem(r.cgroups.filter((c) => c.level !== "pod"));
  const [lead, leadName, other, otherName] = pods.length
    ? [pods, "pods", ctrs, "container cgroups"]
    : [ctrs, "container cgroups", [], ""];
  const top = lead.slice(0, TOP_CGROUPS);
  const rest = lead.slice(TOP_CGROUPS);
  const fold = (rows: CgroupRow[], what: string) =>
    rows.length
      ? `<details class="more"><summary>${escapeHtml(what)}</summary>\n${axis(s)}\n${rows.map((c) => cgroupBar(c, s)).join("\n")}\n</details>`
      : "";
  return `<div class="legend"><span class="seg rss"></span>rss <span class="seg cache"></span>cache <span class="seg kmem"></span>kmem <span class="mark dash"></span>dashboards see (rss + cache) <span class="mark oom"></span>OOM killer counts (usage) <span class="mark limit"></span>limit — one scale for every bar on this page, 0 to ${escapeHtml(tickLabel(s.end))}</div>
${axis(s)}
${top.map((c) => cgroupBar(c, s)).join("\n")}
${fold(rest, `${plural(rest.length, leadName === "pods" ? "more pod" : "more container cgroup", leadName === "pods" ? "more pods" : "more container cgroups")}, most kmem first`)}
${fold(other, `${plural(other.length, otherName.replace(/s$/, ""), otherName)}, most kmem first`)}`;
}

function checkTable(checks: Check[]): string {
  const count = (st: string) => checks.filter((c) => c.status === st);
  const parts = ["FAIL", "WARN", "PASS", "INFO"]
    .map((st) => ({ st, list: count(st) }))
    .filter((x) => x.list.length)
    .map(
      (x) =>
        `${badge(`${x.list.length} ${x.st}`, statusClass(x.st))}${x.st === "FAIL" || x.st === "WARN" ? ` <span class="ids">${escapeHtml(x.list.map((c) => c.id).join(", "))}</span>` : ""}`,
    );
  const rows = checks
    .map(
      (c) =>
        `<tr data-check="${escapeHtml(c.id)}"><td>${badge(c.status, statusClass(c.status))}</td><td class="id">${escapeHtml(c.id)}</td><td>${escapeHtml(c.seen)}${c.cause ? `<div class="cause">cause: ${escapeHtml(c.cause)}</div>` : ""}</td><td>${escapeHtml(c.status === "PASS" ? "" : c.remedy)}</td></tr>`,
    )
    .join("\n");
  return `<details class="checks"><summary>${plural(checks.length, "check")}: ${parts.join(" ")}</summary>
<table class="checks"><colgroup><col class="c-st"><col class="c-id"><col><col class="c-fix"></colgroup><thead><tr><th>status</th><th>check</th><th>what was seen</th><th>what to do</th></tr></thead><tbody>
${rows}
</tbody></table></details>`;
}

/** A kill kmem made: red when the kernel's own log says so; marked unauthenticated when read from a file anyone can write. */
function killBadge(k: OomKill, unauth: boolean): string {
  if (!k.kmem_caused) return k.history ? badge("before this boot", "info") : "";
  if (unauth)
    return badge(
      "kernel memory? not authenticated",
      "warn wrap",
      "read from a file any local user can write: confirm with dmesg or journalctl -k",
    );
  return badge("kernel memory", "fail") + (k.history ? ` ${badge("before this boot", "info")}` : "");
}

/** The container's name, else the first 12 characters of its id (all of it in the title). */
function ctrCell(k: OomKill): string {
  if (k.container_name) return `<td>${escapeHtml(k.container_name)}</td>`;
  if (!k.container) return "<td>-</td>";
  return `<td title="${escapeHtml(k.container)}">${escapeHtml(containerId(k.container).slice(0, 12))}</td>`;
}

/** The node lists only its most recent kills: say how many more it counted. */
function notListed(listed: number, log?: KernelLogInfo): string {
  const more = log?.pod_oom_kills_not_listed ?? 0;
  if (more <= 0) return "";
  return `<p class="none">${more} earlier kill${more === 1 ? "" : "s"} counted, not listed (the node lists the last ${listed} of ${log?.pod_oom_kills ?? "?"}; ${log?.pod_oom_kills_kmem_caused ?? "?"} caused by kernel memory in all).</p>\n`;
}

function oomTable(r: NodeReport): string {
  const kills = r.oom_kills ?? [];
  const unauth = unauthenticated(r);
  const from = r.kernel_log?.source
    ? `Read from ${escapeHtml(r.kernel_log.source)}${r.kernel_log.path ? ` ${escapeHtml(r.kernel_log.path)}` : ""}${unauth ? `, <b>not authenticated</b>: any local user can write that file, so its kills are WARN, not FAIL; confirm with dmesg or journalctl -k` : ""}.`
    : "";
  if (!kills.length)
    return `<p class="none">No memory cgroup OOM kills of pods in the kernel log read. ${from}</p>`;
  const note = notListed(kills.length, r.kernel_log);
  const rows = kills
    .map((k) => {
      const pod = k.pod_name ? `${k.pod_namespace ? `${k.pod_namespace}/` : ""}${k.pod_name}` : k.pod_uid;
      const cls = k.kmem_caused ? (unauth ? "kmem-unauth" : "kmem-caused") : "";
      return `<tr class="${cls}"><td>${escapeHtml(k.time ?? "-")}</td><td>${escapeHtml(pod)}</td>${ctrCell(k)}<td>${escapeHtml(k.process?.name ?? "-")}</td><td>${bytes(k.usage_bytes)}</td><td>${bytes(k.limit_bytes)}</td><td>${bytes(k.kmem_usage_bytes)}</td><td><b>${share(num(k.kmem_share))}</b></td><td>${killBadge(k, unauth)}</td></tr>`;
    })
    .join("\n");
  return `${note}<table class="ooms"><colgroup><col class="c-time"><col><col class="c-ctr"><col class="c-proc"><col class="c-b"><col class="c-b"><col class="c-b"><col class="c-b"><col class="c-why"></colgroup><thead><tr><th>time</th><th>pod</th><th>container</th><th>process</th><th>usage</th><th>limit</th><th>kmem</th><th>kmem share</th><th></th></tr></thead><tbody>
${rows}
</tbody></table>
<p class="note">${from}</p>`;
}

/** The cells of a host's row: rank, host, verdict, fix state, next step, largest kmem on the page's scale, kmem-caused kills. */
function rowCells(h: HostOutcome, rank: number, s: Scale): string {
  const next = nextStep(h);
  const kmem = largestKmem(h.report);
  const kills = kmemCausedKills(h.report);
  const unauth = h.report ? unauthenticated(h.report) : false;
  const killCell = !h.report
    ? "-"
    : kills && unauth
      ? `${kills} <span class="unauth" title="read from a file any local user can write">not authenticated</span>`
      : kills
        ? `<b class="bad">${kills}</b>`
        : "0";
  const kmemCell = h.report
    ? `<span class="mini" title="${escapeHtml(`largest kmem of one cgroup: ${humanBytes(kmem)}`)}">${kmem > 0 ? `<span class="seg kmem" data-bytes="${kmem}" style="width:${pctOf(kmem, s)}"></span>` : ""}</span><span class="v">${kmem > 0 ? humanBytes(kmem) : "0"}</span>`
    : "-";
  return `<span class="c rank">${rank}</span><span class="c host"><b>${escapeHtml(h.host)}</b></span><span class="c res">${badge(h.result, resultClass(h.result))}</span><span class="c state">${stateBadge(pageState(h))}</span><span class="c next${next.cls ? ` ${next.cls}` : ""}">${escapeHtml(next.text)}</span><span class="c kmem">${kmemCell}</span><span class="c kills">${killCell}</span>`;
}

/** A host: its row (the <summary>), the rest one click away. */
function hostSection(h: HostOutcome, rank: number, s: Scale, open: boolean): string {
  const r = h.report;
  const state = pageState(h);
  const head = `<summary class="row">${rowCells(h, rank, s)}</summary>`;
  const attrs = `class="host" data-host="${escapeHtml(h.host)}" data-rank="${rank}" data-state="${escapeHtml(state)}"${open ? " open" : ""}`;
  if (!r)
    return `<details ${attrs}>${head}<div class="body"><p class="error">${escapeHtml(h.error ?? "no report")}</p></div></details>`;
  const fix = fixStateOf(r);
  const facts = [
    ["node", r.node.hostname ?? "-"],
    ["kernel", r.node.kernel ?? "-"],
    ["cgroups", `${r.node.cgroup_layout}, driver ${r.node.cgroup_driver ?? "-"}`],
    ["checked", r.timestamp],
    ["script", r.script_version],
  ]
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join("");
  const summary = (r as { fix_summary?: unknown }).fix_summary;
  const fixHtml = fix
    ? `<p class="fix">fix state ${stateBadge(fix.state)} ${typeof summary === "string" ? escapeHtml(summary) : ""}</p>`
    : `<p class="fix">fix state ${badge("not reported", "info")} <span class="path">(the node's verify-kmem.sh predates fix states)</span></p>`;
  return `<details ${attrs}>
${head}
<div class="body">
${fixHtml}
<dl>${facts}</dl>
${checkTable(r.checks)}
<h3>OOM kills</h3>
${oomTable(r)}
<h3>Memory: ${plural(r.cgroups.filter((c) => c.level === "pod").length, "pod")}, most kmem first</h3>
${memory(r, s)}
</div>
</details>`;
}

/** How many hosts are in each fix state, worst first. */
function tiles(f: FleetReport): string {
  const t = stateCounts(f.hosts)
    .map(({ state, count }) => {
      const known = STATE_ORDER[stateRank(state)]!;
      const label = known.state === state ? known.label : "a state this page does not know";
      return `<div class="tile ${stateClass(state)}" data-state="${escapeHtml(state)}"><span class="n">${count}</span> <span class="st">${escapeHtml(state)}</span><span class="what">${escapeHtml(label)}</span></div>`;
    })
    .join("");
  return `<div class="tiles">${t}</div>`;
}

export function renderHtml(f: FleetReport): string {
  const t = f.totals;
  const s = scaleFor(largestDrawn(f));
  const sorted = bySeverity(f.hosts);
  const fleet = f.hosts.length > 1;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kmem check: ${escapeHtml(f.result)} (${plural(t.hosts, "host")})</title>
<style>${PAGE_CSS}</style>
</head>
<body>
<h1>kmem check ${badge(f.result, resultClass(f.result))} <span class="summary">${escapeHtml(f.timestamp)}: ${plural(t.hosts, "host")}, ${t.problem} PROBLEM, ${t.unknown} UNKNOWN, ${t.ok} OK (exit ${f.exit_code})</span></h1>
${fleet ? tiles(f) : ""}
<div class="row head" aria-hidden="true"><span class="c rank">#</span><span class="c host">host</span><span class="c res">result</span><span class="c state">fix state</span><span class="c next">next step</span><span class="c kmem">largest kmem <span class="path">(bar 0 to ${escapeHtml(tickLabel(s.end))})</span></span><span class="c kills">kmem OOM kills</span></div>
${sorted.map((h, i) => hostSection(h, i + 1, s, !fleet)).join("\n")}
<p class="about">${fleet ? "Hosts worst first: click a host for its checks, OOM kills and memory. " : ""}The OOM killer of a memory cgroup counts usage = rss + cache + kmem; dashboards built on rss + cache do not show kmem. Bars: one linear byte scale for the whole page.</p>
</body>
</html>
`;
}
