/**
 * The outputs of `kmem-build verify --cluster`, as for a fleet: a table (and --brief lines), JUnit XML
 * and a self-contained HTML page; --json prints the ClusterReport itself. Node names, versions and
 * DaemonSet log text come from the cluster: terminal text goes through terminalSafe, HTML through
 * escapeHtml, XML through xmlEscape.
 */
import { escapeHtml } from "./html.js";
import { xmlEscape } from "./junit.js";
import { terminalSafe } from "./terminal.js";
import type { ClusterNode, ClusterReport } from "./cluster.js";

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows
    .map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  "))
    .join("\n");
}

const dsCell = (n: ClusterNode) =>
  !n.daemonset
    ? "-"
    : n.daemonset.fix_state
      ? `${n.daemonset.fix_state} (${n.daemonset.result})`
      : "no report";

const apiCell = (n: ClusterNode) =>
  n.api.fix_state === "ask-node" ? `ask the node (${n.api.possible.join("/")})` : n.api.fix_state;

export function renderCluster(report: ClusterReport, verbose = false): string {
  const f = terminalSafe(report);
  const out: string[] = [
    table([
      [
        "NODE",
        "KERNEL",
        "KERNEL CLASS",
        "KUBELET",
        "KUBELET CLASS",
        "RUNTIME",
        "FROM API",
        "DAEMONSET",
        "FIX STATE",
      ],
      ...f.nodes.map((n) => [
        n.node,
        n.kernel ?? "?",
        n.kernel_class,
        n.kubelet_version ?? "?",
        n.kubelet_class,
        n.container_runtime ?? "?",
        apiCell(n),
        dsCell(n),
        n.fix_state === "ask-node" ? "ask the node" : n.fix_state,
      ]),
    ]),
  ];
  for (const n of f.nodes) {
    if (!verbose && n.exit_code === 0) continue;
    out.push("", `${n.node}:`);
    out.push(`  from the API: ${n.api.why}`);
    if (n.daemonset?.fix_state)
      out.push(
        `  DaemonSet pod ${n.daemonset.namespace}/${n.daemonset.pod} at ${n.daemonset.timestamp ?? "?"}: ${n.daemonset.fix_state}, ${n.daemonset.result}`,
      );
    else if (n.daemonset)
      out.push(`  DaemonSet pod ${n.daemonset.namespace}/${n.daemonset.pod}: ${n.daemonset.error}`);
    if (n.npd_condition)
      out.push(
        `  node condition KernelMemoryAccounting=${n.npd_condition.status} (${n.npd_condition.reason}): ${n.npd_condition.message}`,
      );
    out.push(`  next step: ${n.next_step}`);
  }
  const t = f.totals;
  out.push(
    "",
    `DaemonSet reports: ${f.daemonset_reports}`,
    `Result: ${f.result} (exit ${f.exit_code}): ${t.nodes} node${t.nodes === 1 ? "" : "s"}, ${t.ok} OK, ${t.problem} PROBLEM, ${t.unknown} UNKNOWN (read from the API server; no node was contacted)`,
  );
  return out.join("\n") + "\n";
}

export function renderClusterBrief(report: ClusterReport): string {
  const f = terminalSafe(report);
  return (
    f.nodes
      .map((n) =>
        n.exit_code === 0
          ? `${n.node}: OK: ${n.fix_state}`
          : `${n.node}: ${n.result}: ${n.fix_state === "ask-node" ? `ask the node (${n.api.possible.join("/")})` : n.fix_state}: ${n.next_step}`,
      )
      .join("\n") + "\n"
  );
}

const attr = (o: Record<string, string | number>) =>
  Object.entries(o)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join("");

