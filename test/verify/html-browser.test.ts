/**
 * The HTML report in a real browser (Debian's chromium, headless, fresh profile, no network
 * services): screenshots, and what an operator sees as chromium lays the page out: the fleet's
 * counts per fix state and its hosts worst first with their next steps on the first screen, the
 * rest folded, every bar on the page's one byte scale, unauthenticated kills marked as such, nothing
 * outside the viewport. On the CentOS 7 fixture node, a busy node of 40 pods and a fleet of 20 hosts.
 * Hostile node text stays text. KMEM_BUILD_DOCS_IMAGES=1 also writes the screenshots of the busy
 * node and of the fleet into docs/images/ (shown in docs/monitoring.md).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { fleetReport } from "../../src/verify/fleet.js";
import { largestDrawn, scaleFor } from "../../src/verify/html-scale.js";
import { renderHtml } from "../../src/verify/html.js";
import type { FleetReport, HostOutcome } from "../../src/verify/report.js";
import { chromium, MEASURE_SCRIPT, pngSize } from "./helpers/chromium.js";
import {
  busyNode,
  el7Report,
  EVIL,
  fleetOutcomes,
  hostile,
  outcome,
  SCRIPT_POD,
} from "./helpers/html-fixtures.js";
import { REPO } from "./helpers/run-script.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-html-browser-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const WIDTH = 1000;
const HEIGHT = 1400;
const AT = new Date("2026-12-01T09:00:00Z");
const DOCS_IMAGES = process.env.KMEM_BUILD_DOCS_IMAGES === "1" ? join(REPO, "docs", "images") : null;

interface Bar {
  cls: string;
  host: string | null;
  top: number;
  width: number;
  inner: number;
  shown: boolean;
  segs: { cls: string; bytes: number; left: number; right: number; width: number }[];
  marks: { cls: string; bytes: number; x: number }[];
}
interface El {
  sel: string;
  cls: string;
  text: string;
  host: string | null;
  data: Record<string, string>;
  open: boolean;
  shown: boolean;
  top: number;
  width: number;
  height: number;
}
interface Measured {
  viewport: number;
  viewportHeight: number;
  docWidth: number;
  text: string;
  overflowing: string[];
  bars: Bar[];
  els: El[];
  scripts: number;
}

/** The page as chromium lays it out: the DOM after load plus the measuring script's JSON. */
function measure(html: string, name: string): { dom: string; m: Measured } {
  const file = join(TMP, `${name}.measure.html`);
  // the copy only: the report's own CSP forbids scripts
  writeFileSync(
    file,
    html
      .replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, "")
      .replace("</body>", `${MEASURE_SCRIPT}</body>`),
  );
  const r = chromium([`--window-size=${WIDTH},${HEIGHT}`, "--dump-dom"], `file://${file}`);
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
  const json = /<pre id="kmem-measure">([^<]*)<\/pre>/.exec(r.stdout);
  expect(json, r.stdout.slice(-500)).not.toBeNull();
  const text = json![1]!
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
  return { dom: r.stdout, m: JSON.parse(text) as Measured };
}

/** A screenshot of the page itself (CSP on, no script); into docs/images/ too when asked. */
function screenshot(html: string, name: string): void {
  const page = join(TMP, `${name}.html`);
  writeFileSync(page, html);
  const png = join(TMP, `${name}.png`);
  const r = chromium([`--window-size=${WIDTH},${HEIGHT}`, `--screenshot=${png}`], `file://${page}`);
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
  expect(pngSize(readFileSync(png))).toEqual({ width: WIDTH, height: HEIGHT });
  expect(statSync(png).size).toBeGreaterThan(20_000);
  if (DOCS_IMAGES) copyFileSync(png, join(DOCS_IMAGES, `${name}.png`));
}

const els = (m: Measured, sel: string) => m.els.filter((e) => e.sel === sel);
const shown = (e: { shown: boolean }) => e.shown;
/** Every <details> of the page open: each bar laid out. */
const allOpen = (html: string) => html.replace(/<details (?!open)/g, "<details open ");

const UNIT: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
/** "6 GiB" → bytes: the scale's end as the page labels it. */
function labelBytes(label: string): number {
  const m = /^([\d.]+) (B|KiB|MiB|GiB|TiB)$/.exec(label.trim());
  expect(m, label).not.toBeNull();
  return Number(m![1]) * UNIT[m![2]!]!;
}

