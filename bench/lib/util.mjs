// Small helpers shared by the benchmark scripts: running a command with a wall-clock timer,
// statistics, formatting. Plain node:child_process (no execa), so the harness itself is cheap.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, totalmem, release, loadavg, availableParallelism } from "node:os";
import { hrtime } from "node:process";

/**
 * Runs a command; resolves with its exit code, wall time in seconds (spawn to exit, measured by
 * this process) and captured output (the last 64 KiB of each stream).
 */
export function timed(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const start = hrtime.bigint();
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (buf, chunk) => {
      const s = buf + chunk.toString("utf8");
      return s.length > 65536 ? s.slice(-65536) : s;
    };
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout = keep(stdout, c)));
    child.stderr.on("data", (c) => (stderr = keep(stderr, c)));
    child.on("error", (err) =>
      resolve({ code: 127, seconds: 0, stdout, stderr: `${stderr}${err.message}\n` }),
    );
    child.on("close", (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        seconds: Number(hrtime.bigint() - start) / 1e9,
        stdout,
        stderr,
      }),
    );
  });
}

/** Like timed(), but throws with the command's last output lines when it fails. */
export async function must(cmd, args, opts = {}) {
  const r = await timed(cmd, args, opts);
  if (r.code !== 0) {
    const tail = (r.stderr || r.stdout).trim().split("\n").slice(-20).join("\n");
    throw new Error(`${opts.what ?? [cmd, ...args].join(" ")} failed (exit ${r.code}):\n${tail}`);
  }
  return r;
}

export function stats(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { n: v.length, min: v[0], median, max: v[v.length - 1] };
}

/** "1.23 / 1.30 / 1.41" (min / median / max) with a unit, or "n/a". */
export function mmm(s, digits = 2, unit = "") {
  if (!s) return "n/a";
  const f = (x) => x.toFixed(digits) + unit;
  return `${f(s.min)} / ${f(s.median)} / ${f(s.max)}`;
}

export function firstLine(text) {
  return (
    String(text ?? "")
      .trim()
      .split("\n")[0] ?? ""
  );
}

/** What kind of machine the figures come from. */
export async function machineInfo() {
  const cpuModel =
    /^model name\s*:\s*(.+)$/m.exec(safeRead("/proc/cpuinfo"))?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  const podman = await timed("podman", ["--version"]);
  const rpmbuild = await timed("rpmbuild", ["--version"]);
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    cpu: cpuModel,
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    podman: podman.code === 0 ? firstLine(podman.stdout) : "not found",
    rpmbuild: rpmbuild.code === 0 ? firstLine(rpmbuild.stdout) : "not found",
    node: process.version,
    loadavg: loadavg().map((x) => x.toFixed(2)),
  };
}

function safeRead(path) {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Total length of the union of [start, end] intervals (ms), for "time when no child was running". */
export function unionLength(intervals) {
  const iv = intervals.filter((i) => i.end !== undefined).sort((a, b) => a.start - b.start);
  let total = 0;
  let curStart = null;
  let curEnd = null;
  for (const { start, end } of iv) {
    if (curEnd === null || start > curEnd) {
      if (curEnd !== null) total += curEnd - curStart;
      curStart = start;
      curEnd = end;
    } else if (end > curEnd) curEnd = end;
  }
  if (curEnd !== null) total += curEnd - curStart;
  return total;
}
