#!/usr/bin/env node
/**
 * Benchmark of scripts/verify-kmem.sh on a big fake node: 65,536 memory cgroups (a node that leaked
 * memcgs for months) of which 110 pods x (pod + 3 containers) are under kubepods, on tmpfs. It is timed
 * side by side with the naive baseline `find ROOT -name memory.kmem.usage_in_bytes -exec cat {} +`.
 *
 *   node bench/verify-tree.mjs              65,536 cgroups, 110 pods, 5 runs each
 *   node bench/verify-tree.mjs --short      4,096 cgroups, 110 pods, 3 runs (CI)
 *   node bench/verify-tree.mjs --runs 9 --json
 *
 * Needs root to mount a tmpfs in a temp dir; otherwise uses /dev/shm. Not a test: prints numbers.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SCRIPT = join(REPO, "scripts", "verify-kmem.sh");
const argv = process.argv.slice(2);
const short = argv.includes("--short");
const json = argv.includes("--json");
const runsArg = argv.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(argv[runsArg + 1]) : short ? 3 : 5;
const TOTAL = short ? 4096 : 65536;
const PODS = 110;
const CONTAINERS = 3; // pause + 2 app containers

function sh(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 << 20, ...opts });
}

/** A temp dir on tmpfs: our own mount when root, else /dev/shm. */
function tmpfsDir() {
  const dir = mkdtempSync(join(tmpdir(), "verify-bench-"));
  if (sh("mount", ["-t", "tmpfs", "-o", "size=4g,mode=0755", "tmpfs", dir]).status === 0) {
    return {
      dir,
      cleanup: () => (sh("umount", [dir]), rmSync(dir, { recursive: true, force: true })),
      where: "own tmpfs mount",
    };
  }
  rmSync(dir, { recursive: true, force: true });
  const shm = mkdtempSync("/dev/shm/verify-bench-");
  return { dir: shm, cleanup: () => rmSync(shm, { recursive: true, force: true }), where: "/dev/shm" };
}

const EMPTY = [
  "cgroup.procs",
  "tasks",
  "cgroup.clone_children",
  "notify_on_release",
  "memory.force_empty",
  "memory.kmem.slabinfo",
];
function memcg(dir, kmem, rss) {
  mkdirSync(dir);
  writeFileSync(join(dir, "memory.usage_in_bytes"), `${rss + kmem}\n`);
  writeFileSync(join(dir, "memory.stat"), `cache 0\nrss ${rss}\ntotal_cache 0\ntotal_rss ${rss}\n`);
  writeFileSync(join(dir, "memory.kmem.usage_in_bytes"), `${kmem}\n`);
  writeFileSync(join(dir, "memory.kmem.max_usage_in_bytes"), `${kmem}\n`);
  writeFileSync(join(dir, "memory.kmem.failcnt"), "0\n");
  for (const f of EMPTY) writeFileSync(join(dir, f), "");
}

function buildTree(base) {
  const cg = join(base, "cg");
  const proc = join(base, "proc");
  let n = 0;
  const add = (d, kmem = 0, rss = 0) => (memcg(d, kmem, rss), n++);
  add(cg);
  add(join(cg, "kubepods"));
  add(join(cg, "kubepods", "burstable"));
  add(join(cg, "kubepods", "besteffort"));
  for (let p = 0; p < PODS; p++) {
    const uid = `${String(p).padStart(8, "0")}-0000-4000-8000-000000000000`;
    const qos = p % 3 === 0 ? "" : p % 3 === 1 ? "burstable" : "besteffort";
    const pod = join(cg, "kubepods", qos, `pod${uid}`);
    const charged = p % 10 === 0 ? 65536 : 0;
    add(pod, charged, 50 << 20);
    for (let c = 0; c < CONTAINERS; c++) add(join(pod, `${p}${c}`.padStart(64, "c")), charged, 16 << 20);
  }
  // everything else: services and leaked session scopes, 1000 per slice
  add(join(cg, "system.slice"));
  let slice = null;
  for (let i = 0; n < TOTAL; i++) {
    if (i % 1000 === 0) add((slice = join(cg, "system.slice", `s${i / 1000}.slice`)));
    else add(join(slice, `run-${i}.scope`), 4096, 1 << 20);
  }
  mkdirSync(join(proc, "self"), { recursive: true });
  mkdirSync(join(proc, "sys", "kernel"), { recursive: true });
  writeFileSync(
    join(proc, "self", "mountinfo"),
    "30 24 0:26 / /sys/fs/cgroup/memory rw,relatime shared:13 - cgroup cgroup rw,memory\n",
  );
  writeFileSync(
    join(proc, "cgroups"),
    `#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t4\t${n + 123}\t1\n`,
  );
  writeFileSync(join(proc, "cmdline"), "ro quiet\n");
  writeFileSync(join(proc, "sys", "kernel", "osrelease"), "3.10.0-1160.el7.x86_64\n");
  writeFileSync(join(proc, "sys", "kernel", "hostname"), "bench-node\n");
  return { cg, proc, cgroups: n };
}

