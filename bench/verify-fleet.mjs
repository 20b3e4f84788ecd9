#!/usr/bin/env node
/**
 * Benchmark of `kmem-build verify` over ssh: wall time for 1 target vs 20 targets, all served by ONE
 * private sshd on 127.0.0.1 (its own host key, a generated client key, no PAM), each remote run scanning
 * the same fake node (a cgroup v1 tree with 110 pods x (pod + 3 containers), 3.10 kernel, via
 * --cgroup-root / --proc-root) so every host does the script's real work.
 *
 * The 20 targets are 20 distinct names n01..n20 in a --hosts-file (targets are de-duplicated by their
 * exact text, src/verify/targets.ts) that all reach 127.0.0.1 through `--ssh-option HostName=127.0.0.1`
 * and `--port`: the same command line a real fleet uses, only the name resolution is overridden.
 *
 *   node bench/verify-fleet.mjs          5 runs of each case after a warm-up; cases: 1 target and 20 targets
 *                                        (--parallel 20), 20 targets with the default --parallel 16 and
 *                                        with --parallel 1 (one after the other)
 *   node bench/verify-fleet.mjs --short  3 runs, only 1 vs 20 targets (CI, < 1 min)
 *   node bench/verify-fleet.mjs --runs 9 --out verify-fleet.md --json
 *
 * Options: --short, --runs N, --hosts N (default 20), --pods N (default 110), --out FILE (write the
 * markdown section there too), --json (JSON on stdout instead of markdown).
 * Needs: /usr/sbin/sshd, ssh, ssh-keygen, root (sshd privilege separation, root login), and the built
 * CLI (npm run build -> lib/cli.js). Exit 0 unless something broke (sshd did not start, a run did
 * not exit 0, or a report is not OK for every host); the ratio itself never fails the run.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createConnection, createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { clearTimeout, setTimeout } from "node:timers";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(REPO, "lib", "cli.js");
const SSHD = "/usr/sbin/sshd";

// ---------------------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
function flagValue(name, fallback) {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) usage(`${name} needs a value`);
  return v;
}
function positive(name, fallback) {
  const v = flagValue(name, undefined);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1) usage(`${name} must be a positive integer, got "${v}"`);
  return Number(v);
}
function usage(msg) {
  process.stderr.write(
    `verify-fleet: ${msg}\nusage: node bench/verify-fleet.mjs [--short] [--runs N] [--hosts N] [--pods N] [--out FILE] [--json]\n`,
  );
  process.exit(2);
}
const known = new Set(["--short", "--json", "--runs", "--hosts", "--pods", "--out"]);
for (let i = 0; i < argv.length; i++) {
  if (!known.has(argv[i])) usage(`unknown argument "${argv[i]}"`);
  if (["--runs", "--hosts", "--pods", "--out"].includes(argv[i])) i++;
}
const SHORT = argv.includes("--short");
const JSON_OUT = argv.includes("--json");
const RUNS = positive("--runs", SHORT ? 3 : 5);
const HOSTS = positive("--hosts", 20);
const PODS = positive("--pods", 110);
const OUT = flagValue("--out", undefined);
const CONTAINERS = 3; // pause + 2 app containers
const OTHER_MEMCGS = 600; // system.slice services and session scopes: find walks them too
// full mode also times the 20 targets with the CLI's default --parallel (16: two waves) and with
// --parallel 1 (what the fleet costs one host after the other)
const FULL_ROWS = !SHORT;
const DEFAULT_PARALLEL = 16; // src/commands/verify.ts

// ---------------------------------------------------------------------------- cleanup (always)
const cleanups = [];
let cleaned = false;
function cleanupAll() {
  if (cleaned) return;
  cleaned = true;
  for (const f of cleanups.reverse()) {
    try {
      f();
    } catch {
      /* keep cleaning */
    }
  }
}
let running = null; // the CLI child being timed
for (const [sig, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
]) {
  process.on(sig, () => {
    process.stderr.write(`verify-fleet: ${sig}, stopping sshd and cleaning up\n`);
    if (running && running.exitCode === null) running.kill("SIGTERM");
    cleanupAll();
    process.exit(code);
  });
}
process.on("exit", cleanupAll);

