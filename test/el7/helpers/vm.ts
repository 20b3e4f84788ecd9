/**
 * Boots the real EL7 kernels kept beside the clone (`../shared/el7-kernel/`, its README) under
 * qemu-system-x86_64 (software emulation) with their own run-vm.sh, and runs a script as root inside:
 * the shipped verify-kmem.sh, the node library (node.sh) and whatever files a test copies in.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fakeGoBinary } from "../../verify/helpers/binaries.js";
import { REPO, SCRIPT } from "../../verify/helpers/run-script.js";
import type { NodeReport } from "../../../src/verify/report.js";

export const KERNEL_DIR = process.env.KMEM_BUILD_EL7_KERNEL_DIR ?? resolve(REPO, "../shared/el7-kernel");
/** CentOS/RHEL 7.9 and 7.3 (README: which kernel is which). */
export const K79 = join(KERNEL_DIR, "bzImage-3.10.0-1160.el7.x86_64");
export const K73 = join(KERNEL_DIR, "bzImage-3.10.0-514.el7.x86_64");
export const NODE_SH = join(REPO, "test/el7/vm/node.sh");

function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Why the tier cannot run here, or null when it can. */
export function unavailable(): string | null {
  if (!existsSync(join(KERNEL_DIR, "run-vm.sh")))
    return `no EL7 kernels at ${KERNEL_DIR} (../shared/el7-kernel beside the clone)`;
  for (const k of [K79, K73]) if (!existsSync(k)) return `${k} is missing`;
  if (!onPath("qemu-system-x86_64")) return "qemu-system-x86_64 is not installed (scripts/setup-system.sh)";
  if (!onPath("busybox")) return "busybox is not installed (scripts/setup-system.sh: busybox-static)";
  return null;
}

/** bash and gawk with their shared libraries, as EL7 has them: copied into the VM when this machine has them. */
export function gnuPair(): string[] {
  const files = new Set<string>();
  for (const tool of ["bash", "gawk"]) {
    const p = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
    if (!p) return [];
    files.add(p);
    const ldd = spawnSync("ldd", [p], { encoding: "utf8" });
    if (ldd.status !== 0) return [];
    for (const m of ldd.stdout.matchAll(/(\/\S+)/g)) files.add(m[1]!);
  }
  return [...files];
}

export interface VmRun {
  /** exit code of the script inside the VM (null: the VM did not reach its end). */
  rc: number | null;
  /** the script's output (between the run-vm.sh markers), CR removed. */
  out: string;
  /** the whole serial console. */
  console: string;
  seconds: number;
  uname: string | null;
}

/**
 * Boots `kernel` with `cmdline`, runs `script` (sh) after node.sh is sourced, with verify-kmem.sh,
 * node.sh and `files` in /root. `env` is prepended as shell assignments.
 */
