/**
 * Shared by the failure-mode tests: run the built CLI (optionally in the background, to signal it),
 * temp directories, directory listings, leftovers in the cache, and the containers of one test.
 */
import { execa, type ResultPromise } from "execa";
import { mkdtemp, readdir, rm, lstat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { CLI } from "../helpers/cli.js";

export { CLI, REPO, TEST_IMAGE } from "../helpers/cli.js";
import { TEST_IMAGE } from "../helpers/cli.js";

/** A `build` on podman with the test image, one cache and one output directory, plus `rest`. */
export function buildArgs(cache: string, out: string, ...rest: string[]): string[] {
  return ["build", "--engine", "podman", "--image", TEST_IMAGE, "--cache-dir", cache, "--out", out, ...rest];
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOpts {
  env?: Record<string, string | undefined>;
  /** Replace the whole environment (e.g. a PATH without some tool); CI=true is always set. */
  cleanEnv?: boolean;
  cwd?: string;
  timeoutMs?: number;
}

const created: string[] = [];

export async function tmp(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `kmem-fail-${prefix}-`));
  created.push(d);
  return d;
}

export async function removeTmp(): Promise<void> {
  await Promise.all(created.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** Starts the CLI with this node binary (so a PATH without node still runs it); does not wait. */
export function start(args: string[], o: RunOpts = {}): ResultPromise {
  return execa(process.execPath, [CLI, ...args], {
    reject: false,
    cwd: o.cwd,
    extendEnv: !o.cleanEnv,
    env: { CI: "true", ...o.env },
    stdin: "ignore",
    timeout: o.timeoutMs ?? 300_000,
    // The tests send SIGTERM themselves and want to see how the CLI exits, not execa's SIGKILL.
    forceKillAfterDelay: false,
  });
}

export async function finish(p: ResultPromise, started = Date.now()): Promise<Ran> {
  const r = await p;
  return {
    code: r.exitCode ?? -1,
    stdout: String(r.stdout ?? ""),
    stderr: String(r.stderr ?? ""),
    ms: Date.now() - started,
  };
}

export async function kb(args: string[], o: RunOpts = {}): Promise<Ran> {
  const t = Date.now();
  return finish(start(args, o), t);
}

/** Every path under dir (relative, sorted), directories with a trailing slash. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string) {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = await lstat(p);
      out.push(relative(dir, p) + (st.isDirectory() ? "/" : ""));
      if (st.isDirectory()) await walk(p);
    }
  }
  await walk(dir);
  return out.sort();
}

/** Files in the cache that only a half-done download or a bad archive would leave. */
export async function cacheLeftovers(cache: string): Promise<string[]> {
  return (await listTree(join(cache, "sources"))).filter(
    (p) =>
      /\.part$|\.download-|\.tmp/.test(p) ||
      (p.endsWith(".tar.gz") && !/^v[^/]+\/[0-9a-f]{32}\.tar\.gz$/.test(p)),
  );
}

/** The cached tarballs (sources/v<version>/<sha512 prefix>.tar.gz). */
export async function cachedSources(cache: string): Promise<string[]> {
  return (await listTree(join(cache, "sources"))).filter((p) => p.endsWith(".tar.gz"));
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 60_000,
  everyMs = 50,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * kmem-build containers (running or not) that mount something under `marker` (a test's own temp
 * directory), so builds of other test runs on the same machine do not disturb the check.
 */
export async function containersOf(marker: string): Promise<string[]> {
  const r = await execa("podman", ["ps", "-a", "--filter", "name=kmem-build-", "--format", "json"], {
    reject: false,
  });
  if (r.exitCode !== 0) throw new Error(`podman ps failed: ${r.stderr}`);
  const list = JSON.parse(String(r.stdout) || "[]") as { Names?: string[]; Mounts?: string[]; Id: string }[];
  const mine: string[] = [];
  for (const c of list) {
    const ins = await execa("podman", ["inspect", "--format", "{{range .Mounts}}{{.Source}} {{end}}", c.Id], {
      reject: false,
    });
    if (String(ins.stdout).includes(marker)) mine.push(c.Names?.[0] ?? c.Id);
  }
  return mine;
}

/** Processes (pid, command name, arguments) that descend from `root`, from /proc. */
export async function descendants(root: number): Promise<{ pid: number; comm: string; args: string[] }[]> {
  const { readFile } = await import("node:fs/promises");
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const fields = stat.slice(close + 2).split(" ");
      parent.set(Number(name), Number(fields[1]));
      comm.set(Number(name), stat.slice(stat.indexOf("(") + 1, close));
    } catch {
      /* gone */
    }
  }
  const out: { pid: number; comm: string; args: string[] }[] = [];
  for (const [pid] of parent) {
    let p: number | undefined = pid;
    for (let i = 0; i < 64 && p && p !== root; i++) p = parent.get(p);
    if (p !== root || pid === root) continue;
    const args = await readFile(`/proc/${pid}/cmdline`, "utf8").then(
      (t) => t.split("\0").filter(Boolean),
      () => [],
    );
    out.push({ pid, comm: comm.get(pid)!, args });
  }
  return out;
}
