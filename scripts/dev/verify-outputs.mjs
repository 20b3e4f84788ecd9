#!/usr/bin/env node
/**
 * Records what scripts/verify-kmem.sh prints for every fixture node the test suite lays, in every output
 * format, under several shell + awk pairs, so that two versions of the script can be compared byte for
 * byte (the reshaping of issue 18 must not change one byte of output).
 *
 *   node scripts/dev/verify-outputs.mjs --out DIR [--script PATH] [--work DIR] [--jobs N (3)]
 *   diff -r DIR1 DIR2
 *
 * One file per run: DIR/<scenario>.<format>.<variant>, holding the command line, exit code, stdout,
 * stderr and (for --prometheus) the textfile written, byte for byte (read and written as latin1, so
 * invalid UTF-8 is kept as it is).  Variants: dash+gawk, bash+gawk, dash+mawk and busybox sh with
 * busybox awk, those installed.  Runtimes are stand-ins on PATH (crictl, ctr, docker), never the
 * machine's own.  The fixtures are the test suite's own
 * (test/verify/helpers/*.ts, transpiled with the repo's typescript into WORK/ts), laid at fixed paths
 * under WORK (default /tmp/kmem-verify-outputs), so paths in the output are the same from run to run.
 *
 * Normalised, because they change from run to run and nothing else does:
 *   - the work directory -> <WORK> (in case --work differs between the two runs);
 *   - UTC ISO 8601 times within a day of now ("timestamp", samples' max_at) -> <NOW>;
 *     the kernel logs' own times (2025, or Nov 28 of a past year) are left alone;
 *   - epoch seconds within a day of now (kmem_build_verify_timestamp_seconds) -> <EPOCH>;
 *   - the script's temp dir (mktemp under TMPDIR, which is WORK/tmp) is inside <WORK>/tmp and appears
 *     nowhere in the output today; it is normalised anyway as <WORK>/tmp/<TMP>.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  existsSync,
  symlinkSync,
} from "node:fs";
import { createServer } from "node:net";
import { setTimeout, clearTimeout } from "node:timers";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const opt = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const OUT = opt("--out");
if (!OUT) {
  console.error("usage: verify-outputs.mjs --out DIR [--script PATH] [--work DIR]");
  process.exit(2);
}
const SCRIPT = resolve(opt("--script", join(REPO, "scripts/verify-kmem.sh")));
const WORK = resolve(opt("--work", "/tmp/kmem-verify-outputs"));

// ---------------------------------------------------------------------------------------------------
// the test suite's fixture helpers, transpiled (type annotations stripped) next to the same relative
// layout, so their imports (./tree.js, ../../../src/inspect/evidence.js) resolve
// ---------------------------------------------------------------------------------------------------
const ts = (await import("typescript")).default;
const TS = join(WORK, "ts");
rmSync(WORK, { recursive: true, force: true });
const helpers = ["tree", "memcg", "binaries", "scenarios", "oom-logs"].map(
  (n) => `test/verify/helpers/${n}.ts`,
);
for (const f of [...helpers, "src/inspect/evidence.ts"]) {
  const out = ts.transpileModule(readFileSync(join(REPO, f), "utf8"), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const dest = join(TS, f.replace(/\.ts$/, ".js"));
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, out);
}
for (const f of ["src/inspect/evidence.ts"]) {
  // evidence.ts may import siblings: transpile those too
  const src = readFileSync(join(REPO, f), "utf8");
  for (const m of src.matchAll(/from "(\.[^"]+)\.js"/g)) {
    const dep = join(dirname(f), `${m[1]}.ts`);
    const out = ts.transpileModule(readFileSync(join(REPO, dep), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    mkdirSync(dirname(join(TS, dep)), { recursive: true });
    writeFileSync(join(TS, dep.replace(/\.ts$/, ".js")), out);
  }
}
writeFileSync(join(TS, "package.json"), '{"type":"module"}\n');
const S = await import(pathToFileURL(join(TS, "test/verify/helpers/scenarios.js")).href);
const L = await import(pathToFileURL(join(TS, "test/verify/helpers/oom-logs.js")).href);

// ---------------------------------------------------------------------------------------------------
// fixture nodes (as the tests lay them)
// ---------------------------------------------------------------------------------------------------
const FIX = join(WORK, "fix");
const withBtime = (l) => {
  writeFileSync(join(l.proc, "stat"), `cpu  1 2 3 4\nintr 0\nctxt 99\nbtime ${L.BTIME}\nprocesses 10\n`);
  return l;
};
const log = (d, name, text) => {
  const p = join(d, name);
  writeFileSync(p, text);
  return p;
};
/** The burstable pod of a centos7Cgroupfs node with a 6 GB limit, the usage and memory.stat given. */
const headroom = (d, l, usage, stat) => {
  const pod = join(l.cg, "kubepods", "burstable", `pod${S.UID.B}`);
  writeFileSync(join(pod, "memory.limit_in_bytes"), "6000000000\n");
  writeFileSync(join(pod, "memory.usage_in_bytes"), `${usage}\n`);
  writeFileSync(join(pod, "memory.stat"), stat);
  return [...l.args, "--no-kernel-log"];
};
/** name -> (fixture dir) => args */
const scenarios = {
  "centos7-cgroupfs": (d) => S.centos7Cgroupfs(d).args,
  "centos7-systemd": (d) => S.centos7Systemd(d).args,
  "hybrid-kernel-charges": (d) => S.hybridKernelCharges(d).args,
  "hybrid-kernel-uncharged": (d) => S.hybridKernelCharges(d, false).args,
  "hybrid-nokmem-param": (d) => S.hybridNokmemParam(d).args,
  "v2-systemd": (d) => S.v2Systemd(d).args,
  "leaked-memcgs": (d) => S.leakedMemcgs(d, 70_000).args,
  "leaked-few": (d) => S.leakedMemcgs(d, 120).args,
  "odd-names": (d) => S.oddNames(d).args,
  "no-kubepods": (d) => S.noKubepods(d).args,
  "empty-kubepods": (d) => S.emptyKubepods(d).args,
  "no-memory-controller": (d) => S.noMemoryController(d).args,
  "many-pods": (d) => S.manyPods(d, 30).args,
  "cgroup-subtree": (d) => {
    const l = S.centos7Cgroupfs(d);
    return ["--proc-root", l.proc, "--cgroup-root", join(l.cg, "kubepods"), "--no-binaries"];
  },
  checksums: (d) => {
    const l = S.centos7Systemd(d);
    const sums = log(d, "SHA256SUMS", `${"0".repeat(64)}  kubelet-other\n`);
    return [...l.args, "--checksums", sums, "--expect-sha256", `${"ab".repeat(32)}:x`];
  },
  "cache-dir": (d) => {
    const l = S.centos7Cgroupfs(d);
    mkdirSync(join(d, "cache"), { mode: 0o700, recursive: true });
    return [...l.args, "--cache-dir", join(d, "cache")];
  },
  "oom-el7": (d) => [
    ...withBtime(S.centos7Cgroupfs(d)).args,
    "--kernel-log",
    log(d, "messages", L.el7Messages()),
    "--trust-kernel-log",
  ],
  "oom-el7-untrusted": (d) => [
    ...withBtime(S.centos7Cgroupfs(d)).args,
    "--kernel-log",
    log(d, "messages2", L.el7Messages()),
  ],
  "oom-dmesg": (d) => [
    ...withBtime(S.hybridKernelCharges(d)).args,
    "--kernel-log",
    log(d, "dmesg", L.dmesgNew()),
    "--trust-kernel-log",
  ],
  "oom-dmesg-since": (d) => [
    ...withBtime(S.hybridKernelCharges(d)).args,
    "--kernel-log",
    log(d, "dmesg2", L.dmesgNew()),
    "--trust-kernel-log",
    "--since",
    "2025-11-30T04:00:00Z",
  ],
  "oom-empty-log": (d) => [...withBtime(S.centos7Systemd(d)).args, "--kernel-log", log(d, "empty", "")],
  "no-kernel-log": (d) => [...S.centos7Cgroupfs(d).args, "--no-kernel-log"],
  // oom-headroom (as test/verify/oom.test.ts writes it): near the limit with little rss + cache, and not
  "headroom-warn": (d) =>
    headroom(d, S.centos7Cgroupfs(d), "5998800000", "total_cache 520000000\ntotal_rss 2000000000\n"),
  "headroom-pass": (d) =>
    headroom(d, S.centos7Cgroupfs(d), "5700000000", "total_cache 700000000\ntotal_rss 4800000000\n"),
  "headroom-many": (d) => {
    const l = S.manyPods(d, 8);
    for (const pod of readdirSync(join(l.cg, "kubepods", "burstable")).filter((n) => n.startsWith("pod"))) {
      const p = join(l.cg, "kubepods", "burstable", pod);
      writeFileSync(join(p, "memory.limit_in_bytes"), "1000000\n");
      writeFileSync(join(p, "memory.usage_in_bytes"), "999000\n");
    }
    return [...l.args, "--no-kernel-log"];
  },
};
const El7 = {
  kernel: { kernel: S.RHEL7["7.9"], driver: "cgroupfs", parents: true, kubelet: "kmem" },
  install: { kernel: S.RHEL7["7.9"], driver: "systemd", param: true, parents: true, kubelet: "kmem" },
  restart: { kernel: S.RHEL7["7.9"], driver: "cgroupfs", param: true, parents: true, running: "deleted" },
  "restart-other": { kernel: S.RHEL7["7.9"], driver: "cgroupfs", param: true, running: "other" },
  reboot: { kernel: S.RHEL7["7.8"], driver: "systemd", param: true, parents: true, kmem: 4096 },
  runtime: { kernel: S.RHEL7["7.6"], driver: "cgroupfs", container: true, kmem: 8192 },
  "pod-armed": { kernel: S.RHEL7["7.3"], driver: "cgroupfs", pod: true },
  fixed: { kernel: S.RHEL7["7.9"], driver: "systemd", param: true },
  "fixed-no-kubelet": { kernel: S.RHEL7["7.9"], driver: "cgroupfs", param: true, running: "none" },
};
for (const [n, spec] of Object.entries(El7)) scenarios[`el7-${n}`] = (d) => S.el7Node(d, spec).args;

