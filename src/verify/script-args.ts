/** Where the node script lives and which of `kmem-build verify`'s options it receives. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import { PKG_ROOT } from "../version.js";

/** scripts/verify-kmem.sh of this package (the file every build ships as dist/<version>/verify-kmem.sh). */
export function bundledScriptPath(): string {
  return join(PKG_ROOT, "scripts", "verify-kmem.sh");
}

export interface ScriptPassthrough {
  duration?: string;
  interval?: string;
  kubelet?: string;
  runtime: string[];
  binaries: boolean;
  cgroupRoot?: string;
  procRoot?: string;
  /** Kernel log on the node to read OOM kills from; false: none (--no-kernel-log); unset: the node's. */
  kernelLog?: string | false;
  /** Take kmem-caused kills read from a plain kernel log file as proof (the script's --trust-kernel-log). */
  trustKernelLog?: boolean;
  prometheus?: string;
  verbose?: boolean;
  /** Container runtime socket for pod/container names (unix:///PATH, as crictl's flag). */
  runtimeEndpoint?: string[];
  /** Seconds the script may spend asking the runtime. */
  runtimeTimeout?: string;
  /** `hex:name` pairs from --checksums, sent as --expect-sha256 (the file stays on this machine). */
  expectSha256: string[];
}

/** Seconds in 30, 30s, 10m, 1h, 1d (the script's grammar); throws UsageError otherwise. */
export function durationSeconds(text: string, flag: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text);
  if (!m) throw new UsageError(`bad ${flag} "${text}" (use 30, 30s, 10m, 1h)`);
  return Number(m[1]) * { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "" | "s" | "m" | "h" | "d"];
}

export function scriptArgs(p: ScriptPassthrough): string[] {
  const a: string[] = [];
  if (p.duration !== undefined) a.push("--duration", p.duration);
  if (p.interval !== undefined) a.push("--interval", p.interval);
  if (p.kubelet) a.push("--kubelet", p.kubelet);
  for (const r of p.runtime) a.push("--runtime", r);
  if (!p.binaries) a.push("--no-binaries");
  if (p.cgroupRoot) a.push("--cgroup-root", p.cgroupRoot);
  if (p.procRoot) a.push("--proc-root", p.procRoot);
  if (p.kernelLog === false) a.push("--no-kernel-log");
  else if (p.kernelLog) a.push("--kernel-log", p.kernelLog);
  if (p.trustKernelLog) a.push("--trust-kernel-log");
  if (p.prometheus) a.push("--prometheus", p.prometheus);
  if (p.verbose) a.push("--verbose");
  for (const e of p.expectSha256) a.push("--expect-sha256", e);
  for (const e of p.runtimeEndpoint ?? []) a.push("--runtime-endpoint", e);
  if (p.runtimeTimeout !== undefined) a.push("--runtime-timeout", p.runtimeTimeout);
  return a;
}

/** SHA256SUMS (`<hex>  [*]<name>`, as sha256sum and goreleaser write it) → `hex:name` pairs. */
export async function readChecksums(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read --checksums ${file}: ${(err as Error).message}`);
  }
  const pairs: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(.+)$/.exec(line.trim());
    if (m) pairs.push(`${m[1]!.toLowerCase()}:${m[2]}`);
  }
  if (pairs.length === 0) throw new UsageError(`--checksums ${file} has no "<sha256>  <name>" lines`);
  return pairs;
}
