/**
 * `kmem-build verify --html FILE`: one self-contained HTML page for a node or a fleet. No script,
 * no external resource (a Content-Security-Policy forbids both): the page opens offline and from a
 * mail attachment. Per pod and container cgroup, a bar of rss, cache and kmem stacked against the
 * limit, with what dashboards show (rss + cache) and what the OOM killer counts (usage) marked; the
 * OOM kills with their kmem share; each node's fix state; the check table.
 *
 * Everything in a report comes from the node (hostnames, cgroup paths, pod names, check text) and is
 * escaped; numbers are printed only when they are finite.
 */
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

export function escapeHtml(v: unknown): string {
  return String(v ?? "").replace(
    /[&<>"'`]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" })[c]!,
  );
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null);
const bytes = (v: unknown): string => humanBytes(num(v));
const share = (v: number | null): string => (v === null ? "?" : `${(v * 100).toFixed(2)}%`);
const pct = (v: number | null): string => (v === null ? "-" : `${(v * 100).toFixed(1)}%`);
/** A CSS percentage in [0, 100]. */
const width = (part: number, whole: number): string =>
  `${Math.min(100, Math.max(0, whole > 0 ? (part / whole) * 100 : 0)).toFixed(2)}%`;

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

const STATE_CLASS: Record<string, string> = {
  "not-affected": "ok",
  fixed: "ok",
  kernel: "info",
  install: "fail",
  restart: "warn",
  reboot: "warn",
  runtime: "warn",
  unknown: "warn",
};

function badge(text: string, cls: string): string {
  return `<span class="badge ${cls}">${escapeHtml(text)}</span>`;
}
const resultClass = (r: string) => (r === "OK" ? "ok" : r === "PROBLEM" ? "fail" : "warn");
const statusClass = (s: string) => ({ PASS: "ok", FAIL: "fail", WARN: "warn" })[s] ?? "info";

/** One cgroup: rss | cache | kmem stacked, on a scale of the limit (or of usage when unlimited). */
function cgroupBar(c: CgroupRow): string {
  const usage = num(c.usage_bytes);
  const rss = num(c.total_rss_bytes) ?? 0;
  const cache = num(c.total_cache_bytes) ?? 0;
  // kmem as the kernel counts it; on kernels without the kmem counters, the hidden rest of usage
  const kmem = num(c.kmem_usage_bytes) ?? Math.max(0, (usage ?? 0) - rss - cache);
  const limit = num(c.limit_bytes);
  const scale = Math.max(limit ?? 0, usage ?? 0, rss + cache + kmem);
  const seg = (cls: string, v: number, label: string) =>
    v > 0
      ? `<span class="seg ${cls}" style="width:${width(v, scale)}" title="${escapeHtml(`${label} ${bytes(v)}`)}"></span>`
      : "";
  const mark = (cls: string, v: number | null, label: string) =>
    v === null
      ? ""
      : `<span class="mark ${cls}" style="left:${width(v, scale)}" title="${escapeHtml(label)}"></span>`;
  const dash = rss + cache;
  return `<div class="cg" data-level="${escapeHtml(c.level)}">
<div class="cg-name"><b>${escapeHtml(cgroupName(c))}</b> <span class="path">${escapeHtml(c.path)}</span></div>
<div class="bar" role="img" aria-label="${escapeHtml(`rss ${bytes(rss)}, cache ${bytes(cache)}, kmem ${bytes(kmem)} of limit ${limit === null ? "none" : bytes(limit)}`)}">${seg("rss", rss, "rss")}${seg("cache", cache, "cache")}${seg("kmem", kmem, "kmem")}${mark("dash", dash, `dashboards: rss + cache ${bytes(dash)}`)}${mark("oom", usage, `OOM killer: usage ${bytes(usage)}`)}</div>
<div class="nums"><span class="k-rss">rss <b>${bytes(rss)}</b></span> <span class="k-cache">cache <b>${bytes(cache)}</b></span> <span class="k-kmem">kmem <b>${bytes(kmem)}</b></span> <span class="k-dash">dashboards (rss + cache) <b>${bytes(dash)}</b> = ${pct(num(c.rss_cache_limit_ratio))}</span> <span class="k-oom">OOM killer (usage) <b>${bytes(usage)}</b> = ${pct(num(c.usage_limit_ratio))}</span> <span class="k-limit">limit <b>${limit === null ? "none" : bytes(limit)}</b></span></div>
</div>`;
}

