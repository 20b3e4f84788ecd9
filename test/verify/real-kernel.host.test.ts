/**
 * The script on this machine's real cgroup v1 memory hierarchy: a kubepods-shaped tree is made under the
 * test's own memory cgroup, a child process charges kernel memory in a pod's container cgroup, and the
 * script must report the kernel's own counters. Everything is removed in afterAll, also on failure.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { CgroupRow, NodeReport } from "../../src/verify/report.js";
import { SCRIPT, runJson } from "./helpers/run-script.js";
import { HAVE_STRACE, straceRun } from "./helpers/strace.js";

/** The memory controller's v1 mount point, from mountinfo (not assumed), and our cgroup in it. */
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
      .find((p) => p[1]!.split(",").includes("memory"))?.[2];
    if (!mount || rel === undefined) return null;
    const own = join(mount, rel);
    return existsSync(join(own, "memory.kmem.usage_in_bytes")) ? own : null;
  } catch {
    return null;
  }
}

const OWN = ownMemoryCgroup();
const UID_BUSY = randomUUID();
const UID_EMPTY = randomUUID();
const ROOT = OWN ? join(OWN, `kmem-verify-test-${process.pid}`) : "";
const BURST = join(ROOT, "kubepods", "burstable");
const POD = join(BURST, `pod${UID_BUSY}`);
const BUSY = join(POD, "ctr-busy");
const IDLE = join(POD, "ctr-idle");
const EMPTY_POD = join(ROOT, "kubepods", "besteffort", `pod${UID_EMPTY}`);
const FILES = 6000;
const read = (cg: string, f: string) => Number(readFileSync(join(cg, f), "utf8").trim());
const cmdline = readFileSync("/proc/cmdline", "utf8");
const [maj, min] = readFileSync("/proc/sys/kernel/osrelease", "utf8").split(".").map(Number);
const kernelCharges = !/cgroup\.memory=\S*nokmem/.test(cmdline) && (maj! > 4 || (maj === 4 && min! >= 6));

let child: ChildProcess | null = null;
let work = "";

/** Moves every process out of the test tree, then removes it bottom-up. */
function cleanup(): void {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  if (work) rmSync(work, { recursive: true, force: true });
  if (!ROOT || !existsSync(ROOT)) return;
  const dirs: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    dirs.push(d);
  };
  walk(ROOT);
  for (const d of dirs) {
    for (const pid of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
      try {
        writeFileSync(join(OWN!, "cgroup.procs"), pid);
      } catch {
        /* already gone */
      }
    }
  }
  for (const d of dirs) {
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(d);
        break;
      } catch {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // a killed process may still be leaving
      }
    }
  }
}

