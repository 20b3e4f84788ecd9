/**
 * `kmem-build verify --cluster`: every node's fix state as the API server shows it, with no agent and
 * no ssh. The cluster is read by kubectl itself (through the one command runner), so the kubeconfig,
 * its contexts and exec credential plugins work exactly as they do for kubectl. Where the
 * kmem-build-verify DaemonSet runs, its last report (the pod's log, read through the API server)
 * is shown beside the API's view, and node-problem-detector's condition where it sets one.
 */
import { run } from "../exec.js";
import { UsageError } from "../errors.js";
import { NPD_CONDITION } from "../kube-manifests/generate.js";
import {
  apiFixState,
  kernelClass,
  kubeletClass,
  type ApiFixState,
  type KernelClass,
  type KubeletClass,
} from "./cluster-classify.js";
import { FIX_STATES, resultCounts, resultOf, type FixState, type NodeResult } from "./report.js";

export const DAEMONSET_LABEL = "app.kubernetes.io/name=kmem-build-verify";
/** Log lines read per DaemonSet pod: a report without --verbose is well below this. */
const LOG_TAIL = 1000;

export interface ClusterTarget {
  kubeconfig?: string;
  context?: string;
}

export interface DaemonSetReport {
  namespace: string;
  pod: string;
  /** When the script ran (its report header), null when the log holds no whole report. */
  timestamp: string | null;
  fix_state: FixState | null;
  next_step: string | null;
  result: NodeResult | null;
  exit_code: 0 | 1 | 2 | null;
  /** Why there is no report to use (log unreadable, no whole report yet). */
  error: string | null;
}

export interface ClusterNode {
  node: string;
  kernel: string | null;
  kernel_class: KernelClass;
  kubelet_version: string | null;
  kubelet_class: KubeletClass;
  container_runtime: string | null;
  os_image: string | null;
  /** What the Node object alone tells. */
  api: { fix_state: ApiFixState; possible: FixState[]; why: string; next_step: string };
  daemonset: DaemonSetReport | null;
  /** node-problem-detector's KernelMemoryAccounting condition, when it sets one. */
  npd_condition: { status: string; reason: string; message: string } | null;
  /** The API's view and the node's own report together. */
  fix_state: FixState | "ask-node";
  next_step: string;
  result: NodeResult;
  exit_code: 0 | 1 | 2;
}

export interface ClusterReport {
  schema_version: 1;
  kind: "cluster";
  timestamp: string;
  context: string | null;
  /** How DaemonSet reports were looked for, and why none could be read when so. */
  daemonset_reports: string;
  result: NodeResult;
  exit_code: 0 | 1 | 2;
  totals: { nodes: number; ok: number; problem: number; unknown: number };
  nodes: ClusterNode[];
}

interface NodeJson {
  metadata?: { name?: string };
  status?: {
    nodeInfo?: {
      kernelVersion?: string;
      kubeletVersion?: string;
      containerRuntimeVersion?: string;
      osImage?: string;
    };
    conditions?: { type?: string; status?: string; reason?: string; message?: string }[];
  };
}

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** One node of `kubectl get nodes -o json`, classified from its nodeInfo. */
export function nodeFromApi(
  n: NodeJson,
): Omit<ClusterNode, "daemonset" | "fix_state" | "next_step" | "result" | "exit_code"> {
  const info = n.status?.nodeInfo ?? {};
  const kernel = str(info.kernelVersion);
  const kubelet = str(info.kubeletVersion);
  const kc = kernelClass(kernel);
  const bc = kubeletClass(kubelet);
  const v = apiFixState(kc, bc);
  const cond = (n.status?.conditions ?? []).find((c) => c.type === NPD_CONDITION);
  return {
    node: str(n.metadata?.name) ?? "?",
    kernel,
    kernel_class: kc,
    kubelet_version: kubelet,
    kubelet_class: bc,
    container_runtime: str(info.containerRuntimeVersion),
    os_image: str(info.osImage),
    api: { fix_state: v.state, possible: v.possible, why: v.why, next_step: v.next_step },
    npd_condition: cond
      ? {
          status: String(cond.status ?? ""),
          reason: String(cond.reason ?? ""),
          message: String(cond.message ?? ""),
        }
      : null,
  };
}

