#!/usr/bin/env node
/**
 * Benchmark of the OOM kill history of scripts/verify-kmem.sh: a 1 GiB EL7 /var/log/messages (syslog
 * prefixes, kernel and daemon noise, a memcg OOM report of a pod every 4 MiB, half of them caused by
 * kernel memory) read with --kernel-log in one streaming awk. Timed end to end (the whole script on a
 * small fake node) beside the plain ways of reading the same file once: `grep -c 'Killed process'` (what
 * the operator did by hand) and `awk 'END { print NR }'` (one pass of the same awk doing nothing).
 *
 *   node bench/verify-oom-log.mjs              1 GiB log, 3 runs each
 *   node bench/verify-oom-log.mjs --short      64 MiB log, 2 runs (CI)
 *   node bench/verify-oom-log.mjs --runs 5 --size-mib 256 --json
 *
 * The target (issue 12): a 1 GiB messages file in <= 15 s on this machine. Not a test: prints numbers;
 * exits 1 only when the script's report is wrong (kills missed or invented) or it fails.
 *
 * Then a forged flood: N memcg OOM reports of N pods (what any local user can append to syslog with
 * `logger -t kernel`), read with --json and --prometheus: wall time, peak RSS (GNU time's %M: the
 * largest process, the awk), and the sizes of the JSON report and the textfile with its series count.
 *
 *   node bench/verify-oom-log.mjs --forged 100000 --forged-only [--before OLD-verify-kmem.sh]
 *
 * --before FILE measures another (older) script on the same flood beside the current one.
 */
import { spawnSync } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SCRIPT = join(REPO, "scripts", "verify-kmem.sh");
const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const short = argv.includes("--short") || process.env.KMEM_BENCH_SHORT === "1";
const json = argv.includes("--json");
const RUNS = Number(opt("--runs", short ? 2 : 3));
const SIZE = Number(opt("--size-mib", short ? 64 : 1024)) * 1024 * 1024;
const REPORT_EVERY = 4 * 1024 * 1024;
const FORGED = Number(opt("--forged", short ? 10000 : 100000));
const FORGED_ONLY = argv.includes("--forged-only");
const BEFORE = opt("--before", null);

const sh = (cmd, args, o = {}) => spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 << 20, ...o });

function uid(n) {
  const h = n.toString(16).padStart(12, "0");
  return `5d1c0b6e-8a3f-4c1e-9f7a-${h}`;
}

/** ~1 KiB of everyday syslog traffic for minute m. */
function noise(m) {
  const t = `Nov 28 ${String(Math.floor(m / 60) % 24).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}:17`;
  return [
    `${t} node-a kubelet: I1128 03:14:07.123456    1234 kubelet_pods.go:1090] "Clean up probes for terminated pods"`,
    `${t} node-a kernel: IPv6: ADDRCONF(NETDEV_CHANGE): cali4c2f8e1d0ab: link becomes ready`,
    `${t} node-a dockerd-current[1187]: time="2026-11-28T03:14:07.5+01:00" level=info msg="ignoring event" module=libcontainerd namespace=moby topic=/tasks/delete`,
    `${t} node-a systemd: Started libcontainer container 4c27321468056ec0e0eb9444218044ca4c27321468056ec0.`,
    `${t} node-a kernel: XFS (dm-7): Mounting V5 Filesystem`,
    `${t} node-a containerd: time="2026-11-28T03:14:07.5" level=info msg="shim disconnected" id=4c2732146805`,
    `${t} node-a kubelet: E1128 03:14:07.5 1234 pod_workers.go:191] Error syncing pod, skipping: failed to "StartContainer" with CrashLoopBackOff`,
    `${t} node-a kernel: device veth8c1d2e3 entered promiscuous mode`,
    "",
  ].join("\n");
}

