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
 *
 * Peak memory (the "peak memory" rows, `peak_memory` in --json): the most memory the script's whole process
 * tree (sh, find, awk, sort, ...) held at any one time. Measured, best first, by
 *   cgroup-v1   memory.max_usage_in_bytes of a child memory cgroup created for the run under this
 *               process's own memory cgroup (every page of every process counted once, kernel memory
 *               included where the kernel accounts it); the cgroup is removed afterwards;
 *   proc-poll   VmRSS of every process of the tree, summed, sampled every few ms from /proc (shared pages
 *               counted once per process; a peak shorter than the interval can be missed).
 * With GNU time installed, the largest single process's peak (ru_maxrss, `/usr/bin/time -f %M`) too.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { setTimeout } from "node:timers";
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

function buildTree(base, total = TOTAL) {
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
  for (let i = 0; n < total; i++) {
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
const mib = (b) => `${(b / 1048576).toFixed(1).padStart(5)} MiB`;

// ---------------------------------------------------------------------------- peak memory

/** This process's cgroup v1 memory cgroup directory, or null (cgroup v2, no memory controller, ...). */
function ownMemoryCgroup() {
  try {
    const line = readFileSync("/proc/self/cgroup", "utf8")
      .split("\n")
      .find((l) => l.split(":")[1]?.split(",").includes("memory"));
    if (!line) return null;
    const path = line.split(":").slice(2).join(":");
    for (const m of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
      const f = m.split(" ");
      const dash = f.indexOf("-");
      if (dash < 0 || f[dash + 1] !== "cgroup" || !f[dash + 3]?.split(",").includes("memory")) continue;
      const root = f[3];
      const rel = root === "/" ? path : path.startsWith(root) ? path.slice(root.length) : null;
      if (rel === null) continue;
      const dir = join(f[4], rel);
      if (existsSync(join(dir, "memory.max_usage_in_bytes"))) return dir;
    }
  } catch {
    /* not available */
  }
  return null;
}

let cgSeq = 0;
let liveCgroup = null; // removed on SIGINT/SIGTERM too
/** A fresh child memory cgroup under ours, or null when we may not create one. */
function childMemoryCgroup(parent) {
  if (!parent) return null;
  const dir = join(parent, `kmem-bench-${process.pid}-${cgSeq++}`);
  try {
    mkdirSync(dir);
    return (liveCgroup = dir);
  } catch {
    return null;
  }
}

function removeCgroup(dir) {
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      liveCgroup = null;
      return;
    } catch (err) {
      if (err.code === "ENOENT") return void (liveCgroup = null);
      spawnSync("sleep", ["0.05"]); // a task still leaving: EBUSY for a moment
    }
  }
  process.stderr.write(`verify-tree: could not remove cgroup ${dir}\n`);
}

const readNum = (f) => {
  try {
    return Number(readFileSync(f, "utf8").trim());
  } catch {
    return null;
  }
};

/** Resident memory of a process and all its descendants right now (VmRSS summed), from /proc. */
function treeRss(root) {
  const kids = new Map();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = readFileSync(`/proc/${e}/stat`, "utf8");
      const ppid = Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(e));
    } catch {
      /* gone */
    }
  }
  let sum = 0;
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop();
    todo.push(...(kids.get(pid) ?? []));
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) sum += Number(m[1]) * 1024;
    } catch {
      /* gone */
    }
  }
  return sum;
}

/**
 * One run of `cmd args`: in a fresh child memory cgroup when we can make one (a shell moves itself in,
 * then execs the command, so all the command and its children allocate is charged there), while the
 * tree's summed VmRSS is sampled every ~2 ms.
 */
