/**
 * The JSON that scripts/verify-kmem.sh prints with --json (one node), and the fleet report
 * `kmem-build verify` builds from several of them. Schema: schemas/verify-report.schema.json.
 */
export type CheckStatus = "PASS" | "FAIL" | "WARN" | "INFO";
export type NodeResult = "OK" | "PROBLEM" | "UNKNOWN";

/**
 * Every check the script reports, in its order (JUnit has one testcase per host × check): the ids of
 * scripts/verify-kmem/checks.tsv, the one table of checks, as schemas/verify-contract.json lists them
 * (src/verify/contract.ts; test/verify/contract.test.ts and parts.test.ts hold them equal).
 */
export const CHECK_IDS = [
  "cgroup-layout",
  "kernel-kmem-policy",
  "pod-cgroups-kmem",
  "container-cgroups-kmem",
  "kmem-accounting-active",
  "kubelet-binary",
  "kubelet-checksum",
  "runtime-binaries",
  "leaked-memcgs",
  "kmem-stays-zero",
  "oom-headroom",
  "oom-kills-kmem",
  "pod-names",
] as const;

/**
 * Where a node stands in the fix; the wordings are in scripts/verify-kmem/report/fixstate.awk (states()),
 * listed in schemas/verify-contract.json (test/verify/contract.test.ts holds the states equal).
 */
export const FIX_STATES = [
  "not-affected",
  "kernel",
  "install",
  "restart",
  "reboot",
  "runtime",
  "fixed",
  "unknown",
] as const;
export type FixState = (typeof FIX_STATES)[number];

export interface Check {
  id: string;
  title: string;
  status: CheckStatus;
  seen: string;
  remedy: string;
  cause: "kernel" | "kubelet" | "runtime" | null;
  /** false: the check could not tell (the report's result is then UNKNOWN unless something FAILed). */
  conclusive: boolean;
}

/** Whose cgroup a row or an OOM kill is: a pod's or one of its containers'. */
export interface CgroupOwner {
  level: "pod" | "container";
  qos: string;
  pod_uid: string;
  container: string | null;
  /** Read on the node from the container runtime's labels; null when unknown. */
  pod_namespace: string | null;
  pod_name: string | null;
  /** null on pod rows and when unknown; "POD" for the pod sandbox. */
  container_name: string | null;
}

export interface CgroupRow extends CgroupOwner {
  path: string;
  usage_bytes: number | null;
  total_rss_bytes: number | null;
  total_cache_bytes: number | null;
  kmem_usage_bytes: number | null;
  kmem_max_usage_bytes: number | null;
  kmem_failcnt: number | null;
  hidden_bytes: number | null;
  kmem_accounting: "active" | "inactive" | "unknown" | "not-applicable";
  /** memory.limit_in_bytes (v2: memory.max); null when unlimited. */
  limit_bytes: number | null;
  /** usage / limit: what the OOM killer compares (4 decimals). */
  usage_limit_ratio: number | null;
  /** (rss + cache) / limit: what rss/cache dashboards show. */
  rss_cache_limit_ratio: number | null;
}

/** One memcg OOM kill of a pod or container cgroup, from the kernel log. */
export interface OomKill extends CgroupOwner {
  /** ISO 8601; "Z" when converted from dmesg's seconds since boot, no offset for syslog local time. */
  time: string | null;
  /** The memcg whose limit was hit (relative to the hierarchy root). */
  memcg: string;
  task_memcg: string | null;
  usage_bytes: number | null;
  limit_bytes: number | null;
  kmem_usage_bytes: number | null;
  rss_bytes: number | null;
  cache_bytes: number | null;
  hidden_bytes: number | null;
  /** kmem / usage (4 decimals). */
  kmem_share: number | null;
  /** kmem_share >= 0.10: kernel memory made the kill. */
  kmem_caused: boolean;
  /** Before the current boot or --since: listed, never a FAIL (absent in reports of older scripts). */
  history?: boolean;
  /** Where it was read from (absent in reports of older scripts). */
  source?: "dmesg" | "journalctl -k" | "file";
  process: { pid: number | null; name: string | null };
}