function checkTable(checks: Check[]): string {
  const rows = checks
    .map(
      (c) =>
        `<tr data-check="${escapeHtml(c.id)}"><td>${badge(c.status, statusClass(c.status))}</td><td class="id">${escapeHtml(c.id)}</td><td>${escapeHtml(c.seen)}${c.cause ? `<div class="cause">cause: ${escapeHtml(c.cause)}</div>` : ""}</td><td>${escapeHtml(c.status === "PASS" ? "" : c.remedy)}</td></tr>`,
    )
    .join("\n");
  return `<table class="checks"><colgroup><col class="c-st"><col class="c-id"><col><col class="c-fix"></colgroup><thead><tr><th>status</th><th>check</th><th>what was seen</th><th>what to do</th></tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

function oomTable(kills: OomKill[], log?: KernelLogInfo): string {
  if (!kills.length) return `<p class="none">No memory cgroup OOM kills of pods in the kernel log read.</p>`;
  // the node lists only its most recent kills: say how many more it counted
  const more = log?.pod_oom_kills_not_listed ?? 0;
  const note =
    more > 0
      ? `<p class="none">${more} earlier kill${more === 1 ? "" : "s"} counted, not listed (the node lists the last ${kills.length} of ${log?.pod_oom_kills ?? "?"}; ${log?.pod_oom_kills_kmem_caused ?? "?"} caused by kernel memory in all).</p>\n`
      : "";
  const rows = kills
    .map((k) => {
      const pod = k.pod_name ? `${k.pod_namespace ? `${k.pod_namespace}/` : ""}${k.pod_name}` : k.pod_uid;
      return `<tr class="${k.kmem_caused ? "kmem-caused" : ""}"><td>${escapeHtml(k.time ?? "-")}</td><td>${escapeHtml(pod)}</td><td>${escapeHtml(k.container_name ?? k.container ?? "-")}</td><td>${bytes(k.usage_bytes)}</td><td>${bytes(k.limit_bytes)}</td><td>${bytes(k.kmem_usage_bytes)}</td><td><b>${share(num(k.kmem_share))}</b></td><td>${k.kmem_caused ? badge("kernel memory", "fail") : ""}</td></tr>`;
    })
    .join("\n");
  return `${note}<table class="ooms"><thead><tr><th>time</th><th>pod</th><th>container</th><th>usage</th><th>limit</th><th>kmem</th><th>kmem share</th><th></th></tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

function hostSection(h: HostOutcome): string {
  const r = h.report;
  const fix = fixStateOf(r);
  const head = `<h2>${escapeHtml(h.host)} ${badge(h.result, resultClass(h.result))}</h2>`;
  if (!r)
    return `<section class="host">${head}<p class="error">${escapeHtml(h.error ?? "no report")}</p></section>`;
  const facts = [
    ["node", r.node.hostname ?? "-"],
    ["kernel", r.node.kernel ?? "-"],
    ["cgroups", `${r.node.cgroup_layout}, driver ${r.node.cgroup_driver ?? "-"}`],
    ["checked", r.timestamp],
    ["script", r.script_version],
  ]
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join("");
  const fixHtml = fix
    ? `<p class="fix">fix state ${badge(fix.state, STATE_CLASS[fix.state] ?? "warn")}${fix.detail ? ` ${escapeHtml(fix.detail)}` : ""}</p>`
    : `<p class="fix">fix state ${badge("not reported", "info")} <span class="path">(the node's verify-kmem.sh predates fix states)</span></p>`;
  const cgroups = r.cgroups.length
    ? r.cgroups.map(cgroupBar).join("\n")
    : `<p class="none">No pod or container memory cgroups.</p>`;
  return `<section class="host">
${head}
<dl>${facts}</dl>
${fixHtml}
<h3>Memory per pod and container</h3>
<div class="legend"><span class="seg rss"></span>rss <span class="seg cache"></span>cache <span class="seg kmem"></span>kmem <span class="mark dash"></span>dashboards see (rss + cache) <span class="mark oom"></span>OOM killer counts (usage) — bar = limit</div>
${cgroups}
<h3>OOM kills</h3>
${oomTable(r.oom_kills ?? [], r.kernel_log)}
<h3>Checks</h3>
${checkTable(r.checks)}
</section>`;
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222;max-width:1200px}
h1{font-size:20px}h2{font-size:17px;border-top:2px solid #ccc;padding-top:8px}h3{font-size:15px;margin:14px 0 6px}
.badge{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;font-weight:600;color:#fff;background:#777}
.ok{background:#2e7d32}.fail{background:#c62828}.warn{background:#ef6c00}.info{background:#1565c0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0}dt{color:#666}dd{margin:0;overflow-wrap:anywhere}
.cg{margin:8px 0 12px}.cg-name{overflow-wrap:anywhere}.path{color:#777;font-size:12px;overflow-wrap:anywhere}
.bar{position:relative;display:flex;height:18px;background:#eee;border:1px solid #999;overflow:hidden;margin:3px 0}
.seg{display:inline-block;height:100%}.seg.rss{background:#42a5f5}.seg.cache{background:#9ccc65}.seg.kmem{background:#e53935}
.mark{position:absolute;top:0;bottom:0;width:0;border-left:3px solid}.mark.dash{border-color:#0d47a1}.mark.oom{border-color:#000;border-left-style:dashed}
.legend{font-size:12px;color:#555}.legend .seg{width:12px;height:10px;margin:0 3px 0 10px}.legend .mark{position:static;display:inline-block;height:10px;margin:0 3px 0 10px}
.nums{font-size:12px;color:#333;display:flex;flex-wrap:wrap;gap:2px 14px}
table{border-collapse:collapse;width:100%;table-layout:fixed;font-size:13px}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f3f3}.c-st{width:70px}.c-id{width:170px}.c-fix{width:30%}.cause{color:#666;font-size:12px}
tr.kmem-caused{background:#ffebee}.none,.error{color:#555}
`;

export function renderHtml(f: FleetReport): string {
  const t = f.totals;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kmem check: ${escapeHtml(f.result)} (${t.hosts} host${t.hosts === 1 ? "" : "s"})</title>
<style>${CSS}</style>
</head>
<body>
<h1>kmem check ${badge(f.result, resultClass(f.result))}</h1>
<p class="summary">${escapeHtml(f.timestamp)}: ${t.hosts} host${t.hosts === 1 ? "" : "s"}, ${t.ok} OK, ${t.problem} PROBLEM, ${t.unknown} UNKNOWN (exit ${f.exit_code}). The OOM killer of a memory cgroup counts usage = rss + cache + kmem; dashboards built on rss + cache do not show kmem.</p>
${f.hosts.map(hostSection).join("\n")}
</body>
</html>
`;
}