/** A 3.10 memcg OOM report of pod n: kmem-caused for even n. */
function report(n) {
  const pod = `/kubepods/burstable/pod${uid(n)}`;
  const ctr = `${pod}/${"c0ffee".repeat(10)}${String(n % 10000).padStart(4, "0")}`;
  const kmem = n % 2 === 0 ? 3356432 : 0;
  const rss = 5859473 - kmem - 12345 - 40;
  const k = (m) => `Nov 28 03:14:07 node-a kernel: ${m}`;
  const stats = (c, r) =>
    `cache:${c}KB rss:${r}KB rss_huge:0KB mapped_file:0KB swap:0KB inactive_anon:0KB active_anon:${r}KB inactive_file:${c}KB active_file:0KB unevictable:0KB`;
  return [
    k("java invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=999"),
    k(`java cpuset=${ctr.slice(-64)} mems_allowed=0`),
    k(
      "CPU: 3 PID: 23456 Comm: java Kdump: loaded Tainted: G               ------------ T 3.10.0-1160.el7.x86_64 #1",
    ),
    k("Call Trace:"),
    ...Array.from({ length: 20 }, (_, i) =>
      k(` [<ffffffff9a38${String(i).padStart(4, "0")}>] dump_stack+0x19/0x1b`),
    ),
    k(`Task in ${ctr} killed as a result of limit of ${pod}`),
    k("memory: usage 5859473kB, limit 5859473kB, failcnt 34555027"),
    k("memory+swap: usage 5859473kB, limit 9007199254740988kB, failcnt 0"),
    k(`kmem: usage ${kmem}kB, limit 9007199254740988kB, failcnt 0`),
    k(`Memory cgroup stats for ${pod}: ${stats(0, 0)}`),
    k(`Memory cgroup stats for ${pod}/pause: ${stats(0, 40)}`),
    k(`Memory cgroup stats for ${ctr}: ${stats(12345, rss)}`),
    k("[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name"),
    k("[23001]     0 23001      253        1       4        0          -998 pause"),
    k("[23456]  1000 23456  3096000   622529    1500        0           999 java"),
    k("Memory cgroup out of memory: Kill process 23456 (java) score 1424 or sacrifice child"),
    k("Killed process 23456 (java), UID 1000, total-vm:12384000kB, anon-rss:2487000kB, file-rss:3116kB"),
    "",
  ].join("\n");
}

/** Writes SIZE bytes of log; returns the number of OOM reports (and kmem-caused ones) in it. */
function writeLog(path) {
  const fd = openSync(path, "w");
  let written = 0;
  let sinceReport = 0;
  let reports = 0;
  let minute = 0;
  const chunk = [];
  let chunkLen = 0;
  while (written + chunkLen < SIZE) {
    let s;
    if (sinceReport >= REPORT_EVERY) {
      s = report(reports++);
      sinceReport = 0;
    } else s = noise(minute++);
    chunk.push(s);
    chunkLen += s.length;
    sinceReport += s.length;
    if (chunkLen >= 1 << 20) {
      writeSync(fd, chunk.join(""));
      written += chunkLen;
      chunk.length = 0;
      chunkLen = 0;
    }
  }
  if (chunkLen) writeSync(fd, chunk.join(""));
  written += chunkLen;
  closeSync(fd);
  return { bytes: written, reports, kmem: Math.ceil(reports / 2) };
}

/** A node with one burstable pod, enough for the script to run its checks. */
function fakeNode(dir) {
  const proc = join(dir, "proc");
  const cg = join(dir, "cg");
  mkdirSync(join(proc, "self"), { recursive: true });
  mkdirSync(join(proc, "sys", "kernel"), { recursive: true });
  writeFileSync(
    join(proc, "self", "mountinfo"),
    "30 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory\n",
  );
  writeFileSync(join(proc, "cmdline"), "BOOT_IMAGE=/vmlinuz ro\n");
  writeFileSync(join(proc, "cgroups"), "#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t4\t4\t1\n");
  writeFileSync(join(proc, "stat"), "btime 1764460800\n");
  writeFileSync(join(proc, "sys", "kernel", "osrelease"), "3.10.0-1160.el7.x86_64\n");
  writeFileSync(join(proc, "sys", "kernel", "hostname"), "node-a\n");
  const pod = join(cg, "kubepods", "burstable", `pod${uid(999999)}`);
  for (const d of [cg, join(cg, "kubepods"), join(cg, "kubepods", "burstable"), pod]) {
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "memory.usage_in_bytes"), "0\n");
    writeFileSync(join(d, "memory.limit_in_bytes"), "9223372036854771712\n");
    writeFileSync(join(d, "memory.stat"), "total_rss 0\ntotal_cache 0\n");
    writeFileSync(join(d, "memory.kmem.usage_in_bytes"), "0\n");
    // accounting off, as 3.10 shows it: memory.kmem.slabinfo fails to read (EIO)
    symlinkSync("/proc/self/mem", join(d, "memory.kmem.slabinfo"));
  }
  return ["--proc-root", proc, "--cgroup-root", cg, "--no-binaries"];
}

