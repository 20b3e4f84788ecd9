/**
 * OOM kill history (oom-kills-kmem, oom_kills[]) from kernel logs we wrote from the report formats, and
 * headroom as the OOM killer counts it (oom-headroom). Exact JSON; every awk the script supports.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, describe, expect, test } from "vitest";
import { fleetReport } from "../../src/verify/fleet.js";
import { toJUnit } from "../../src/verify/junit.js";
import { renderFleet } from "../../src/verify/render.js";
import type { NodeReport } from "../../src/verify/report.js";
import { BTIME, CTR, POD, dmesgNew, el7Messages } from "./helpers/oom-logs.js";
import { REPO, runCli, runJson, runScript, stable } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-oom-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const validate = new Ajv({ allErrors: true }).compile(
  JSON.parse(readFileSync(join(REPO, "schemas/verify-report.schema.json"), "utf8")),
);

const KiB = 1024;
/** The year the script gives a syslog "Nov 28": the latest one not in the future. */
const now = new Date();
const YEAR = now.getMonth() + 1 >= 11 ? now.getFullYear() : now.getFullYear() - 1;
const utc = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
const lines = (t: string) => t.split("\n").length - 1;

function write(name: string, text: string): string {
  const p = join(TMP, name);
  writeFileSync(p, text);
  return p;
}
/**
 * A fixture node with btime in <proc>/stat. Its args take the logs below as the kernel's own
 * (--trust-kernel-log: we wrote them); what an untrusted file gives is tested on its own (below).
 */
function node(name: string, build: (d: string) => S.Laid = S.centos7Cgroupfs): S.Laid {
  const f = build(join(TMP, name));
  writeFileSync(join(f.proc, "stat"), `cpu  1 2 3 4\nintr 0\nctxt 99\nbtime ${BTIME}\nprocesses 10\n`);
  f.args.push("--trust-kernel-log");
  return f;
}
const check = (r: NodeReport, id: string) => r.checks.find((c) => c.id === id)!;