/**
 * Every segment and mark of every shown bar sits at bytes / end of its bar's inner width, `end` being
 * the page's last tick: one linear scale for every bar on the page, the fleet rows' small ones too.
 * A segment is at least 1 px wide, so a few KiB still show.
 */
function expectOneScale(m: Measured, end: number): number {
  let checked = 0;
  for (const b of m.bars.filter((x) => x.shown)) {
    let at = 0;
    for (const s of b.segs) {
      const want = (s.bytes / end) * b.inner;
      expect(Math.abs(s.left - at), `${b.host} ${s.cls} left`).toBeLessThan(1.5);
      expect(Math.abs(s.width - Math.max(1, want)), `${b.host} ${s.cls} ${s.bytes} B`).toBeLessThan(1.5);
      expect(s.right).toBeLessThanOrEqual(b.inner + 0.5);
      at = s.right - 0;
      checked++;
    }
    for (const k of b.marks) {
      expect(Math.abs(k.x - (k.bytes / end) * b.inner), `${b.host} ${k.cls} ${k.bytes} B`).toBeLessThan(1.5);
      checked++;
    }
  }
  return checked;
}

function scaleEnd(m: Measured): number {
  const ticks = els(m, ".axis .tick");
  expect(ticks.length).toBeGreaterThan(1);
  expect(ticks[0]!.text).toBe("0");
  return labelBytes(ticks[ticks.length - 1]!.text);
}

describe("the CentOS 7 fixture node in headless chromium", () => {
  const { report } = el7Report(TMP);
  const html = renderHtml(fleetReport([outcome(report)], AT));

  test("elements and numbers present, nothing outside the viewport, every bar on the page's scale", () => {
    const { dom, m } = measure(allOpen(html), "report");
    expect(dom.match(/<div class="cg" /g)).toHaveLength(report.cgroups.length);
    expect(dom.match(/<tr data-check=/g)).toHaveLength(report.checks.length);
    expect(dom).toContain("<b>57.28%</b>");
    expect(m.viewport).toBeGreaterThan(900);
    expect(m.docWidth).toBeLessThanOrEqual(m.viewport);
    expect(m.overflowing).toEqual([]);
    const bars = m.bars.filter((b) => b.cls === "bar");
    expect(bars).toHaveLength(report.cgroups.length);
    for (const b of bars) expect(b.inner).toBeGreaterThan(500);
    const end = scaleEnd(m);
    expect(end).toBe(scaleFor(largestDrawn(fleetReport([outcome(report)]))).end);
    expect(expectOneScale(m, end)).toBeGreaterThan(3 * report.cgroups.length);
    // unlimited cgroups: no ratio, and never "= -"
    expect(m.text).toContain("no limit");
    expect(m.text).not.toMatch(/= -/);
  });

  test("hostile node text stays text: no element, no request", () => {
    const h = renderHtml(fleetReport([outcome(hostile(report), EVIL), outcome(report, "n2")], AT));
    const { dom, m } = measure(allOpen(h), "hostile");
    expect(m.scripts).toBe(1); // the measuring one
    expect(dom.match(/<script/g)).toHaveLength(1);
    expect(dom).not.toMatch(/<img/);
    expect(m.overflowing).toEqual([]);
    expect(dom).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    // the host name, a pod name and a kill's process name, shown as the characters they are
    expect(els(m, "summary.row").find((e) => e.host === EVIL)!.text).toContain(EVIL);
    expect(m.text).toContain(`pod ${EVIL}/${EVIL}`);
    expect(els(m, "table.ooms tr").some((e) => e.host === EVIL && e.text.includes(EVIL))).toBe(true);
  });
});

