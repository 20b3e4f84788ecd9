/** Runs verify-kmem.sh on one host (this one, or a node over ssh) and turns what it returns into an outcome. */
import { readFile } from "node:fs/promises";
import { run } from "../exec.js";
import { KmemError, ToolMissingError } from "../errors.js";
import { parseNodeReport, resultOf, type HostOutcome } from "./report.js";
import { sshArgs, type SshOptions } from "./ssh.js";

/** The label of this machine in fleet reports. */
export const LOCAL_HOST = "local";

/**
 * The most a node may answer (stdout, and stderr apart): a node's report lists at most 50 OOM kills
 * and one row per pod or container cgroup (~0.5 KiB each: 16 MiB is ~30,000 of them), so more is a
 * node that lies; it is stopped there and reported UNKNOWN, and the CLI's memory stays bounded.
 */
export const NODE_REPORT_MAX_BYTES = 16 * 1024 * 1024;

export interface HostRunOptions {
  script: string;
  /** Script arguments (without --json; added here). */
  args: string[];
  ssh: SshOptions;
  /** Whole-run limit per host: a hanging host is reported unknown, the others go on. */
  timeoutMs: number;
  signal?: AbortSignal;
}

function lastLines(text: string, n = 3): string {
  return text.trim().split("\n").filter(Boolean).slice(-n).join(" | ");
}

function unknown(host: string, error: string, started: number): HostOutcome {
  return {
    host,
    result: "UNKNOWN",
    exit_code: 2,
    error,
    seconds: (Date.now() - started) / 1000,
    report: null,
  };
}

/** Never throws for a host-side problem: unreachable, timed out or garbled hosts come back UNKNOWN. */
export async function verifyHost(host: string, o: HostRunOptions): Promise<HostOutcome> {
  const started = Date.now();
  const local = host === LOCAL_HOST;
  const args = [...o.args, "--json"];
  let res;
  try {
    res = local
      ? await run("sh", [o.script, ...args], {
          allowFailure: true,
          timeoutMs: o.timeoutMs,
          signal: o.signal,
          maxOutputBytes: NODE_REPORT_MAX_BYTES,
        })
      : await run("ssh", sshArgs(host, args, o.ssh), {
          input: await readFile(o.script),
          allowFailure: true,
          timeoutMs: o.timeoutMs,
          signal: o.signal,
          what: `verify on ${host}`,
          maxOutputBytes: NODE_REPORT_MAX_BYTES,
        });
  } catch (err) {
    if (err instanceof ToolMissingError) throw err;
    const msg = err instanceof KmemError ? err.message : String(err);
    if (/: output over \d+ bytes: stopped$/.test(msg))
      return unknown(
        host,
        `report too large: the node sent more than ${NODE_REPORT_MAX_BYTES / 1048576} MiB (a report is far smaller); stopped reading`,
        started,
      );
    return unknown(host, msg.replace(/^.*?: (timed out|cancelled)/, "$1"), started);
  }
  const report = parseNodeReport(res.stdout);
  if (!report) {
    const why =
      !local && res.exitCode === 255
        ? `ssh failed: ${lastLines(res.stderr) || "exit 255"}`
        : `no report (exit ${res.exitCode}): ${lastLines(res.stderr || res.stdout) || "no output"}`;
    return unknown(host, why, started);
  }
  const code = report.exit_code;
  return {
    host,
    result: resultOf(code),
    exit_code: code,
    error: null,
    seconds: (Date.now() - started) / 1000,
    report,
  };
}
