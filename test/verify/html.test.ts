/** `kmem-build verify --html FILE`: what the page holds, that it is self-contained, and that node text is escaped. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { fleetReport } from "../../src/verify/fleet.js";
import { scaleFor, tickLabel } from "../../src/verify/html-scale.js";
import { escapeHtml, fixStateOf, renderHtml } from "../../src/verify/html.js";
import { renderBrief } from "../../src/verify/render.js";
import type { HostOutcome, NodeReport } from "../../src/verify/report.js";
import { bySeverity, stateCounts } from "../../src/verify/severity.js";
import { el7Report, EVIL, hostile, outcome } from "./helpers/html-fixtures.js";
import { runCli } from "./helpers/run-script.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-html-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const { report, args } = el7Report(TMP);

const html = renderHtml(fleetReport([outcome(report)]));

describe("the HTML report", () => {
  test("one bar per pod and container cgroup, with rss, cache, kmem and both marks", () => {
    expect(report.cgroups.length).toBeGreaterThan(3);
    expect(html.match(/<div class="cg" /g)).toHaveLength(report.cgroups.length);
    expect(html.match(/<div class="bar" /g)).toHaveLength(report.cgroups.length);
    expect(html.match(/class="mark oom"/g)!.length).toBeGreaterThanOrEqual(report.cgroups.length);
    expect(html.match(/class="mark dash"/g)!.length).toBeGreaterThanOrEqual(report.cgroups.length);
    // the burstable pod of the fixture: 1.5 GiB rss + 1 GiB cache, kmem charged by the kubelet
    expect(html).toContain("rss <b>1.5 GiB</b>");
    expect(html).toContain("cache <b>1.0 GiB</b>");
  });

  test("segments never exceed the bar: widths are clamped percentages", () => {
    for (const w of html.matchAll(/class="seg [a-z]+" style="width:([\d.]+)%"/g))
      expect(Number(w[1])).toBeLessThanOrEqual(100);
    const over = structuredClone(report);
    over.cgroups[0]!.usage_bytes = 10 * (over.cgroups[0]!.limit_bytes ?? 1);
    const h = renderHtml(fleetReport([outcome(over)]));
    for (const w of h.matchAll(/(?:width|left):([\d.]+)%/g)) expect(Number(w[1])).toBeLessThanOrEqual(100);
  });

  test("the OOM kills with their kmem share; a kmem-caused one red only when the log is authenticated", () => {
    const table = (h: string) => h.match(/<table class="ooms">[\s\S]*?<\/table>/)![0];
    expect(table(html).match(/<tr/g)).toHaveLength(1 + report.oom_kills.length);
    expect(html).toContain("<b>57.28%</b>");
    const caused = report.oom_kills.filter((k) => k.kmem_caused).length;
    expect(caused).toBe(1);
    // the fixture's log is a plain file: not authenticated, as text and JSON say
    expect(report.kernel_log.authenticated).toBe(false);
    expect(html.match(/<tr class="kmem-unauth">/g)).toHaveLength(caused);
    expect(table(html)).toContain(
      '<span class="badge warn wrap" title="read from a file any local user can write',
    );
    expect(table(html)).not.toContain("badge fail");
    expect(html).toContain("<b>not authenticated</b>: any local user can write that file");
    const trusted = structuredClone(report);
    trusted.kernel_log.authenticated = true;
    const t = renderHtml(fleetReport([outcome(trusted)]));
    expect(t.match(/<tr class="kmem-caused">/g)).toHaveLength(caused);
    expect(table(t)).toContain('<span class="badge fail">kernel memory</span>');
    expect(table(t)).not.toContain("not authenticated");
  });

  test("unlimited cgroups say no limit, never '= -'", () => {
    expect(report.cgroups.every((c) => c.limit_bytes === null)).toBe(true);
    expect(html).not.toContain("= -");
    expect(html.match(/<span class="k-limit">no limit<\/span>/g)).toHaveLength(report.cgroups.length);
    const limited = structuredClone(report);
    limited.cgroups[0]!.limit_bytes = 16 * 1024 ** 2;
    limited.cgroups[0]!.usage_limit_ratio = 0.5;
    limited.cgroups[0]!.rss_cache_limit_ratio = null;
    const h = renderHtml(fleetReport([outcome(limited)]));
    expect(h).toContain("= 50.0% of limit");
    expect(h).toContain("= ? of limit");
    expect(h).not.toContain("= -");
  });

  test("the check table has every check with its status", () => {
    for (const c of report.checks) expect(html).toContain(`<tr data-check="${c.id}">`);
    expect(html.match(/<tr data-check=/g)).toHaveLength(report.checks.length);
  });

  test("fix state and next step: from the report (fix_state, next_step), none without them", () => {
    const r = report as NodeReport & { fix_state: string; next_step: string };
    expect(typeof r.fix_state).toBe("string");
    expect(fixStateOf(r)).toEqual({ state: r.fix_state, detail: r.next_step });
    expect(html).toMatch(new RegExp(`fix state <span class="badge \\w+">${r.fix_state}</span>`));
    const withState = { ...report, fix_state: "reboot", next_step: "drain and reboot" } as NodeReport;
    expect(renderHtml(fleetReport([outcome(withState)]))).toContain(
      '<span class="c state"><span class="badge warn">reboot</span></span><span class="c next">drain and reboot</span>',
    );
    const without = { ...report } as Record<string, unknown>;
    delete without.fix_state;
    expect(fixStateOf(without as unknown as NodeReport)).toBeNull();
    // (a report without fix_state fails the schema now: the fleet makes that host UNKNOWN)
    expect(fixStateOf({ ...report, fix_state: 7 } as unknown as NodeReport)).toBeNull();
  });

  test("self-contained: no script, no external resource, a CSP that forbids both", () => {
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|src=|href=|url\(|@import/i);
  });

  test("every string from the node is escaped", () => {
    const h = renderHtml(fleetReport([outcome(hostile(report), EVIL)]));
    expect(h).not.toContain("<script>alert");
    expect(h).not.toMatch(/<img|onerror="/);
    expect(h).toContain(escapeHtml(EVIL));
    expect(escapeHtml(EVIL)).not.toMatch(/[<>"'`]/);
  });

  test("control and bidi characters of node text are shown as escapes, not obeyed", () => {
    expect(escapeHtml("web\u202e0-gpj.exe\n\x1b[2J")).toBe("web\\u202e0-gpj.exe\\n\\x1b[2J");
  });

  test("fields the page does not know (a newer script's) are left alone", () => {
    const newer = {
      ...structuredClone(report),
      kills_total: 12,
      kernel_log: { ...report.kernel_log, kills_dropped: 9 },
      oom_kills: report.oom_kills.map((k) => ({ ...k, cgroup_id: 42 })),
    } as NodeReport;
    const f = fleetReport([outcome(report)]);
    const h = renderHtml({ ...f, hosts: [{ ...f.hosts[0]!, report: newer }] });
    expect(h.replace(/\d{4}-\d\d-\d\dT[\d:]+Z/g, "")).toBe(html.replace(/\d{4}-\d\d-\d\dT[\d:]+Z/g, ""));
  });

  test("an unreachable host is listed with its error", () => {
    const down: HostOutcome = {
      host: "n2",
      result: "UNKNOWN",
      exit_code: 2,
      error: "ssh: connect refused",
      seconds: 1,
      report: null,
    };
    const h = renderHtml(fleetReport([outcome(report), down]));
    expect(h).toContain('<p class="error">ssh: connect refused</p>');
    expect(h).toContain("not checked: ssh: connect refused");
    expect(h).toContain("2 hosts, 1 PROBLEM, 1 UNKNOWN, 0 OK");
  });
});

describe("the page's byte scale", () => {
  test("ends at the largest memory drawn, rounded up to a tick of 1, 2 or 5 x 10^n of a binary unit", () => {
    const GiB = 1024 ** 3;
    expect(scaleFor(6_442_450_944)).toEqual({
      end: 6 * GiB,
      ticks: [0, 1, 2, 3, 4, 5, 6].map((n) => n * GiB),
    });
    expect(scaleFor(5.2 * GiB).end).toBe(6 * GiB);
    expect(scaleFor(13 * GiB).ticks.map(tickLabel)).toEqual(["0", "5 GiB", "10 GiB", "15 GiB"]);
    expect(scaleFor(350 * 1024 ** 2).ticks.map(tickLabel)).toEqual([
      "0",
      "100 MiB",
      "200 MiB",
      "300 MiB",
      "400 MiB",
    ]);
    expect(scaleFor(4096)).toEqual({ end: 4096, ticks: [0, 1024, 2048, 3072, 4096] });
    expect(scaleFor(0).end).toBeGreaterThan(0);
  });

  test("every bar of the page on it: a segment's width is its bytes over the page's end", () => {
    const end = 6 * 1024 ** 3; // the fixture's burstable pod: usage 6 GiB
    expect(html).toContain('<span class="tick last" style="left:100.000%">6 GiB</span>');
    for (const w of html.matchAll(/class="seg ([a-z]+)" data-bytes="(\d+)" style="width:([\d.]+)%"/g))
      expect(Number(w[3])).toBeCloseTo(Math.min(100, (Number(w[2]) / end) * 100), 2);
    // the 8 KiB of the best-effort pod: a sliver, not a full bar
    expect(html).toContain('<span class="seg kmem" data-bytes="8192" style="width:0.000%"');
  });
});

describe("fleet order and counts", () => {
  const down = (host: string): HostOutcome => ({
    host,
    result: "UNKNOWN",
    exit_code: 2,
    error: "ssh: timed out",
    seconds: 60,
    report: null,
  });
  const as = (host: string, fix_state: string, kmem = 0): HostOutcome => {
    const r = structuredClone(report);
    (r as { fix_state: string }).fix_state = fix_state;
    for (const c of r.cgroups) c.kmem_usage_bytes = Math.min(c.kmem_usage_bytes ?? 0, kmem);
    r.oom_kills = [];
    return outcome(r, host);
  };
  const hosts = [
    as("a", "fixed"),
    down("b"),
    as("c", "reboot"),
    as("d", "install", 4096),
    as("e", "install", 1e9),
    as("f", "kernel"),
    as("g", "a-future-state"),
    as("h", "restart"),
  ];

  test("worst first: fix state, then kmem; a state of a newer script with unknown", () => {
    expect(bySeverity(hosts).map((h) => h.host)).toEqual(["e", "d", "h", "c", "g", "b", "f", "a"]);
    expect(hosts.map((h) => h.host)).toEqual(["a", "b", "c", "d", "e", "f", "g", "h"]);
    expect(stateCounts(hosts)).toEqual([
      { state: "install", count: 2 },
      { state: "restart", count: 1 },
      { state: "reboot", count: 1 },
      { state: "a-future-state", count: 1 },
      { state: "no report", count: 1 },
      { state: "kernel", count: 1 },
      { state: "fixed", count: 1 },
    ]);
  });

  test("the page: tiles and rows in that order, each row with its next step", () => {
    // (the page reads checked reports: a state the schema does not know makes that host's report invalid)
    const h = renderHtml(fleetReport(hosts));
    const tiles = [
      ...h.matchAll(/<div class="tile (\w+)" data-state="([^"]+)"><span class="n">(\d+)<\/span>/g),
    ];
    expect(tiles.map((t) => [t[2], Number(t[3]), t[1]])).toEqual([
      ["install", 2, "fail"],
      ["restart", 1, "fail"],
      ["reboot", 1, "warn"],
      ["no report", 2, "warn"],
      ["kernel", 1, "info"],
      ["fixed", 1, "ok"],
    ]);
    expect(
      [...h.matchAll(/<details class="host" data-host="(\w)" data-rank="(\d+)"/g)].map((m) => m[1]),
    ).toEqual(["e", "d", "h", "c", "b", "g", "f", "a"]);
    expect(h.match(/<span class="c next">/g)).toHaveLength(1 + 6); // the header's, and 6 hosts'
    expect(h).toContain('<span class="c next error">not checked: invalid report: does not match');
    expect(h).toContain('<span class="c next error">not checked: ssh: timed out</span>');
    // a fleet's hosts start folded; a page of one host opens it
    expect(h).not.toMatch(/<details class="host"[^>]* open>/);
    expect(html).toMatch(/<details class="host"[^>]* open>/);
  });

  test("--brief keeps each host's fix state and next step, in the hosts' order", () => {
    const lines = renderBrief(fleetReport([outcome(report, "n1"), down("n2"), as("n3", "fixed")])).split(
      "\n",
    );
    expect(lines[0]).toBe(
      `n1: PROBLEM [install]: pod-cgroups-kmem: ${report.checks.find((c) => c.id === "pod-cgroups-kmem")!.seen}; next: ${report.next_step}`,
    );
    expect(lines[1]).toBe("n2: UNKNOWN: ssh: timed out");
    expect(lines[2]).toMatch(/^n3: PROBLEM \[fixed\]: pod-cgroups-kmem: .*; next: either boot/);
    const ok = structuredClone(report);
    ok.exit_code = 0;
    ok.result = "OK";
    ok.fix_state = "fixed";
    ok.next_step = "nothing to do";
    expect(renderBrief(fleetReport([outcome(ok, "n4")]))).toMatch(/^n4: (OK|UNKNOWN)/);
    const older = structuredClone(report) as Partial<NodeReport>;
    delete older.fix_state;
    delete older.next_step;
    expect(renderBrief({ ...fleetReport([]), hosts: [outcome(older as NodeReport, "n5")] })).toBe(
      `n5: PROBLEM: pod-cgroups-kmem: ${report.checks.find((c) => c.id === "pod-cgroups-kmem")!.seen}\n`,
    );
  });
});

test("kmem-build verify --html on this host writes the page; the exit code is the verdict's; --brief keeps the fix state", () => {
  const out = join(TMP, "report.html");
  const r = runCli(["verify", ...args, "--html", out, "--quiet", "--brief"]);
  expect(r.code, r.stderr).toBe(1);
  expect(r.stdout).toBe(
    `local: PROBLEM [install]: pod-cgroups-kmem: ${report.checks.find((c) => c.id === "pod-cgroups-kmem")!.seen}; next: ${report.next_step}\n`,
  );
  const page = readFileSync(out, "utf8");
  expect(page).toMatch(/^<!DOCTYPE html>/);
  expect(page.match(/<div class="cg" /g)).toHaveLength(report.cgroups.length);
  expect(page).toContain("<b>57.28%</b>");
});