describe("a busy node: 40 pods, 120 cgroups", () => {
  const busy = busyNode(join(TMP, "busy"));
  const f = fleetReport([outcome(busy, "el7-worker-07")], AT);
  const html = renderHtml(f);

  test("a screenshot of the page", () => screenshot(html, "verify-html-node-40-pods"));

  test("the first screen: fix state and next step, the checks summed up, the 10 pods with the most kmem", () => {
    const { m } = measure(html, "busy");
    expect(m.overflowing).toEqual([]);
    const row = els(m, "summary.row")[0]!;
    expect(row.top).toBeLessThan(150);
    expect(row.text).toContain("el7-worker-07");
    expect(row.text).toContain("install");
    expect(row.text).toContain(busy.next_step);
    expect(els(m, "details.host")[0]!.open).toBe(true);
    // the check table folded, its summary saying what failed
    const sum = els(m, "details.checks > summary")[0]!;
    expect(shown(sum) && sum.top < m.viewportHeight).toBe(true);
    expect(sum.text).toMatch(
      /^13 checks: 4 FAIL pod-cgroups-kmem, container-cgroups-kmem, kmem-accounting-active, kubelet-binary 2 WARN .*oom-kills-kmem 2 PASS 5 INFO$/,
    );
    expect(shown(els(m, "table.checks")[0]!)).toBe(false);
    // 10 pod bars shown, most kmem first; 30 pods and 80 containers one click away
    const cgs = els(m, ".cg");
    expect(cgs).toHaveLength(120);
    const visible = cgs.filter(shown);
    expect(visible).toHaveLength(10);
    expect(visible.every((c) => c.data.level === "pod")).toBe(true);
    expect(visible[0]!.top).toBeLessThan(m.viewportHeight);
    const kmem = m.bars
      .filter((b) => b.cls === "bar" && b.shown)
      .map((b) => b.segs.find((s) => s.cls === "seg kmem")?.bytes ?? 0);
    expect(kmem[0]).toBe(3_400_000_000);
    expect(kmem).toEqual([...kmem].sort((a, b) => b - a));
    expect(els(m, "details.more > summary").map((e) => e.text)).toEqual([
      "30 more pods, most kmem first",
      "80 container cgroups, most kmem first",
    ]);
    // the pod named with markup is a name on the screen, nothing else
    expect(m.scripts).toBe(1);
    expect(m.text).toContain(`pod shop/${SCRIPT_POD}`);
  });

  test("the kmem-caused kill read from a plain file is marked not authenticated, never the red badge", () => {
    const { m } = measure(html, "busy-kills");
    expect(busy.kernel_log.authenticated).toBe(false);
    const badges = els(m, "table.ooms .badge");
    expect(badges.map((b) => [b.text, b.cls])).toEqual([
      ["kernel memory? not authenticated", "badge warn wrap"],
    ]);
    expect(els(m, "table.ooms tr").filter((r) => r.cls === "kmem-caused")).toHaveLength(0);
    expect(els(m, "table.ooms tr").filter((r) => r.cls === "kmem-unauth")).toHaveLength(1);
    expect(els(m, ".row .kills")[1]!.text).toBe("1\nnot authenticated");
    expect(m.text).toContain("not authenticated: any local user can write that file");
    // trusted (dmesg, journalctl -k or --trust-kernel-log): the red badge
    const trusted = structuredClone(busy);
    trusted.kernel_log.authenticated = true;
    const t = measure(renderHtml(fleetReport([outcome(trusted, "el7-worker-07")], AT)), "busy-trusted").m;
    expect(els(t, "table.ooms .badge").map((b) => [b.text, b.cls])).toEqual([
      ["kernel memory", "badge fail"],
    ]);
  });

  test("all 120 bars on one scale: 4 KiB of kmem is a sliver, 3.2 GiB most of the bar; no '= -'", () => {
    const { m } = measure(allOpen(html), "busy-open");
    expect(m.overflowing).toEqual([]);
    const bars = m.bars.filter((b) => b.cls === "bar");
    expect(bars.filter((b) => b.shown)).toHaveLength(120);
    const end = scaleEnd(m);
    expect(end).toBe(6 * 1024 ** 3);
    expect(expectOneScale(m, end)).toBeGreaterThan(400);
    const kmemPx = (bytes: number) =>
      bars.flatMap((b) =>
        b.segs.filter((s) => s.cls === "seg kmem" && s.bytes === bytes).map((s) => s.width),
      );
    const tiny = kmemPx(4096);
    expect(tiny.length).toBeGreaterThan(5);
    for (const w of tiny) expect(w).toBeLessThan(1.5);
    expect(Math.max(...kmemPx(3_400_000_000))).toBeGreaterThan(0.5 * bars[0]!.inner);
    expect(m.text).not.toMatch(/= -/);
    expect(m.text.match(/no limit/g)!.length).toBeGreaterThanOrEqual(10);
  });
});

