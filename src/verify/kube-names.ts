/**
 * Fleet verify --kubeconfig: pod and container names from the API server for the rows a node's runtime
 * could not name. One `kubectl get pods --all-namespaces -o json` for the whole fleet (through the one
 * command runner), matched by pod UID and by the container IDs in the pods' status.
 */
import { run } from "../exec.js";
import { KmemError } from "../errors.js";
import type { FleetReport } from "./report.js";

export interface ApiPod {
  namespace: string;
  name: string;
  /** container id (without the runtime:// prefix) → container name */
  containers: Map<string, string>;
}

interface PodJson {
  metadata?: { uid?: string; name?: string; namespace?: string };
  status?: Record<string, { name?: string; containerID?: string }[] | undefined>;
}

/** `kubectl get pods -A -o json` output → pods by UID. */
export function parsePodList(text: string): Map<string, ApiPod> {
  const list = JSON.parse(text) as { items?: PodJson[] };
  const pods = new Map<string, ApiPod>();
  for (const p of list.items ?? []) {
    const m = p.metadata;
    if (!m?.uid || !m.name) continue;
    const containers = new Map<string, string>();
    for (const key of ["containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"]) {
      for (const s of p.status?.[key] ?? []) {
        const id = s.containerID?.replace(/^[a-z-]+:\/\//, "");
        if (id && s.name) containers.set(id, s.name);
      }
    }
    pods.set(m.uid, { namespace: m.namespace ?? "", name: m.name, containers });
  }
  return pods;
}

/** Pods of the cluster of `kubeconfig`; throws KmemError with kubectl's message when it cannot tell. */
export async function podsFromApiServer(
  kubeconfig: string,
  o: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Map<string, ApiPod>> {
  const r = await run(
    "kubectl",
    ["--kubeconfig", kubeconfig, "--request-timeout=20s", "get", "pods", "--all-namespaces", "-o", "json"],
    { allowFailure: true, timeoutMs: o.timeoutMs ?? 30_000, signal: o.signal, what: "kubectl get pods" },
  );
  if (r.exitCode !== 0)
    throw new KmemError(`kubectl get pods: ${r.stderr.trim().split("\n").pop() || `exit ${r.exitCode}`}`);
  try {
    return parsePodList(r.stdout);
  } catch (err) {
    throw new KmemError(`kubectl get pods: not a pod list: ${(err as Error).message}`);
  }
}

/** Container id of a container cgroup directory: <id>, cri-containerd-<id>.scope, docker-<id>.scope … */
export function containerId(dir: string): string {
  return dir.endsWith(".scope") ? dir.slice(0, -".scope".length).replace(/^.*-/, "") : dir;
}

/**
 * Fills the names the nodes left null from the API server's pods; the pod-names check of each host says
 * how many rows that named. Returns the number of rows named.
 */
export function applyApiNames(f: FleetReport, pods: Map<string, ApiPod>): number {
  let total = 0;
  for (const h of f.hosts) {
    const r = h.report;
    if (!r) continue;
    let n = 0;
    for (const row of r.cgroups) {
      const pod = pods.get(row.pod_uid);
      if (!pod) continue;
      let named = false;
      if (row.pod_name === null) {
        row.pod_namespace = pod.namespace || null;
        row.pod_name = pod.name;
        named = true;
      }
      if (row.level === "container" && row.container_name === null && row.container) {
        const c = pod.containers.get(containerId(row.container));
        if (c) {
          row.container_name = c;
          named = true;
        }
      }
      if (named) n++;
    }
    if (n > 0) {
      const check = r.checks.find((c) => c.id === "pod-names");
      if (check) check.seen += `; ${n} more rows named by the API server (--kubeconfig)`;
      total += n;
    }
  }
  return total;
}