/**
 * The last whole report in a DaemonSet pod's log (templates/manifests/verify-loop.sh prints the
 * script's text report, then `verify-kmem.sh exited N`). The log is the pod's own output: only the
 * fields this needs are taken, each checked against what the script can print.
 */
export function lastDaemonSetReport(log: string): Omit<DaemonSetReport, "namespace" | "pod"> {
  const none = (error: string) => ({
    timestamp: null,
    fix_state: null,
    next_step: null,
    result: null,
    exit_code: null,
    error,
  });
  const lines = log.split("\n");
  for (let end = lines.length - 1; end >= 0; end--) {
    const exited = /^kmem-build-verify: verify-kmem\.sh exited (\d+)/.exec(lines[end]!);
    if (!exited) continue;
    let start = end - 1;
    while (start >= 0 && !lines[start]!.startsWith("kmem check of ")) start--;
    if (start < 0) return none(`the last report is longer than the ${LOG_TAIL} log lines read`);
    const block = lines.slice(start, end);
    const ts =
      / at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) \(verify-kmem\.sh [^)]*\)$/.exec(block[0]!)?.[1] ?? null;
    const fix = /^Fix state: ([a-z-]+): /.exec(block.find((l) => l.startsWith("Fix state: ")) ?? "")?.[1];
    const next = block.find((l) => l.startsWith("Next step: "))?.slice("Next step: ".length) ?? null;
    const code = Number(exited[1]);
    const state = FIX_STATES.includes(fix as FixState) ? (fix as FixState) : null;
    if (code > 2 || !state) return none(`the last report (exit ${code}) has no fix state`);
    const exit = code as 0 | 1 | 2;
    return {
      timestamp: ts,
      fix_state: state,
      next_step: next,
      result: resultOf(exit),
      exit_code: exit,
      error: null,
    };
  }
  return none("no whole report in the pod's log yet");
}

/** Where the API's view and the node's own report meet. */
export function combine(
  n: Omit<ClusterNode, "fix_state" | "next_step" | "result" | "exit_code">,
): Pick<ClusterNode, "fix_state" | "next_step" | "result" | "exit_code"> {
  const ds = n.daemonset;
  if (ds?.fix_state && ds.exit_code !== null) {
    // The DaemonSet reads the kubelet on disk, the API reports the running one: a nokmem kubelet on
    // disk while the running kubelet arms kmem is an old process still running.
    if (n.kubelet_class === "arms-kmem" && ["fixed", "reboot", "runtime"].includes(ds.fix_state))
      return {
        fix_state: "restart",
        next_step: `the running kubelet (${n.kubelet_version}) arms kmem while the one on disk is a nokmem build: restart the kubelet (systemctl restart kubelet), then drain and reboot the node`,
        result: "PROBLEM",
        exit_code: 1,
      };
    return {
      fix_state: ds.fix_state,
      next_step: ds.next_step ?? "",
      result: ds.result!,
      exit_code: ds.exit_code,
    };
  }
  const code = n.api.fix_state === "install" ? 1 : 2;
  return {
    fix_state:
      n.api.fix_state === "install" ? "install" : n.api.fix_state === "unknown" ? "unknown" : "ask-node",
    next_step: n.api.next_step,
    result: resultOf(code),
    exit_code: code,
  };
}

function kubectlArgs(t: ClusterTarget): string[] {
  return [
    ...(t.kubeconfig ? ["--kubeconfig", t.kubeconfig] : []),
    ...(t.context ? ["--context", t.context] : []),
    "--request-timeout=20s",
  ];
}

