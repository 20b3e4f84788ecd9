/**
 * The HTML report in a real browser (Debian's chromium, headless, fresh profile, no network
 * services): a screenshot, and the page's structure and layout as chromium computed them (elements
 * and numbers present, no element outside the viewport, segments inside their bar, marks where
 * the numbers say). Hostile node text stays text.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { fleetReport } from "../../src/verify/fleet.js";
import { renderHtml } from "../../src/verify/html.js";
import { chromium, MEASURE_SCRIPT, pngSize } from "./helpers/chromium.js";
import { el7Report, EVIL, hostile, outcome } from "./helpers/html-fixtures.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-html-browser-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const WIDTH = 1000;

interface Measured {
  viewport: number;
  docWidth: number;
  overflowing: string[];
  bars: {
    width: number;
    segs: { cls: string; left: number; right: number; width: number }[];
    marks: { cls: string; x: number }[];
  }[];
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
  const r = chromium([`--window-size=${WIDTH},900`, "--dump-dom"], `file://${file}`);
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

const { report } = el7Report(TMP);

describe("the HTML report in headless chromium", () => {
  const html = renderHtml(fleetReport([outcome(report)]));
  const page = join(TMP, "report.html");
  writeFileSync(page, html);

  test("a screenshot of the page itself (CSP on, no script)", () => {
    const png = join(TMP, "report.png");
    const r = chromium([`--window-size=${WIDTH},1400`, `--screenshot=${png}`], `file://${page}`);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(pngSize(readFileSync(png))).toEqual({ width: WIDTH, height: 1400 });
    expect(statSync(png).size).toBeGreaterThan(20_000);
  });

  test("elements and numbers present, nothing outside the viewport, segments inside their bars", () => {
    const { dom, m } = measure(html, "report");
    expect(dom.match(/<div class="cg" /g)).toHaveLength(report.cgroups.length);
    expect(dom.match(/<tr data-check=/g)).toHaveLength(report.checks.length);
    expect(dom).toContain("<b>57.28%</b>");
    expect(m.viewport).toBeGreaterThan(900);
    expect(m.docWidth).toBeLessThanOrEqual(m.viewport);
    expect(m.overflowing).toEqual([]);
    expect(m.bars).toHaveLength(report.cgroups.length);
    report.cgroups.forEach((c, i) => {
      const bar = m.bars[i]!;
      expect(bar.width).toBeGreaterThan(500);
      for (const s of bar.segs) {
        expect(s.left).toBeGreaterThanOrEqual(-0.5);
        expect(s.right).toBeLessThanOrEqual(bar.width + 0.5);
      }
      // the OOM killer's mark sits at usage / limit of the bar (bar = limit when usage is below it)
      const oom = bar.marks.find((k) => k.cls === "mark oom")!;
      if (c.limit_bytes && c.usage_bytes !== null && c.usage_bytes <= c.limit_bytes)
        expect(Math.abs(oom.x - (c.usage_bytes / c.limit_bytes) * (bar.width - 2))).toBeLessThan(3);
      const dash = bar.marks.find((k) => k.cls === "mark dash")!;
      expect(dash.x).toBeLessThanOrEqual(oom.x + 0.5);
    });
  });

  test("hostile node text stays text: no element, no request", () => {
    const h = renderHtml(fleetReport([outcome(hostile(report), EVIL)]));
    const { dom, m } = measure(h, "hostile");
    expect(dom.match(/<script/g)).toHaveLength(1); // the measuring one
    expect(dom).not.toMatch(/<img/);
    expect(m.overflowing).toEqual([]);
    expect(dom).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });
});
