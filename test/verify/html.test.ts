/** `kmem-build verify --html FILE`: what the page holds, that it is self-contained, and that node text is escaped. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { fleetReport } from "../../src/verify/fleet.js";
import { escapeHtml, fixStateOf, renderHtml } from "../../src/verify/html.js";
import type { HostOutcome, NodeReport } from "../../src/verify/report.js";
import { el7Report, EVIL, hostile, outcome } from "./helpers/html-fixtures.js";
import { runCli } from "./helpers/run-script.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-html-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const { report, args } = el7Report(TMP);

describe("the HTML report", () => {
  const html = renderHtml(fleetReport([outcome(report)]));

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

  test("the OOM kills with their kmem share, the kmem-caused one marked", () => {
    expect(html.match(/<table class="ooms">[\s\S]*?<\/table>/)![0].match(/<tr/g)).toHaveLength(
      1 + report.oom_kills.length,
    );
    expect(html).toContain("<b>57.28%</b>");
    expect(html.match(/<tr class="kmem-caused">/g)).toHaveLength(
      report.oom_kills.filter((k) => k.kmem_caused).length,
    );
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
      'fix state <span class="badge warn">reboot</span> drain and reboot',
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
    expect(h).toContain("2 hosts, 0 OK, 1 PROBLEM, 1 UNKNOWN");
  });
});

test("kmem-build verify --html on this host writes the page; the exit code is the verdict's", () => {
  const out = join(TMP, "report.html");
  const r = runCli(["verify", ...args, "--html", out, "--quiet"]);
  expect(r.code, r.stderr).toBe(1);
  const page = readFileSync(out, "utf8");
  expect(page).toMatch(/^<!DOCTYPE html>/);
  expect(page.match(/<div class="cg" /g)).toHaveLength(report.cgroups.length);
  expect(page).toContain("<b>57.28%</b>");
});
