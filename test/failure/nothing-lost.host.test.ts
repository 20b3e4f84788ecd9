/**
 * A build deletes only what it made: its own work directory inside --work-dir (never the directory
 * given, nor anything else in it), also when it is stopped by Ctrl-C at the terminal (SIGINT to the
 * whole process group), `timeout -s INT`, a closed output pipe, or killed outright (then the next
 * run collects what it left). And the log of a failed build is never written through a link.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execa } from "execa";
import { cp, mkdir, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeExample, type ExampleRelease } from "../helpers/example.js";
import { serveDirectory, type TestServer } from "../helpers/http-server.js";
import { CLI, REPO, buildArgs, finish, kb, listTree, start, tmp, removeTmp, waitFor } from "./helpers.js";

let example: ExampleRelease;
let server: TestServer;
const TARBALL = "/v1.20.15/kubernetes-src.tar.gz";

beforeAll(async () => {
  example = await makeExample("tag-era", "1.20.15", await tmp("served"));
  server = await serveDirectory(example.dir);
});
afterAll(async () => {
  await server?.close();
  await removeTmp();
});

/** A shared scratch directory as /var/tmp is: other people's files and directories. */
async function sharedScratch(): Promise<{ dir: string; before: string[] }> {
  const dir = await tmp("scratch");
  await mkdir(join(dir, "someone-else", "job"), { recursive: true });
  await writeFile(join(dir, "someone-else", "job", "state"), "half a day of work\n");
  await writeFile(join(dir, "notes.txt"), "keep me\n");
  return { dir, before: await listTree(dir) };
}

/** What a run must not leave in --out: a lock, a staging directory. */
async function expectNoLockNoStaging(out: string) {
  const left = await readdir(out).catch(() => [] as string[]);
  expect(left.filter((f) => f === ".kmem-build.lock" || /\.partial-|\.old-/.test(f))).toEqual([]);
}

/** The run's own work directories (kmem-build-work-*) now in `dir`. */
async function runDirs(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.startsWith("kmem-build-work-"));
}

function args(cache: string, out: string, work: string, ...rest: string[]) {
  return buildArgs(
    cache,
    out,
    "--kubernetes",
    "1.20.15",
    "--arch",
    "amd64",
    "--no-rpm",
    "--work-dir",
    work,
    ...rest,
  );
}

describe("build --work-dir DIR", () => {
  it("a shared scratch directory keeps everything it held: the build works in a directory of its own inside it and removes only that", async () => {
    const { dir, before } = await sharedScratch();
    const cache = await tmp("cache");
    const out = await tmp("out");
    const run = start(
      args(cache, out, dir, "--source", example.tarball, "--sha512", example.sha512, "--json"),
    );
    // While it runs: one directory of its own, carrying its owner record (pid and start time).
    const record = await waitFor("the run's work directory and its owner record", async () => {
      const [own] = await runDirs(dir);
      return own && (await readFile(join(dir, own, ".kmem-build-owner"), "utf8").catch(() => ""));
    });
    // ... and the staging directory in --out it will use (collected with it if the run is killed)
    expect(record).toMatch(
      new RegExp(`^${run.pid} \\d+\\nstaging ${out}/\\.1\\.20\\.15\\.partial-[0-9a-f]{8}\\n$`),
    );
    const r = await finish(run);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, compiled: ["amd64"] });
    expect(await listTree(dir)).toEqual(before);
    expect(await readFile(join(dir, "notes.txt"), "utf8")).toBe("keep me\n");
  });

  it("after a run that fails at once (a wrong --sha512) the directory is as it was", async () => {
    const { dir, before } = await sharedScratch();
    const r = await kb(
      args(
        await tmp("cache"),
        await tmp("out"),
        dir,
        "--source",
        example.tarball,
        "--sha512",
        "0".repeat(128),
      ),
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("sha512 mismatch");
    expect(await listTree(dir)).toEqual(before);
  });

  it("a --work-dir that did not exist is made for the run and gone afterwards (only empty directories it made are removed)", async () => {
    const base = await tmp("fresh");
    const work = join(base, "a", "b");
    const r = await kb(
      args(
        await tmp("cache"),
        await tmp("out"),
        work,
        "--source",
        example.tarball,
        "--sha512",
        "0".repeat(128),
      ),
    );
    expect(r.code, r.stderr).toBe(2);
    expect(await readdir(base)).toEqual([]);
  });
});