/** One testsuite per node: its kernel, its running kubelet and its fix state (a failure when it has a problem). */
export function clusterJUnit(r: ClusterReport): string {
  let tests = 0;
  let failures = 0;
  let skipped = 0;
  const suites = r.nodes.map((n) => {
    const classname = `kmem-build.verify.cluster.${n.node}`;
    const cases: string[] = [];
    const s = { tests: 0, failures: 0, errors: 0, skipped: 0 };
    const add = (name: string, status: "pass" | "fail" | "skip", text: string) => {
      s.tests++;
      const head = `    <testcase${attr({ classname, name, time: 0 })}>`;
      if (status === "fail") {
        s.failures++;
        cases.push(
          `${head}\n      <failure${attr({ message: text, type: "FAIL" })}>${xmlEscape(text)}</failure>\n    </testcase>`,
        );
      } else if (status === "skip") {
        s.skipped++;
        cases.push(`${head}\n      <skipped${attr({ message: text })}/>\n    </testcase>`);
      } else cases.push(`${head}\n      <system-out>${xmlEscape(text)}</system-out>\n    </testcase>`);
    };
    add("kernel", n.kernel_class === "unknown" ? "skip" : "pass", `${n.kernel ?? "?"}: ${n.kernel_class}`);
    add(
      "running-kubelet",
      n.kubelet_class === "arms-kmem" && n.kernel_class === "affected"
        ? "fail"
        : n.kubelet_class === "unknown"
          ? "skip"
          : "pass",
      `${n.kubelet_version ?? "?"}: ${n.kubelet_class}`,
    );
    add(
      "fix-state",
      n.exit_code === 1 ? "fail" : n.exit_code === 2 ? "skip" : "pass",
      `${n.fix_state}: ${n.next_step}${n.daemonset?.fix_state ? ` (DaemonSet report ${n.daemonset.timestamp ?? "?"})` : " (from the API)"}`,
    );
    tests += s.tests;
    failures += s.failures;
    skipped += s.skipped;
    const props = [
      ["result", n.result],
      ["kernel", n.kernel ?? ""],
      ["kubelet_version", n.kubelet_version ?? ""],
      ["container_runtime", n.container_runtime ?? ""],
    ]
      .map(([k, v]) => `      <property${attr({ name: k!, value: v! })}/>`)
      .join("\n");
    return `  <testsuite${attr({ name: n.node, ...s, time: "0.000", timestamp: r.timestamp })}>\n    <properties>\n${props}\n    </properties>\n${cases.join("\n")}\n  </testsuite>`;
  });
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites${attr({ name: "kmem-build verify --cluster", tests, failures, errors: 0, skipped })}>\n${suites.join("\n")}\n</testsuites>\n`
  );
}

/** A self-contained page: no script, no external resource. */
export function clusterHtml(r: ClusterReport): string {
  const e = escapeHtml;
  const cls = (n: ClusterNode) => (n.exit_code === 1 ? "problem" : n.exit_code === 2 ? "unknown" : "ok");
  const rows = r.nodes
    .map(
      (n) =>
        `<tr class="${cls(n)}"><td>${e(n.node)}</td><td>${e(n.kernel ?? "?")}<br><small>${e(n.kernel_class)}</small></td>` +
        `<td>${e(n.kubelet_version ?? "?")}<br><small>${e(n.kubelet_class)}</small></td><td>${e(n.container_runtime ?? "?")}</td>` +
        `<td>${e(apiCell(n))}<br><small>${e(n.api.why)}</small></td><td>${e(dsCell(n))}${n.daemonset?.timestamp ? `<br><small>${e(n.daemonset.timestamp)}</small>` : ""}</td>` +
        `<td><b>${e(n.fix_state === "ask-node" ? "ask the node" : n.fix_state)}</b><br><small>${e(n.next_step)}</small></td></tr>`,
    )
    .join("\n");
  const t = r.totals;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>kmem-build verify --cluster: ${e(r.result)}</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
tr.problem td:last-child{background:#fdd}tr.unknown td:last-child{background:#ffe9b3}tr.ok td:last-child{background:#dfd}small{color:#555}</style></head>
<body><h1>Kernel memory fix state from the API server: ${e(r.result)}</h1>
<p>${t.nodes} nodes: ${t.ok} OK, ${t.problem} PROBLEM, ${t.unknown} UNKNOWN. Read ${e(r.timestamp)}${r.context ? ` from context ${e(r.context)}` : ""}; no node was contacted. DaemonSet reports: ${e(r.daemonset_reports)}.</p>
<table><thead><tr><th>Node</th><th>Kernel</th><th>Running kubelet</th><th>Runtime</th><th>From the API</th><th>DaemonSet report</th><th>Fix state, next step</th></tr></thead>
<tbody>
${rows}
</tbody></table></body></html>
`;
}
