/**
 * Where the node script lives and how `kmem-build verify` reaches each of its options: SCRIPT_OPTIONS
 * is the one table of verify-kmem.sh's options; the commander definition of `kmem-build verify` and the
 * forwarding to the script both read it (test/verify/options.test.ts holds it equal to the script's --help).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import { PKG_ROOT } from "../version.js";

/** scripts/verify-kmem.sh of this package (the file every build ships as dist/<version>/verify-kmem.sh). */
export function bundledScriptPath(): string {
  return join(PKG_ROOT, "scripts", "verify-kmem.sh");
}

/**
 * How `kmem-build verify` reaches a script option:
 * - forward: same flag on the CLI, passed to the script on every node as given;
 * - output: same flag on the CLI, which chooses the output itself (the fleet needs the script's JSON);
 * - checksums: the file is read here, nodes get its sums (--expect-sha256);
 * - none: not a CLI option (`why` says why; docs/verify.md lists it).
 */
export type Reach = "forward" | "output" | "checksums" | "none";

export interface ScriptOption {
  flag: `--${string}`;
  /** The value's name, when the option takes one. */
  value?: string;
  repeatable?: boolean;
  reach: Reach;
  /** The CLI's --help line. */
  help: string;
  /** Why the option is not on `kmem-build verify` (reach "none"). */
  why?: string;
  /** Checks the value before any node is asked (UsageError). */
  check?: (value: string, flag: string) => void;
}

const duration = (v: string, flag: string) => void durationSeconds(v, flag);
const atLeastOneSecond = (v: string, flag: string) => {
  if (durationSeconds(v, flag) < 1) throw new UsageError(`${flag} must be at least 1s`);
};