function timeIt(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = sh(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  // 0 OK, 1 problem, 2 could not tell (the fake node has no kubelet to check): all are verdicts
  if (r.status === null || r.status > 2)
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
};
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
const which = (c) => {
  const r = sh("sh", ["-c", `command -v ${c}`]);
  return r.status === 0 ? r.stdout.trim() : null;
};

/** N forged 3.10 memcg OOM reports of N pods, as `logger -t kernel` writes them; odd n: kmem-caused. */
function writeForged(path, n) {
  const fd = openSync(path, "w");
  const k = (m) => `Nov 28 03:14:07 node-a kernel: ${m}`;
  let chunk = [];
  for (let i = 0; i < n; i++) {
    const pod = `/kubepods/burstable/pod${uid(i)}`;
    chunk.push(
      k(`Task in ${pod}/c0ffee killed as a result of limit of ${pod}`),
      k("memory: usage 5859473kB, limit 5859473kB, failcnt 1"),
      k(`kmem: usage ${i % 2 ? 3356432 : 0}kB, limit 9007199254740988kB, failcnt 0`),
      k(`Killed process ${1000 + (i % 30000)} (java), UID 1000, total-vm:1kB, anon-rss:1kB, file-rss:0kB`),
    );
    if (chunk.length >= 4000) {
      writeSync(fd, chunk.join("\n") + "\n");
      chunk = [];
    }
  }
  if (chunk.length) writeSync(fd, chunk.join("\n") + "\n");
  closeSync(fd);
}

/** One run of `script` on the flood: seconds, peak RSS, report sizes. */
function forgedRun(script, node, log, prom) {
  rmSync(prom, { force: true });
  const t0 = process.hrtime.bigint();
  const r = sh(
    "/usr/bin/time",
    ["-f", "maxrss %M", "sh", script, "--json", ...node, "--kernel-log", log, "--prometheus", prom],
    {
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 1 << 30,
    },
  );
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const rss = Number(/maxrss (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
  let kills = -1;
  let counted = null;
  try {
    const rep = JSON.parse(r.stdout);
    kills = rep.oom_kills.length;
    counted = rep.kernel_log.pod_oom_kills ?? null;
  } catch {
    /* invalid JSON: reported as -1 kills */
  }
  const text = sh("cat", [prom]).stdout ?? "";
  const series = text.split("\n").filter((l) => l && !l.startsWith("#")).length;
  return {
    ms,
    rssMiB: rss,
    jsonBytes: Buffer.byteLength(r.stdout),
    textfileBytes: Buffer.byteLength(text),
    series,
    kills,
    counted,
    code: r.status,
  };
}

function forgedBench(dir) {
  const log = join(dir, "forged");
  const t0 = Date.now();
  writeForged(log, FORGED);
  const setupS = (Date.now() - t0) / 1000;
  const node = fakeNode(join(dir, "forged-node"));
  const prom = join(dir, "forged.prom");
  sh("cat", [log], { stdio: ["ignore", "ignore", "ignore"] });
  const rows = [];
  if (BEFORE) rows.push(["before (" + BEFORE + ")", forgedRun(resolve(BEFORE), node, log, prom)]);
  rows.push(["this verify-kmem.sh", forgedRun(SCRIPT, node, log, prom)]);
  const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;
  const bytes = sh("stat", ["-c", "%s", log]).stdout.trim();
  const out = [
    `forged flood: ${FORGED} memcg OOM reports of ${FORGED} pods in a ${mb(Number(bytes))} syslog file (written in ${setupS.toFixed(1)} s), --json --prometheus, 1 run each, 1-min load ${loadavg()[0].toFixed(2)}`,
    `${"".padEnd(40)}${"time".padStart(9)}${"peak RSS".padStart(11)}${"JSON".padStart(11)}${"textfile".padStart(11)}${"series".padStart(8)}${"listed".padStart(8)}${"counted".padStart(9)}`,
    ...rows.map(
      ([n, x]) =>
        `${n.slice(0, 39).padEnd(40)}${fmt(x.ms).padStart(9)}${`${x.rssMiB.toFixed(0)} MiB`.padStart(11)}${mb(x.jsonBytes).padStart(11)}${mb(x.textfileBytes).padStart(11)}${String(x.series).padStart(8)}${String(x.kills).padStart(8)}${String(x.counted ?? "-").padStart(9)}`,
    ),
  ];
  const cur = rows[rows.length - 1][1];
  const ok = cur.kills === 50 && cur.counted === FORGED;
  return { out, ok, rows };
}

const dir = mkdtempSync(join(tmpdir(), "verify-oom-bench-"));
process.on("SIGINT", () => (rmSync(dir, { recursive: true, force: true }), process.exit(130)));
process.on("SIGTERM", () => (rmSync(dir, { recursive: true, force: true }), process.exit(143)));
let exitCode = 0;
try {
  if (FORGED_ONLY) {
    const f = forgedBench(dir);
    process.stdout.write(json ? JSON.stringify(f.rows, null, 2) + "\n" : f.out.join("\n") + "\n");
    if (!f.ok) exitCode = 1;
  } else {
    const log = join(dir, "messages");
    const t0 = Date.now();
    const made = writeLog(log);
    const setupS = (Date.now() - t0) / 1000;
    const node = fakeNode(dir);
    const scriptArgs = [SCRIPT, "--json", ...node, "--kernel-log", log];
    sh("cat", [log], { stdio: ["ignore", "ignore", "ignore"] }); // into the page cache, like every run after

    // what is timed must be right: every report found, the kmem-caused ones told apart
    const check = JSON.parse(timeIt("sh", scriptArgs).stdout);
    const kills = check.oom_kills.length;
    const caused = check.oom_kills.filter((k) => k.kmem_caused).length;
    if (kills !== made.reports || caused !== made.kmem) {
      process.stderr.write(
        `wrong report: ${kills} kills (${caused} kmem) for ${made.reports} (${made.kmem})\n`,
      );
      exitCode = 1;
    }

    const rows = [];
    const script = [];
    const grep = [];
    const awkNr = [];
    for (let i = 0; i < RUNS; i++) {
      script.push(timeIt("sh", scriptArgs).ms);
      grep.push(timeIt("grep", ["-c", "Killed process", log]).ms);
      awkNr.push(timeIt("awk", ["END { print NR }", log]).ms);
    }
    rows.push(["verify-kmem.sh --json --kernel-log (whole script)", stats(script)]);
    rows.push(["grep -c 'Killed process' (by hand)", stats(grep)]);
    rows.push(["awk 'END { print NR }' (one bare pass)", stats(awkNr)]);
    // the other awks the script supports, one run each (CentOS 7 has gawk)
    const others = [];
    for (const [name, bin] of [
      ["mawk", which("mawk")],
      ["busybox awk", which("busybox")],
    ]) {
      if (!bin) continue;
      const d = join(dir, name.replace(/ /g, "-"));
      mkdirSync(d);
      sh("ln", ["-s", bin, join(d, "awk")]);
      const env = { ...process.env, PATH: `${d}:${process.env.PATH}` };
      const t1 = process.hrtime.bigint();
      const r = sh("sh", scriptArgs, { env, stdio: ["ignore", "pipe", "pipe"] });
      const ms = Number(process.hrtime.bigint() - t1) / 1e6;
      const n = r.status !== null && r.status <= 2 ? JSON.parse(r.stdout).oom_kills.length : -1;
      others.push({ awk: name, ms, kills: n });
      if (n !== made.reports) exitCode = 1;
    }
    const awkVersion =
      sh("awk", ["--version"]).stdout.split("\n")[0] ||
      sh("sh", ["-c", "readlink -f $(command -v awk)"]).stdout.trim();
    const result = {
      bytes: made.bytes,
      lines: check.kernel_log.lines,
      reports: made.reports,
      kmem_caused: caused,
      setup_seconds: setupS,
      runs: RUNS,
      awk: awkVersion,
      load_average_1m: loadavg()[0],
      timings_ms: Object.fromEntries(rows.map(([n, s]) => [n, s])),
      other_awks: others,
      target_seconds: SIZE >= 1 << 30 ? 15 : null,
    };
    if (json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    else {
      const mib = (made.bytes / 1048576).toFixed(0);
      const out = [
        `verify-kmem.sh --kernel-log on a ${mib} MiB EL7 /var/log/messages (${check.kernel_log.lines} lines, ${made.reports} memcg OOM reports of pods, ${caused} caused by kmem), page cache warm, ${RUNS} runs`,
        `log written in ${setupS.toFixed(1)} s; awk: ${awkVersion}; 1-min load average ${loadavg()[0].toFixed(2)} on ${sh("nproc", []).stdout.trim()} CPUs`,
        `${"".padEnd(52)}${"min".padStart(9)}${"median".padStart(11)}${"max".padStart(11)}`,
        ...rows.map(
          ([n, s]) =>
            `${n.padEnd(52)}${fmt(s.min).padStart(9)}${fmt(s.median).padStart(11)}${fmt(s.max).padStart(11)}`,
        ),
        `median throughput of the script: ${(made.bytes / 1048576 / (stats(script).median / 1000)).toFixed(0)} MiB/s; script/bare awk pass: ${(stats(script).median / stats(awkNr).median).toFixed(2)}`,
        ...others.map((o) => `with ${o.awk} as awk (1 run): ${fmt(o.ms)}, ${o.kills} kills found`),
      ];
      if (SIZE >= 1 << 30)
        out.push(
          `target: <= 15 s for 1 GiB: ${stats(script).median <= 15000 ? "met" : "NOT met"} (median ${fmt(stats(script).median)})`,
        );
      const f = forgedBench(dir);
      if (!f.ok) exitCode = 1;
      out.push("", ...f.out);
      process.stdout.write(out.join("\n") + "\n");
    }
  }
} catch (err) {
  process.stderr.write(`bench/verify-oom-log.mjs: ${err.stack ?? err}\n`);
  exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
