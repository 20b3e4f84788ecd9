/**
 * Hostile input to verify-kmem.sh: output that can be bent (names and values from cgroups, the
 * runtime and the kernel log that try to forge lines, fields or metrics) and a --prometheus FILE in a
 * directory others can write to. Each test reproduces the attack and shows the refusal or the safe result.
 */
import { describe, it, expect, afterAll } from "vitest";
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { tmp, removeTmp } from "./helpers.js";
import {
  SCRIPT,
  isRoot,
  memcg,
  accountingOff,
  POD_A,
  makeNode,
  script,
  Report,
  report,
  check,
  cgroup,
  scriptEnv,
  awkPaths,
} from "./verify-node.js";

afterAll(removeTmp);

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