async function measureOnce(parent, cmd, args) {
  const cg = childMemoryCgroup(parent);
  try {
    const [c, a] = cg
      ? ["sh", ["-c", 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"', "sh", cg, cmd, ...args]]
      : [cmd, args];
    const child = spawn(c, a, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    let done = false;
    const exited = new Promise((res) => child.once("close", (code) => ((done = true), res(code))));
    let rss = 0;
    while (!done) {
      rss = Math.max(rss, treeRss(child.pid));
      await new Promise((r) => setTimeout(r, 2));
    }
    const code = await exited;
    if (code !== 0 && code !== 1) throw new Error(`${cmd} exited ${code}: ${err}`);
    return {
      cgroup: cg ? readNum(join(cg, "memory.max_usage_in_bytes")) : null,
      kmem: cg ? readNum(join(cg, "memory.kmem.max_usage_in_bytes")) : null,
      rss,
    };
  } finally {
    if (cg) removeCgroup(cg);
  }
}

/** Largest single process of the tree (ru_maxrss), with GNU time; null without it. */
function largestProcess(cmd, args) {
  if (!existsSync("/usr/bin/time")) return null;
  const r = sh("/usr/bin/time", ["-f", "%M", cmd, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  const kib = Number(r.stderr.trim().split("\n").pop());
  return Number.isFinite(kib) && kib > 0 ? kib * 1024 : null;
}

/** RUNS peak measurements of `cmd args`: cgroup charge (when possible), summed RSS, largest process. */
async function peakMemory(cmd, args, runs) {
  const parent = ownMemoryCgroup();
  const all = [];
  for (let i = 0; i < runs; i++) all.push(await measureOnce(parent, cmd, args));
  const of = (k) =>
    all.every((r) => r[k] !== null && !Number.isNaN(r[k])) ? stats(all.map((r) => r[k])) : null;
  return {
    cgroup_bytes: of("cgroup"),
    cgroup_kmem_bytes: of("kmem"),
    rss_sum_bytes: of("rss"),
    largest_process_bytes: largestProcess(cmd, args),
  };
}

const t = tmpfsDir();
for (const [sig, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
]) {
  process.on(sig, () => {
    if (liveCgroup) removeCgroup(liveCgroup);
    t.cleanup();
    process.exit(code);
  });
}
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
  // A typical busy node for comparison: 110 pods and nothing else (no leaked memcgs).
  mkdirSync(join(t.dir, "node110"));
  const small = buildTree(join(t.dir, "node110"), 0);
  const smallArgs = [SCRIPT, "--json", "--no-binaries", "--proc-root", small.proc, "--cgroup-root", small.cg];
  const smallBaseline = `find '${small.cg}' -name memory.kmem.usage_in_bytes -exec cat {} + >/dev/null`;
  const node110 = { script: [], baseline: [] };
  for (let i = 0; i < RUNS; i++) {
    node110.script.push(timeIt("sh", smallArgs).ms);
    node110.baseline.push(timeIt("sh", ["-c", smallBaseline]).ms);
  }
  const s110 = stats(node110.script);
  const b110 = stats(node110.baseline);
  const memScript = await peakMemory("sh", scriptArgs, RUNS);
  const memBaseline = await peakMemory("sh", ["-c", baselineCmd], RUNS);
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
    peak_memory: { script: memScript, baseline: memBaseline },
    node_110_pods: { cgroups: small.cgroups, script_ms: s110, baseline_ms: b110 },
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
    console.log(`a 110-pod node alone (${small.cgroups} memory cgroups, no leaked ones):`);
    console.log(
      `verify-kmem.sh --json                       ${fmt(s110.min)}   ${fmt(s110.median)}   ${fmt(s110.max)}`,
    );
    console.log(
      `find -name memory.kmem.usage_in_bytes -exec cat {} +   ${fmt(b110.min)}   ${fmt(b110.median)}   ${fmt(b110.max)}`,
    );
    const row = (label, x) =>
      x && console.log(`${label.padEnd(44)}${mib(x.min)}   ${mib(x.median)}   ${mib(x.max)}`);
    console.log(`peak memory of the whole process tree                min       median          max`);
    row("verify-kmem.sh peak memory (cgroup)", memScript.cgroup_bytes);
    row("verify-kmem.sh peak RSS summed (sampled)", memScript.rss_sum_bytes);
    row("find -exec cat peak memory (cgroup)", memBaseline.cgroup_bytes);
    row("find -exec cat peak RSS summed (sampled)", memBaseline.rss_sum_bytes);
    const kmem = memScript.cgroup_kmem_bytes;
    console.log(
      memScript.cgroup_bytes
        ? "(cgroup): memory.max_usage_in_bytes of a child cgroup v1 memory cgroup per run: each page the tree" +
            ` charged counted once, kernel memory included${kmem ? ` (script median ${mib(kmem.median).trim()})` : ""};` +
            " shared libraries already resident elsewhere are not charged again"
        : "(cgroup): not measured (no cgroup v1 memory controller to create a child cgroup in)",
    );
    console.log(
      "(sampled): VmRSS of every process of the tree summed, from /proc every ~2 ms (shared pages per process)",
    );
    if (memScript.largest_process_bytes)
      console.log(
        `largest single process of the script: ${mib(memScript.largest_process_bytes).trim()} peak RSS (GNU time %M)`,
      );
  }
} finally {
  t.cleanup();
}