/** Every option of scripts/verify-kmem.sh, in the order of its --help. */
export const SCRIPT_OPTIONS: readonly ScriptOption[] = [
  {
    flag: "--json",
    reach: "output",
    help: "JSON: the node report (schemas/verify-report.schema.json), or a fleet report with hosts",
  },
  { flag: "--brief", reach: "output", help: "one line (per host)" },
  {
    flag: "--reboot-required",
    reach: "output",
    help: "kured's sentinel for this host: print nothing, exit 0 exactly when the fix state is reboot, 1 for another state, 2 when it cannot tell (no --ssh/--hosts-file)",
  },
  {
    flag: "--human",
    reach: "none",
    help: "the human report",
    why: "the script's default output, which kmem-build verify prints without it",
  },
  {
    flag: "--gate",
    reach: "forward",
    help: "rollout gate: exit 0 only when the fix state is fixed or not-affected (and nothing failed or could not tell), 1 when a step of the fix is left, 2 when it cannot tell",
  },
  { flag: "--verbose", reach: "forward", help: "list every check and every pod/container cgroup" },
  {
    flag: "--prometheus",
    value: "file",
    reach: "forward",
    help: "write node_exporter textfile metrics on each node (path on the node)",
  },
  {
    flag: "--duration",
    value: "d",
    reach: "forward",
    help: "keep sampling for D (30s, 10m, 1h); FAIL if any sample is non-zero",
    check: duration,
  },
  {
    flag: "--interval",
    value: "d",
    reach: "forward",
    help: "time between samples (default 10s)",
    check: atLeastOneSecond,
  },
  {
    flag: "--kubelet",
    value: "path",
    reach: "forward",
    help: "kubelet binary on the node (default: systemd unit, PATH)",
  },
  {
    flag: "--kubelet-pid",
    value: "pid",
    reach: "forward",
    help: "the running kubelet process on the node (default: systemd MainPID, else the process named kubelet)",
    check: (v, flag) => {
      if (!/^\d+$/.test(v)) throw new UsageError(`bad ${flag} "${v}" (a process id)`);
    },
  },
  {
    flag: "--running-version",
    value: "version",
    reach: "forward",
    help: "the kubelet version the API server reports for the node (status.nodeInfo.kubeletVersion), compared with the mark of the kubelet on disk where no kubelet process can be seen",
    check: (v, flag) => {
      if (!/^v\d+\.\d+\.\d+[0-9A-Za-z.+-]*$/.test(v) || v.length > 64)
        throw new UsageError(
          `bad ${flag} "${v}" (a kubelet version as the API reports it, e.g. v1.20.2+nokmem)`,
        );
    },
  },
  {
    flag: "--runtime",
    value: "path",
    repeatable: true,
    reach: "forward",
    help: "runc binary of the container runtime on the node (repeatable)",
  },
  { flag: "--no-binaries", reach: "forward", help: "skip the kubelet and runc binary checks" },
  {
    flag: "--cache-dir",
    value: "dir",
    reach: "forward",
    help: "keep binary verdicts between runs in DIR/verify-kmem.<euid>/ on the node (mode 700, created)",
  },
  {
    flag: "--checksums",
    value: "file",
    reach: "checksums",
    help: "SHA256SUMS of a kmem-build build (read here): the node's kubelet must be listed",
  },
  {
    flag: "--expect-sha256",
    value: "hex[:name]",
    repeatable: true,
    reach: "forward",
    help: "a sha256 the node's kubelet may have (repeatable; with --checksums, any of them)",
    check: (v, flag) => {
      if (!/^[0-9a-fA-F]{64}(:.*)?$/.test(v))
        throw new UsageError(`bad ${flag} "${v}" (64 hex digits, optionally :NAME)`);
    },
  },
  {
    flag: "--cgroup-root",
    value: "dir",
    reach: "forward",
    help: "memory cgroup hierarchy to scan on the node (default: from mountinfo)",
  },
  {
    flag: "--proc-root",
    value: "dir",
    reach: "forward",
    help: "read /proc files under DIR on the node (test fixtures)",
  },
  {
    flag: "--kernel-log",
    value: "file",
    reach: "forward",
    help: "kernel log on the node to read OOM kills from: /var/log/messages, a journalctl -k export, a dmesg dump (default: dmesg, journalctl -k, /var/log/messages)",
  },
  { flag: "--no-kernel-log", reach: "forward", help: "do not read OOM kills from a kernel log" },
  {
    flag: "--trust-kernel-log",
    reach: "forward",
    help: "take kmem-caused kills read from a plain --kernel-log file as proof (FAIL); without it they are a WARN: any local user can write syslog",
  },
  {
    flag: "--since",
    value: "time",
    reach: "forward",
    help: "OOM kills before TIME (and before the node's current boot) are history: listed, never a FAIL (read by date -d on the node)",
    check: (v, flag) => {
      if (v.trim() === "") throw new UsageError(`${flag} needs a time`);
    },
  },
  {
    flag: "--runtime-endpoint",
    value: "unix:///path",
    repeatable: true,
    reach: "forward",
    help: "container runtime socket on the node to read pod and container names from (as crictl's flag; repeatable, tried in order; default: the usual containerd, CRI-O, docker sockets)",
    check: (v) => {
      if (!/^unix:\/\/\//.test(v)) throw new UsageError(`bad --runtime-endpoint "${v}" (use unix:///PATH)`);
    },
  },
  {
    flag: "--runtime-timeout",
    value: "s",
    reach: "forward",
    help: "time limit for asking the runtime on the node (default 10)",
    check: atLeastOneSecond,
  },
  {
    flag: "--help",
    reach: "none",
    help: "usage",
    why: "kmem-build verify --help describes the CLI; the script's own text is sh verify-kmem.sh --help",
  },
  {
    flag: "--version",
    reach: "none",
    help: "the script's version",
    why: "kmem-build --version names the tool; every JSON report carries script_version",
  },
];

/** The commander option key of a flag: --kubelet-pid → kubeletPid, --no-binaries → binaries. */
export function optionKey(flag: string): string {
  return flag.replace(/^--(no-)?/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The options of `kmem-build verify` as commander parsed them (only the script's are read here). */
export type ParsedOptions = Record<string, unknown>;

/** Checks every script option's value (UsageError), before any node is asked. */
export function checkScriptOptions(opts: ParsedOptions): void {
  for (const o of SCRIPT_OPTIONS) {
    if (!o.check || o.flag.startsWith("--no-")) continue;
    const v = opts[optionKey(o.flag)];
    for (const x of Array.isArray(v) ? v : typeof v === "string" ? [v] : []) o.check(String(x), o.flag);
  }
}

/** The script arguments for every forwarded option given, in the table's order. */
export function scriptArgs(opts: ParsedOptions): string[] {
  const a: string[] = [];
  for (const o of SCRIPT_OPTIONS) {
    if (o.reach !== "forward") continue;
    const v = opts[optionKey(o.flag)];
    if (o.flag.startsWith("--no-")) {
      if (v === false) a.push(o.flag);
    } else if (!o.value) {
      if (v === true) a.push(o.flag);
    } else if (Array.isArray(v)) for (const x of v) a.push(o.flag, String(x));
    else if (typeof v === "string" && v !== "") a.push(o.flag, v);
  }
  return a;
}

/** Seconds in 30, 30s, 10m, 1h, 1d (the script's grammar); throws UsageError otherwise. */
/** The longest duration either side takes: 366 days (verify-kmem.sh's to_seconds has the same bound). */
export const MAX_DURATION_SECONDS = 366 * 86400;

/**
 * A duration as verify-kmem.sh's to_seconds reads it, the one grammar of both sides: digits (leading
 * zeros allowed, at most 8 others), then s, m, h, d or nothing (seconds); at most 366 days.
 */
export function durationSeconds(text: string, flag: string): number {
  const m = /^0*(\d{0,8})([smhd]?)$/.exec(text);
  const bad = () => new UsageError(`bad ${flag} "${text}" (use 30, 30s, 10m, 1h; at most 366d)`);
  if (!m || !/^\d/.test(text)) throw bad();
  const s =
    Number(m[1] || "0") * { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "" | "s" | "m" | "h" | "d"];
  if (s > MAX_DURATION_SECONDS) throw bad();
  return s;
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

const RELEASE_LINE = 'BUILD_RELEASE=""';

/**
 * The script as a build ships it (dist/<version>/verify-kmem.sh, the RPM's copy): its BUILD_RELEASE
 * set to the RPM Release this build packages, so the node's next step names the exact package
 * (`yum install kubelet-1.20.2-2.nokmem`).
 */
export function stampRelease(script: string, release: string): string {
  if (!/^[A-Za-z0-9._+~]+$/.test(release))
    throw new UsageError(`RPM release "${release}" cannot be stamped into verify-kmem.sh`);
  const lines = script.split("\n");
  const at = lines.flatMap((l, i) => (l === RELEASE_LINE ? [i] : []));
  if (at.length !== 1) throw new Error(`verify-kmem.sh has ${at.length} "${RELEASE_LINE}" lines, not one`);
  lines[at[0]!] = `BUILD_RELEASE="${release}"`;
  return lines.join("\n");
}