describe("an interrupted run leaves no lock, no staging directory, no work directory", () => {
  it("Ctrl-C at a terminal (SIGINT to the whole process group) while the builder container runs: exit 130", async () => {
    const { dir, before } = await sharedScratch();
    const cache = await tmp("cache");
    const out = await tmp("out");
    // Its own process group, as a shell job is; the signal goes to every process in it (podman too).
    const p = execa(
      process.execPath,
      [CLI, ...args(cache, out, dir, "--source", example.tarball, "--sha512", example.sha512)],
      {
        reject: false,
        detached: true,
        env: { CI: "true" },
        stdin: "ignore",
        forceKillAfterDelay: false,
        timeout: 300_000,
      },
    );
    await waitFor(
      "compile to start",
      async () => {
        const own = await runDirs(dir);
        return (
          own.length > 0 && (await listTree(join(dir, own[0]!))).some((f) => f.startsWith("src/cmd/kubelet"))
        );
      },
      120_000,
      100,
    );
    await new Promise((r) => setTimeout(r, 1500)); // into the compile
    process.kill(-p.pid!, "SIGINT");
    const r = await p;
    expect(r.exitCode, String(r.stderr)).toBe(130);
    expect(String(r.stderr)).toContain("error: interrupted by SIGINT");
    await expectNoLockNoStaging(out);
    expect(await listTree(dir)).toEqual(before);
    expect(await listTree(join(cache, "work"))).toEqual([]);
  });

  it("timeout -s INT while the download stalls: exit 130, nothing left", async () => {
    const { dir, before } = await sharedScratch();
    const cache = await tmp("cache");
    const out = await tmp("out");
    server.faults.set(TARBALL, { kind: "stall" });
    try {
      const r = await execa(
        "timeout",
        ["--preserve-status", "-s", "INT", "8", process.execPath, CLI, ...args(cache, out, dir)],
        { reject: false, env: { CI: "true", KMEM_BUILD_BASE_URL: server.url }, stdin: "ignore" },
      );
      expect(r.exitCode, String(r.stderr)).toBe(130);
      expect(String(r.stderr)).toMatch(/❯ fetch source|fetch source \[/);
      expect(String(r.stderr)).toContain("error: interrupted by SIGINT");
    } finally {
      server.faults.delete(TARBALL);
    }
    await expectNoLockNoStaging(out);
    expect(await readdir(out)).toEqual([]);
    expect(await listTree(dir)).toEqual(before);
    expect((await listTree(join(cache, "sources"))).filter((f) => /\.download-/.test(f))).toEqual([]);
  });

  it("a closed output pipe (the reader went away): the run stops with exit 141 and cleans up instead of dying mid-run", async () => {
    const { dir, before } = await sharedScratch();
    const cache = await tmp("cache");
    const out = await tmp("out");
    server.faults.set(TARBALL, { kind: "stall" });
    try {
      // The reader of both outputs is gone before the first line (`kmem-build build 2>&1 | true`).
      const r = await execa(
        "bash",
        [
          "-c",
          `"$@" 2>&1 | true; exit "\${PIPESTATUS[0]}"`,
          "sh",
          process.execPath,
          CLI,
          ...args(cache, out, dir),
        ],
        {
          reject: false,
          env: { CI: "true", KMEM_BUILD_BASE_URL: server.url },
          stdin: "ignore",
          timeout: 120_000,
        },
      );
      expect(r.exitCode, String(r.stderr)).toBe(141);
    } finally {
      server.faults.delete(TARBALL);
    }
    await expectNoLockNoStaging(out);
    expect(await listTree(dir)).toEqual(before);
  });

  it("a pipe closed mid-run (during the download): the next line written stops the run, exit 141, nothing left", async () => {
    const { dir, before } = await sharedScratch();
    const cache = await tmp("cache");
    const out = await tmp("out");
    server.faults.set(TARBALL, { kind: "stall" });
    server.hits.delete(TARBALL);
    try {
      // A 2 s stall timeout: the retry notice is the first line written after the reader left.
      const run = execa(process.execPath, [CLI, ...args(cache, out, dir)], {
        reject: false,
        env: { CI: "true", KMEM_BUILD_BASE_URL: server.url, KMEM_BUILD_HTTP_TIMEOUT_MS: "2000" },
        stdin: "ignore",
        buffer: false,
        timeout: 120_000,
      });
      await waitFor("the download to start", async () => (server.hits.get(TARBALL) ?? 0) >= 1);
      expect(await runDirs(dir)).toHaveLength(1);
      run.stdout!.destroy();
      run.stderr!.destroy();
      const r = await run;
      expect(r.exitCode).toBe(141);
    } finally {
      server.faults.delete(TARBALL);
    }
    await expectNoLockNoStaging(out);
    expect(await listTree(dir)).toEqual(before);
    expect((await listTree(join(cache, "sources"))).filter((f) => /\.download-/.test(f))).toEqual([]);
  });
});

describe("work directories left by a killed run (SIGKILL)", () => {
  it("are removed by the next run; a directory without an owner record, or whose owner is alive, stays", async () => {
    const { dir } = await sharedScratch();
    const cache = await tmp("cache");
    const out = await tmp("out");
    server.faults.set(TARBALL, { kind: "stall" });
    let orphan: string;
    try {
      const run = start(args(cache, out, dir), { env: { KMEM_BUILD_BASE_URL: server.url } });
      [orphan] = (await waitFor("the run's work directory", async () => {
        const d = await runDirs(dir);
        return d.length ? d : null;
      })) as [string];
      await waitFor("the download to start", async () => (server.hits.get(TARBALL) ?? 0) >= 1);
      run.kill("SIGKILL");
      await finish(run);
    } finally {
      server.faults.delete(TARBALL);
    }
    expect(await runDirs(dir)).toEqual([orphan!]); // a killed run cleans nothing: the next one must
    const staging = (await readdir(out)).filter((f) => /^\.1\.20\.15\.partial-/.test(f));
    expect(staging).toHaveLength(1);
    // Look-alikes: no owner record; a record naming this (live) test process; a record whose pid is
    // alive but started at another time (the pid was reused): only the last is taken as orphaned.
    const me = (await readFile(`/proc/${process.pid}/stat`, "utf8")).split(") ")[1]!.split(" ")[19];
    const plant = async (name: string, record?: string) => {
      await mkdir(join(dir, name, "src"), { recursive: true });
      await writeFile(join(dir, name, "src", "file"), "x\n");
      if (record !== undefined) await writeFile(join(dir, name, ".kmem-build-owner"), record);
    };
    await plant("kmem-build-work-norecord");
    await plant("kmem-build-work-alive", `${process.pid} ${me}\n`);
    await plant("kmem-build-work-reused", `${process.pid} 1\n`);
    await plant("kmem-build-work-garbage", "rm -rf /\n");

    const r = await kb(args(cache, out, dir, "--source", example.tarball, "--sha512", "0".repeat(128)));
    expect(r.code, r.stderr).toBe(2); // the lock the killed run left did not block it either
    expect(r.stderr).toContain(`removed the work directory of a run that is gone: ${join(dir, orphan!)}`);
    expect(r.stderr).toContain(
      `removed the work directory of a run that is gone: ${join(dir, "kmem-build-work-reused")}`,
    );
    expect(r.stderr).toContain(
      `removed the staging directory of a run that is gone: ${join(out, staging[0]!)}`,
    );
    expect((await runDirs(dir)).sort()).toEqual([
      "kmem-build-work-alive",
      "kmem-build-work-garbage",
      "kmem-build-work-norecord",
    ]);
    expect(await readdir(join(dir, "someone-else", "job"))).toEqual(["state"]);
    await expectNoLockNoStaging(out);
  });
});

describe("the failed build's log (.<version>.failed.log in --out)", () => {
  it("is not written through a symbolic link planted there: the run says so, the link's target is untouched", async () => {
    const base = await tmp("recipes");
    const recipes = join(base, "recipes");
    const patches = join(base, "patches");
    await cp(join(REPO, "recipes"), recipes, { recursive: true });
    await cp(join(REPO, "patches"), patches, { recursive: true });
    const recipe = join(recipes, "tag-era.yaml");
    await writeFile(
      recipe,
      (await readFile(recipe, "utf8")).replace(/^patches: \[\]$/m, 'patches: ["conflict.patch"]'),
    );
    // A patch that does not apply: the run fails after extraction, when the log is kept.
    await writeFile(
      join(patches, "conflict.patch"),
      "--- a/Makefile\n+++ b/Makefile\n@@ -1,1 +1,1 @@\n-not in the Makefile\n+x\n",
    );
    const out = await tmp("out");
    const victim = join(await tmp("victim"), "sudoers");
    await writeFile(victim, "root ALL=(ALL) ALL\n");
    const log = join(out, ".1.20.15.failed.log");
    await symlink(victim, log);
    const r = await kb([
      ...args(
        await tmp("cache"),
        out,
        await tmp("work"),
        "--source",
        example.tarball,
        "--sha512",
        example.sha512,
      ),
      "--recipes",
      recipes,
      "--patches",
      patches,
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("does not apply to Kubernetes 1.20.15");
    expect(r.stderr).toContain(
      `build log of the failed run not written: the build log ${log} is a symbolic link: not written through`,
    );
    expect(await readFile(victim, "utf8")).toBe("root ALL=(ALL) ALL\n");
    expect(await readlink(log)).toBe(victim);
    expect(await readdir(out)).toEqual([".1.20.15.failed.log"]); // no temp file, lock or staging left
  });
});
