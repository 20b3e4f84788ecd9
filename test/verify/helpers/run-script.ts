/** Runs scripts/verify-kmem.sh (or the built CLI) the way the tests need it. */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { NodeReport } from "../../../src/verify/report.js";

export const REPO = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
export const SCRIPT = resolve(REPO, "scripts/verify-kmem.sh");
export const CLI = resolve(REPO, "lib/cli.js");

/** The POSIX shells the script must run under with identical output. */
export const SHELLS: Record<string, string[]> = {
  dash: ["dash"],
  bash: ["bash"],
  "busybox sh": ["busybox", "sh"],
};

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runScript(args: string[], o: { shell?: string[]; env?: NodeJS.ProcessEnv } = {}): Ran {
  const [sh, ...pre] = o.shell ?? ["dash"];
  const r = spawnSync(sh!, [...pre, SCRIPT, ...args], {
    encoding: "utf8",
    env: o.env ?? process.env,
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function runJson(
  args: string[],
  o: { shell?: string[]; env?: NodeJS.ProcessEnv } = {},
): Ran & { report: NodeReport } {
  const r = runScript([...args, "--json"], o);
  let report: NodeReport;
  try {
    report = JSON.parse(r.stdout) as NodeReport;
  } catch (err) {
    throw new Error(
      `not JSON (exit ${r.code}): ${(err as Error).message}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`,
    );
  }
  return { ...r, report };
}

export function runCli(args: string[], o: { timeoutMs?: number } = {}): Ran {
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build first`);
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    timeout: o.timeoutMs ?? 180_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A report without what changes from run to run (the clock). */
export function stable(r: NodeReport): unknown {
  const { timestamp: _t, samples, ...rest } = r;
  void _t;
  return { ...rest, samples: { ...samples, max_at: samples.max_at === null ? null : "<time>" } };
}

/** The built CLI without blocking the event loop (servers in this process keep answering). */
export function runCliAsync(args: string[], timeoutMs = 180_000): Promise<Ran & { ms: number }> {
  const started = Date.now();
  return new Promise((res, rej) => {
    if (!existsSync(CLI)) return rej(new Error(`${CLI} missing: run npm run build first`));
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}