// runtimes: stand-ins on PATH printing what crictl, ctr and docker print, on a real (silent) socket
const SOCK = join(WORK, "run", "rt.sock");
mkdirSync(dirname(SOCK), { recursive: true });
const server = createServer(() => {});
await new Promise((r) => server.listen(SOCK, r));
const BIN = join(WORK, "bin");
mkdirSync(BIN, { recursive: true });
const NAMES = {
  [S.CTR.g1]: { uid: S.UID.G, ns: "default", pod: "web-0", ctr: "nginx" },
  [S.CTR.b1]: { uid: S.UID.B, ns: "kube-system", pod: 'café "q"\\x', ctr: "app\tone" },
  ["5a".repeat(32)]: { uid: S.UID.G, ns: "default", pod: "web-0", ctr: "" },
};
const labels = (n) => ({
  ...(n.ctr ? { "io.kubernetes.container.name": n.ctr } : {}),
  "io.kubernetes.pod.name": n.pod,
  "io.kubernetes.pod.namespace": n.ns,
  "io.kubernetes.pod.uid": n.uid,
});
const items = Object.entries(NAMES);
writeFileSync(
  join(BIN, "pods.json"),
  JSON.stringify(
    {
      items: items
        .filter(([, n]) => !n.ctr)
        .map(([id, n]) => ({ id, labels: labels(n), annotations: { "io.kubernetes.pod.name": "forged" } })),
    },
    null,
    2,
  ),
);
writeFileSync(
  join(BIN, "ps.json"),
  JSON.stringify({
    containers: items.filter(([, n]) => n.ctr).map(([id, n]) => ({ id, labels: labels(n) })),
  }),
);
for (const [id, n] of items)
  writeFileSync(
    join(BIN, `ctr-${id}.json`),
    JSON.stringify({ ID: id, Labels: labels(n), Spec: { annotations: { x: "y" } } }, null, 4),
  );
