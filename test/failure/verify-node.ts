/**
 * The fixture nodes and runners of the verify-kmem.sh failure tests (test/failure/verify-*.host.test.ts):
 * a cgroup v1 memory tree with zeroed counters laid in a temp directory, the script and the CLI run
 * on it, the report parsed and held to schemas/verify-report.schema.json.
 */
import { expect } from "vitest";
import { readFileSync } from "node:fs";
import { chmod, lstat, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { Ajv } from "ajv";
import { kb, tmp, CLI, REPO } from "./helpers.js";

export const SCRIPT = join(REPO, "scripts", "verify-kmem.sh");
export const isRoot = process.getuid?.() === 0;

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Node {
  cg: string;
  proc: string;
}

/** A cgroup v1 memory directory with zeroed counters. */
export async function memcg(dir: string, kmem = 0): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files: Record<string, string> = {
    "cgroup.procs": "",
    "memory.usage_in_bytes": `${kmem}\n`,
    "memory.limit_in_bytes": "9223372036854771712\n",
    "memory.stat": "cache 0\nrss 0\ntotal_cache 0\ntotal_rss 0\n",
    "memory.kmem.usage_in_bytes": `${kmem}\n`,
    "memory.kmem.max_usage_in_bytes": `${kmem}\n`,
    "memory.kmem.failcnt": "0\n",
    "memory.kmem.limit_in_bytes": "9223372036854771712\n",
  };
  for (const [f, body] of Object.entries(files)) await writeFile(join(dir, f), body);
}

/** 3.10 with accounting off everywhere: slabinfo fails to read with EIO, as /proc/self/mem at offset 0 does. */
export async function accountingOff(node: Node, pods: string[] = [POD_A, POD_B]): Promise<void> {
  const dirs = ["kubepods", "kubepods/burstable", ...pods, ...pods.map((p) => `${p}/c0ffee`)];
  for (const d of dirs) await symlink("/proc/self/mem", join(node.cg, d, "memory.kmem.slabinfo"));
}

export const POD_A = "kubepods/burstable/pod1111aaaa-0000-0000-0000-000000000001";
export const POD_B = "kubepods/pod2222bbbb-0000-0000-0000-000000000002";

/** A CentOS 7 style node (kernel 3.10, cgroupfs driver): two pods with one container each, all zero. */
export async function makeNode(
  pods: string[] = [POD_A, POD_B],
  opts: { memoryMounted?: boolean } = {},
): Promise<Node> {
  const base = await tmp("node");
  await chmod(base, 0o755); // mkdtemp makes it 0700: nobody must reach the fixture
  const cg = join(base, "cg");
  const proc = join(base, "proc");
  await memcg(cg);
  await memcg(join(cg, "kubepods"));
  await memcg(join(cg, "kubepods", "burstable"));
  for (const p of pods) {
    await memcg(join(cg, p));
    await memcg(join(cg, p, "c0ffee"));
  }
  await mkdir(join(proc, "self"), { recursive: true });
  await mkdir(join(proc, "sys", "kernel"), { recursive: true });
  const mounts = [
    "22 1 253:0 / / rw,relatime shared:1 - xfs /dev/mapper/centos-root rw",
    "24 18 0:20 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:7 - tmpfs tmpfs ro,mode=755",
    "31 24 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpuacct,cpu",
  ];
  if (opts.memoryMounted !== false)
    mounts.push(
      "30 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory",
    );
  await writeFile(join(proc, "self", "mountinfo"), mounts.join("\n") + "\n");
  await writeFile(
    join(proc, "cgroups"),
    "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t5\t60\t1\n" +
      (opts.memoryMounted !== false ? `memory\t4\t${3 + pods.length * 2}\t1\n` : ""),
  );
  await writeFile(
    join(proc, "cmdline"),
    "BOOT_IMAGE=/vmlinuz-3.10.0-1160.el7.x86_64 root=/dev/mapper/centos-root ro\n",
  );
  await writeFile(join(proc, "sys", "kernel", "osrelease"), "3.10.0-1160.el7.x86_64\n");
  await writeFile(join(proc, "sys", "kernel", "hostname"), "node-a\n");
  return { cg, proc };
}

export const AS_NOBODY = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"];

export async function script(
  node: Node,
  extra: string[] = [],
  o: { nobody?: boolean; cgRoot?: string | null } = {},
): Promise<Ran> {
  const args = [
    "sh",
    SCRIPT,
    ...(o.cgRoot === null ? [] : ["--cgroup-root", o.cgRoot ?? node.cg]),
    "--proc-root",
    node.proc,
    "--no-binaries",
    ...extra,
  ];
  const cmd = o.nobody ? [...AS_NOBODY, ...args] : args;
  const r = await execa(cmd[0]!, cmd.slice(1), { reject: false, stdin: "ignore", timeout: 60_000 });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export async function verifyCli(
  node: Node,
  extra: string[] = [],
  o: { nobody?: boolean; cgRoot?: string | null } = {},
): Promise<Ran> {
  const args = [
    "verify",
    ...(o.cgRoot === null ? [] : ["--cgroup-root", o.cgRoot ?? node.cg]),
    "--proc-root",
    node.proc,
    "--no-binaries",
    "--quiet",
    ...extra,
  ];
  if (!o.nobody) return kb(args);
  const r = await execa(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), process.execPath, CLI, ...args], {
    reject: false,
    stdin: "ignore",
    timeout: 60_000,
    env: { CI: "true" },
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export interface Report {
  result: string;
  exit_code: number;
  checks: { id: string; status: string; seen: string; conclusive: boolean }[];
  cgroups: { level: string; path: string; kmem_usage_bytes: number | null; kmem_accounting: string }[];
}

let compiled: ReturnType<Ajv["compile"]> | undefined;
/** Holds a node or fleet report to schemas/verify-report.schema.json (compiled once). */
export function expectValid(rep: unknown): void {
  compiled ??= new Ajv({ allErrors: true, strict: false }).compile(
    JSON.parse(readFileSync(join(REPO, "schemas", "verify-report.schema.json"), "utf8")),
  );
  expect(compiled(rep), JSON.stringify(compiled.errors)).toBe(true);
}
export function report(r: Ran): Report {
  const rep = JSON.parse(r.stdout) as Report;
  expectValid(rep);
  expect(rep.exit_code).toBe(r.code);
  return rep;
}
export const check = (rep: Report, id: string) => rep.checks.find((c) => c.id === id)!;
export const cgroup = (rep: Report, path: string) => rep.cgroups.find((c) => c.path === `/${path}`);

/** The script with extra environment (e.g. PATH with one awk, or stand-in runtime CLIs first). */
export async function scriptEnv(node: Node, extra: string[], env: Record<string, string>): Promise<Ran> {
  const args = [SCRIPT, "--cgroup-root", node.cg, "--proc-root", node.proc, "--no-binaries", ...extra];
  const r = await execa("sh", args, { reject: false, stdin: "ignore", timeout: 60_000, env });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** PATH whose `awk` is gawk, mawk or busybox awk (those installed). */
export async function awkPaths(): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for (const [name, target] of [
    ["gawk", "/usr/bin/gawk"],
    ["mawk", "/usr/bin/mawk"],
    ["busybox awk", "/usr/bin/busybox"],
  ] as const) {
    try {
      await lstat(target);
    } catch {
      continue;
    }
    const dir = await tmp(`awk-${name.replace(/ /g, "-")}`);
    await symlink(target, join(dir, "awk"));
    out.push([name, `${dir}:${process.env.PATH}`]);
  }
  return out;
}
