/**
 * Debian's chromium, headless, for the HTML report tests: a fresh profile per call, no network
 * services (no sync, no component updates, no background networking), killed at a time limit.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CHROMIUM = process.env.KMEM_BUILD_CHROMIUM ?? "chromium";

export function chromium(
  args: string[],
  url: string,
): { code: number | null; stdout: string; stderr: string } {
  const profile = mkdtempSync(join(tmpdir(), "kmem-chromium-"));
  try {
    const r = spawnSync(
      CHROMIUM,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        `--user-data-dir=${profile}`,
        ...args,
        url,
      ],
      { encoding: "utf8", timeout: 90_000, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024 },
    );
    return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Width and height from a PNG's IHDR chunk. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (png.subarray(1, 4).toString("latin1") !== "PNG" || png.subarray(12, 16).toString("latin1") !== "IHDR")
    throw new Error("not a PNG");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/**
 * The page's layout as the browser computed it: a copy of the report with a measuring script
 * appended (the report itself has none, and its Content-Security-Policy would block one), read back
 * with --dump-dom from a <pre id="kmem-measure"> the script fills with JSON. `bars` are the memory
 * bars and the fleet rows' small kmem bars (inner width, each segment's and mark's bytes and place);
 * `els` what the tests read as an operator would: tiles, host rows and sections, the checks'
 * summaries, OOM kill badges, the scale's ticks, each with its text, box and data attributes (`shown`: laid out
 * and not inside a closed <details>).
 */
export const MEASURE_SCRIPT = `<script>
(function () {
  var vw = document.documentElement.clientWidth;
  // inside a closed <details> an element still has a box (chromium hides it with content-visibility)
  var seen = function (el, r) { return r.height > 0 && (!el.checkVisibility || el.checkVisibility({ visibilityProperty: true })); };
  var out = { viewport: vw, viewportHeight: window.innerHeight, docWidth: document.documentElement.scrollWidth,
    text: document.body.innerText, overflowing: [], bars: [], els: [], scripts: document.scripts.length };
  document.querySelectorAll("body *").forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5))
      out.overflowing.push(el.tagName + "." + el.className + " " + Math.round(r.left) + ".." + Math.round(r.right));
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow === "visible" && el.clientWidth > 0)
      out.overflowing.push("content wider than " + el.tagName + "." + el.className);
  });
  document.querySelectorAll(".bar, .mini").forEach(function (b) {
    var br = b.getBoundingClientRect();
    var left = br.left + b.clientLeft;
    var segs = Array.prototype.map.call(b.querySelectorAll(".seg"), function (s) {
      var r = s.getBoundingClientRect();
      return { cls: s.className, bytes: Number(s.dataset.bytes), left: r.left - left, right: r.right - left, width: r.width };
    });
    var marks = Array.prototype.map.call(b.querySelectorAll(".mark"), function (m) {
      return { cls: m.className, bytes: Number(m.dataset.bytes), x: m.getBoundingClientRect().left - left };
    });
    var host = b.closest("details.host");
    out.bars.push({ cls: b.className, host: host ? host.dataset.host : null, top: br.top, width: br.width,
      inner: b.clientWidth, shown: seen(b, br), segs: segs, marks: marks });
  });
  var picks = [".tile", "details.host", "summary.row", "details.checks > summary", "table.checks", "table.ooms .badge",
    "table.ooms tr", ".axis .tick", ".cg", "details.more > summary", ".row .kills", ".row .next"];
  picks.forEach(function (sel) {
    document.querySelectorAll(sel).forEach(function (el) {
      var r = el.getBoundingClientRect();
      var host = el.closest("details.host");
      out.els.push({ sel: sel, cls: String(el.className), text: (el.innerText || "").trim().slice(0, 2000),
        host: host ? host.dataset.host : null, data: Object.assign({}, el.dataset), open: el.open === true,
        shown: seen(el, r), top: r.top, left: r.left, width: r.width, height: r.height });
    });
  });
  var pre = document.createElement("pre");
  pre.id = "kmem-measure";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>`;