writeFileSync(
  join(BIN, "docker.out"),
  items.map(([id, n]) => [id, n.uid, n.ns, n.pod, n.ctr || "POD"].join("\t")).join("\n") + "\n",
);
/** A bin dir with all three runtime CLIs: `tools` are the stand-ins above, the others fail at once (the
 *  machine's own ctr or docker, if any, must never be asked: their answer is not the fixture's). */
const STANDIN = {
  crictl: `case "$3 $4 $5 $6" in "pods -o json ") cat ${BIN}/pods.json ;; "ps -a -o json") cat ${BIN}/ps.json ;; *) exit 1 ;; esac`,
  ctr: `case "$5 $6 $7" in "containers list -q") ls ${BIN} | sed -n 's/^ctr-\\(.*\\)\\.json$/\\1/p' ;; "containers info "*) cat ${BIN}/ctr-$7.json ;; *) exit 1 ;; esac`,
  docker: `cat ${BIN}/docker.out`,
};
const binDir = (name, tools) => {
  const dir = join(BIN, name);
  mkdirSync(dir, { recursive: true });
  for (const t of ["crictl", "ctr", "docker"])
    writeFileSync(
      join(dir, t),
      `#!/bin/sh\n${tools.includes(t) ? STANDIN[t] : `echo "${t}: connection refused" >&2; exit 1`}\n`,
      {
        mode: 0o755,
      },
    );
  return dir;
};
const RT = {
  crictl: binDir("crictl", ["crictl"]),
  ctr: binDir("ctr", ["ctr"]),
  docker: binDir("docker", ["docker"]),
  failing: binDir("failing", []),
};
for (const t of Object.keys(RT))
  scenarios[`names-${t}`] = {
    args: (d) => [...S.centos7Cgroupfs(d).args, "--runtime-endpoint", `unix://${SOCK}`],
    path: RT[t],
  };