async function kubectl(t: ClusterTarget, args: string[], what: string, signal?: AbortSignal) {
  return run("kubectl", [...kubectlArgs(t), ...args], {
    allowFailure: true,
    timeoutMs: 60_000,
    signal,
    what,
  });
}

const lastLine = (r: { stderr: string; exitCode: number }) =>
  r.stderr.trim().split("\n").pop() || `exit ${r.exitCode}`;

/** Reads every node, then the DaemonSet's reports; throws UsageError when the nodes cannot be read. */
export async function clusterReport(
  t: ClusterTarget,
  o: { signal?: AbortSignal; daemonset?: boolean; parallel?: number; now?: Date } = {},
): Promise<ClusterReport> {
  const r = await kubectl(t, ["get", "nodes", "-o", "json"], "kubectl get nodes", o.signal);
  if (r.exitCode !== 0)
    throw new UsageError(
      `cannot read the nodes of the cluster: kubectl get nodes: ${lastLine(r)}`,
      "check --kubeconfig and --context: kubectl get nodes with the same options must work",
    );
  let items: NodeJson[];
  try {
    items = (JSON.parse(r.stdout) as { items?: NodeJson[] }).items ?? [];
  } catch (err) {
    throw new UsageError(`cannot read the nodes of the cluster: not a node list: ${(err as Error).message}`);
  }
  const nodes = items.map(nodeFromApi).sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));

  const reports = new Map<string, DaemonSetReport>();
  let how = "not looked for (--no-daemonset)";
  if (o.daemonset !== false) {
    const p = await kubectl(
      t,
      ["get", "pods", "--all-namespaces", "-l", DAEMONSET_LABEL, "-o", "json"],
      "kubectl get pods",
      o.signal,
    );
    if (p.exitCode !== 0) how = `not readable: kubectl get pods -l ${DAEMONSET_LABEL}: ${lastLine(p)}`;
    else {
      const pods = ((JSON.parse(p.stdout) as { items?: PodJson[] }).items ?? []).filter(
        (x) => x.status?.phase === "Running" && str(x.spec?.nodeName) && str(x.metadata?.name),
      );
      how = `the last report in the log of each ${DAEMONSET_LABEL} pod (${pods.length} running)`;
      const queue = [...pods];
      const worker = async () => {
        for (let pod = queue.shift(); pod; pod = queue.shift()) {
          const ns = pod.metadata!.namespace ?? "default";
          const name = pod.metadata!.name!;
          const l = await kubectl(
            t,
            ["logs", "-n", ns, name, `--tail=${LOG_TAIL}`],
            "kubectl logs",
            o.signal,
          );
          const base = { namespace: ns, pod: name };
          reports.set(
            pod.spec!.nodeName!,
            l.exitCode === 0
              ? { ...base, ...lastDaemonSetReport(l.stdout) }
              : {
                  ...base,
                  timestamp: null,
                  fix_state: null,
                  next_step: null,
                  result: null,
                  exit_code: null,
                  error: `kubectl logs: ${lastLine(l)}`,
                },
          );
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, o.parallel ?? 8) }, worker));
    }
  }

  const full = nodes.map((n) => {
    const withDs = { ...n, daemonset: reports.get(n.node) ?? null };
    return { ...withDs, ...combine(withDs) };
  });
  const code: 0 | 1 | 2 = full.some((n) => n.exit_code === 1)
    ? 1
    : full.some((n) => n.exit_code === 2)
      ? 2
      : 0;
  return {
    schema_version: 1,
    kind: "cluster",
    timestamp: (o.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
    context: t.context ?? null,
    daemonset_reports: how,
    result: resultOf(code),
    exit_code: code,
    totals: { nodes: full.length, ...resultCounts(full) },
    nodes: full,
  };
}

interface PodJson {
  metadata?: { name?: string; namespace?: string };
  spec?: { nodeName?: string };
  status?: { phase?: string };
}
