#!/usr/bin/env node
/**
 * CPU per interval of scripts/verify-kmem.sh with the binary verdict cache (--cache-dir, issue #20
 * item 2): a fixture node of 110 pods (pod + sandbox + 2 containers each, cgroup v1, 3.10 kernel) and a
 * large kubelet -- the real kubelet 1.20.2 nokmem build when /var/tmp/kmem-shared-run has one, else a
 * 110 MB stand-in -- timed as the DaemonSet runs it: the first run (no cache), runs with the kubelet
 * unchanged (verdict reused), a run after `touch kubelet` (read in full again), and runs without
 * --cache-dir. CPU = user + system of the script's whole process tree (GNU time). Not a test.
 *
 *   node bench/verify-cache.mjs [--short] [--runs N] [--json]
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
  utimesSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, URL } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const SCRIPT = join(ROOT, "scripts", "verify-kmem.sh");
const args = process.argv.slice(2);
const short = args.includes("--short") || process.env.KMEM_BENCH_SHORT === "1";
const runsAt = args.indexOf("--runs");
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : short ? 3 : 7;
const asJson = args.includes("--json");
const PODS = 110;

function memcg(dir, kmem = 0) {
  mkdirSync(dir, { recursive: true });
  const files = {
    "memory.usage_in_bytes": "104857600\n",
    "memory.limit_in_bytes": "536870912\n",
    "memory.stat": "cache 0\nrss 0\ntotal_cache 52428800\ntotal_rss 52428800\n",
    "memory.kmem.usage_in_bytes": `${kmem}\n`,
    "memory.kmem.max_usage_in_bytes": `${kmem}\n`,
    "memory.kmem.failcnt": "0\n",
  };
  for (const [f, body] of Object.entries(files)) writeFileSync(join(dir, f), body);
}

function realKubelet() {
  const base = "/var/tmp/kmem-shared-run/cache/binaries";
  if (!existsSync(base)) return null;
  for (const d of readdirSync(base))
    if (existsSync(join(base, d, "kubelet"))) return join(base, d, "kubelet");
  return null;
}

const dir = mkdtempSync(join(tmpdir(), "bench-verify-cache-"));
try {
  const cg = join(dir, "cg");
  memcg(join(cg, "kubepods"));
  memcg(join(cg, "kubepods", "burstable"));
  for (let p = 0; p < PODS; p++) {
    const uid = `0000${String(p).padStart(4, "0")}-0000-4000-8000-000000000000`;
    const pod = join(cg, "kubepods", "burstable", `pod${uid}`);
    memcg(pod);
    for (let c = 0; c < 3; c++) memcg(join(pod, `${String(p).padStart(4, "0")}${c}`.padEnd(64, "c")));
  }
  const proc = join(dir, "proc");
  mkdirSync(join(proc, "self"), { recursive: true });
  mkdirSync(join(proc, "sys", "kernel"), { recursive: true });
  writeFileSync(
    join(proc, "self", "mountinfo"),
    "30 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory\n",
  );
  writeFileSync(
    join(proc, "cgroups"),
    `#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t4\t${PODS * 4 + 3}\t1\n`,
  );
  writeFileSync(join(proc, "cmdline"), "BOOT_IMAGE=/vmlinuz-3.10.0-1160.el7.x86_64 ro\n");
  writeFileSync(join(proc, "sys", "kernel", "osrelease"), "3.10.0-1160.el7.x86_64\n");
  writeFileSync(join(proc, "sys", "kernel", "hostname"), "bench-node\n");

  const kubelet = join(dir, "kubelet");
  const real = realKubelet();
  if (real) copyFileSync(real, kubelet);
  else {
    const chunk = Buffer.alloc(1 << 20, 7);
    const parts = [];
    for (let i = 0; i < 110; i++) parts.push(chunk);
    parts.push(Buffer.from("kernel memory accounting disabled in this runc build"));
    writeFileSync(kubelet, Buffer.concat(parts));
  }
  const size = spawnSync("stat", ["-c", "%s", kubelet], { encoding: "utf8" }).stdout.trim();
  const cache = join(dir, "cache");
  mkdirSync(cache, { mode: 0o777 });

  const base = [
    "--proc-root",
    proc,
    "--cgroup-root",
    cg,
    "--kubelet",
    kubelet,
    "--runtime",
    kubelet,
    "--no-kernel-log",
  ];
  const prom = join(dir, "textfile", "kmem.prom");
  mkdirSync(join(dir, "textfile"));
  function run(extra) {
    const r = spawnSync(
      "/usr/bin/time",
      ["-f", "TIME %U %S %e", "sh", SCRIPT, ...base, ...extra, "--brief", "--prometheus", prom],
      {
        encoding: "utf8",
      },
    );
    const m = /TIME (\S+) (\S+) (\S+)/.exec(r.stderr);
    if (!m) throw new Error(`no timing: ${r.stderr}`);
    return { cpu: Number(m[1]) + Number(m[2]), wall: Number(m[3]), out: r.stdout.trim() };
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const cold = run(["--cache-dir", cache]);
  const warm = [];
  for (let i = 0; i < RUNS; i++) warm.push(run(["--cache-dir", cache]));
  const reused = /reused/.test(
    spawnSync("sh", [SCRIPT, ...base, "--cache-dir", cache, "--json"], { encoding: "utf8" }).stdout,
  );
  const now = new Date();
  utimesSync(kubelet, now, now);
  const touched = run(["--cache-dir", cache]);
  const none = [];
  for (let i = 0; i < RUNS; i++) none.push(run([]));
  // the same run without any binary check: what the cgroup scan and the report cost on their own
  const noBin = [];
  const scanOnly = base.filter(
    (x, i) => !["--kubelet", "--runtime"].includes(x) && !["--kubelet", "--runtime"].includes(base[i - 1]),
  );
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(
      "/usr/bin/time",
      ["-f", "TIME %U %S", "sh", SCRIPT, ...scanOnly, "--no-binaries", "--brief"],
      { encoding: "utf8" },
    );
    const m = /TIME (\S+) (\S+)/.exec(r.stderr);
    noBin.push(Number(m[1]) + Number(m[2]));
  }
  const result = {
    pods: PODS,
    cgroups: PODS * 4 + 2,
    kubelet: real ? `real kubelet (${size} bytes)` : `stand-in (${size} bytes)`,
    runs: RUNS,
    cpu_seconds: {
      first_run_no_cache: cold.cpu,
      unchanged_median: median(warm.map((r) => r.cpu)),
      unchanged_max: Math.max(...warm.map((r) => r.cpu)),
      after_touch: touched.cpu,
      without_cache_median: median(none.map((r) => r.cpu)),
      no_binaries_median: median(noBin),
    },
    reused_reported: reused,
  };
  if (asJson) console.log(JSON.stringify(result, null, 2));
  else {
    console.log("## Verify: the binary verdict cache (--cache-dir)\n");
    console.log(
      `${PODS} pods (${result.cgroups} pod/container cgroups, v1, 3.10), kubelet: ${result.kubelet}, checked twice (--kubelet and --runtime); CPU = user + system of the whole run (GNU time), ${RUNS} runs, median.\n`,
    );
    console.log("| run | CPU s |\n| --- | ---: |");
    console.log(`| first run (no cache yet: read in full) | ${cold.cpu.toFixed(2)} |`);
    console.log(
      `| kubelet unchanged (verdict reused) | ${result.cpu_seconds.unchanged_median.toFixed(2)} (max ${result.cpu_seconds.unchanged_max.toFixed(2)}) |`,
    );
    console.log(`| after touch kubelet (read in full again) | ${touched.cpu.toFixed(2)} |`);
    console.log(`| without --cache-dir | ${result.cpu_seconds.without_cache_median.toFixed(2)} |`);
    console.log(
      `| --no-binaries (the cgroup scan and the report alone) | ${result.cpu_seconds.no_binaries_median.toFixed(2)} |`,
    );
    console.log(`\nreport says "reused": ${reused}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