scenarios["names-crictl-systemd"] = {
  args: (d) => [
    ...S.centos7Systemd(d).args,
    "--runtime-endpoint",
    "unix:///nonexistent.sock",
    "--runtime-endpoint",
    `unix://${SOCK}`,
  ],
  path: RT.crictl,
};

// ---------------------------------------------------------------------------------------------------
// formats and shell + awk pairs
// ---------------------------------------------------------------------------------------------------
const FORMATS = {
  human: [],
  verbose: ["--verbose"],
  json: ["--json"],
  brief: ["--brief"],
  prometheus: ["--prometheus", "PROM"],
  "json-prometheus": ["--json", "--prometheus", "PROM"],
  "reboot-required": ["--reboot-required"],
};
const AWKS = join(WORK, "awk");
const awkDir = (name, target) => {
  const d = join(AWKS, name);
  mkdirSync(d, { recursive: true });
  symlinkSync(target, join(d, "awk"));
  return d;
};
const have = (p) => existsSync(p) && spawnSync(p, ["--version"]).error === undefined;
const VARIANTS = {};
if (have("/usr/bin/gawk")) VARIANTS["dash+gawk"] = { shell: ["dash"], awk: awkDir("gawk", "/usr/bin/gawk") };
if (have("/usr/bin/gawk") && existsSync("/bin/bash"))
  VARIANTS["bash+gawk"] = { shell: ["bash"], awk: join(AWKS, "gawk") };
if (have("/usr/bin/mawk")) VARIANTS["dash+mawk"] = { shell: ["dash"], awk: awkDir("mawk", "/usr/bin/mawk") };
if (existsSync("/usr/bin/busybox"))
  VARIANTS["busybox"] = { shell: ["busybox", "sh"], awk: awkDir("busybox", "/usr/bin/busybox") };