// ---------------------------------------------------------------------------- helpers
function must(cmd, args, what) {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what}: exit ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function waitForBanner(port, ms, child) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child.exitCode !== null) return false;
    const ok = await new Promise((res) => {
      const c = createConnection({ host: "127.0.0.1", port });
      const t = setTimeout(() => (c.destroy(), res(false)), 1000);
      c.once("data", (d) => (clearTimeout(t), c.destroy(), res(d.toString().startsWith("SSH-"))));
      c.once("error", () => (clearTimeout(t), res(false)));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** One sshd for every target: raised MaxStartups so 20 handshakes at once are never dropped. */
async function startSshd(dir) {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} not found (apt-get install openssh-server)`);
  if (!existsSync("/run/sshd")) mkdirSync("/run/sshd", { mode: 0o755, recursive: true });
  for (const k of ["host_key", "client_key"]) {
    must(
      "ssh-keygen",
      ["-q", "-t", "ed25519", "-N", "", "-C", `verify-fleet-${k}`, "-f", join(dir, k)],
      "ssh-keygen",
    );
  }
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client_key.pub")));
  const port = await freePort();
  const cfg = join(dir, "sshd_config");
  writeFileSync(
    cfg,
    [
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host_key")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "PermitRootLogin yes",
      "StrictModes no",
      "UseDNS no",
      // defaults are MaxStartups 10:30:100 (random drops from the 11th unauthenticated connection)
      "MaxStartups 100",
      "MaxSessions 100",
      "LogLevel ERROR",
      "",
    ].join("\n"),
  );
  const child = spawn(SSHD, ["-D", "-e", "-f", cfg, "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (d) => (log += d.toString()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const stop = () => {
    if (alive()) child.kill("SIGTERM");
  };
  cleanups.push(stop);
  /** Stops it and waits for it to be gone (SIGKILL after 5 s). */
  const stopAndWait = () =>
    new Promise((res) => {
      if (!alive()) return res();
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.once("exit", () => (clearTimeout(t), res()));
      child.kill("SIGTERM");
    });
  if (!(await waitForBanner(port, 10_000, child))) {
    stop();
    throw new Error(`sshd on 127.0.0.1:${port} did not come up: ${log.trim() || "(no output)"}`);
  }
  return { port, pid: child.pid, clientKey: join(dir, "client_key"), log: () => log, stop: stopAndWait };
}

// ---------------------------------------------------------------------------- fake node
/** A cgroup v1 memory cgroup directory with the counter files the script reads (kmem 0: the node is OK). */
function memcg(dir, rss) {
  mkdirSync(dir);
  const files = {
    "cgroup.procs": "",
    tasks: "",
    "memory.usage_in_bytes": `${rss}\n`,
    "memory.limit_in_bytes": "9223372036854771712\n",
    "memory.stat": `cache 0\nrss ${rss}\nmapped_file 0\nswap 0\ntotal_cache 0\ntotal_rss ${rss}\ntotal_mapped_file 0\n`,
    "memory.kmem.usage_in_bytes": "0\n",
    "memory.kmem.max_usage_in_bytes": "0\n",
    "memory.kmem.failcnt": "0\n",
    "memory.kmem.limit_in_bytes": "9223372036854771712\n",
    // empty = reading it fails to return a line = accounting off (the 3.10 slabinfo probe)
    "memory.kmem.slabinfo": "",
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

/** kubepods/[burstable|besteffort/]pod<uid>/<container> (cgroupfs driver), like the verify tests. */
function buildNode(base) {
  const cg = join(base, "cg");
  const proc = join(base, "proc");
  mkdirSync(base, { recursive: true });
  let n = 0;
  const add = (d, rss = 0) => (memcg(d, rss), n++);
  add(cg);
  add(join(cg, "kubepods"));
  add(join(cg, "kubepods", "burstable"));
  add(join(cg, "kubepods", "besteffort"));
  for (let p = 0; p < PODS; p++) {
    const uid = `${String(p).padStart(8, "0")}-0000-4000-8000-000000000000`;
    const qos = ["", "burstable", "besteffort"][p % 3];
    const pod = join(cg, "kubepods", qos, `pod${uid}`);
    add(pod, 50 << 20);
    for (let c = 0; c < CONTAINERS; c++) add(join(pod, `${p}${c}`.padStart(64, "c")), 16 << 20);
  }
  add(join(cg, "system.slice"));
  for (let i = 0; i < OTHER_MEMCGS; i++) add(join(cg, "system.slice", `svc-${i}.service`), 1 << 20);
  mkdirSync(join(proc, "self"), { recursive: true });
  mkdirSync(join(proc, "sys", "kernel"), { recursive: true });
  writeFileSync(
    join(proc, "self", "mountinfo"),
    "30 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory\n",
  );
  writeFileSync(join(proc, "cgroups"), `#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t4\t${n}\t1\n`);
  writeFileSync(join(proc, "cmdline"), "BOOT_IMAGE=/vmlinuz-3.10.0-1160.el7.x86_64 ro quiet\n");
  writeFileSync(join(proc, "sys", "kernel", "osrelease"), "3.10.0-1160.el7.x86_64\n");
  writeFileSync(join(proc, "sys", "kernel", "hostname"), "bench-node\n");
  return { cg, proc, memcgs: n, podCgroups: PODS * (1 + CONTAINERS) };
}

// ---------------------------------------------------------------------------- timing
/**
 * Runs the CLI with stdout to a file, not a pipe: the CLI ends with process.exit(), which drops what a
 * pipe has not taken yet (anything past 64 KiB; a 20-host fleet report is megabytes).
 */
function runCli(args, outFile) {
  return new Promise((res, rej) => {
    const fd = openSync(outFile, "w");
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", fd, "pipe"] });
    closeSync(fd);
    running = child;
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.once("error", rej);
    child.once("close", (code, signal) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      running = null;
      res({ ms, code, signal, stdout: readFileSync(outFile, "utf8"), stderr: err });
    });
  });
}

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

