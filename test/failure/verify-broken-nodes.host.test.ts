/**
 * Verify on broken nodes, through `sh scripts/verify-kmem.sh` and `kmem-build verify`.
 * Unreadable counters, permission denied (as `nobody`), a cgroup that disappears while the script
 * walks the tree, no memory controller, an ssh host that accepts and never speaks. The report says
 * unknown (null / "unknown" / UNKNOWN) for what it could not read, exits 2 where it could not tell,
 * and never writes to the cgroup filesystem (a read-only bind mount, and listings+mtimes compared).
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { chmod, chown, lstat, mkdir, readdir, readFile, rm, symlink } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { execa } from "execa";
import { kb, tmp, removeTmp, start, finish, descendants, waitFor } from "./helpers.js";
import {
  SCRIPT,
  isRoot,
  memcg,
  accountingOff,
  POD_A,
  POD_B,
  makeNode,
  script,
  verifyCli,
  report,
  check,
  cgroup,
  expectValid,
} from "./verify-node.js";

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
    expectValid(fleet);
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
