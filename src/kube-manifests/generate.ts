/**
 * The Kubernetes side of the node check: a DaemonSet that runs scripts/verify-kmem.sh on every
 * node on an interval, the ConfigMap that carries the script (and the node-problem-detector
 * plugin), a PrometheusRule on the metrics it writes, and the node-problem-detector wiring.
 *
 * Everything here is a pure function of the options and the script text, so the fast suite can
 * validate exactly what `kmem-build manifests` writes.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { stringify } from "yaml";
import { TEMPLATES_DIR } from "../package/template.js";
import { TOOL_VERSION } from "../version.js";
import { durationText } from "../util/duration.js";
import { plainRulesFile, prometheusRule, timingsFor } from "../monitoring/rules.js";

export const APP = "kmem-build-verify";
/** The ConfigMap's mount point, in the DaemonSet and (by the patch) in node-problem-detector. */
export const CONFIG_DIR = "/etc/kmem-build";
export const TEXTFILE_NAME = "kmem-build.prom";
export const NPD_CONDITION = "KernelMemoryAccounting";
/** node-problem-detector's own default, kept: a node condition message stays short. */
export const NPD_MAX_OUTPUT = 80;
export const NPD_TIMEOUT_SECONDS = 10;
/**
 * The memory controller's own mount, at the same path as on the host. It is a mount point with
 * nothing mounted below it, so the readOnly hostPath (a read-only bind of that one mount) is
 * read-only all the way down on every Kubernetes version; /sys/fs/cgroup itself is a tmpfs with a
 * writable mount per controller below it, which a readOnly hostPath would leave writable (no
 * recursiveReadOnly before 1.30).
 */
const MEMORY_CGROUP = "/sys/fs/cgroup/memory";
/** The host /proc files the script reads (verify-kmem.sh --proc-root), each mounted on its own. */
const HOST_PROC = "/host/proc";
const PROC_FILES = ["1/mountinfo", "cgroups", "cmdline", "sys/kernel/osrelease"];

export interface ManifestOptions {
  image: string;
  namespace: string;
  intervalSeconds: number;
  textfileDir: string;
  /** kubelet binary on the nodes. */
  kubelet: string;
  /** runc binaries of the container runtime on the nodes. */
  runtimes: string[];
  /** Kernel log file on the nodes for the oom-kills-kmem check (the script's --kernel-log), if any. */
  kernelLog?: string;
  /** Run in the host's network namespace: for nodes without a working network plugin (CNI). */
  hostNetwork?: boolean;
  /**
   * The pod reads its own Node from the API server (the running kubelet's version, for the restart
   * state): a ServiceAccount bound to a ClusterRole that may only `get` nodes. Default on.
   */
  nodeApi?: boolean;
}

export interface ManifestFile {
  /** Relative to --out. */
  path: string;
  content: string;
}

export { durationText };