describe.skipIf(!OWN)("real cgroup v1 memory hierarchy of this kernel", () => {
  beforeAll(async () => {
    for (const d of [BUSY, IDLE, EMPTY_POD]) mkdirSync(d, { recursive: true });
    work = mkdtempSync(join(tmpdir(), "verify-kmem-files-"));
    // The child joins the container cgroup, creates files (dentries and inodes: kernel memory), then idles.
    child = spawn(
      "sh",
      [
        "-c",
        'echo $$ > "$1/cgroup.procs" && cd "$2" && i=0 && while [ $i -lt "$3" ]; do : > "f$i"; i=$((i+1)); done && echo ready && read x',
        "sh",
        BUSY,
        work,
        String(FILES),
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    await new Promise<void>((res, rej) => {
      child!.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && res());
      child!.on("exit", (c) => rej(new Error(`charging child exited ${c}`)));
    });
  }, 120_000);
  afterAll(cleanup);

  /** Runs the script and reads the kernel's counter right after; retried if the counter moved meanwhile. */
  function runAndRead(args: string[]): {
    code: number | null;
    report: NodeReport;
    row: (p: string) => CgroupRow;
    kernelKmem: number;
  } {
    for (let attempt = 1; ; attempt++) {
      const { code, report } = runJson(args);
      const kernelKmem = read(BUSY, "memory.kmem.usage_in_bytes");
      const row = (p: string) => {
        const r = report.cgroups.find((c) => p.endsWith(c.path) && c.path.length > 0);
        expect(r, `no row for ${p}`).toBeDefined();
        return r!;
      };
      if (row(BUSY).kmem_usage_bytes === kernelKmem || attempt === 3)
        return { code, report, row, kernelKmem };
    }
  }

  test.each([
    ["the memory mount found in mountinfo (kubepods under the test's cgroup)", [] as string[]],
    ["--cgroup-root at the test's subtree", ["--cgroup-root", "<ROOT>"]],
  ])("kmem charged in a pod: FAIL, with the kernel's own numbers (%s)", (_name, extra) => {
    const { code, report, row, kernelKmem } = runAndRead([
      "--no-binaries",
      ...extra.map((a) => (a === "<ROOT>" ? ROOT : a)),
    ]);
    expect(code).toBe(1);
    expect(report.node.memory_controller).toBe("v1");
    expect(report.node.cgroup_driver).toBe("cgroupfs");
    const busy = row(BUSY);
    expect(busy).toMatchObject({
      level: "container",
      qos: "burstable",
      pod_uid: UID_BUSY,
      container: "ctr-busy",
    });
    expect(busy.kmem_usage_bytes).toBe(kernelKmem);
    expect(kernelKmem).toBeGreaterThan(1 << 20); // thousands of inodes and dentries
    // usage ≈ rss + cache + kmem: usage_in_bytes includes charges precharged per CPU in batches of 64
    // pages (MEMCG_CHARGE_BATCH), so allow two batches per CPU
    const slack = 2 * 64 * 4096 * cpus().length + (256 << 10);
    const { usage_bytes: u, total_rss_bytes: rss, total_cache_bytes: cache } = busy;
    expect(Math.abs(u! - (rss! + cache! + kernelKmem))).toBeLessThanOrEqual(slack);
    expect(busy.hidden_bytes).toBe(u! - (rss! + cache!));
    expect(busy.hidden_bytes!).toBeGreaterThanOrEqual(kernelKmem - slack);
    // hierarchical: the pod carries its container's charge; the idle container and the empty pod read 0
    expect(row(POD).kmem_usage_bytes!).toBeGreaterThanOrEqual(kernelKmem);
    expect(row(IDLE).kmem_usage_bytes).toBe(0);
    expect(row(EMPTY_POD)).toMatchObject({
      level: "pod",
      qos: "besteffort",
      kmem_usage_bytes: 0,
      usage_bytes: 0,
    });
    const pod = report.checks.find((c) => c.id === "pod-cgroups-kmem")!;
    expect(pod.status).toBe("FAIL");
    expect(pod.cause).toBe(kernelCharges ? "kernel" : "kubelet");
    if (kernelCharges) expect(report.checks.find((c) => c.id === "kernel-kmem-policy")!.status).toBe("WARN");
  });

  test("the whole hierarchy is compared with /proc/cgroups only when all of it is scanned", () => {
    const whole = runJson(["--no-binaries"]).report.memcgs;
    expect(whole.compared).toBe(true);
    expect(whole.directories!).toBeGreaterThanOrEqual(8);
    expect(whole.num_cgroups!).toBeGreaterThanOrEqual(whole.directories! - 50); // cgroups come and go meanwhile
    const sub = runJson(["--no-binaries", "--cgroup-root", ROOT]).report.memcgs;
    expect(sub).toMatchObject({ compared: false, leaked: null, directories: 8 });
  });

  test.skipIf(!HAVE_STRACE)("never writes under the cgroup filesystem (strace of every file syscall)", () => {
    const t = straceRun(
      ["dash", SCRIPT, "--json", "--no-binaries", "--duration", "2", "--interval", "1"],
      "/sys/fs/cgroup",
    );
    expect(t.code).toBe(1);
    expect(t.lines.length).toBeGreaterThan(20); // it did read the counters
    expect(t.lines.some((l) => l.includes("ctr-busy/memory.kmem.usage_in_bytes"))).toBe(true);
    expect(t.writes).toEqual([]);
  });
});