export async function runVm(o: {
  kernel: string;
  cmdline?: string;
  script: string;
  files?: string[];
  env?: Record<string, string>;
  timeoutS?: number;
}): Promise<VmRun> {
  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "el7-vm-"));
  try {
    const vars = Object.entries(o.env ?? {})
      .map(([k, v]) => `${k}='${v.replace(/'/g, "'\\''")}'\n`)
      .join("");
    const script = join(dir, "run.sh");
    writeFileSync(script, `${vars}. /root/node.sh\n${o.script}\n`);
    const started = Date.now();
    const child = spawn(
      "sh",
      [join(KERNEL_DIR, "run-vm.sh"), o.kernel, o.cmdline ?? "", script, SCRIPT, NODE_SH, ...(o.files ?? [])],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, TMPDIR: dir, TIMEOUT: String(o.timeoutS ?? 540) },
      },
    );
    const chunks: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => chunks.push(d));
    child.stderr.on("data", (d: Buffer) => chunks.push(d));
    await new Promise<void>((res) => child.on("close", () => res()));
    const text = Buffer.concat(chunks).toString("utf8").replace(/\r/g, "");
    // KMEM_BUILD_EL7_CONSOLES=DIR keeps every console (for reading a failure)
    const keep = process.env.KMEM_BUILD_EL7_CONSOLES;
    if (keep) writeFileSync(join(keep, `${Date.now()}-${process.pid}.log`), `${o.script}\n----\n${text}`);
    const m = /\n=== BEGIN SCRIPT\n([\s\S]*?)\n?=== END SCRIPT rc=(\d+)/.exec(text);
    const u = /=== EL7 VM BOOTED .* uname-r=(\S+)/.exec(text);
    return {
      rc: m ? Number(m[2]) : null,
      out: m ? m[1]! : "",
      console: text,
      seconds: (Date.now() - started) / 1000,
      uname: u ? u[1]! : null,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One verify-kmem.sh run inside the VM (node.sh's `verify`): its JSON report, exit code, kured exit. */
export interface VmVerdict {
  label: string;
  shell: string;
  code: number;
  reboot: number;
  /** bytes --reboot-required printed (kured wants none). */
  rebootOutput: number;
  report: NodeReport;
  /** the human report (busybox only). */
  human: string;
}

/** The verdicts a VM run printed (node.sh's `verify`), in order. */
export function verdicts(run: VmRun): VmVerdict[] {
  const out: VmVerdict[] = [];
  for (const block of run.out.split(/^@@VERIFY /m).slice(1)) {
    const [head, ...rest] = block.split("\n");
    const [label, shell] = head!.split(" ");
    const body = rest.join("\n");
    const h = /^([\s\S]*?)@@HUMAN rc=(\d+)\n/.exec(body);
    const j = /@@JSON\n([\s\S]*?)\n?@@JSON rc=(\d+)\n@@REBOOT rc=(\d+) bytes=(\d+)/.exec(body);
    if (!j) throw new Error(`${label} (${shell}): no JSON report:\n${body}`);
    let report: NodeReport;
    try {
      report = JSON.parse(j[1]!) as NodeReport;
    } catch (err) {
      throw new Error(`${label} (${shell}): not JSON: ${(err as Error).message}\n${j[1]}`);
    }
    if (h && h[2] !== j[2])
      throw new Error(`${label} (${shell}): the human report exited ${h[2]}, --json ${j[2]}`);
    out.push({
      label: label!,
      shell: shell!,
      code: Number(j[2]),
      reboot: Number(j[3]),
      rebootOutput: Number(j[4]),
      report,
      human: h ? h[1]! : "",
    });
  }
  return out;
}

/** `@@KEY value` lines the VM script printed (node.sh's `say`), by key; the last wins. */
export function said(run: VmRun): Record<string, string> {
  const r: Record<string, string> = {};
  for (const m of run.out.matchAll(/^@@SAY (\S+) ?(.*)$/gm)) r[m[1]!] = m[2]!;
  return r;
}

/** The verdict table the tier prints at the end (the note of a CI run). */
export const RECORD: {
  state: string;
  kernel: string;
  fix_state: string;
  exit: number;
  reboot: number;
  shells: string;
}[] = [];

export function record(state: string, v: VmVerdict[], kernel: string): void {
  const first = v[0]!;
  RECORD.push({
    state,
    kernel,
    fix_state: first.report.fix_state,
    exit: first.code,
    reboot: first.reboot,
    shells: v.map((x) => x.shell).join(", "),
  });
}

export function printRecord(title: string): void {
  if (RECORD.length === 0) return;
  const lines = RECORD.map(
    (r) =>
      `  ${r.state.padEnd(50)} ${r.kernel.padEnd(24)} ${r.fix_state.padEnd(12)} exit ${r.exit}  --reboot-required ${r.reboot}  (${r.shells})`,
  );
  console.log(`${title}\n${lines.join("\n")}`);
}

export function readText(p: string): string {
  return readFileSync(p, "utf8");
}

/**
 * Kubelet binaries that run: this machine's static busybox with the bytes of a fixture Go binary
 * appended (test/verify/helpers/binaries.ts: runc's kmem-enabling string, or the nokmem variant's
 * string and build tags), written into `dir`. In the VM they run as `sleep` under the name kubelet.
 */
export function kubeletBinaries(dir: string): { kmem: string; nokmem: string } {
  const bb = spawnSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).stdout.trim();
  const busybox = readFileSync(bb);
  const kmem = join(dir, "kubelet-kmem");
  const nokmem = join(dir, "kubelet-nokmem");
  writeFileSync(kmem, Buffer.concat([busybox, fakeGoBinary({ kmem: true })]), { mode: 0o755 });
  writeFileSync(nokmem, Buffer.concat([busybox, fakeGoBinary({ nokmem: true, tags: "nokmem" })]), {
    mode: 0o755,
  });
  return { kmem, nokmem };
}

/**
 * A report without what differs between two runs of the same state: the clock, whether a binary's
 * verdict came from the cache, and the kernel log's length (the kernel may log between two runs).
 */
export function stripClock(r: NodeReport): unknown {
  return {
    ...r,
    timestamp: "",
    samples: { ...r.samples, max_at: r.samples.max_at === null ? null : "<time>" },
    binaries: r.binaries.map((b) => ({ ...b, reused: undefined })),
    checks: r.checks.map((c) => ({
      ...c,
      seen: c.seen
        .replace(/; verdict reused: .*$/, "")
        .replace(/^read dmesg \(\d+ lines\)/, "read dmesg (N lines)"),
    })),
    kernel_log: { ...r.kernel_log, lines: null },
  };
}