const seedPod = `/kubepods/burstable/pod${POD.seed}`;
const SEED_KILL = {
  time: `${YEAR}-11-28T03:14:07`,
  memcg: seedPod,
  task_memcg: `${seedPod}/${CTR.seed}`,
  level: "pod",
  qos: "burstable",
  pod_uid: POD.seed,
  container: CTR.seed,
  pod_namespace: null,
  pod_name: null,
  container_name: null,
  usage_bytes: 5859473 * KiB,
  limit_bytes: 5859473 * KiB,
  kmem_usage_bytes: 3356432 * KiB,
  rss_bytes: (40 + 2490076) * KiB,
  cache_bytes: 12345 * KiB,
  hidden_bytes: (5859473 - 40 - 2490076 - 12345) * KiB,
  kmem_share: 0.5728,
  kmem_caused: true,
  history: false,
  source: "file",
  process: { pid: 23456, name: "java" },
};
const sysCtr = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD.rss.replace(/-/g, "_")}.slice/docker-${CTR.rss}.scope`;
const RSS_KILL = {
  time: `${YEAR}-11-28T04:02:11`,
  memcg: sysCtr,
  task_memcg: sysCtr,
  level: "container",
  qos: "burstable",
  pod_uid: POD.rss,
  container: `docker-${CTR.rss}.scope`,
  pod_namespace: null,
  pod_name: null,
  container_name: null,
  usage_bytes: 524288 * KiB,
  limit_bytes: 524288 * KiB,
  kmem_usage_bytes: 0,
  rss_bytes: 523264 * KiB,
  cache_bytes: 1024 * KiB,
  hidden_bytes: 0,
  kmem_share: 0,
  kmem_caused: false,
  history: false,
  source: "file",
  process: { pid: 4242, name: "nginx" },
};
const cutCg = `/kubepods/besteffort/pod${POD.cut}/${CTR.cut}`;
const CUT_KILL = {
  time: `${YEAR}-11-28T05:00:01`,
  memcg: cutCg,
  task_memcg: cutCg,
  level: "container",
  qos: "besteffort",
  pod_uid: POD.cut,
  container: CTR.cut,
  pod_namespace: null,
  pod_name: null,
  container_name: null,
  usage_bytes: 262144 * KiB,
  limit_bytes: 262144 * KiB,
  kmem_usage_bytes: null,
  rss_bytes: null,
  cache_bytes: null,
  hidden_bytes: null,
  kmem_share: null,
  kmem_caused: false,
  history: false,
  source: "file",
  process: { pid: null, name: null },
};

describe("EL7 /var/log/messages (3.10 reports, syslog prefixes)", () => {
  const f = node("el7");
  const text = el7Messages();
  const log = write("messages", text);
  const { code, report: r } = runJson([...f.args, "--kernel-log", log]);

  test("every memcg OOM kill of a pod or container cgroup, with the kernel's numbers", () => {
    expect(r.oom_kills).toEqual([SEED_KILL, RSS_KILL, CUT_KILL]);
    expect(r.kernel_log).toEqual({
      source: "file",
      path: log,
      lines: lines(text),
      memcg_oom_kills: 4,
      other_memcg_oom_kills: 1,
      scope: "/",
      outside_root_oom_kills: 0,
      authenticated: true,
      pod_oom_kills: 3,
      pod_oom_kills_kmem_caused: 1,
      pod_oom_kills_history: 0,
      pod_oom_kills_not_listed: 0,
      pod_oom_kills_list_limit: 50,
    });
    expect(validate(r), JSON.stringify(validate.errors)).toBe(true);
  });

  test("oom-kills-kmem FAILs for the seed's pod only: share and the fix", () => {
    expect(code).toBe(1);
    const c = check(r, "oom-kills-kmem");
    expect(c.status).toBe("FAIL");
    expect(c.seen).toBe(
      `read file ${log} (${lines(text)} lines): 3 memcg OOM kills of pod/container cgroups, 1 with kernel memory >= 10% of usage (kmem made the kill); ` +
        `pod ${POD.seed} container ${CTR.seed.slice(0, 12)} at ${YEAR}-11-28T03:14:07: kmem 3.20 GiB = 57.28% of usage 5.59 GiB (limit 5.59 GiB, rss + cache 2.39 GiB)`,
    );
    expect(c.seen).not.toContain(POD.rss);
    expect(c.cause).toBe("kubelet"); // 3.10: accounting switched on per cgroup by the kubelet's runc
    expect(c.remedy).toContain("install the nokmem kubelet built by kmem-build");
  });

  test("kills before --since or before the current boot are history: listed, counted apart, never a FAIL", () => {
    const prom = join(TMP, "history.prom");
    const since = runJson([
      ...f.args,
      "--kernel-log",
      log,
      "--since",
      `${YEAR}-11-29T00:00:00Z`,
      "--prometheus",
      prom,
    ]);
    const c = check(since.report, "oom-kills-kmem");
    expect(c.status).toBe("INFO");
    expect(c.seen).toContain(
      "3 memcg OOM kills of pod/container cgroups (3 before --since: history, listed, not judged)",
    );
    expect(since.report.oom_kills.map((k) => k.history)).toEqual([true, true, true]);
    expect(validate(since.report), JSON.stringify(validate.errors)).toBe(true);
    const metrics = readFileSync(prom, "utf8");
    expect(metrics).toContain(
      `kmem_build_oom_kills_history_total{pod_uid="${POD.seed}",pod_namespace="",pod_name="",source="file",authenticated="true"} 1\n`,
    );
    expect(metrics).toContain(
      `kmem_build_oom_kills_kmem_total{pod_uid="${POD.seed}",pod_namespace="",pod_name="",source="file",authenticated="true"} 0\n`,
    );
    // the same log on a node booted after the kills (btime of <proc>/stat)
    const g = node("rebooted");
    const boot = Math.floor(Date.UTC(Number(YEAR), 10, 29) / 1000);
    writeFileSync(join(g.proc, "stat"), `cpu  1 2 3 4\nbtime ${boot}\nprocesses 10\n`);
    const rebooted = runJson([...g.args, "--kernel-log", log]).report;
    expect(check(rebooted, "oom-kills-kmem").seen).toContain(
      "(3 before the current boot: history, listed, not judged)",
    );
    expect(check(rebooted, "oom-kills-kmem").status).toBe("INFO");
    // a time before the kills: they are judged again
    const before = runJson([...f.args, "--kernel-log", log, "--since", `${YEAR}-11-27T00:00:00Z`]).report;
    expect(check(before, "oom-kills-kmem").status).toBe("FAIL");
  });

  test("a pod killed again and again is named once, with its count and its last kill", () => {
    const again = text
      .split("\n")
      .filter((l) => l.startsWith("Nov 28 03:14:07 node-a kernel: "))
      .map((l) => l.replace("03:14:07", "06:00:00").replace(/\b23456\b/g, "24680"))
      .join("\n");
    const { report } = runJson([...f.args, "--kernel-log", write("messages-again", `${text}${again}\n`)]);
    expect(report.oom_kills.map((k) => [k.pod_uid, k.time, k.process.pid])).toEqual([
      [POD.seed, `${YEAR}-11-28T03:14:07`, 23456],
      [POD.rss, `${YEAR}-11-28T04:02:11`, 4242],
      [POD.cut, `${YEAR}-11-28T05:00:01`, null],
      [POD.seed, `${YEAR}-11-28T06:00:00`, 24680],
    ]);
    expect(check(report, "oom-kills-kmem").seen).toContain(
      `: 4 memcg OOM kills of pod/container cgroups, 2 with kernel memory >= 10% of usage (kmem made the kill); pod ${POD.seed} container ${CTR.seed.slice(0, 12)}: 2 kills, the last at ${YEAR}-11-28T06:00:00: kmem 3.20 GiB = 57.28% of usage`,
    );
  });

  test("journalctl -k -o short-iso export: the same kills, times with their offset", () => {
    const iso = text.replace(/^Nov 28 (\d\d:\d\d:\d\d) /gm, `${YEAR}-11-28T$1+0100 `);
    const { report } = runJson([...f.args, "--kernel-log", write("journal.txt", iso)]);
    expect(report.oom_kills).toEqual(
      [SEED_KILL, RSS_KILL, CUT_KILL].map((k) => ({ ...k, time: `${k.time}+01:00` })),
    );
  });

  test("human report: the kills under the check, the kmem-caused one marked", () => {
    const out = runScript([...f.args, "--kernel-log", log]).stdout;
    expect(out).toContain(`\nOOM kills in file ${log} (3):\n`);
    expect(out).toContain(
      `${YEAR}-11-28T03:14:07  [file] pod ${POD.seed} container ${CTR.seed.slice(0, 12)}: usage 5.59 GiB, limit 5.59 GiB, kmem 3.20 GiB (57.28% of usage), rss + cache 2.39 GiB; killed java (pid 23456)  <- kernel memory\n`,
    );
    expect(out).toContain(
      `${YEAR}-11-28T04:02:11  [file] pod ${POD.rss} container ${CTR.rss.slice(0, 12)}: usage 512.0 MiB, limit 512.0 MiB, kmem 0 B (0.00% of usage), rss + cache 512.0 MiB; killed nginx (pid 4242)\n`,
    );
    expect(out).toContain(
      `${YEAR}-11-28T05:00:01  [file] pod ${POD.cut} container ${CTR.cut.slice(0, 12)}: usage 256.0 MiB, limit 256.0 MiB, kmem - (? of usage), rss + cache -; killed  (pid ?)\n`,
    );
  });

  test("fleet: the table's host section names the kmem-caused kill (all with --verbose); JUnit counts them", () => {
    const fleet = fleetReport([
      { host: "node-a", result: r.result, exit_code: r.exit_code, error: null, seconds: 1, report: r },
    ]);
    const seedLine = `  OOM kill ${YEAR}-11-28T03:14:07 of container ${CTR.seed} of pod ${POD.seed}: kmem 3.2 GiB = 57.28% of usage 5.6 GiB (limit 5.6 GiB) <- kernel memory`;
    const text = renderFleet(fleet);
    expect(text.split("\n").filter((l) => l.startsWith("  OOM kill"))).toEqual([seedLine]);
    const all = renderFleet(fleet, true)
      .split("\n")
      .filter((l) => l.startsWith("  OOM kill"));
    expect(all).toEqual([
      seedLine,
      `  OOM kill ${YEAR}-11-28T04:02:11 of container docker-${CTR.rss}.scope of pod ${POD.rss}: kmem 0 B = 0.00% of usage 512.0 MiB (limit 512.0 MiB)`,
      `  OOM kill ${YEAR}-11-28T05:00:01 of container ${CTR.cut} of pod ${POD.cut}: kmem - = ? of usage 256.0 MiB (limit 256.0 MiB)`,
    ]);
    const xml = toJUnit(fleet);
    expect(xml).toContain('<property name="oom_kills" value="3"/>');
    expect(xml).toContain('<property name="oom_kills_kmem" value="1"/>');
    expect(xml).toMatch(/name="oom-kills-kmem" time="0">\n {6}<failure /);
  });

  test("kmem-build verify passes --kernel-log and --no-kernel-log to the script", () => {
    const cli = runCli(["verify", ...f.args, "--kernel-log", log, "--json"]);
    expect(cli.code).toBe(1);
    expect((JSON.parse(cli.stdout) as NodeReport).oom_kills).toEqual(r.oom_kills);
    const off = JSON.parse(runCli(["verify", ...f.args, "--no-kernel-log", "--json"]).stdout) as NodeReport;
    expect(off.kernel_log.source).toBeNull();
    expect(check(off, "oom-kills-kmem").seen).toBe("kernel log not read: --no-kernel-log");
  });

  test("Prometheus: kills and kmem-caused kills per pod", () => {
    const prom = join(TMP, "el7.prom");
    runScript([...f.args, "--kernel-log", log, "--prometheus", prom, "--brief"]);
    const t = readFileSync(prom, "utf8");
    expect(t).toContain("# TYPE kmem_build_oom_kills_kmem_total counter\n");
    const series = t.split("\n").filter((l) => l.startsWith("kmem_build_oom_kills"));
    expect(series).toEqual([
      `kmem_build_oom_kills_total{pod_uid="${POD.seed}",pod_namespace="",pod_name="",source="file",authenticated="true"} 1`,
      `kmem_build_oom_kills_total{pod_uid="${POD.rss}",pod_namespace="",pod_name="",source="file",authenticated="true"} 1`,
      `kmem_build_oom_kills_total{pod_uid="${POD.cut}",pod_namespace="",pod_name="",source="file",authenticated="true"} 1`,
      `kmem_build_oom_kills_kmem_total{pod_uid="${POD.seed}",pod_namespace="",pod_name="",source="file",authenticated="true"} 1`,
      `kmem_build_oom_kills_kmem_total{pod_uid="${POD.rss}",pod_namespace="",pod_name="",source="file",authenticated="true"} 0`,
      `kmem_build_oom_kills_kmem_total{pod_uid="${POD.cut}",pod_namespace="",pod_name="",source="file",authenticated="true"} 0`,
      `kmem_build_oom_kills_history_total{pod_uid="${POD.seed}",pod_namespace="",pod_name="",source="file",authenticated="true"} 0`,
      `kmem_build_oom_kills_history_total{pod_uid="${POD.rss}",pod_namespace="",pod_name="",source="file",authenticated="true"} 0`,
      `kmem_build_oom_kills_history_total{pod_uid="${POD.cut}",pod_namespace="",pod_name="",source="file",authenticated="true"} 0`,
      `kmem_build_oom_kills_all_total{source="file",authenticated="true"} 3`,
      `kmem_build_oom_kills_all_kmem_total{source="file",authenticated="true"} 1`,
      `kmem_build_oom_kills_all_history_total{source="file",authenticated="true"} 0`,
      `kmem_build_oom_kills_not_listed{source="file",authenticated="true"} 0`,
    ]);
  });
});

describe("dmesg dump of a >= 4.19 kernel (oom-kill: lines, seconds since boot)", () => {
  const f = node("new", (d) => S.hybridKernelCharges(d));
  const text = dmesgNew();
  const log = write("dmesg.txt", text);
  const { code, report: r } = runJson([...f.args, "--kernel-log", log]);
  const nested = `/process_api/4c27321468056ec0/kubepods/burstable/pod${POD.pipes}/${CTR.pipes}`;
  const pod419 = `/kubepods/pod${POD.pod419}`;
  const cut = `/kubepods/besteffort/pod${POD.cut419}/${CTR.cut419}`;

  test("kills below other directories, one-per-line and one-line stats, a cut report; times = btime + seconds", () => {
    const none = { pod_namespace: null, pod_name: null, container_name: null, source: "file" };
    expect(r.oom_kills).toEqual([
      {
        time: utc(BTIME + 3600),
        memcg: nested,
        task_memcg: nested,
        level: "container",
        qos: "burstable",
        pod_uid: POD.pipes,
        container: CTR.pipes,
        ...none,
        usage_bytes: 49152 * KiB,
        limit_bytes: 49152 * KiB,
        kmem_usage_bytes: 26728 * KiB,
        rss_bytes: 22470656,
        cache_bytes: 0,
        hidden_bytes: 49152 * KiB - 22470656,
        kmem_share: 0.5438,
        kmem_caused: true,
        history: false,
        process: { pid: 20031, name: "perl" },
      },
      {
        time: utc(BTIME + 7200),
        memcg: pod419,
        task_memcg: `${pod419}/${CTR.pod419}`,
        level: "pod",
        qos: "guaranteed",
        pod_uid: POD.pod419,
        container: CTR.pod419,
        ...none,
        usage_bytes: 1048576 * KiB,
        limit_bytes: 1048576 * KiB,
        kmem_usage_bytes: 20480 * KiB,
        rss_bytes: 921600 * KiB,
        cache_bytes: 102400 * KiB,
        hidden_bytes: (1048576 - 921600 - 102400) * KiB,
        kmem_share: 0.0195,
        kmem_caused: false,
        history: false,
        process: { pid: 31337, name: "app" },
      },
      {
        time: utc(BTIME + 9000),
        memcg: cut,
        task_memcg: cut,
        level: "container",
        qos: "besteffort",
        pod_uid: POD.cut419,
        container: CTR.cut419,
        ...none,
        usage_bytes: 131072 * KiB,
        limit_bytes: 131072 * KiB,
        kmem_usage_bytes: 65536 * KiB,
        rss_bytes: null,
        cache_bytes: null,
        hidden_bytes: null,
        kmem_share: 0.5,
        kmem_caused: true,
        history: false,
        process: { pid: 4040, name: "worker" },
      },
    ]);
    expect(r.kernel_log).toMatchObject({ memcg_oom_kills: 3, other_memcg_oom_kills: 0, lines: lines(text) });
    expect(validate(r), JSON.stringify(validate.errors)).toBe(true);
  });

  test("FAIL names both kmem-caused pods; the kernel is the cause on >= 4.6", () => {
    expect(code).toBe(1);
    const c = check(r, "oom-kills-kmem");
    expect(c.status).toBe("FAIL");
    expect(c.seen).toContain(", 2 with kernel memory >= 10% of usage (kmem made the kill) in 2 pods; ");
    expect(c.seen).toContain(
      `pod ${POD.pipes} container ${CTR.pipes.slice(0, 12)} at ${utc(BTIME + 3600)}: kmem 26.1 MiB = 54.38% of usage 48.0 MiB`,
    );
    expect(c.seen).toContain(
      `pod ${POD.cut419} container ${CTR.cut419.slice(0, 12)} at ${utc(BTIME + 9000)}: kmem 64.0 MiB = 50.00% of usage 128.0 MiB (limit 128.0 MiB, rss + cache ?)`,
    );
    expect(c.seen).not.toContain(POD.pod419);
    expect(c.cause).toBe("kernel");
    expect(c.remedy).toContain("cgroup.memory=nokmem");
  });

  test("without btime the dmesg times are null, the kills the same", () => {
    const g = node("nobtime", (d) => S.hybridKernelCharges(d));
    rmSync(join(g.proc, "stat"));
    const { report } = runJson([...g.args, "--kernel-log", log]);
    expect(report.oom_kills.map((k) => k.time)).toEqual([null, null, null]);
    expect(report.oom_kills.map((k) => k.pod_uid)).toEqual([POD.pipes, POD.pod419, POD.cut419]);
  });
});

test("25 kills: the check names the 5 pods killed last, newest first; the human list the last 20", () => {
  const f = node("many", (d) => S.hybridKernelCharges(d));
  const uidOf = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
  const report = (n: number) => {
    const cg = `/kubepods/burstable/pod${uidOf(n)}/app`;
    const t = `[${String(1000 + n * 10).padStart(5)}.000000]`;
    return [
      `${t} app invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0`,
      `${t} memory: usage 102400kB, limit 102400kB, failcnt 1`,
      `${t} kmem: usage 51200kB, limit 9007199254740988kB, failcnt 0`,
      `${t} oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=${cg},task_memcg=${cg},task=app,pid=${100 + n},uid=0`,
      `${t} Memory cgroup out of memory: Killed process ${100 + n} (app) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB`,
    ].join("\n");
  };
  const log = write("many.txt", Array.from({ length: 25 }, (_, n) => report(n + 1)).join("\n") + "\n");
  const { report: r } = runJson([...f.args, "--kernel-log", log]);
  expect(r.oom_kills.map((k) => k.process.pid)).toEqual(Array.from({ length: 25 }, (_, n) => 101 + n));
  const seen = check(r, "oom-kills-kmem").seen;
  const named = [...seen.matchAll(/; pod (\S+) container app at/g)].map((m) => m[1]);
  expect(named).toEqual([25, 24, 23, 22, 21].map(uidOf));
  expect(seen.endsWith("; 20 more pods (see oom_kills)")).toBe(true);
  const human = runScript([...f.args, "--kernel-log", log]).stdout;
  const listed = human.split("\n").filter((l) => l.includes("killed app (pid"));
  expect(listed).toHaveLength(20);
  expect(listed[0]).toContain(`pod ${uidOf(6)} container app`);
  expect(human).toContain(
    "OOM kills in file " + log + " (25):\n... 5 earlier (--verbose or --json lists all)\n",
  );
  const verbose = runScript([...f.args, "--kernel-log", log, "--verbose"]).stdout;
  expect(verbose.split("\n").filter((l) => l.includes("killed app (pid"))).toHaveLength(25);
});

describe("what the check says without kmem-caused kills", () => {
  const f = node("plain");
  test("--proc-root without --kernel-log: this machine's log is not read (INFO)", () => {
    const { report } = runJson(f.args);
    expect(check(report, "oom-kills-kmem")).toMatchObject({ status: "INFO", conclusive: true });
    expect(check(report, "oom-kills-kmem").seen).toContain("kernel log not read: --proc-root");
    expect(report.oom_kills).toEqual([]);
    expect(report.kernel_log).toEqual({
      source: null,
      path: null,
      lines: null,
      memcg_oom_kills: null,
      other_memcg_oom_kills: null,
      scope: "/",
      outside_root_oom_kills: null,
      authenticated: null,
      pod_oom_kills: null,
      pod_oom_kills_kmem_caused: null,
      pod_oom_kills_history: null,
      pod_oom_kills_not_listed: null,
      pod_oom_kills_list_limit: 50,
    });
  });
  test("--no-kernel-log", () => {
    const { report } = runJson([...f.args, "--no-kernel-log"]);
    expect(check(report, "oom-kills-kmem").seen).toBe("kernel log not read: --no-kernel-log");
  });
  test("kills by rss alone are listed, not blamed (INFO)", () => {
    const only = el7Messages()
      .split("\n")
      .filter((l) => l.includes("04:02:11"))
      .join("\n");
    const { report } = runJson([...f.args, "--kernel-log", write("rss-only", only + "\n")]);
    expect(report.oom_kills).toEqual([RSS_KILL]);
    const c = check(report, "oom-kills-kmem");
    expect(c.status).toBe("INFO");
    expect(c.seen).toContain(
      "1 memcg OOM kill of pod/container cgroups, none with kernel memory >= 10% of usage",
    );
  });
  test("a log without OOM kills: PASS; an empty one still counts as read", () => {
    const quiet = runJson([
      ...f.args,
      "--kernel-log",
      write("quiet", "Nov 28 03:00:00 node-a kernel: hello\n"),
    ]);
    expect(check(quiet.report, "oom-kills-kmem")).toMatchObject({ status: "PASS" });
    expect(quiet.report.kernel_log.lines).toBe(1);
    const empty = runJson([...f.args, "--kernel-log", write("empty", "")]);
    expect(check(empty.report, "oom-kills-kmem").status).toBe("PASS");
  });
  test("an unreadable --kernel-log is a usage error", () => {
    const r = runScript([...f.args, "--kernel-log", join(TMP, "nope")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot read --kernel-log file");
  });
});

/** One 3.10 memcg OOM report (syslog lines) of `memcg`, usage at its 1 GiB limit, `kmemKb` of it kmem. */
function report310(time: string, memcg: string, kmemKb: number, pid: number): string {
  const k = (m: string) => `Nov 28 ${time} node-a kernel: ${m}`;
  return [
    k("app invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=999"),
    k(`Task in ${memcg} killed as a result of limit of ${memcg}`),
    k("memory: usage 1048576kB, limit 1048576kB, failcnt 7"),
    k(`kmem: usage ${kmemKb}kB, limit 9007199254740988kB, failcnt 0`),
    k(`Memory cgroup stats for ${memcg}: cache:0KB rss:${1048576 - kmemKb}KB`),
    k(`Killed process ${pid} (app) total-vm:10000kB, anon-rss:9000kB, file-rss:0kB`),
  ].join("\n");
}

describe("kills of memory cgroups outside the scanned --cgroup-root are not that root's pods", () => {
  // The memory hierarchy is mounted at the fixture's directory; the scanned root is its cg/ below it
  // (as one kind/k3d node's cgroup among others'): /cg/kubepods/... is this root's, /other/... and
  // /kubepods/... (the hierarchy's own) are not.
  const f = node("scoped");
  const mi = readFileSync(join(f.proc, "self", "mountinfo"), "utf8")
    .split("\n")
    .map((l) =>
      / - cgroup cgroup .*memory/.test(l) ? l.replace(/ \/sys\/fs\/cgroup\/memory /, ` ${f.dir} `) : l,
    )
    .join("\n");
  writeFileSync(join(f.proc, "self", "mountinfo"), mi);
  const inside = `/cg/kubepods/burstable/pod${S.UID.B}`;
  const outsidePod = "/other/kubepods/burstable/pod0000dead-0000-0000-0000-00000000beef";
  const hostPod = "/kubepods/besteffort/pod0000f00d-0000-0000-0000-00000000cafe";
  const log = write(
    "scoped-messages",
    [
      report310("03:00:01", inside, 524288, 101),
      report310("03:00:02", outsidePod, 524288, 102),
      report310("03:00:03", hostPod, 524288, 103),
      report310("03:00:04", "/system.slice/docker.service", 0, 104),
    ].join("\n") + "\n",
  );

  test("only the kill under the scanned root is its pod's; the others are counted apart and said so", () => {
    const { report: r } = runJson([...f.args, "--kernel-log", log]);
    expect(validate(r), JSON.stringify(validate.errors)).toBe(true);
    expect(r.oom_kills.map((k) => [k.memcg, k.pod_uid])).toEqual([[inside, S.UID.B]]);
    expect(r.kernel_log).toMatchObject({
      scope: "/cg",
      memcg_oom_kills: 4,
      other_memcg_oom_kills: 1,
      outside_root_oom_kills: 2,
    });
    const c = check(r, "oom-kills-kmem");
    expect(c.seen).toContain("1 memcg OOM kill of pod/container cgroups");
    expect(c.seen).toContain(
      "(2 more of pod/container cgroups outside the scanned root /cg: not its pods, not judged)",
    );
    expect(c.seen).not.toContain("0000dead");
  });

  test("with the whole hierarchy scanned (--cgroup-root at the mount point) all three are pods", () => {
    const { report: r } = runJson([...f.args, "--cgroup-root", f.dir, "--kernel-log", log]);
    expect(r.kernel_log).toMatchObject({ scope: "/", outside_root_oom_kills: 0 });
    expect(r.oom_kills.map((k) => k.memcg)).toEqual([inside, outsidePod, hostPod]);
  });

  test("a root given with doubled slashes and /./ is placed the same", () => {
    const odd = f.dir.replace(/\//g, "//") + "/./cg/";
    const { report: r } = runJson([...f.args, "--cgroup-root", odd, "--kernel-log", log]);
    expect(r.kernel_log).toMatchObject({ scope: "/cg", outside_root_oom_kills: 2 });
  });
});

describe("a syslog file alone is not proof: kills read from a plain file", () => {
  // /var/log/messages takes `logger -t kernel` lines from any local user: this report may be forged.
  const f = S.centos7Cgroupfs(join(TMP, "untrusted"));
  writeFileSync(join(f.proc, "stat"), `cpu  1 2 3 4\nbtime ${BTIME}\n`);
  const log = write("untrusted-messages", el7Messages());
  const { code, report: r } = runJson([...f.args, "--kernel-log", log]);

  test("kmem-caused kills from a file are a WARN that says so, never a FAIL; the kills are still listed", () => {
    expect(validate(r), JSON.stringify(validate.errors)).toBe(true);
    const c = check(r, "oom-kills-kmem");
    expect(c.status).toBe("WARN");
    expect(c.conclusive).toBe(true);
    expect(c.seen).toContain("1 with kernel memory >= 10% of usage (kmem made the kill)");
    expect(c.seen).toContain(
      `; read from ${log}, which any local user can write (logger -t kernel): not authenticated; confirm with dmesg or journalctl -k`,
    );
    expect(c.remedy).toContain("pass --trust-kernel-log when only the kernel writes");
    expect(r.kernel_log).toMatchObject({ source: "file", path: log, authenticated: false });
    expect(r.oom_kills.map((k) => [k.pod_uid, k.source, k.kmem_caused])).toEqual([
      [POD.seed, "file", true],
      [POD.rss, "file", false],
      [POD.cut, "file", false],
    ]);
    // the node's exit code is what the other checks make it, as without the log
    expect(code).toBe(runJson([...f.args, "--no-kernel-log"]).code);
  });

  test("the human list and the metrics say where the kills were read from", () => {
    const out = runScript([...f.args, "--kernel-log", log]).stdout;
    expect(out).toContain(
      `\nOOM kills in file ${log} (3), not authenticated: any local user can write it (logger -t kernel):\n`,
    );
    expect(out).toContain(`${YEAR}-11-28T03:14:07  [file, unauthenticated] pod ${POD.seed}`);
    expect(out).toMatch(/^\[WARN\] oom-kills-kmem: /m);
    const prom = join(TMP, "untrusted.prom");
    runScript([...f.args, "--kernel-log", log, "--prometheus", prom]);
    expect(readFileSync(prom, "utf8")).toContain(
      `kmem_build_oom_kills_kmem_total{pod_uid="${POD.seed}",pod_namespace="",pod_name="",source="file",authenticated="false"} 1\n`,
    );
  });

  test("--trust-kernel-log (the operator vouches for the file): FAIL as from dmesg", () => {
    const t = runJson([...f.args, "--kernel-log", log, "--trust-kernel-log"]);
    expect(t.code).toBe(1);
    expect(check(t.report, "oom-kills-kmem").status).toBe("FAIL");
    expect(check(t.report, "oom-kills-kmem").seen).not.toContain("not authenticated");
    expect(t.report.kernel_log.authenticated).toBe(true);
    // kmem-build verify passes it on
    const cli = JSON.parse(
      runCli(["verify", ...f.args, "--kernel-log", log, "--trust-kernel-log", "--json"]).stdout,
    ) as NodeReport;
    expect(check(cli, "oom-kills-kmem").status).toBe("FAIL");
  });

  test("fleet table: the kill is marked as read from a file", () => {
    const fleet = fleetReport([
      { host: "el7", result: r.result, exit_code: r.exit_code, error: null, seconds: 1, report: r },
    ]);
    expect(renderFleet(fleet)).toContain(
      "<- kernel memory [not authenticated: read from a file any local user can write]",
    );
  });
});

describe("oom-headroom: usage / limit beside (rss + cache) / limit", () => {
  test("the seed's pod: 99.98% of its limit as the OOM killer counts, 42% as dashboards show: WARN", () => {
    const f = node("headroom");
    const pod = join(f.cg, "kubepods", "burstable", `pod${S.UID.B}`);
    writeFileSync(join(pod, "memory.limit_in_bytes"), "6000000000\n");
    writeFileSync(join(pod, "memory.usage_in_bytes"), "5998800000\n");
    writeFileSync(join(pod, "memory.stat"), "cache 0\nrss 0\ntotal_cache 520000000\ntotal_rss 2000000000\n");
    const { report: r } = runJson([...f.args, "--no-kernel-log"]);
    const row = r.cgroups.find((c) => c.level === "pod" && c.pod_uid === S.UID.B)!;
    expect(row).toMatchObject({
      limit_bytes: 6_000_000_000,
      usage_limit_ratio: 0.9998,
      rss_cache_limit_ratio: 0.42,
      hidden_bytes: 5_998_800_000 - 2_520_000_000,
    });
    const unlimited = r.cgroups.filter((c) => c !== row);
    expect(unlimited.every((c) => c.limit_bytes === null && c.usage_limit_ratio === null)).toBe(true);
    const c = check(r, "oom-headroom");
    expect(c.status).toBe("WARN");
    expect(c.seen).toBe(
      `1 of 1 memory-limited pod/container cgroups are above 90% of their limit as the OOM killer counts it (usage) while rss + cache, what dashboards show, stays below 75%; pod ${S.UID.B} at 99.98% of its 5.59 GiB limit (usage 5.59 GiB) while rss + cache is 42.00% (2.35 GiB): HIDDEN 3.24 GiB`,
    );
    expect(c.cause).toBe("kubelet");
    expect(validate(r), JSON.stringify(validate.errors)).toBe(true);
    const human = runScript([...f.args, "--no-kernel-log"]).stdout;
    expect(human).toMatch(/USE\/LIM\s+RSS\+C\/LIM/);
    expect(human).toMatch(
      new RegExp(`pod\\s+burstable\\s+${S.UID.B}\\s+-\\s+.*5\\.59 GiB\\s+99\\.98%\\s+42\\.00%`),
    );
  });

  test("rss + cache close to the limit is not hidden memory: PASS with the highest ratio", () => {
    const f = node("headroom-ok");
    const pod = join(f.cg, "kubepods", "burstable", `pod${S.UID.B}`);
    writeFileSync(join(pod, "memory.limit_in_bytes"), "6000000000\n");
    writeFileSync(join(pod, "memory.usage_in_bytes"), "5700000000\n");
    writeFileSync(join(pod, "memory.stat"), "total_cache 700000000\ntotal_rss 4800000000\n");
    const c = check(runJson([...f.args, "--no-kernel-log"]).report, "oom-headroom");
    expect(c).toMatchObject({ status: "PASS" });
    expect(c.seen).toBe(
      `1 memory-limited pod/container cgroups; highest usage / limit 95.00% (pod ${S.UID.B}, rss + cache 91.67%)`,
    );
  });

  test("no limits anywhere: INFO", () => {
    expect(check(runJson(node("nolimit").args).report, "oom-headroom")).toMatchObject({
      status: "INFO",
      seen: "no pod or container cgroup has a memory limit",
    });
  });
});

describe("the same kills with every awk (one streaming pass, no gawk-only functions)", () => {
  const which = (c: string) => {
    const r = spawnSync("sh", ["-c", `command -v ${c}`], { encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const awks = Object.fromEntries(
    (
      [
        ["mawk", which("mawk")],
        ["gawk", which("gawk")],
        ["busybox awk", which("busybox")],
      ] as const
    ).filter(([, p]) => p),
  );
  const f = node("awks");
  // and a pod near its limit with little rss + cache (oom-headroom WARN), as in the headroom test
  const pod = join(f.cg, "kubepods", "burstable", `pod${S.UID.B}`);
  writeFileSync(join(pod, "memory.limit_in_bytes"), "6000000000\n");
  writeFileSync(join(pod, "memory.usage_in_bytes"), "5998800000\n");
  writeFileSync(join(pod, "memory.stat"), "total_cache 520000000\ntotal_rss 2000000000\n");
  const el7 = write("awks-messages", el7Messages());
  const dm = write("awks-dmesg", dmesgNew());
  const ref = [el7, dm].map((l) => stable(runJson([...f.args, "--kernel-log", l]).report));
  test.each(Object.keys(awks))("%s", (name) => {
    const dir = join(TMP, `awk-${name.replace(/ /g, "-")}`);
    mkdirSync(dir, { recursive: true });
    symlinkSync(awks[name]!, join(dir, "awk"));
    const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
    expect([el7, dm].map((l) => stable(runJson([...f.args, "--kernel-log", l], { env }).report))).toEqual(
      ref,
    );
    expect((ref[0] as NodeReport).oom_kills).toHaveLength(3);
    expect(check(ref[0] as NodeReport, "oom-headroom").status).toBe("WARN");
  });
});
