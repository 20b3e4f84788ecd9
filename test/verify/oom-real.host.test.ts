/**
 * A real memcg OOM kill on this kernel, caused by kernel memory, and verify's report of it from the real
 * dmesg. A pod-shaped memcg (kubepods/burstable/pod<uid>/<container>) is made under the test's own memory
 * cgroup and limited to 48 MiB; its only process (perl, oom_score_adj raised to 1000) holds ~26 MB of
 * kernel memory in filled pipe buffers, then allocates anonymous memory until the kernel kills it
 * (docs/domain.md, "Kernel OOM reports"). Nothing outside that memcg can be chosen by its OOM killer. Everything is removed
 * in afterAll, also on failure.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { NodeReport, OomKill } from "../../src/verify/report.js";
import { runCli, runJson, runScript } from "./helpers/run-script.js";

/** Our own cgroup in the v1 memory hierarchy (from mountinfo and /proc/self/cgroup), if it has kmem files. */
function ownMemoryCgroup(): string | null {
  try {
    let mount: string | null = null;
    for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
      const f = line.split(" ");
      const dash = f.indexOf("-");
      if (dash > 0 && f[dash + 1] === "cgroup" && f[dash + 3]!.split(",").includes("memory") && f[3] === "/")
        mount = f[4]!;
    }
    const rel = readFileSync("/proc/self/cgroup", "utf8")
      .split("\n")
      .map((l) => l.split(":"))
      .find((p) => p[1]?.split(",").includes("memory"))?.[2];
    if (!mount || rel === undefined) return null;
    const own = join(mount, rel);
    return existsSync(join(own, "memory.kmem.usage_in_bytes")) ? own : null;
  } catch {
    return null;
  }
}

const OWN = ownMemoryCgroup();
const HAVE_PERL = spawnSync("perl", ["-e", "exit 0"]).status === 0;
const HAVE_DMESG = (spawnSync("dmesg", [], { encoding: "utf8" }).stdout ?? "").length > 0;
const MiB = 1 << 20;
const LIMIT = 48 * MiB;
const PIPES_MB = 26;
const UID = randomUUID();
const CTR_NAME = `oom-${process.pid}`;
const ROOT = OWN ? join(OWN, `kmem-oom-test-${process.pid}`) : "";
const POD = join(ROOT, "kubepods", "burstable", `pod${UID}`);
const CTR = join(POD, CTR_NAME);

/**
 * Holds PIPES_MB MiB in pipe buffers (F_SETPIPE_SZ = 1031 to 1 MiB each, filled without blocking), says so,
 * then allocates 1 MiB strings until killed.
 */
const EATER = String.raw`
use strict; use Fcntl;
my $want = $ARGV[0] * 1048576; my $held = 0; my @keep; my $blk = "x" x 4096;
while ($held < $want) {
  pipe(my $r, my $w) or die "pipe: $!";
  fcntl($w, 1031, 1048576);
  fcntl($w, F_SETFL, fcntl($w, F_GETFL, 0) | O_NONBLOCK);
  while ($held < $want) { my $n = syswrite($w, $blk); last unless $n; $held += $n }
  push @keep, $r, $w;
}
$| = 1; print "held $held\n";
my @anon; while (1) { push @anon, "y" x 1048576 }
`;

let child: ChildProcess | null = null;
let exit: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
let held = 0;
let startedAt = 0;
let endedAt = 0;

/** Moves any process left out of the test tree, then removes it bottom-up. */
function cleanup(): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  if (!ROOT || !existsSync(ROOT)) return;
  const dirs: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    dirs.push(d);
  };
  walk(ROOT);
  for (const d of dirs)
    for (const pid of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
      try {
        writeFileSync(join(OWN!, "cgroup.procs"), pid);
      } catch {
        /* already gone */
      }
    }
  for (const d of dirs)
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(d);
        break;
      } catch {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // a killed process may still be leaving
      }
    }
}

const kernel = (f: string) => readFileSync(join(CTR, f), "utf8");

