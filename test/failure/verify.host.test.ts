/**
 * Verify on broken nodes, through `sh scripts/verify-kmem.sh` and `kmem-build verify`.
 * Unreadable counters, permission denied (as `nobody`), a cgroup that disappears while the script
 * walks the tree, no memory controller, an ssh host that accepts and never speaks. The report says
 * unknown (null / "unknown" / UNKNOWN) for what it could not read, exits 2 where it could not tell,
 * and never writes to the cgroup filesystem (a read-only bind mount, and listings+mtimes compared).
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import {
  chmod,
  chown,
  copyFile,
  lstat,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { execa } from "execa";
import { Ajv } from "ajv";
import { kb, tmp, removeTmp, start, finish, descendants, waitFor, CLI, REPO } from "./helpers.js";
import { fakeGoBinary } from "../verify/helpers/binaries.js";

const SCRIPT = join(REPO, "scripts", "verify-kmem.sh");
const isRoot = process.getuid?.() === 0;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

interface Node {
  cg: string;
  proc: string;
}

/** A cgroup v1 memory directory with zeroed counters. */
async function memcg(dir: string, kmem = 0): Promise<void> {
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
async function accountingOff(node: Node, pods: string[] = [POD_A, POD_B]): Promise<void> {
  const dirs = ["kubepods", "kubepods/burstable", ...pods, ...pods.map((p) => `${p}/c0ffee`)];
  for (const d of dirs) await symlink("/proc/self/mem", join(node.cg, d, "memory.kmem.slabinfo"));
}

const POD_A = "kubepods/burstable/pod1111aaaa-0000-0000-0000-000000000001";
const POD_B = "kubepods/pod2222bbbb-0000-0000-0000-000000000002";

/** A CentOS 7 style node (kernel 3.10, cgroupfs driver): two pods with one container each, all zero. */
async function makeNode(
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

const AS_NOBODY = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"];

async function script(
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

async function verifyCli(
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

interface Report {
  result: string;
  exit_code: number;
  checks: { id: string; status: string; seen: string; conclusive: boolean }[];
  cgroups: { level: string; path: string; kmem_usage_bytes: number | null; kmem_accounting: string }[];
}

let validate: ReturnType<Ajv["compile"]>;
function report(r: Ran): Report {
  const rep = JSON.parse(r.stdout) as Report;
  expect(validate(rep), JSON.stringify(validate.errors)).toBe(true);
  expect(rep.exit_code).toBe(r.code);
  return rep;
}
const check = (rep: Report, id: string) => rep.checks.find((c) => c.id === id)!;
const cgroup = (rep: Report, path: string) => rep.cgroups.find((c) => c.path === `/${path}`);

beforeAll(async () => {
  const schema = JSON.parse(await readFile(join(REPO, "schemas", "verify-report.schema.json"), "utf8"));
  validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
});
afterAll(removeTmp);

describe("a healthy fixture (so the broken ones below mean something)", () => {
  it("reads OK, exit 0, from the script and from kmem-build verify", async () => {
    const node = await makeNode();
    await accountingOff(node);
    for (const r of [await script(node, ["--json"]), await verifyCli(node, ["--json"])]) {
      expect(r.code, r.stderr).toBe(0);
      const rep = report(r);
      expect(rep.result).toBe("OK");
      expect(rep.cgroups).toHaveLength(4);
    }
  });
});

describe("unreadable counters", () => {
  it("a counter that vanished (dangling symlink): that cgroup reads null/unknown, the rest is reported, exit 2", async () => {
    const node = await makeNode();
    const f = join(node.cg, POD_B, "memory.kmem.usage_in_bytes");
    await rm(f);
    await symlink(join(node.cg, "gone"), f);
    for (const r of [await script(node, ["--json"]), await verifyCli(node, ["--json"])]) {
      expect(r.code, r.stderr).toBe(2);
      const rep = report(r);
      expect(rep.result).toBe("UNKNOWN");
      expect(check(rep, "pod-cgroups-kmem")).toMatchObject({ status: "WARN", conclusive: false });
      expect(check(rep, "pod-cgroups-kmem").seen).toMatch(
        /could not read memory\.kmem\.usage_in_bytes of 1 of 2 pod cgroups/,
      );
      expect(cgroup(rep, POD_B)).toMatchObject({ kmem_usage_bytes: null, kmem_accounting: "unknown" });
      expect(cgroup(rep, POD_A)).toMatchObject({ kmem_usage_bytes: 0 });
    }
    const brief = await script(node, ["--brief"]);
    expect(brief.code).toBe(2);
    expect(brief.stdout).toMatch(/^UNKNOWN \[unknown\]: pod-cgroups-kmem: could not read/);
    const human = await verifyCli(node, ["--verbose"]);
    expect(human.code).toBe(2);
    expect(human.stdout).toMatch(/Result: UNKNOWN \(exit 2\)/);
  });

  it("a counter whose read fails with an error (EISDIR here, ENODEV on a dying cgroup): only that value is unknown, exit 2", async () => {
    const node = await makeNode();
    const f = join(node.cg, POD_B, "memory.kmem.usage_in_bytes");
    await rm(f);
    await mkdir(f); // open() succeeds, read() fails
    const r = await script(node, ["--json"]);
    expect(r.code, r.stderr).toBe(2);
    const rep = report(r);
    // The root is readable: the report must not claim otherwise, and must still list what it read.
    expect(check(rep, "cgroup-layout").seen).not.toMatch(/is not a readable directory/);
    expect(cgroup(rep, POD_A)).toMatchObject({ kmem_usage_bytes: 0 });
    expect(cgroup(rep, POD_B)).toMatchObject({ kmem_usage_bytes: null });
    expect(check(rep, "pod-cgroups-kmem")).toMatchObject({ status: "WARN", conclusive: false });
  });
});

describe.skipIf(!isRoot)("permission denied (the script run as nobody)", () => {
  it("counter files readable only by root: those values are unknown, exit 2 — script and kmem-build verify", async () => {
    const node = await makeNode();
    await chmod(join(node.cg, POD_A, "memory.kmem.usage_in_bytes"), 0o600);
    await chmod(join(node.cg, POD_A, "c0ffee", "memory.kmem.usage_in_bytes"), 0o600);
    for (const r of [
      await script(node, ["--json"], { nobody: true }),
      await verifyCli(node, ["--json"], { nobody: true }),
    ]) {
      expect(r.code, r.stderr).toBe(2);
      const rep = report(r);
      expect(rep.result).toBe("UNKNOWN");
      expect(cgroup(rep, POD_A)).toMatchObject({ kmem_usage_bytes: null });
      expect(cgroup(rep, `${POD_A}/c0ffee`)).toMatchObject({ kmem_usage_bytes: null });
      expect(cgroup(rep, POD_B)).toMatchObject({ kmem_usage_bytes: 0 });
      expect(check(rep, "pod-cgroups-kmem").conclusive).toBe(false);
      expect(check(rep, "container-cgroups-kmem").conclusive).toBe(false);
    }
  });

  it("a pod directory nobody may enter: unknown, exit 2 — never a PASS", async () => {
    const node = await makeNode();
    await chmod(join(node.cg, POD_A), 0o700);
    const r = await script(node, ["--json"], { nobody: true });
    expect(r.code, r.stderr).toBe(2);
    const rep = report(r);
    expect(rep.result).toBe("UNKNOWN");
    expect(cgroup(rep, POD_A)).toMatchObject({ kmem_usage_bytes: null });
    expect(check(rep, "pod-cgroups-kmem")).toMatchObject({ status: "WARN", conclusive: false });
  });

  it("a cgroup root nobody may read: says so, exit 2", async () => {
    const node = await makeNode();
    await chmod(node.cg, 0o700);
    for (const r of [
      await script(node, ["--brief"], { nobody: true }),
      await verifyCli(node, ["--brief"], { nobody: true }),
    ]) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toContain(
        `UNKNOWN [unknown]: cgroup-layout: memory cgroup root ${node.cg} is not a readable directory`,
      );
    }
  });
});

describe("a cgroup that disappears while the script walks the tree", () => {
  it("a pod listed by find whose files are gone by the time they are read: unknown, exit 2", async () => {
    const node = await makeNode();
    // What a deleted pod cgroup looks like to a reader that already listed it: every open fails.
    for (const f of await readdir(join(node.cg, POD_B))) {
      const p = join(node.cg, POD_B, f);
      if ((await lstat(p)).isFile()) {
        await rm(p);
        await symlink(join(node.cg, "deleted", f), p);
      }
    }
    const r = await verifyCli(node, ["--json"]);
    expect(r.code, r.stderr).toBe(2);
    const rep = report(r);
    expect(cgroup(rep, POD_B)).toMatchObject({ kmem_usage_bytes: null, kmem_accounting: "unknown" });
    expect(rep.result).toBe("UNKNOWN");
  });

  it("pods deleted for real during the walk: every run is a valid report, never a PROBLEM, never a crash", async () => {
    const pods = Array.from(
      { length: 150 },
      (_, i) => `kubepods/besteffort/pod${String(i).padStart(8, "0")}-race`,
    );
    for (let round = 0; round < 4; round++) {
      const node = await makeNode(pods);
      const run = execa(
        "sh",
        [SCRIPT, "--cgroup-root", node.cg, "--proc-root", node.proc, "--no-binaries", "--json"],
        {
          reject: false,
          stdin: "ignore",
        },
      );
      // Delete pods from the end while the script runs (staggered per round).
      await new Promise((r) => setTimeout(r, round * 15));
      for (const p of pods.slice().reverse().slice(0, 100)) {
        await rm(join(node.cg, p), { recursive: true, force: true });
      }
      const res = await run;
      const r = { code: res.exitCode ?? -1, stdout: String(res.stdout), stderr: String(res.stderr) };
      expect([0, 2], `round ${round}: exit ${r.code}\n${r.stderr}`).toContain(r.code);
      const rep = report(r);
      expect(rep.result).not.toBe("PROBLEM");
      for (const c of rep.cgroups) expect([0, null]).toContain(c.kmem_usage_bytes);
      if (rep.cgroups.some((c) => c.kmem_usage_bytes === null)) expect(rep.result).toBe("UNKNOWN");
    }
  });
});

describe("no memory controller", () => {
  it("mountinfo has no memory cgroup and no --cgroup-root: says so, exit 2", async () => {
    const node = await makeNode(undefined, { memoryMounted: false });
    for (const r of [
      await script(node, ["--json"], { cgRoot: null }),
      await verifyCli(node, ["--json"], { cgRoot: null }),
    ]) {
      expect(r.code, r.stderr).toBe(2);
      const rep = report(r);
      expect(rep.result).toBe("UNKNOWN");
      expect(check(rep, "cgroup-layout")).toMatchObject({ status: "WARN", conclusive: false });
      expect(check(rep, "cgroup-layout").seen).toBe(
        `no memory cgroup controller found in ${node.proc}/self/mountinfo`,
      );
      expect(check(rep, "pod-cgroups-kmem").seen).toMatch(/not checked/);
      expect(rep.cgroups).toEqual([]);
    }
  });

  it("a --cgroup-root that does not exist: says so, exit 2", async () => {
    const node = await makeNode();
    const r = await verifyCli(node, ["--brief"], { cgRoot: join(node.cg, "nonexistent") });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toContain(
      `memory cgroup root ${join(node.cg, "nonexistent")} is not a readable directory`,
    );
  });
});

describe("an ssh host that hangs (accepts the TCP connection, never speaks)", () => {
  let server: Server;
  let port: number;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("the connect timeout gives up on it: UNKNOWN with the reason, exit 2, promptly", async () => {
    const t = Date.now();
    const r = await kb([
      "verify",
      "--ssh",
      "root@127.0.0.1",
      "--port",
      String(port),
      "--connect-timeout",
      "2",
      "--no-binaries",
      "--quiet",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(Date.now() - t).toBeLessThan(20_000);
    const fleet = JSON.parse(r.stdout);
    expect(validate(fleet), JSON.stringify(validate.errors)).toBe(true);
    expect(fleet).toMatchObject({ result: "UNKNOWN", exit_code: 2 });
    expect(fleet.hosts[0]).toMatchObject({ host: "root@127.0.0.1", result: "UNKNOWN", report: null });
    expect(fleet.hosts[0].error).toMatch(/timed out/i);
  });

  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)("%s while waiting on it: exit %i, no ssh left behind", async (sig, code) => {
    const run = start(
      [
        "verify",
        "--ssh",
        "root@127.0.0.1",
        "--port",
        String(port),
        "--connect-timeout",
        "60",
        "--no-binaries",
      ],
      {},
    );
    const ssh = await waitFor("ssh to start", async () =>
      (await descendants(run.pid!)).find((d) => d.comm === "ssh" && d.args.includes(String(port))),
    );
    run.kill(sig);
    const r = await finish(run);
    // A shell reports death by SIGTERM as 143 too; what matters is the code a caller sees.
    expect(r.code === -1 ? 128 + 15 : r.code, r.stderr).toBe(code);
    await waitFor("ssh to be gone", async () => !(await lstat(`/proc/${ssh.pid}`).catch(() => null)), 10_000);
  });

  it("the host timeout bounds a host that outlasts the connect timeout; human output says UNKNOWN", async () => {
    const t = Date.now();
    const r = await kb([
      "verify",
      "--ssh",
      "root@127.0.0.1",
      "--port",
      String(port),
      "--connect-timeout",
      "60",
      "--host-timeout",
      "3",
      "--no-binaries",
      "--quiet",
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(Date.now() - t).toBeLessThan(20_000);
    expect(r.stdout).toMatch(/root@127\.0\.0\.1\s+UNKNOWN .*timed out after 3000 ms/);
    expect(r.stdout).toMatch(/Result: UNKNOWN \(exit 2\)/);
  });
});

describe.skipIf(!isRoot)("never writes to the cgroup filesystem", () => {
  /** Every path with its type, mode, size, mtime and ctime. */
  async function snapshot(dir: string): Promise<string[]> {
    const out: string[] = [];
    async function walk(d: string) {
      for (const n of (await readdir(d)).sort()) {
        const p = join(d, n);
        const s = await lstat(p);
        out.push(`${p.slice(dir.length)} ${s.mode.toString(8)} ${s.size} ${s.mtimeMs} ${s.ctimeMs} ${s.uid}`);
        if (s.isDirectory()) await walk(p);
      }
    }
    const s = await lstat(dir);
    out.push(`/ ${s.mode.toString(8)} ${s.mtimeMs} ${s.ctimeMs}`);
    await walk(dir);
    return out;
  }

  it("on a read-only bind mount, sampling and writing metrics elsewhere: nothing changes, nothing tried", async () => {
    const node = await makeNode();
    // A little of everything: non-zero kmem in a pod, an unreadable file, a vanished counter.
    await memcg(join(node.cg, POD_A), 4096);
    await symlink(join(node.cg, "gone"), join(node.cg, POD_B, "memory.kmem.slabinfo"));
    const ro = join(await tmp("ro"), "memory");
    await mkdir(ro);
    await execa("mount", ["--bind", node.cg, ro]);
    try {
      await execa("mount", ["-o", "remount,bind,ro", ro]);
      const before = await snapshot(node.cg);
      const prom = join(await tmp("prom"), "kmem.prom");
      const scr = await script(
        node,
        ["--json", "--duration", "2s", "--interval", "1s", "--prometheus", prom],
        {
          cgRoot: ro,
        },
      );
      const cli = await verifyCli(node, ["--json", "--prometheus", `${prom}.2`], { cgRoot: ro });
      for (const r of [scr, cli]) {
        expect(r.code, r.stderr).toBe(1); // the pod with kmem is a problem: the script did read everything
        expect(r.stderr).not.toMatch(/Read-only file system|Permission denied/);
        expect(report(r).result).toBe("PROBLEM");
      }
      expect(await readFile(prom, "utf8")).toMatch(/kmem_build_cgroup_kmem_usage_bytes\{.*\} 4096/);
      expect(await snapshot(node.cg)).toEqual(before);
      // Nothing was left in the tree either (temp files, metrics).
      expect(before.some((l) => /\.tmp|\.prom/.test(l))).toBe(false);
    } finally {
      await execa("umount", [ro], { reject: false });
    }
  });

  it("--prometheus pointing into the cgroup tree is refused before anything is written", async () => {
    const node = await makeNode();
    const before = await snapshot(node.cg);
    for (const r of [
      await script(node, ["--prometheus", join(node.cg, "kmem.prom")]),
      await verifyCli(node, ["--prometheus", join(node.cg, "kmem.prom")]),
    ]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--prometheus must not point into the cgroup filesystem/);
    }
    expect(await snapshot(node.cg)).toEqual(before);
  });

  it("a fixture owned by root and run as nobody (no write permission at all): same report as root", async () => {
    const node = await makeNode();
    await chown(node.cg, 0, 0);
    const asRoot = report(await script(node, ["--json"]));
    const asNobody = report(await script(node, ["--json"], { nobody: true }));
    expect(asNobody.result).toBe(asRoot.result);
    expect(asNobody.cgroups).toEqual(asRoot.cgroups);
  });
});

// ---------------------------------------------------------------------------------------------------
// Hostile input. Each test reproduces the attack and shows the refusal or the safe result.
// ---------------------------------------------------------------------------------------------------

/** The script with extra environment (e.g. PATH with one awk, or stand-in runtime CLIs first). */
async function scriptEnv(node: Node, extra: string[], env: Record<string, string>): Promise<Ran> {
  const args = [SCRIPT, "--cgroup-root", node.cg, "--proc-root", node.proc, "--no-binaries", ...extra];
  const r = await execa("sh", args, { reject: false, stdin: "ignore", timeout: 60_000, env });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** PATH whose `awk` is gawk, mawk or busybox awk (those installed). */
async function awkPaths(): Promise<[string, string][]> {
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

describe("output that can be bent", () => {
  it("a NUL in a process name of the kernel log: valid JSON (and the schema) under gawk, mawk and busybox awk", async () => {
    const node = await makeNode();
    await accountingOff(node);
    const memcgPath = `/${POD_A}`;
    const k = (m: string) => `Nov 28 03:00:01 node-a kernel: ${m}`;
    const log = join(await tmp("nul"), "messages");
    await writeFile(
      log,
      [
        k("ev\0il invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=999"),
        k(`Task in ${memcgPath} killed as a result of limit of ${memcgPath}`),
        k("memory: usage 1048576kB, limit 1048576kB, failcnt 7"),
        k("kmem: usage 1024kB, limit 9007199254740988kB, failcnt 0"),
        k(`Memory cgroup stats for ${memcgPath}: cache:0KB rss:1047552KB`),
        k('Killed process 4242 (ev\0il"\u001b[2J) total-vm:10000kB'),
      ].join("\n") + "\n",
    );
    const paths = await awkPaths();
    expect(paths.length).toBeGreaterThanOrEqual(2);
    for (const [name, PATH] of paths) {
      const r = await scriptEnv(node, ["--json", "--kernel-log", log], { ...process.env, PATH } as Record<
        string,
        string
      >);
      const rep = report(r) as Report & { oom_kills: { process: { name: string | null } }[] };
      expect(rep.oom_kills, name).toHaveLength(1);
      expect(rep.oom_kills[0]!.process.name, name).toBe('ev?il"\u001b[2J');
      const human = await scriptEnv(node, ["--kernel-log", log, "--verbose"], {
        ...process.env,
        PATH,
      } as Record<string, string>);
      expect(human.stdout, name).not.toContain("\u001b");
      expect(human.stdout, name).not.toContain("\0");
    }
  });

  it("a cgroup named with quotes and $(...) is probed as a name, never run (the slabinfo probe list is sourced)", async () => {
    const node = await makeNode([POD_A]);
    await accountingOff(node, [POD_A]);
    // run from an empty directory: any command in the name that ran would leave a file there
    const cwd = await tmp("pwn");
    const evil = "c0'$(touch pwned1)'\"`touch pwned2`\";touch pwned3;'";
    await memcg(join(node.cg, POD_A, evil));
    // accounting on in that container cgroup only: its slabinfo reads
    await writeFile(join(node.cg, POD_A, evil, "memory.kmem.slabinfo"), "slabinfo - version: 2.1\n");
    for (const [name, PATH] of await awkPaths()) {
      for (const sh of ["sh", "bash", "busybox"]) {
        const args = sh === "busybox" ? ["sh"] : [];
        const r = await execa(
          sh,
          [...args, SCRIPT, "--cgroup-root", node.cg, "--proc-root", node.proc, "--no-binaries", "--json"],
          { reject: false, stdin: "ignore", cwd, env: { ...process.env, PATH } },
        );
        const rep = report({
          code: r.exitCode ?? -1,
          stdout: String(r.stdout),
          stderr: String(r.stderr),
        }) as Report & {
          cgroups: { path: string; kmem_accounting: string | null }[];
        };
        const byName = (p: string) => rep.cgroups.find((c) => c.path.endsWith(p))?.kmem_accounting;
        expect(byName(`/${evil}`), `${sh} ${name}`).toBe("active");
        expect(byName("/c0ffee"), `${sh} ${name}`).toBe("inactive");
        expect(await readdir(cwd), `${sh} ${name}`).toEqual([]);
      }
    }
  });

  it("a lone UTF-8 lead byte before ASCII spoils only itself, not that ASCII character elsewhere in the report", async () => {
    const node = await makeNode([POD_A]);
    await accountingOff(node, [POD_A]);
    // 0xC3 then "xyz x": one bad byte. Looking up the next byte in the table of high bytes used to add
    // "x" to that table, so every later "x" of the run came out as U+FFFD.
    await writeFile(
      join(node.proc, "sys", "kernel", "hostname"),
      Buffer.concat([Buffer.from([0xc3]), Buffer.from("xyz x\n")]),
    );
    for (const [name, PATH] of await awkPaths()) {
      const env = { ...process.env, PATH } as Record<string, string>;
      const r = await scriptEnv(node, ["--json"], env);
      const rep = report(r) as Report & { node: { hostname: string; kernel: string } };
      expect(rep.node.hostname, name).toBe("\ufffdxyz x");
      expect(rep.node.kernel, name).toBe("3.10.0-1160.el7.x86_64");
    }
  });

  it("newlines and escape sequences in cgroup names do not reach --brief or the human output raw", async () => {
    const forged = "pod1111aaaa-0000-0000-0000-00000000000f\nResult: OK (exit 0)\u001b[2K";
    const node = await makeNode([POD_A, `kubepods/burstable/${forged}`]);
    await memcg(join(node.cg, "kubepods", "burstable", forged), 8192);
    for (const [name, PATH] of await awkPaths()) {
      const env = { ...process.env, PATH } as Record<string, string>;
      const brief = await scriptEnv(node, ["--brief"], env);
      expect(brief.code, name).toBe(1);
      expect(brief.stdout.split("\n").filter(Boolean), name).toHaveLength(1);
      expect(brief.stdout, name).toMatch(/^PROBLEM \[/);
      expect(brief.stdout, name).toContain("\\nResult: OK (exit 0)\\x1b[2K");
      const human = await scriptEnv(node, ["--verbose"], env);
      expect(human.code, name).toBe(1);
      expect(
        human.stdout.split("\n").filter((l) => l.startsWith("Result:")),
        name,
      ).toEqual([expect.stringMatching(/^Result: PROBLEM \(exit 1\)/)]);
      expect(human.stdout, name).not.toContain("\u001b");
      // JSON keeps the name exactly (JSON.stringify-style escapes), schema-valid
      const rep = report(await scriptEnv(node, ["--json"], env));
      expect(rep.cgroups.map((c) => c.path)).toContain(`/kubepods/burstable/${forged}`);
    }
  });

  it.each([
    ["-4096", "negative"],
    ["-0", "minus zero"],
  ])("a %s kmem counter (%s) is not a PASS: cannot tell, exit 2", async (v) => {
    const node = await makeNode();
    await accountingOff(node);
    await writeFile(join(node.cg, POD_A, "memory.kmem.usage_in_bytes"), `${v}\n`);
    await writeFile(join(node.cg, POD_A, "c0ffee", "memory.kmem.usage_in_bytes"), `${v}\n`);
    const r = await script(node, ["--json"]);
    expect(r.code, r.stderr).toBe(2);
    const rep = report(r);
    expect(check(rep, "pod-cgroups-kmem")).toMatchObject({ status: "WARN", conclusive: false });
    expect(check(rep, "pod-cgroups-kmem").seen).toContain(
      "could not read memory.kmem.usage_in_bytes of 1 of 2 pod cgroups (missing, unreadable or not a byte count)",
    );
    expect(check(rep, "container-cgroups-kmem")).toMatchObject({ status: "WARN", conclusive: false });
    expect(cgroup(rep, POD_A)).toMatchObject({ kmem_usage_bytes: null });
  });

  it("--duration 08 is 8 seconds (not an octal error); a huge --duration is refused, never wrapped", async () => {
    const node = await makeNode();
    await accountingOff(node);
    for (const sh of [["dash"], ["bash"], ["busybox", "sh"]]) {
      const ok = await execa(
        sh[0]!,
        [...sh.slice(1), SCRIPT, "--cgroup-root", node.cg, "--proc-root", node.proc, "--no-binaries"].concat([
          "--json",
          "--duration",
          "02",
          "--interval",
          "01",
        ]),
        { reject: false, stdin: "ignore" },
      );
      expect(ok.stderr, sh.join(" ")).not.toMatch(/Illegal number|arithmetic|value too great/);
      const rep = report({
        code: ok.exitCode ?? -1,
        stdout: String(ok.stdout),
        stderr: String(ok.stderr),
      }) as Report & {
        samples: { duration_seconds: number; interval_seconds: number; count: number };
      };
      expect(rep.samples).toMatchObject({ duration_seconds: 2, interval_seconds: 1, count: 3 });
      for (const d of ["99999999999999999999", "9223372036854775807s", "400d", "08x"]) {
        const bad = await execa(
          sh[0]!,
          [...sh.slice(1), SCRIPT, "--cgroup-root", node.cg, "--proc-root", node.proc, "--duration", d],
          { reject: false, stdin: "ignore" },
        );
        expect(bad.exitCode, `${sh.join(" ")} ${d}`).toBe(2);
        expect(bad.stderr).toContain(`bad --duration '${d}' (use 30, 30s, 10m, 1h; at most 366d)`);
        expect(bad.stdout).toBe("");
      }
    }
  });
});

describe("--prometheus FILE in a directory others can write to", () => {
  async function textfileDir(): Promise<string> {
    const d = await tmp("textfile");
    await chmod(d, 0o775); // group-writable, as node_exporter's textfile directories often are
    return d;
  }
  const names = async (d: string) => (await readdir(d)).sort();

  it("a link planted at the old predictable temp name (FILE.<pid>.tmp) is never followed", async () => {
    const node = await makeNode();
    await accountingOff(node);
    const dir = await textfileDir();
    const victim = join(await tmp("victim"), "shadow");
    await writeFile(victim, "root:secret\n");
    const prom = join(dir, "kmem.prom");
    const child = execa(
      "sh",
      [SCRIPT, "--cgroup-root", node.cg, "--proc-root", node.proc, "--no-binaries"].concat([
        "--brief",
        "--duration",
        "2",
        "--interval",
        "1",
        "--prometheus",
        prom,
      ]),
      { reject: false, stdin: "ignore" },
    );
    // the attacker sees the pid and plants the link before the run writes its metrics
    await symlink(victim, `${prom}.${child.pid}.tmp`);
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(await readFile(victim, "utf8")).toBe("root:secret\n");
    expect(await readFile(prom, "utf8")).toMatch(/^kmem_build_verify_exit_code 0$/m);
    expect((await lstat(prom)).isFile()).toBe(true);
    // nothing of ours is left: only the metrics and the attacker's link
    expect(await names(dir)).toEqual([`kmem.prom`, `kmem.prom.${child.pid}.tmp`]);
  });

  it.each([
    ["a symbolic link as FILE", "link", /is a symbolic link: not followed/],
    ["/dev/stdout (a link to the terminal)", "/dev/stdout", /is a symbolic link: not followed/],
    ["a device node", "/dev/null", /is not a regular file/],
    ["a directory", "dir", /is not a regular file/],
    ["a name ending in /", "dir/", /is not a file name/],
  ])("%s is refused before anything is written, nothing left behind", async (_n, what, msg) => {
    const node = await makeNode();
    const dir = await textfileDir();
    const victim = join(await tmp("victim"), "target");
    await writeFile(victim, "keep\n");
    await symlink(victim, join(dir, "link"));
    await mkdir(join(dir, "dir"));
    const before = await names(dir);
    const target = what.startsWith("/") ? what : join(dir, what);
    const r = await script(node, ["--prometheus", target]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stdout).toBe("");
    expect(await names(dir)).toEqual(before);
    expect(await names(join(dir, "dir"))).toEqual([]);
    expect(await readFile(victim, "utf8")).toBe("keep\n");
    expect((await lstat("/dev/null")).isCharacterDevice()).toBe(true);
  });

  it("// and /./ do not get round the cgroup-filesystem guard (the real /sys/fs/cgroup and the scanned root)", async () => {
    const node = await makeNode();
    const before = await readdir(node.cg);
    const tries = [
      "//sys/fs/cgroup/memory/kmem.prom",
      "/sys/fs/cgroup/./memory/kmem.prom",
      "/sys//fs/cgroup/memory/../memory/kmem.prom",
      node.cg.replace(/\//g, "//") + "//kmem.prom",
      `${node.cg}/./kubepods/kmem.prom`,
    ];
    for (const p of tries) {
      const r = await script(node, ["--prometheus", p]);
      expect(r.code, p).toBe(2);
      expect(r.stderr, p).toContain("--prometheus must not point into the cgroup filesystem");
    }
    expect(await readdir(node.cg)).toEqual(before);
    expect((await readdir("/sys/fs/cgroup/memory")).filter((n) => n.includes("kmem.prom"))).toEqual([]);
  });

  it("no temp file is left, after good runs or a signal", async () => {
    const node = await makeNode();
    await accountingOff(node);
    const dir = await textfileDir();
    const prom = join(dir, "kmem.prom");
    for (let i = 0; i < 3; i++) expect((await script(node, ["--brief", "--prometheus", prom])).code).toBe(0);
    expect(await names(dir)).toEqual(["kmem.prom"]);
    // killed while sampling: no metrics, no temp
    const child = execa(
      "sh",
      [SCRIPT, "--cgroup-root", node.cg, "--proc-root", node.proc, "--no-binaries"].concat([
        "--duration",
        "30",
        "--interval",
        "1",
        "--prometheus",
        join(dir, "killed.prom"),
      ]),
      { reject: false, stdin: "ignore" },
    );
    await new Promise((res) => setTimeout(res, 1500));
    process.kill(child.pid!, "SIGTERM");
    const k = await child;
    expect(k.exitCode).toBe(143);
    expect(await names(dir)).toEqual(["kmem.prom"]);
  });

  /** A --duration run writing FILE; `plant` runs once the start-time check has passed. */
  async function longRun(prom: string, plant: () => Promise<void>) {
    const node = await makeNode();
    await accountingOff(node);
    const child = execa(
      "sh",
      [SCRIPT, "--cgroup-root", node.cg, "--proc-root", node.proc, "--no-binaries", "--brief"].concat([
        "--duration",
        "3",
        "--interval",
        "1",
        "--prometheus",
        prom,
      ]),
      { reject: false, stdin: "ignore" },
    );
    await new Promise((res) => setTimeout(res, 1200)); // sampling: the start check is long past
    await plant();
    const r = await child;
    return { code: r.exitCode, stderr: String(r.stderr) };
  }

  it.skipIf(!isRoot)(
    "FILE replaced by a link to a directory during a --duration run: root creates nothing in that directory",
    async () => {
      const dir = await textfileDir();
      const prom = join(dir, "kmem.prom");
      await writeFile(prom, "# old metrics\n");
      const spool = await tmp("spool"); // a directory whose files root would run (a cron spool)
      const r = await longRun(prom, async () => {
        await rm(prom);
        await symlink(spool, prom);
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /verify-kmem: --prometheus '\/.*\/kmem\.prom' became a symbolic link during the run: not followed: metrics not written/,
      );
      expect(await readdir(spool)).toEqual([]);
      expect((await lstat(prom)).isSymbolicLink()).toBe(true); // left as the attacker made it
      expect(await names(dir)).toEqual(["kmem.prom"]); // no temp left behind
    },
  );

  it.skipIf(!isRoot)(
    "FILE's directory swapped for a link to another directory during the run: nothing written there either",
    async () => {
      const parent = await textfileDir();
      const dir = join(parent, "textfile");
      await mkdir(dir);
      const prom = join(dir, "kmem.prom");
      const spool = await tmp("spool");
      const r = await longRun(prom, async () => {
        await rename(dir, join(parent, "moved"));
        await symlink(spool, dir);
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /--prometheus '.*\/textfile\/kmem\.prom' is in a directory that was moved or replaced by a link during the run: metrics not written/,
      );
      expect(await readdir(spool)).toEqual([]);
      expect(await readdir(join(parent, "moved"))).toEqual([]);
    },
  );

  it.skipIf(!isRoot)(
    "FILE replaced by a directory during the run: left alone, nothing created in it",
    async () => {
      const dir = await textfileDir();
      const prom = join(dir, "kmem.prom");
      const r = await longRun(prom, async () => {
        await mkdir(prom);
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("became a directory or other non-regular file during the run: not replaced");
      expect(await readdir(prom)).toEqual([]);
      expect(await names(dir)).toEqual(["kmem.prom"]);
    },
  );

  it.skipIf(!isRoot)(
    "a directory the writer may not write to: refused up front (as nobody), nothing written",
    async () => {
      const node = await makeNode();
      const dir = await tmp("ro-textfile");
      await chmod(dir, 0o755);
      const r = await script(node, ["--prometheus", join(dir, "kmem.prom")], { nobody: true });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("cannot write --prometheus file next to");
      expect(await names(dir)).toEqual([]);
    },
  );
});

describe.skipIf(!isRoot)(
  "which process is the running kubelet: another user's process named kubelet never counts",
  () => {
    const started: ChildProcess[] = [];
    afterAll(() => {
      for (const p of started) p.kill("SIGKILL");
    });

    /** 3.10, the nokmem kubelet installed and running, kubepods and its QoS parent still armed: reboot. */
    async function rebootNode() {
      const node = await makeNode();
      for (const p of [POD_A, POD_B])
        for (const d of [p, `${p}/c0ffee`])
          await symlink("/proc/self/mem", join(node.cg, d, "memory.kmem.slabinfo"));
      for (const d of ["kubepods", "kubepods/burstable"])
        await writeFile(join(node.cg, d, "memory.kmem.slabinfo"), "slabinfo - version: 2.1\n");
      const bin = await tmp("kubelet-bin");
      await chmod(bin, 0o755);
      const kubelet = join(bin, "kubelet");
      // a program that runs (sleep) and carries the nokmem variant's strings
      await writeFile(
        kubelet,
        Buffer.concat([await readFile("/bin/sleep"), fakeGoBinary({ nokmem: true, tags: "nokmem" })]),
        { mode: 0o755 },
      );
      const other = await tmp("attacker");
      await chmod(other, 0o755);
      await copyFile("/bin/sleep", join(other, "kubelet"));
      await chmod(join(other, "kubelet"), 0o755);
      return { node, kubelet, fake: join(other, "kubelet") };
    }
    function startProcess(file: string, nobody: boolean): ChildProcess {
      const p = nobody
        ? spawn(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), file, "600"], { stdio: "ignore" })
        : spawn(file, ["600"], { stdio: "ignore" });
      started.push(p);
      return p;
    }
    const comm = async (pid: number) => (await readFile(`/proc/${pid}/comm`, "utf8")).trim();
    /** The attacker's processes first, then root's kubelet: restarted until every attacker pid sorts first. */
    async function processes(fakes: { file: string }[], kubelet: string) {
      for (;;) {
        const att = fakes.map((f) => startProcess(f.file, true));
        const kub = startProcess(kubelet, false);
        await waitFor(
          "the processes to run as kubelet",
          async () => {
            for (const p of [...att, kub])
              if ((await comm(p.pid!).catch(() => "")) !== "kubelet") return undefined;
            return true;
          },
          10_000,
        );
        if (att.every((a) => String(a.pid) < String(kub.pid))) return { att, kub };
        for (const p of [...att, kub]) p.kill("SIGKILL");
      }
    }
    const link = (node: Node, pid: number) => symlink(`/proc/${pid}`, join(node.proc, String(pid)));
    async function ask(node: Node, kubelet: string, fmt: string): Promise<Ran> {
      const r = await execa(
        "sh",
        [
          SCRIPT,
          "--cgroup-root",
          node.cg,
          "--proc-root",
          node.proc,
          "--kubelet",
          kubelet,
          "--runtime",
          "/bin/true",
          fmt,
        ],
        { reject: false, stdin: "ignore", timeout: 60_000 },
      );
      return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    }
    type Fix = Report & {
      fix_state: string;
      fix_summary: string;
      running_kubelet: { pid: number; found_by: string; matches: string } | null;
    };

    it("a renamed sleep of nobody's at a lower pid (and nobody running the kubelet file itself) does not turn reboot into restart", async () => {
      const { node, kubelet, fake } = await rebootNode();
      const { att, kub } = await processes([{ file: fake }, { file: kubelet }], kubelet);
      await link(node, kub.pid!);
      const alone = report(await ask(node, kubelet, "--json")) as Fix;
      expect(alone.fix_state).toBe("reboot");
      expect(alone.running_kubelet).toMatchObject({ pid: kub.pid, found_by: "proc", matches: "same" });
      expect((await ask(node, kubelet, "--reboot-required")).code).toBe(0);

      for (const a of att) await link(node, a.pid!); // they sort first: the first process named kubelet
      const bent = report(await ask(node, kubelet, "--json")) as Fix;
      expect(bent.fix_state).toBe("reboot");
      expect(bent.running_kubelet).toEqual(alone.running_kubelet);
      const rr = await ask(node, kubelet, "--reboot-required");
      expect(rr.code).toBe(0);
      expect(rr.stdout).toBe("");
    });

    it("only processes that cannot be the kubelet, or two that could: cannot tell (--reboot-required exits 2)", async () => {
      const { node, kubelet, fake } = await rebootNode();
      const { att, kub } = await processes([{ file: fake }], kubelet);
      await link(node, att[0]!.pid!);
      let r = report(await ask(node, kubelet, "--json")) as Fix;
      expect(r.fix_state).toBe("unknown");
      expect(r.fix_summary).toContain(
        `cannot tell which process is the kubelet: processes named kubelet (pids ${att[0]!.pid}), none of them root's running ${kubelet} (pass --kubelet-pid PID)`,
      );
      expect(r.running_kubelet).toBeNull();
      expect((await ask(node, kubelet, "--reboot-required")).code).toBe(2);

      const second = startProcess(kubelet, false); // a second root kubelet of the same file
      await waitFor(
        "a second kubelet",
        async () => (await comm(second.pid!).catch(() => "")) === "kubelet",
        10_000,
      );
      await link(node, kub.pid!);
      await link(node, second.pid!);
      r = report(await ask(node, kubelet, "--json")) as Fix;
      expect(r.fix_state).toBe("unknown");
      expect(r.fix_summary).toMatch(
        /cannot tell which process is the kubelet: pids \d+ \d+ are all root's and run /,
      );
      expect((await ask(node, kubelet, "--reboot-required")).code).toBe(2);
      // the operator names it: that answers
      const named = await execa(
        "sh",
        [
          SCRIPT,
          "--cgroup-root",
          node.cg,
          "--proc-root",
          node.proc,
          "--kubelet",
          kubelet,
          "--runtime",
          "/bin/true",
        ].concat(["--kubelet-pid", String(kub.pid), "--reboot-required"]),
        { reject: false, stdin: "ignore" },
      );
      expect(named.exitCode).toBe(0);
    });
  },
);

// ---------------------------------------------------------------------------------------------------
// The binary verdict cache (--cache-dir). Replaced and touched binaries are read
// again; a forged cache entry never turns a FAIL into a PASS; an unwritable cache directory only costs
// the full read.
// ---------------------------------------------------------------------------------------------------
describe("binary verdicts kept between runs (--cache-dir)", () => {
  /** A fake kubelet of a fixed size: with or without runc's kmem-enabling code. */
  const kubeletBytes = (kmem: boolean) => {
    const b = fakeGoBinary(kmem ? { kmem: true } : { nokmem: true });
    return Buffer.concat([b, Buffer.alloc(16384 - b.length, 0x2e)]);
  };
  async function setup(kmem: boolean): Promise<{ node: Node; kubelet: string; cache: string }> {
    const node = await makeNode();
    await accountingOff(node);
    const d = await tmp("bins");
    await chmod(d, 0o755);
    const kubelet = join(d, "kubelet");
    await writeFile(kubelet, kubeletBytes(kmem), { mode: 0o755 });
    const cache = await tmp("cache");
    await chmod(cache, 0o777); // an emptyDir: anyone in the pod may write there
    return { node, kubelet, cache };
  }
  type BinReport = Report & { binaries: { role: string; verdict: string | null; reused?: boolean }[] };
  async function run(node: Node, kubelet: string, cache: string | null, nobody = false) {
    const args = [
      "sh",
      SCRIPT,
      "--cgroup-root",
      node.cg,
      "--proc-root",
      node.proc,
      "--kubelet",
      kubelet,
      "--runtime",
      kubelet,
      ...(cache ? ["--cache-dir", cache] : []),
      "--json",
    ];
    const cmd = nobody ? [...AS_NOBODY, ...args] : args;
    const r = await execa(cmd[0]!, cmd.slice(1), { reject: false, stdin: "ignore" });
    const rep = report({
      code: r.exitCode ?? -1,
      stdout: String(r.stdout),
      stderr: String(r.stderr),
    }) as BinReport;
    const kb = rep.binaries.find((b) => b.role === "kubelet")!;
    return {
      code: r.exitCode,
      rep,
      kb,
      seen: check(rep, "kubelet-binary").seen,
      status: check(rep, "kubelet-binary").status,
    };
  }

  it("an unchanged kubelet keeps its verdict; a replaced one (same size and mtime) is read again", async () => {
    const { node, kubelet, cache } = await setup(false);
    const first = await run(node, kubelet, cache);
    expect(first.kb).toMatchObject({ verdict: "nokmem-variant-linked", reused: false });
    const second = await run(node, kubelet, cache);
    expect(second.kb).toMatchObject({ verdict: "nokmem-variant-linked", reused: true });
    expect(second.seen).toContain(
      "verdict reused: identity (device, inode, size, mtime, ctime) unchanged since the last run",
    );
    expect(second.rep.binaries.every((b) => b.reused)).toBe(true);
    // replaced by rename with a kmem build of the same size, its mtime set to the old one's
    const old = await lstat(kubelet);
    const next = `${kubelet}.new`;
    await writeFile(next, kubeletBytes(true), { mode: 0o755 });
    await utimes(next, old.atime, old.mtime);
    await rename(next, kubelet);
    expect((await lstat(kubelet)).size).toBe(old.size);
    const third = await run(node, kubelet, cache);
    expect(third.kb).toMatchObject({ verdict: "kmem-code-linked", reused: false });
    expect(third.status).toBe("FAIL");
    expect(third.code).toBe(1);
  });

  it("a touched kubelet (mtime changed, content the same) is read again", async () => {
    const { node, kubelet, cache } = await setup(false);
    await run(node, kubelet, cache);
    const later = new Date(Date.now() + 5000);
    await utimes(kubelet, later, later);
    expect((await run(node, kubelet, cache)).kb.reused).toBe(false);
    expect((await run(node, kubelet, cache)).kb.reused).toBe(true);
  });

  it("content changed in place with size and mtime put back: the ctime still changes, read again", async () => {
    const { node, kubelet, cache } = await setup(false);
    await run(node, kubelet, cache);
    const old = await lstat(kubelet);
    await writeFile(kubelet, kubeletBytes(true));
    await utimes(kubelet, old.atime, old.mtime);
    const r = await run(node, kubelet, cache);
    expect(r.kb).toMatchObject({ verdict: "kmem-code-linked", reused: false });
    expect(r.status).toBe("FAIL");
  });

  it.skipIf(!isRoot)("a forged cache entry does not turn FAIL into PASS", async () => {
    const { node, kubelet, cache } = await setup(true);
    const first = await run(node, kubelet, cache);
    expect(first.status).toBe("FAIL");
    const dir = join(cache, "verify-kmem.0");
    const file = join(dir, "binaries");
    const genuine = await readFile(file, "utf8");
    // the forger rewrites the kmem count to 0 and a nokmem count of 1 for the same identity
    const forged = genuine
      .split("\n")
      .map((l) => l.replace(/^([^\t]*\t[^\t]*)\t\d+\t\d+\t/, "$1\t0\t1\t"))
      .join("\n");
    expect(forged).not.toBe(genuine);
    // (a) a file others may write (a forger's chmod, or one left group-writable): ignored
    await writeFile(file, forged);
    await chmod(file, 0o666);
    let r = await run(node, kubelet, cache);
    expect(r.status).toBe("FAIL");
    expect(r.kb).toMatchObject({ verdict: "kmem-code-linked", reused: false });
    expect(r.seen).toContain("verdict cache not used: ");
    expect(r.seen).toContain("binaries ignored: not a file of uid 0 that only it may write");
    // (b) a file owned by another user (nobody wrote it): ignored
    await rm(file, { force: true });
    await writeFile(file, forged, { mode: 0o600 });
    await chown(file, 65534, 65534);
    r = await run(node, kubelet, cache);
    expect(r.status).toBe("FAIL");
    expect(r.kb.reused).toBe(false);
    // (c) the directory planted by another user before root's first run: ignored
    const other = await setup(true);
    const planted = join(other.cache, "verify-kmem.0");
    await mkdir(planted, { mode: 0o700 });
    await writeFile(join(planted, "binaries"), forged.replaceAll(kubelet, other.kubelet), { mode: 0o600 });
    await chown(join(planted, "binaries"), 65534, 65534);
    await chown(planted, 65534, 65534);
    r = await run(other.node, other.kubelet, other.cache);
    expect(r.status).toBe("FAIL");
    expect(r.seen).toMatch(
      /verdict cache not used: .*verify-kmem\.0 is not a directory of uid 0 with mode 700 \(65534 700 directory\)/,
    );
    // (d) root's own file with an entry for another identity: not used for this one
    await run(node, kubelet, cache); // a fresh genuine cache again
    const bad = (await readFile(file, "utf8")).replace(
      /^([^\t]*)\t[^\t]*\t\d+\t\d+\t/gm,
      "$1\t1:2:3:x:y\t0\t1\t",
    );
    await writeFile(file, bad);
    r = await run(node, kubelet, cache);
    expect(r.status).toBe("FAIL");
    expect(r.kb.reused).toBe(false);
  });

  it.skipIf(!isRoot)(
    "a cache directory the checker may not write to: read in full, said so, same result",
    async () => {
      const { node, kubelet, cache } = await setup(false);
      await chmod(cache, 0o755); // root's, and nobody runs the check
      const without = await run(node, kubelet, null, true);
      const r1 = await run(node, kubelet, cache, true);
      const r2 = await run(node, kubelet, cache, true);
      for (const r of [r1, r2]) {
        expect(r.kb).toMatchObject({ verdict: "nokmem-variant-linked", reused: false });
        expect(r.seen).toContain(`verdict cache not used: cannot create ${cache}/verify-kmem.65534`);
        expect(r.code).toBe(without.code);
        expect(r.status).toBe(without.status);
      }
      expect(await readdir(cache)).toEqual([]);
    },
  );
});