/** The fleet fixture's hosts, worst first: fix state, then kmem-caused kills and the largest kmem. */
const FLEET_ORDER = [
  ["worker-02", "install"],
  ["worker-14", "install"],
  ["worker-09", "install"],
  ["worker-18", "install"],
  ["worker-05", "install"],
  ["worker-06", "restart"],
  ["worker-15", "restart"],
  ["worker-10", "runtime"],
  ["worker-11", "reboot"],
  ["worker-03", "reboot"],
  ["worker-20", "reboot"],
  ["worker-12", "unknown"],
  ["worker-04", "no report"],
  ["worker-16", "no report"],
  ["worker-08", "kernel"],
  ["worker-01", "fixed"],
  ["worker-07", "fixed"],
  ["worker-13", "fixed"],
  ["worker-19", "fixed"],
  ["worker-17", "not-affected"],
];

describe("a fleet of 20 hosts", () => {
  const outcomes: HostOutcome[] = fleetOutcomes(join(TMP, "fleet"));
  const f: FleetReport = fleetReport(outcomes, AT);
  const html = renderHtml(f);
  const byHost = new Map(f.hosts.map((h) => [h.host, h]));

  test("a screenshot of the page", () => screenshot(html, "verify-html-fleet-20-nodes"));

  test("at the top: how many hosts are in each fix state, worst first", () => {
    const { m } = measure(html, "fleet");
    expect(m.overflowing).toEqual([]);
    const tiles = els(m, ".tile");
    expect(tiles.map((t) => t.text.split("\n")[0])).toEqual([
      "5 install",
      "2 restart",
      "1 runtime",
      "3 reboot",
      "1 unknown",
      "2 no report",
      "1 kernel",
      "4 fixed",
      "1 not-affected",
    ]);
    const firstRow = els(m, "summary.row")[0]!;
    for (const t of tiles)
      expect(shown(t) && t.top < firstRow.top && t.top < m.viewportHeight / 3).toBe(true);
    expect(m.text).toContain("20 hosts, 12 PROBLEM, 3 UNKNOWN, 5 OK (exit 1)");
  });

  test("one row per host, worst first, with its next step; the rest one click away", () => {
    const { m } = measure(html, "fleet-rows");
    const rows = els(m, "summary.row");
    expect(
      rows.map((r) => [r.host, els(m, "details.host").find((d) => d.host === r.host)!.data.state]),
    ).toEqual(FLEET_ORDER);
    rows.forEach((r, i) => {
      if (i > 0) expect(r.top).toBeGreaterThan(rows[i - 1]!.top);
      const h = byHost.get(r.host!)!;
      const next = els(m, ".row .next").find((e) => e.host === r.host)!;
      expect(next.text).toBe(h.report ? h.report.next_step : `not checked: ${h.error}`);
      expect(r.text).toContain(h.result);
    });
    // the worst host's row is on the first screen; every host folded
    expect(rows[0]!.top).toBeLessThan(400);
    expect(els(m, "details.host").every((d) => !d.open)).toBe(true);
    expect(els(m, ".cg").filter(shown)).toHaveLength(0);
    expect(
      els(m, ".row .kills")
        .map((e) => e.text.replace(/\n/g, " "))
        .slice(1, 3),
    ).toEqual(["1 not authenticated", "1 not authenticated"]);
  });

  test("the rows' kmem bars and every host's bars share one scale", () => {
    const closed = measure(html, "fleet-minis").m;
    const minis = closed.bars.filter((b) => b.cls === "mini" && b.shown);
    expect(minis).toHaveLength(18); // the two hosts without a report have none
    const end = scaleFor(largestDrawn(f)).end;
    expect(expectOneScale(closed, end)).toBeGreaterThanOrEqual(8);
    const px = (host: string) => minis.find((b) => b.host === host)!.segs[0]!.width;
    // 3.4 GB and 1.5 GB of kmem: bars in that ratio
    expect(px("worker-02") / px("worker-14")).toBeCloseTo(3.4 / 1.5, 1);
    const { m } = measure(allOpen(html), "fleet-open");
    expect(m.overflowing).toEqual([]);
    expect(scaleEnd(m)).toBe(end);
    expect(expectOneScale(m, end)).toBeGreaterThan(100);
  });
});