function yamlDoc(header: string, obj: unknown): string {
  return `# ${header}\n# Written by kmem-build ${TOOL_VERSION} (kmem-build manifests).\n${stringify(obj, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

const labels = { "app.kubernetes.io/name": APP, "app.kubernetes.io/part-of": "kmem-build" };

/**
 * Host directories holding the binaries the check inspects, each mounted read-only at /host<dir>,
 * so the script sees /host/usr/bin/kubelet for the node's /usr/bin/kubelet. A directory rather than
 * the file: a node where the binary is missing still runs the cgroup checks and reports it.
 */
function binaryMounts(paths: string[]): { dir: string; name: string }[] {
  const dirs = [...new Set(paths.map((p) => posix.dirname(p)))].sort();
  return dirs.map((dir, i) => ({ dir, name: `host-bin-${i}` }));
}

export interface PodMount {
  /** The flag (or fixed part of the pod) the mount comes from, for error messages. */
  flag: string;
  name: string;
  /** Path in the pod. */
  path: string;
  /** Path on the node, for hostPath volumes. */
  hostPath?: string;
  readOnly: boolean;
  volume: Record<string, unknown>;
}

/** Every volume of the pod and where it is mounted: one list, so that paths can be checked for clashes. */
export function podMounts(o: ManifestOptions): PodMount[] {
  const host = (flag: string, name: string, hostPath: string, path: string, type: string): PodMount => ({
    flag,
    name,
    path,
    hostPath,
    readOnly: true,
    volume: { name, hostPath: { path: hostPath, type } },
  });
  const procFiles = [...PROC_FILES, ...(o.kernelLog ? ["stat"] : [])];
  return [
    {
      flag: "(the ConfigMap)",
      name: "config",
      path: CONFIG_DIR,
      readOnly: true,
      volume: { name: "config", configMap: { name: APP, defaultMode: 0o555 } },
    },
    {
      flag: "(the pod's scratch space)",
      name: "tmp",
      path: "/tmp",
      readOnly: false,
      volume: { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
    },
    host("(the memory cgroups)", "memory-cgroup", MEMORY_CGROUP, MEMORY_CGROUP, "Directory"),
    ...procFiles.map((f) =>
      host(
        "(the host's /proc)",
        `host-proc-${f.replace(/[/_]/g, "-")}`,
        `/proc/${f}`,
        `${HOST_PROC}/${f}`,
        "File",
      ),
    ),
    ...binaryMounts([o.kubelet, ...o.runtimes]).map((b) =>
      host(`--kubelet/--runtime ${b.dir}`, b.name, b.dir, `/host${b.dir}`, "Directory"),
    ),
    ...(o.kernelLog
      ? [
          host(
            "--kernel-log",
            "host-log",
            posix.dirname(o.kernelLog),
            `/host${posix.dirname(o.kernelLog)}`,
            "Directory",
          ),
        ]
      : []),
    {
      flag: "--textfile-dir",
      name: "textfile",
      path: o.textfileDir,
      readOnly: false,
      volume: { name: "textfile", hostPath: { path: o.textfileDir, type: "DirectoryOrCreate" } },
    },
  ];
}

export function scriptArgsInPod(o: ManifestOptions): string[] {
  // binary verdicts kept between runs in the pod's own emptyDir (/tmp): an unchanged kubelet is not
  // read again (verify-kmem.sh --cache-dir; a directory of root's alone, never the host's)
  const args = ["--cache-dir", "/tmp", "--kubelet", `/host${o.kubelet}`];
  for (const r of o.runtimes) args.push("--runtime", `/host${r}`);
  if (o.kernelLog) args.push("--kernel-log", `/host${o.kernelLog}`);
  return args;
}

export function monitorConfig(o: ManifestOptions): Record<string, unknown> {
  const timeout = `${NPD_TIMEOUT_SECONDS}s`;
  return {
    plugin: "custom",
    pluginConfig: {
      invoke_interval: durationText(o.intervalSeconds),
      timeout,
      max_output_length: NPD_MAX_OUTPUT,
      concurrency: 1,
      enable_message_change_based_condition_update: true,
    },
    source: "kmem-build-custom-plugin-monitor",
    metricsReporting: true,
    conditions: [
      {
        type: NPD_CONDITION,
        reason: "NoKernelMemoryCharged",
        message: "no kernel memory charged to pod or container cgroups",
      },
    ],
    rules: [
      {
        type: "permanent",
        condition: NPD_CONDITION,
        reason: "KernelMemoryCharged",
        path: `${CONFIG_DIR}/npd-plugin.sh`,
        // the plugin reports UNKNOWN when the DaemonSet's result is older than two intervals and
        // a minute (a run itself takes up to about half a minute: the timestamp is taken at its end)
        args: [posix.join(o.textfileDir, TEXTFILE_NAME), String(2 * o.intervalSeconds + 60)],
        timeout,
      },
    ],
  };
}

export async function generateManifests(o: ManifestOptions, script: string): Promise<ManifestFile[]> {
  const tpl = (name: string) => readFile(join(TEMPLATES_DIR, "manifests", name), "utf8");
  const loop = await tpl("verify-loop.sh");
  const plugin = await tpl("npd-plugin.sh");
  const monitorJson = JSON.stringify(monitorConfig(o), null, 2) + "\n";
  const textfile = posix.join(o.textfileDir, TEXTFILE_NAME);

  const configMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: APP, namespace: o.namespace, labels },
    data: {
      "verify-kmem.sh": script,
      "verify-loop.sh": loop,
      "npd-plugin.sh": plugin,
      "kmem-build-monitor.json": monitorJson,
    },
  };
  const configHash = createHash("sha256").update(JSON.stringify(configMap.data)).digest("hex").slice(0, 16);

  const mounts = podMounts(o);
  const nodeApi = o.nodeApi !== false;

  const daemonSet = {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: APP, namespace: o.namespace, labels },
    spec: {
      selector: { matchLabels: { "app.kubernetes.io/name": APP } },
      updateStrategy: { type: "RollingUpdate" },
      template: {
        metadata: {
          labels,
          // a changed script or plugin rolls the pods
          annotations: {
            "kmem-build/config-sha256": configHash,
            // seccomp's RuntimeDefault on 1.10 - 1.26 (the securityContext field only exists from
            // 1.19, and these files serve every version): add seccompProfile on 1.27 and later
            "seccomp.security.alpha.kubernetes.io/pod": "runtime/default",
          },
        },
        spec: {
          // No hostNetwork: the node's name comes from the downward API (KMEM_NODE_NAME), and the
          // pod gets none of the host's network namespace (its 127.0.0.1 listeners, abstract sockets).
          // --host-network only where pods get no network otherwise (no CNI on the node). The one
          // network use is reading this pod's own Node from the API server (the running kubelet's
          // version): a token allowed nothing but `get nodes`; none at all with --no-node-api.
          ...(o.hostNetwork ? { hostNetwork: true } : {}),
          ...(nodeApi ? { serviceAccountName: APP } : {}),
          automountServiceAccountToken: nodeApi,
          // Every node, whatever its taints (NotReady, unschedulable, control plane, dedicated pools).
          tolerations: [{ operator: "Exists" }],
          terminationGracePeriodSeconds: 10,
          containers: [
            {
              name: "verify",
              image: o.image,
              imagePullPolicy: "IfNotPresent",
              command: ["sh", `${CONFIG_DIR}/verify-loop.sh`],
              args: scriptArgsInPod(o),
              env: [
                { name: "KMEM_INTERVAL", value: String(o.intervalSeconds) },
                { name: "KMEM_TEXTFILE", value: textfile },
                { name: "KMEM_SCRIPT", value: `${CONFIG_DIR}/verify-kmem.sh` },
                { name: "TMPDIR", value: "/tmp" },
                { name: "KMEM_NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
              ],
              // the binary checks read the kubelet (~100 MB) once a run: ~15 s of one core with
              // busybox grep, so the CPU limit keeps a run to about half a minute
              resources: {
                requests: { cpu: "10m", memory: "16Mi" },
                limits: { cpu: "500m", memory: "64Mi" },
              },
              // root for file ownership only (memory.kmem.slabinfo is root's 0400 on 3.10, the textfile
              // directory is root's), with every capability dropped: the check only reads files
              // whose owner is root or which everyone may read, and writes one file in a root-owned directory.
              securityContext: {
                runAsUser: 0,
                privileged: false,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
              volumeMounts: mounts.map((m) => ({ name: m.name, mountPath: m.path, readOnly: m.readOnly })),
            },
          ],
          volumes: mounts.map((m) => m.volume),
        },
      },
    },
  };

  const ruleTimings = timingsFor(o.intervalSeconds);

  // RFC 6902 patch for the node-problem-detector DaemonSet of the upstream manifest (flags in
  // `command`, one container): `kubectl patch daemonset node-problem-detector --type json --patch-file …`
  const npdPatch = [
    {
      op: "add",
      path: "/spec/template/spec/volumes/-",
      value: {
        name: "kmem-build",
        configMap: {
          name: APP,
          defaultMode: 0o555,
          items: [
            { key: "npd-plugin.sh", path: "npd-plugin.sh" },
            { key: "kmem-build-monitor.json", path: "kmem-build-monitor.json" },
          ],
        },
      },
    },
    {
      op: "add",
      path: "/spec/template/spec/volumes/-",
      value: { name: "kmem-build-textfile", hostPath: { path: o.textfileDir, type: "DirectoryOrCreate" } },
    },
    {
      op: "add",
      path: "/spec/template/spec/containers/0/volumeMounts/-",
      value: { name: "kmem-build", mountPath: CONFIG_DIR, readOnly: true },
    },
    {
      op: "add",
      path: "/spec/template/spec/containers/0/volumeMounts/-",
      value: { name: "kmem-build-textfile", mountPath: o.textfileDir, readOnly: true },
    },
    {
      op: "add",
      path: "/spec/template/spec/containers/0/command/-",
      value: `--config.custom-plugin-monitor=${CONFIG_DIR}/kmem-build-monitor.json`,
    },
  ];

  const files: ManifestFile[] = [];
  if (!["default", "kube-system", "kube-public"].includes(o.namespace))
    files.push({
      path: "00-namespace.yaml",
      content: yamlDoc("Namespace of the kmem-build node check.", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: o.namespace, labels },
      }),
    });
  files.push(
    ...(nodeApi
      ? [
          {
            path: "05-rbac.yaml",
            content: [
              yamlDoc("The DaemonSet's identity: it reads its own Node (the running kubelet's version).", {
                apiVersion: "v1",
                kind: "ServiceAccount",
                metadata: { name: APP, namespace: o.namespace, labels },
              }),
              // RBAC cannot name "the pod's own node" (resourceNames are fixed): `get` without
              // list or watch lets the pod read only a node whose name it already knows.
              yamlDoc("get nodes, nothing else: no list, no watch, no other resource.", {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRole",
                metadata: { name: APP, labels },
                rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["get"] }],
              }),
              yamlDoc(`Binds ${APP}'s ServiceAccount to that role.`, {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRoleBinding",
                metadata: { name: APP, labels },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: APP },
                subjects: [{ kind: "ServiceAccount", name: APP, namespace: o.namespace }],
              }),
            ].join("---\n"),
          },
        ]
      : []),
    {
      path: "10-configmap.yaml",
      content: yamlDoc(
        "verify-kmem.sh (the node check), its loop, and the node-problem-detector plugin and monitor config.",
        configMap,
      ),
    },
    {
      path: "20-daemonset.yaml",
      content: yamlDoc(
        `Runs verify-kmem.sh on every node every ${durationText(o.intervalSeconds)}.`,
        daemonSet,
      ),
    },
    { path: "prometheus/prometheusrule.yaml", content: prometheusRule(ruleTimings, o.namespace, labels) },
    { path: "rules/kmem-build.rules.yaml", content: plainRulesFile(ruleTimings) },
    { path: "node-problem-detector/kmem-build-monitor.json", content: monitorJson },
    { path: "node-problem-detector/daemonset-patch.json", content: JSON.stringify(npdPatch, null, 2) + "\n" },
  );
  return files;
}