export interface KernelLogInfo {
  /** null: not read (see the oom-kills-kmem check for why). */
  source: "dmesg" | "journalctl -k" | "file" | null;
  path: string | null;
  lines: number | null;
  /** every memcg OOM kill in the log; other_memcg_oom_kills of them were not pod/container cgroups. */
  memcg_oom_kills: number | null;
  other_memcg_oom_kills: number | null;
  /** the scanned root's path in the memory hierarchy ("/": all of it; absent in older reports). */
  scope?: string;
  /** kills of pod/container cgroups outside scope: not this root's pods, not in oom_kills. */
  outside_root_oom_kills?: number | null;
  /** false: a plain file any local user can write (kmem-caused kills WARN, not FAIL); null: not read. */
  authenticated?: boolean | null;
  /**
   * Kills of pod/container cgroups counted, listed or not: oom_kills holds only the last
   * pod_oom_kills_list_limit (a log anyone can append to must not grow the report); absent in older
   * reports.
   */
  pod_oom_kills?: number | null;
  pod_oom_kills_kmem_caused?: number | null;
  pod_oom_kills_history?: number | null;
  pod_oom_kills_not_listed?: number | null;
  pod_oom_kills_list_limit?: number;
}

export interface BinaryRow {
  role: "kubelet" | "runtime";
  path: string;
  found_by: string;
  readable: boolean;
  verdict: "kmem-code-linked" | "nokmem-variant-linked" | "no-kmem-code" | null;
  build_tags: string[] | null;
  sha256: string | null;
  checksum_match: string | null;
  /** The verdict taken from the --cache-dir of an earlier run (identity unchanged); absent in older reports. */
  reused?: boolean;
  /** The marked version the binary carries (`v1.20.2+nokmem`), null when unmarked; absent in older reports. */
  version_mark?: string | null;
}

export interface NodeReport {
  schema_version: 1;
  script_version: string;
  timestamp: string;
  result: NodeResult;
  exit_code: 0 | 1 | 2;
  fix_state: FixState;
  fix_summary: string;
  next_step: string;
  running_kubelet:
    | {
        pid: number;
        found_by: "option" | "systemd" | "proc";
        exe: string | null;
        matches: "same" | "other" | "deleted" | "unknown";
        version: null;
      }
    | {
        /** No process seen (a pod without the host's processes): the API server's version for the node. */
        pid: null;
        found_by: "api";
        exe: null;
        matches: "same" | "other" | "unknown";
        version: string;
      }
    | null;
  node: {
    hostname: string | null;
    kernel: string | null;
    kernel_nokmem_param: boolean;
    kernel_charges_all_memcgs: boolean | null;
    cgroup_layout: "v1" | "hybrid" | "v2" | "unknown";
    memory_controller: "v1" | "v2" | null;
    memory_root: string | null;
    cgroup_driver: "cgroupfs" | "systemd" | "mixed" | null;
    kubepods: string[];
  };
  totals: { pass: number; fail: number; warn: number; info: number };
  checks: Check[];
  cgroups: CgroupRow[];
  binaries: BinaryRow[];
  memcgs: {
    num_cgroups: number | null;
    directories: number | null;
    leaked: number | null;
    limit: number;
    compared: boolean;
  };
  samples: {
    count: number;
    duration_seconds: number | null;
    interval_seconds: number | null;
    max_kmem_bytes: number | null;
    max_at: string | null;
    max_path: string | null;
    nonzero_samples: number;
  };
  kernel_log: KernelLogInfo;
  oom_kills: OomKill[];
}

/** What happened on one host: its report, or why there is none. */
export interface HostOutcome {
  host: string;
  result: NodeResult;
  exit_code: 0 | 1 | 2;
  /** Why the host could not be checked (unreachable, timed out, no report); null when it was. */
  error: string | null;
  seconds: number;
  report: NodeReport | null;
}

export interface FleetReport {
  schema_version: 1;
  kind: "fleet";
  timestamp: string;
  result: NodeResult;
  exit_code: 0 | 1 | 2;
  totals: { hosts: number; ok: number; problem: number; unknown: number };
  hosts: HostOutcome[];
}

/** Parses the script's --json output; null when it is not a report (then the host is unknown). */
export function parseNodeReport(text: string): NodeReport | null {
  const start = text.indexOf("{");
  if (start < 0) return null;
  try {
    const r = JSON.parse(text.slice(start)) as NodeReport;
    if (r?.schema_version !== 1 || !Array.isArray(r.checks) || ![0, 1, 2].includes(r.exit_code)) return null;
    return r;
  } catch {
    return null;
  }
}

export function resultOf(code: 0 | 1 | 2): NodeResult {
  return code === 1 ? "PROBLEM" : code === 2 ? "UNKNOWN" : "OK";
}

/** How many hosts or nodes are OK, PROBLEM and UNKNOWN: the totals of fleet and cluster reports. */
export function resultCounts(list: readonly { result: NodeResult }[]): {
  ok: number;
  problem: number;
  unknown: number;
} {
  const count = (v: NodeResult) => list.filter((x) => x.result === v).length;
  return { ok: count("OK"), problem: count("PROBLEM"), unknown: count("UNKNOWN") };
}
