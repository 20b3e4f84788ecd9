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
 * with --dump-dom from a <pre id="kmem-measure"> the script fills with JSON.
 */
export const MEASURE_SCRIPT = `<script>
(function () {
  var vw = document.documentElement.clientWidth;
  var out = { viewport: vw, docWidth: document.documentElement.scrollWidth, overflowing: [], bars: [] };
  document.querySelectorAll("body *").forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5))
      out.overflowing.push(el.tagName + "." + el.className + " " + Math.round(r.left) + ".." + Math.round(r.right));
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow === "visible" && el.clientWidth > 0)
      out.overflowing.push("content wider than " + el.tagName + "." + el.className);
  });
  document.querySelectorAll(".bar").forEach(function (b) {
    var br = b.getBoundingClientRect();
    var segs = Array.prototype.map.call(b.querySelectorAll(".seg"), function (s) {
      var r = s.getBoundingClientRect();
      return { cls: s.className, left: r.left - br.left, right: r.right - br.left, width: r.width };
    });
    var marks = Array.prototype.map.call(b.querySelectorAll(".mark"), function (m) {
      return { cls: m.className, x: m.getBoundingClientRect().left - br.left };
    });
    out.bars.push({ width: br.width, segs: segs, marks: marks });
  });
  var pre = document.createElement("pre");
  pre.id = "kmem-measure";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>`;