/** CPU time (ms) of the waited-for descendants of a process: cutime + cstime of /proc/PID/stat. */
function childrenCpuMs(pid) {
  const st = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = st.slice(st.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
  return ((Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK;
}

/** Waits (up to 3 s) until sshd has reaped every session process, so its cutime/cstime are complete. */
async function sessionsReaped(pid) {
  for (let i = 0; i < 300; i++) {
    let kids = "";
    try {
      kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    } catch {
      return; // no /proc/PID/task/PID/children (CONFIG_PROC_CHILDREN): best effort
    }
    if (!kids) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length / 2;
  const median = s.length % 2 ? s[Math.floor(mid)] : (s[mid - 1] + s[mid]) / 2;
  return { min: s[0], median, max: s[s.length - 1] };
};

async function main() {
  if (process.getuid?.() !== 0)
    throw new Error("run as root (sshd needs it for privilege separation and root login)");
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build first`);
  must("ssh", ["-V"], "ssh client");
  const tmp = mkdtempSync(join(tmpdir(), "verify-fleet-"));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  const keysDir = join(tmp, "ssh");
  mkdirSync(keysDir, { mode: 0o700 });

  const t0 = Date.now();
  const node = buildNode(join(tmp, "node"));
  const sshd = await startSshd(keysDir);
  const setupS = (Date.now() - t0) / 1000;

  const names = Array.from({ length: HOSTS }, (_, i) => `n${String(i + 1).padStart(2, "0")}`);
  const hostsFile = (n) => {
    const f = join(tmp, `hosts.${n}`);
    writeFileSync(
      f,
      `# ${n} names, all 127.0.0.1 via HostName=\n${names
        .slice(0, n)
        .map((h) => `root@${h}`)
        .join("\n")}\n`,
    );
    return f;
  };
  const common = [
    "verify",
    "--port",
    String(sshd.port),
    "--identity",
    sshd.clientKey,
    "--ssh-option",
    "HostName=127.0.0.1",
    "--ssh-option",
    "StrictHostKeyChecking=no",
    "--ssh-option",
    "UserKnownHostsFile=/dev/null",
    "--ssh-option",
    "LogLevel=ERROR",
    "--connect-timeout",
    "10",
    "--no-binaries",
    "--cgroup-root",
    node.cg,
    "--proc-root",
    node.proc,
    "--json",
    "--quiet",
  ];
  const cases = [
    { key: "one", label: "1 target", hosts: 1, parallel: HOSTS, file: hostsFile(1) },
    { key: "many", label: `${HOSTS} targets`, hosts: HOSTS, parallel: HOSTS, file: hostsFile(HOSTS) },
  ];
  if (FULL_ROWS && HOSTS > DEFAULT_PARALLEL)
    cases.push({
      key: "default",
      label: `${HOSTS} targets, default --parallel`,
      hosts: HOSTS,
      parallel: DEFAULT_PARALLEL,
      file: cases[1].file,
    });
  if (FULL_ROWS)
    cases.push({
      key: "serial",
      label: `${HOSTS} targets, one at a time`,
      hosts: HOSTS,
      parallel: 1,
      file: cases[1].file,
    });

  const times = Object.fromEntries(cases.map((c) => [c.key, []]));
  const cpuClient = Object.fromEntries(cases.map((c) => [c.key, []]));
  const cpuServer = Object.fromEntries(cases.map((c) => [c.key, []]));
  const perHost = Object.fromEntries(cases.map((c) => [c.key, []]));
  const once = async (c, record) => {
    await sessionsReaped(sshd.pid);
    const client0 = childrenCpuMs(process.pid);
    const server0 = childrenCpuMs(sshd.pid);
    const r = await runCli(
      [...common, "--hosts-file", c.file, "--parallel", String(c.parallel)],
      join(tmp, "fleet.json"),
    );
    let fleet = null;
    try {
      fleet = JSON.parse(r.stdout);
    } catch (e) {
      r.parseError = `${e.message}; stdout ${r.stdout.length} bytes: ${r.stdout.slice(0, 200)} ... ${r.stdout.slice(-200)}`;
    }
    const ok =
      r.code === 0 &&
      fleet?.kind === "fleet" &&
      fleet.totals?.hosts === c.hosts &&
      fleet.totals?.ok === c.hosts &&
      fleet.hosts.every((h) => h.report?.cgroups?.length === node.podCgroups);
    if (!ok) {
      const bad = fleet?.hosts?.find((h) => h.result !== "OK");
      throw new Error(
        `${c.label}: exit ${r.code ?? r.signal}, ${fleet ? `${fleet.totals.ok}/${fleet.totals.hosts} OK${bad ? `; ${bad.host}: ${bad.error ?? bad.result}` : ""}` : `no fleet JSON (${r.parseError})`}\n` +
          `${r.stderr.trim().split("\n").slice(-5).join("\n")}\nsshd: ${sshd.log().trim().split("\n").slice(-5).join("\n")}`,
      );
    }
    await sessionsReaped(sshd.pid);
    if (record) {
      times[c.key].push(r.ms);
      // the CLI (node, ssh clients) is reaped by us; the sessions (sshd, bash, sh, awk, find) by sshd
      cpuClient[c.key].push(childrenCpuMs(process.pid) - client0);
      cpuServer[c.key].push(childrenCpuMs(sshd.pid) - server0);
      perHost[c.key].push(...fleet.hosts.map((h) => h.seconds * 1000));
    }
  };

  // warm-up (page cache, sshd's first connections; full mode: both main cases), then interleaved runs
  // so that drift in the machine's load hits every case alike
  for (const c of cases.slice(0, SHORT ? 1 : 2)) await once(c, false);
  for (let i = 0; i < RUNS; i++) for (const c of cases) await once(c, true);

  const result = {
    hosts: HOSTS,
    runs: RUNS,
    pods: PODS,
    pod_and_container_cgroups: node.podCgroups,
    memcgs: node.memcgs,
    setup_seconds: setupS,
    cpus: cpus().length,
    loadavg_1m_at_end: Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]),
    ssh: spawnSync("ssh", ["-V"], { encoding: "utf8" }).stderr.trim(),
    node: process.version,
    cases: cases.map((c) => ({
      targets: c.hosts,
      parallel: c.parallel,
      wall_ms: stats(times[c.key]),
      per_host_ms: stats(perHost[c.key]),
      cpu_client_ms: stats(cpuClient[c.key]),
      cpu_server_ms: stats(cpuServer[c.key]),
    })),
  };
  const one = stats(times.one);
  const many = stats(times.many);
  result.ratio_median = many.median / one.median;
  result.ratio_min = many.min / one.min;
  if (times.serial) result.speedup_vs_serial = stats(times.serial).median / many.median;
  await sshd.stop();

  const md = markdown(result, cases);
  if (OUT) writeFileSync(OUT, md);
  process.stdout.write(JSON_OUT ? JSON.stringify(result, null, 2) + "\n" : md);
}

function markdown(r, cases) {
  const ms = (x) => `${Math.round(x)} ms`;
  const lines = [
    `## kmem-build verify over ssh: 1 vs ${r.hosts} targets`,
    "",
    `One private sshd on 127.0.0.1 (MaxStartups 100); ${r.hosts} distinct target names (\`root@n01\`..) in a` +
      ` \`--hosts-file\`, all reaching it through \`--ssh-option HostName=127.0.0.1\`. Every host runs` +
      ` verify-kmem.sh (sent on stdin) on a fake cgroup v1 node: ${r.pods} pods, ${r.pod_and_container_cgroups}` +
      ` pod/container cgroups, ${r.memcgs} memory cgroups, 3.10 kernel (slabinfo probes on).` +
      ` Wall time of \`node lib/cli.js verify --json --quiet\`, process start to exit; ${r.runs} runs each` +
      ` after a warm-up, interleaved; setup (fixture, keys, sshd) ${r.setup_seconds.toFixed(1)} s. ${r.cpus} CPUs, 1-min load average at the end ${r.loadavg_1m_at_end}; ${r.ssh}; Node ${r.node}.`,
    "",
    "| targets | --parallel | wall min | wall median | wall max | CPU client + server (median) | per host, median (min-max) |",
    "|---|---|---|---|---|---|---|",
    ...r.cases.map(
      (c, i) =>
        `| ${cases[i].label} | ${c.parallel} | ${ms(c.wall_ms.min)} | ${ms(c.wall_ms.median)} | ${ms(c.wall_ms.max)} | ${ms(c.cpu_client_ms.median)} + ${ms(c.cpu_server_ms.median)} | ${ms(c.per_host_ms.median)} (${ms(c.per_host_ms.min)}-${ms(c.per_host_ms.max)}) |`,
    ),
    "",
    "CPU client = the CLI, node and its ssh processes; CPU server = sshd's sessions (sshd, the login shell," +
      " the script and its find/awk/sort). Per host = from spawning ssh to its report, as the CLI records it." +
      ` With ${r.cpus} CPUs a run cannot be faster than its CPU time / ${r.cpus}` +
      ` (${r.hosts} targets: ${ms((r.cases[1].cpu_client_ms.median + r.cases[1].cpu_server_ms.median) / r.cpus)}).`,
    "",
    `t(${r.hosts})/t(1): **${r.ratio_median.toFixed(2)}x** by median (${r.ratio_min.toFixed(2)}x by min); linear would be ${r.hosts}x.` +
      (r.speedup_vs_serial !== undefined
        ? ` Running the ${r.hosts} targets in parallel is ${r.speedup_vs_serial.toFixed(1)}x faster than one at a time.`
        : ""),
    "",
  ];
  return lines.join("\n");
}

main()
  .then(() => {
    cleanupAll();
    process.exit(0);
  })
  .catch((err) => {
    process.stderr.write(`verify-fleet: ${err.message}\n`);
    cleanupAll();
    process.exit(1);
  });