const now = Date.now() / 1000;
function normalise(s) {
  s = s.split(WORK).join("<WORK>");
  s = s.replace(/<WORK>\/tmp\/[^/\s"]+/g, "<WORK>/tmp/<TMP>");
  s = s.replace(/\b(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)/g, (m) =>
    Math.abs(Date.parse(m) / 1000 - now) < 86400 * 1.5 ? "<NOW>" : m,
  );
  s = s.replace(/\b(1\d{9})\b/g, (m) => (Math.abs(Number(m) - now) < 86400 * 1.5 ? "<EPOCH>" : m));
  return s;
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

// one job per scenario x variant x format, each with its own fixture, TMPDIR and textfile (nothing
// carries over from one run to the next: a cache dir, a Prometheus file), run JOBS at a time
const jobs = [];
for (const [name, sc] of Object.entries(scenarios))
  for (const variant of Object.keys(VARIANTS))
    for (const format of Object.keys(FORMATS))
      jobs.push({ name, variant, format, mk: typeof sc === "function" ? sc : sc.args, path: sc.path });
// sampling, options and usage errors: once per variant, their arguments as they are
const misc = {
  sampling: (d) => [...S.centos7Systemd(d).args, "--duration", "2s", "--interval", "1s", "--json"],
  "sampling-human": (d) => [...S.centos7Cgroupfs(d).args, "--duration", "2", "--interval", "1"],
  help: () => ["--help"],
  version: () => ["--version"],
  "bad-option": () => ["--frobnicate"],
  "bad-duration": () => ["--duration", "10x"],
  "bad-endpoint": () => ["--runtime-endpoint", "tcp://x:1"],
  "bad-since": (d) => [...S.centos7Systemd(d).args, "--since", "not a time"],
  "prometheus-dir": (d) => [...S.centos7Systemd(d).args, "--prometheus", d],
  "missing-root": (d) => [...S.centos7Systemd(d).args, "--cgroup-root", join(d, "nope")],
};
FORMATS.as = [];
for (const [name, mk] of Object.entries(misc))
  for (const variant of Object.keys(VARIANTS)) jobs.push({ name, variant, format: "as", mk });

function run({ name, variant, format, mk, path: extraPath }) {
  const id = `${name}.${format}.${variant}`;
  const d = join(FIX, id);
  mkdirSync(d, { recursive: true });
  const args = mk(d);
  const v = VARIANTS[variant];
  const prom = join(WORK, "prom", `${id}.prom`);
  mkdirSync(dirname(prom), { recursive: true });
  const TMPDIR = join(WORK, "tmp", id);
  mkdirSync(TMPDIR, { recursive: true });
  const full = [...args, ...FORMATS[format].map((a) => (a === "PROM" ? prom : a))];
  const PATH = [v.awk, ...(extraPath ? [extraPath] : []), process.env.PATH].join(":");
  return new Promise((res) => {
    const child = spawn(v.shell[0], [...v.shell.slice(1), SCRIPT, ...full], {
      env: { PATH, HOME: WORK, TMPDIR },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = [];
    const err = [];
    child.stdout.on("data", (b) => out.push(b));
    child.stderr.on("data", (b) => err.push(b));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      let text = `args: ${full.join(" ")}\nexit: ${status}${signal ? ` signal ${signal}` : ""}\n--- stdout\n${Buffer.concat(out).toString("latin1")}--- stderr\n${Buffer.concat(err).toString("latin1")}`;
      if (existsSync(prom)) text += `--- prometheus\n${readFileSync(prom, "latin1")}`;
      const left = readdirSync(TMPDIR);
      if (left.length) text += `--- left in TMPDIR: ${left.length}\n`;
      writeFileSync(join(OUT, id), normalise(text), "latin1");
      rmSync(d, { recursive: true, force: true });
      res();
    });
  });
}
const JOBS = Number(opt("--jobs", "3"));
let next = 0;
await Promise.all(
  Array.from({ length: JOBS }, async () => {
    while (next < jobs.length) await run(jobs[next++]);
  }),
);
server.close();
console.log(
  `${jobs.length} runs (${Object.keys(VARIANTS).join(", ")}) of ${relative(process.cwd(), SCRIPT) || SCRIPT} -> ${OUT}`,
);