describe.skipIf(!OWN || !HAVE_PERL || !HAVE_DMESG)("a real memcg OOM kill caused by kernel memory", () => {
  beforeAll(async () => {
    mkdirSync(CTR, { recursive: true });
    writeFileSync(join(POD, "memory.limit_in_bytes"), String(64 * MiB));
    writeFileSync(join(CTR, "memory.limit_in_bytes"), String(LIMIT));
    startedAt = Date.now();
    // The shell joins the container memcg and makes itself the OOM killer's first choice, then becomes perl.
    child = spawn(
      "sh",
      [
        "-c",
        'echo $$ > "$1/cgroup.procs" && echo 1000 > /proc/self/oom_score_adj && exec perl -e "$2" "$3"',
        "sh",
        CTR,
        EATER,
        String(PIPES_MB),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    child.stdout!.on("data", (d: Buffer) => {
      const m = /held (\d+)/.exec(d.toString());
      if (m) held = Number(m[1]);
    });
    exit = await new Promise((res) => child!.on("exit", (code, signal) => res({ code, signal })));
    endedAt = Date.now();
  }, 120_000);
  afterAll(cleanup);

  let report: NodeReport;
  let code: number | null;
  let kill: OomKill | undefined;

  test("the kernel killed our process for the memcg's limit, holding the pipe buffers", () => {
    expect(held).toBeGreaterThanOrEqual(PIPES_MB * MiB);
    expect(exit.signal).toBe("SIGKILL");
    const oomControl = kernel("memory.oom_control");
    if (/^oom_kill /m.test(oomControl)) expect(oomControl).toMatch(/^oom_kill 1$/m); // the kernel's own count (>= 4.13)
    // the memcg reached its limit (a huge page's charge may fail up to 2 MiB below it)
    expect(Number(kernel("memory.max_usage_in_bytes"))).toBeGreaterThan(LIMIT - 2 * MiB);
    expect(Number(kernel("memory.max_usage_in_bytes"))).toBeLessThanOrEqual(LIMIT);
  });

  test("verify reads dmesg and reports the kill with the kernel's usage, limit and kmem", () => {
    ({ code, report } = runJson(["--no-binaries"]));
    kill = report.oom_kills.find((k) => k.pod_uid === UID);
    expect(report.kernel_log.source).toBe("dmesg");
    expect(kill, JSON.stringify(report.oom_kills)).toBeDefined();
    const k = kill!;
    expect(report.oom_kills.filter((x) => x.pod_uid === UID)).toHaveLength(1);
    expect(k).toMatchObject({
      level: "container",
      qos: "burstable",
      container: CTR_NAME,
      limit_bytes: LIMIT,
      kmem_caused: true,
      process: { pid: child!.pid, name: "perl" },
    });
    expect(k.memcg.endsWith(`/kubepods/burstable/pod${UID}/${CTR_NAME}`)).toBe(true);
    expect(k.task_memcg).toBe(k.memcg);
    // at the kill: usage at the limit, most of it kernel memory (the pipes), the rest anonymous memory
    expect(k.usage_bytes!).toBeGreaterThan(LIMIT - 2 * MiB);
    expect(k.usage_bytes!).toBeLessThanOrEqual(LIMIT);
    expect(k.kmem_usage_bytes!).toBeGreaterThanOrEqual(PIPES_MB * MiB * 0.95);
    expect(k.kmem_usage_bytes!).toBeLessThanOrEqual(Number(kernel("memory.kmem.max_usage_in_bytes")));
    expect(k.rss_bytes! + k.cache_bytes! + k.kmem_usage_bytes!).toBeLessThanOrEqual(k.usage_bytes! + 2 * MiB);
    expect(k.kmem_share!).toBeGreaterThan(0.4);
    // dmesg's seconds since boot, converted with btime: the wall clock of the kill (the kernel's clock
    // may drift from the wall clock over a long uptime, so a minute either way; unconverted seconds
    // since boot would be decades off)
    const t = Date.parse(k.time!);
    expect(k.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(t).toBeGreaterThanOrEqual(startedAt - 60_000);
    expect(t).toBeLessThanOrEqual(endedAt + 60_000);
  });

  test("oom-kills-kmem FAILs for the pod, with the share and the fix; the row shows the limit", () => {
    expect(code).toBe(1);
    const c = report.checks.find((x) => x.id === "oom-kills-kmem")!;
    expect(c.status).toBe("FAIL");
    expect(c.seen).toContain(`pod ${UID} container ${CTR_NAME} at ${kill!.time}: kmem `);
    expect(c.remedy).not.toBe("");
    const row = report.cgroups.find((r) => r.pod_uid === UID && r.container === CTR_NAME)!;
    expect(row.limit_bytes).toBe(LIMIT);
    expect(report.cgroups.find((r) => r.pod_uid === UID && r.level === "pod")!.limit_bytes).toBe(64 * MiB);
  });

  test("the human report and kmem-build verify (JSON, JUnit) carry the same kill", () => {
    const human = runScript(["--no-binaries"]).stdout;
    const lines = human.split("\n").filter((l) => l.includes(UID) || l.startsWith("[FAIL] oom-kills-kmem"));
    expect(lines.some((l) => l.endsWith("<- kernel memory"))).toBe(true);
    // the real output, for the README's walk-through
    console.log(`real kill, verify's own words:\n${human}\n${JSON.stringify(kill, null, 2)}`);
    const cli = runCli(["verify", "--no-binaries", "--json"]);
    expect(cli.code).toBe(1);
    const viaCli = (JSON.parse(cli.stdout) as NodeReport).oom_kills.find((k) => k.pod_uid === UID);
    expect(viaCli).toEqual(kill);
    const junit = join(tmpdir(), `oom-junit-${process.pid}.xml`);
    try {
      expect(runCli(["verify", "--no-binaries", "--junit", junit]).code).toBe(1);
      const xml = readFileSync(junit, "utf8");
      expect(xml).toMatch(/<testcase classname="[^"]*" name="oom-kills-kmem" time="0">\n {6}<failure /);
      expect(xml).toContain(`pod ${UID} container ${CTR_NAME}`);
    } finally {
      rmSync(junit, { force: true });
    }
  });
});