function timeIt(cmd, args) {
  const t = process.hrtime.bigint();
  const r = sh(cmd, args);
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  return { ms, r };
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
};
const fmt = (x) => `${x.toFixed(0).padStart(6)} ms`;

const t = tmpfsDir();
try {
  const t0 = Date.now();
  const tree = buildTree(t.dir);
  const setupS = (Date.now() - t0) / 1000;
  const scriptArgs = [SCRIPT, "--json", "--no-binaries", "--proc-root", tree.proc, "--cgroup-root", tree.cg];
  const baselineCmd = `find '${tree.cg}' -name memory.kmem.usage_in_bytes -exec cat {} + >/dev/null`;

  // correctness of what is timed
  const check = sh("sh", scriptArgs);
  const report = JSON.parse(check.stdout);
  const expectCgroups = PODS * (1 + CONTAINERS);
  if (report.cgroups.length !== expectCgroups || report.memcgs.directories !== tree.cgroups) {
    throw new Error(
      `unexpected report: ${report.cgroups.length} cgroups, ${report.memcgs.directories} directories`,
    );
  }
  // processes the script starts: must not grow with the number of cgroups
  let processes = null;
  if (sh("strace", ["-V"]).status === 0) {
    const log = join(t.dir, "strace.log");
    sh("strace", ["-f", "-qq", "-e", "trace=execve", "-o", log, "sh", ...scriptArgs]);
    const execs = readFileSync(log, "utf8").match(/ execve\("[^"]*"/gm) ?? [];
    processes = execs.slice(1).map((e) => e.replace(/.*\//, "").replace(/"$/, "")); // not counting sh itself
    rmSync(log);
  }

  const script = [];
  const baseline = [];
  for (let i = 0; i < RUNS; i++) {
    script.push(timeIt("sh", scriptArgs).ms);
    baseline.push(timeIt("sh", ["-c", baselineCmd]).ms);
  }
  const s = stats(script);
  const b = stats(baseline);
  const result = {
    cgroups: tree.cgroups,
    pods: PODS,
    pod_and_container_cgroups: expectCgroups,
    runs: RUNS,
    tmpfs: t.where,
    setup_seconds: setupS,
    script_ms: s,
    baseline_ms: b,
    median_ratio: s.median / b.median,
    processes_started_by_script: processes,
    result: report.result,
  };
  if (json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  else {
    console.log(
      `verify-kmem.sh on ${tree.cgroups} memory cgroups (${PODS} pods x ${1 + CONTAINERS} cgroups under kubepods), ${t.where}, ${RUNS} runs`,
    );
    const procs = processes
      ? `${processes.length} processes in all (${processes.join(" ")})`
      : "? processes (no strace)";
    console.log(`tree built in ${setupS.toFixed(1)} s; the script started ${procs}`);
    console.log(`                                                   min       median          max`);
    console.log(
      `verify-kmem.sh --json                       ${fmt(s.min)}   ${fmt(s.median)}   ${fmt(s.max)}`,
    );
    console.log(
      `find -name memory.kmem.usage_in_bytes -exec cat {} +   ${fmt(b.min)}   ${fmt(b.median)}   ${fmt(b.max)}`,
    );
    console.log(`median ratio script/baseline: ${(s.median / b.median).toFixed(2)}`);
  }
} finally {
  t.cleanup();
}
