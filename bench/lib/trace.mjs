// Preloaded into the `kmem-build` process by the build benchmark (node --import). Measures that
// one process from the inside, without changing what it does:
//   - every child process it starts (command, first argument, start and end time), by wrapping
//     child_process.spawn, which execa uses;
//   - its own peak resident memory: VmHWM from /proc/self/status (the kernel's high-water mark
//     of this process's RSS; children such as podman and rpmbuild are separate processes and
//     are not included) and process.resourceUsage().maxRSS (getrusage RUSAGE_SELF) as a cross-check.
// Written as JSON to $KMEM_BENCH_TRACE when the process exits.
import { createRequire, syncBuiltinESMExports } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const out = process.env.KMEM_BENCH_TRACE;
if (out) {
  delete process.env.KMEM_BENCH_TRACE; // not inherited by children
  const require = createRequire(import.meta.url);
  const cp = require("node:child_process");
  const children = [];
  const now = () => performance.timeOrigin + performance.now();
  const preloadAt = now();
  const spawn = cp.spawn;
  cp.spawn = function tracedSpawn(command, args, ...rest) {
    const rec = {
      command: String(command),
      args: Array.isArray(args) ? args.slice(0, 3).map(String) : [],
      start: now(),
    };
    children.push(rec);
    const child = spawn.call(this, command, args, ...rest);
    child.once("exit", () => (rec.end = now()));
    return child;
  };
  syncBuiltinESMExports();
  process.once("exit", (code) => {
    let vmHWMKiB = null;
    try {
      const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync("/proc/self/status", "utf8"));
      if (m) vmHWMKiB = Number(m[1]);
    } catch {
      /* not Linux */
    }
    const trace = {
      code,
      processStart: performance.timeOrigin,
      preloadAt,
      exitAt: now(),
      vmHWMKiB,
      maxRSSKiB: process.resourceUsage().maxRSS,
      children,
    };
    writeFileSync(out, JSON.stringify(trace));
  });
}
