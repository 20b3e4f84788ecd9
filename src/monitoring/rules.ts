/**
 * The Prometheus rules of kmem-build, one source for both files `kmem-build manifests` writes:
 * the PrometheusRule (Prometheus Operator) and a plain rules file (`rule_files:` of any Prometheus).
 *
 * Two groups:
 *   kmem-build          alerts on the node_exporter textfile metrics of verify-kmem.sh (the DaemonSet);
 *                       they follow the node's fix state (kmem_build_fix_state{state}) where the
 *                       script writes it, so a >= 4.6 kernel that charges kmem by itself gets one
 *                       info-level alert, never the page a 3.10 node whose kubelet arms accounting gets.
 *   kmem-build-cadvisor needs no agent: cAdvisor's series on every kubelet's /metrics/cadvisor.
 *                       Before kubelet 1.29 (cAdvisor 0.48) there is no kernel-memory series, and on
 *                       cgroup v1 container_memory_usage_bytes (memory.usage_in_bytes) includes kmem,
 *                       so usage - rss - cache is the memory the OOM killer counts and dashboards miss.
 *   kmem-build-api      needs no agent either: kube-state-metrics' kube_node_info, the API server's view
 *                       of every node (kernel_version, kubelet_version, container_runtime_version).
 *                       The same classes as `kmem-build verify --cluster` (src/verify/cluster-classify.ts).
 */
import { stringify } from "yaml";
import { TOOL_VERSION } from "../version.js";
import { durationText } from "../util/duration.js";
import type { FixState } from "../verify/report.js";
import { CONTRACT } from "../verify/contract.js";
import {
  KERNEL_4_6_PLUS_RE,
  KERNEL_BEFORE_4_6_RE,
  KERNEL_KNOWS_NOKMEM_RE,
  KUBELET_ARMS_KMEM_RE,
  KUBELET_MARKED_RE,
  KUBELET_VERSION_RE,
} from "../verify/cluster-classify.js";

/** The oom-headroom check of verify-kmem.sh: usage / limit above the first while (rss + cache) / limit is below the second. */
const { HEADROOM_USAGE, HEADROOM_SEEN, KMEM_SHARE } = CONTRACT.thresholds;
/** A fix state's next step as the node script words it (schemas/verify-contract.json). */
function stepOf(state: FixState): string {
  const s = CONTRACT.fix_states.find((f) => f.state === state)?.next_step;
  if (!s) throw new Error(`schemas/verify-contract.json has no fixed next step for ${state}`);
  return s;
}

export interface RuleTimings {
  /** `for:` of the kmem-charged and fix-state alerts. */
  kmemFor: number;
  /** `for:` of the binary alert and the cAdvisor headroom alert. */
  binaryFor: number;
  /** increase() window of the kmem-caused OOM kill alert. */
  oomWindow: number;
  /** Age of the last verify result after which the check counts as not running. */
  staleAfter: number;
  /** The DaemonSet's interval (only named in annotations). */
  interval: number;
}

/** The windows for a DaemonSet running every `intervalSeconds`. */
export function timingsFor(intervalSeconds: number): RuleTimings {
  return {
    kmemFor: Math.max(900, 2 * intervalSeconds),
    binaryFor: Math.max(300, intervalSeconds),
    oomWindow: Math.max(3600, 3 * intervalSeconds),
    staleAfter: 2 * intervalSeconds,
    interval: intervalSeconds,
  };
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: "critical" | "warning" | "info" } & Record<string, string>;
  annotations: { summary: string; description: string } & Record<string, string>;
}
export interface RecordingRule {
  record: string;
  expr: string;
}
export interface RuleGroup {
  name: string;
  rules: (AlertRule | RecordingRule)[];
}

/** States with an alert of their own: the generic kmem-charged alert stays silent on them. */
const STATES_WITH_ALERT: FixState[] = ["kernel", "install", "restart", "reboot", "runtime"];

const state = (s: string) => `max by (instance) (kmem_build_fix_state{state="${s}"}) == 1`;
const onInstance = (s: string) => `max by (instance) (kmem_build_fix_state{state=~"${s}"})`;

/** A pod or container cgroup as cAdvisor names it (its `id` label: the cgroup path, both drivers). */
const POD_UID = "([0-9a-f]{8})[-_]([0-9a-f]{4})[-_]([0-9a-f]{4})[-_]([0-9a-f]{4})[-_]([0-9a-f]{12})";
/** Static pods: the kubelet's UID is a 32-digit hash, without dashes. */
const STATIC_UID = "([0-9a-f]{32})";
// (backslashes doubled: a PromQL string literal)
export const CADVISOR_POD_ID = `.*/kubepods[^/]*(/[^/]+)?/[^/]*pod(${POD_UID}|${STATIC_UID})(\\\\.slice)?`;
export const CADVISOR_CONTAINER_ID = `${CADVISOR_POD_ID}/[^/]+`;
export const HIDDEN_POD = "kmem_build:pod_hidden_memory_bytes";
export const HIDDEN_CONTAINER = "kmem_build:container_hidden_memory_bytes";

const hidden = (id: string) =>
  `container_memory_usage_bytes{id=~"${id}"} - container_memory_rss{id=~"${id}"} - container_memory_cache{id=~"${id}"}`;
/**
 * pod_uid from the id, as the textfile metrics name it (dashes, also under the systemd driver; a
 * static pod's hash as it is). label_replace leaves a series alone when its regex does not match.
 */
const withPodUid = (expr: string) =>
  `label_replace(label_replace(${expr}, "pod_uid", "$1-$2-$3-$4-$5", "id", ".*pod${POD_UID}(\\\\.slice)?(/.*)?"), ` +
  `"pod_uid", "$1", "id", ".*pod${STATIC_UID}(\\\\.slice)?(/.*)?")`;

export const API_FIX_STATE = "kmem_build:node_api_fix_state";
export const API_KERNEL_CLASS = "kmem_build:node_kernel_class";
export const API_KUBELET_CLASS = "kmem_build:node_kubelet_class";

/** kube_node_info with label matchers (PromQL raw strings: the regular expressions as they are). */
const nodeInfo = (...m: [string, "=~" | "!~", string][]) =>
  `kube_node_info{${m.map(([l, op, re]) => `${l}${op}\`${re}\``).join(", ")}}`;
const K = "kernel_version";
const B = "kubelet_version";
const AFFECTED: [string, "=~" | "!~", string][] = [
  [K, "=~", KERNEL_BEFORE_4_6_RE],
  [K, "!~", KERNEL_KNOWS_NOKMEM_RE],
];
const ARMS: [string, "=~" | "!~", string][] = [
  [B, "=~", KUBELET_ARMS_KMEM_RE],
  [B, "!~", KUBELET_MARKED_RE],
];
const classed = (label: string, cls: [string, string][]) =>
  cls
    .map(([value, sel]) => `label_replace(max by (node) (${sel}), "${label}", "${value}", "", "")`)
    .join(" or ");

function apiRules(t: RuleTimings): (AlertRule | RecordingRule)[] {
  const by = "max by (node, kernel_version, kubelet_version, container_runtime_version)";
  const install = `${by} (${nodeInfo(...AFFECTED, ...ARMS)})`;
  const unknown = `${nodeInfo([K, "!~", KERNEL_BEFORE_4_6_RE], [K, "!~", KERNEL_4_6_PLUS_RE])} or ${nodeInfo([K, "=~", KERNEL_BEFORE_4_6_RE], [B, "!~", KUBELET_VERSION_RE])}`;
  const askNode = `kube_node_info unless on (node) (${nodeInfo(...AFFECTED, ...ARMS)} or ${unknown})`;
  const facts =
    "kernel {{ $labels.kernel_version }}, kubelet {{ $labels.kubelet_version }}, runtime {{ $labels.container_runtime_version }}";
  return [
    {
      record: API_KERNEL_CLASS,
      expr: classed("kernel_class", [
        ["affected", nodeInfo(...AFFECTED)],
        ["knows-nokmem", nodeInfo([K, "=~", KERNEL_KNOWS_NOKMEM_RE])],
        ["4.6+", nodeInfo([K, "=~", KERNEL_4_6_PLUS_RE])],
        ["unknown", nodeInfo([K, "!~", KERNEL_BEFORE_4_6_RE], [K, "!~", KERNEL_4_6_PLUS_RE])],
      ]),
    },
    {
      record: API_KUBELET_CLASS,
      expr: classed("kubelet_class", [
        ["nokmem-marked", nodeInfo([B, "=~", KUBELET_MARKED_RE])],
        ["arms-kmem", nodeInfo(...ARMS)],
        [
          "no-kmem-code",
          nodeInfo(
            [B, "=~", KUBELET_VERSION_RE],
            [B, "!~", KUBELET_ARMS_KMEM_RE],
            [B, "!~", KUBELET_MARKED_RE],
          ),
        ],
        ["unknown", nodeInfo([B, "!~", KUBELET_VERSION_RE])],
      ]),
    },
    {
      // one series per node: install (the API alone tells), ask-node (only the node can tell:
      // cgroup v2, cgroup.memory=nokmem, a reboot still due, the runtime's runc) or unknown
      record: API_FIX_STATE,
      expr: classed("state", [
        ["install", nodeInfo(...AFFECTED, ...ARMS)],
        ["unknown", `(${unknown})`],
        ["ask-node", `(${askNode})`],
      ]),
    },
    {
      alert: "KmemKubeletArmsKmemOnAffectedKernel",
      expr: install,
      for: durationText(t.binaryFor),
      labels: { severity: "critical" },
      annotations: {
        summary:
          "The running kubelet on {{ $labels.node }} switches kernel memory accounting on, on a kernel that is hurt by it",
        description:
          `The API server reports ${facts}: a kernel before 4.6 (3.10 EL7 before 7.8) accounts kmem in every pod cgroup ` +
          "where the kubelet's runc arms it, and this kubelet (upstream <= 1.21.1, not marked +nokmem) does. Pods leak memory cgroup IDs " +
          "and are OOM-killed for kernel memory their dashboards do not show. Next step: install the kmem-build kubelet (its version ends in +nokmem), " +
          "restart the kubelet, then drain and reboot the node.",
      },
    },
    {
      alert: "KmemKubeletArmsKmemUnlessNokmemParam",
      expr: `${by} (${nodeInfo([K, "=~", KERNEL_KNOWS_NOKMEM_RE], ...ARMS)})`,
      for: durationText(t.binaryFor),
      labels: { severity: "info" },
      annotations: {
        summary:
          "The running kubelet on {{ $labels.node }} arms kernel memory accounting; the kernel can refuse it if booted so",
        description:
          `The API server reports ${facts}: this RHEL 7.8+ kernel knows cgroup.memory=nokmem, with which nothing accounts kmem; ` +
          "without it the kubelet (upstream <= 1.21.1, not marked +nokmem) arms kmem in every pod cgroup. Only the node can tell which: " +
          "kmem-build verify on the node, or the kmem-build-verify DaemonSet's fix state.",
      },
    },
  ];
}

export function ruleGroups(t: RuleTimings): RuleGroup[] {
  const next = (what: string) =>
    `Next step: ${what}. verify-kmem.sh on the node (kubectl logs of the kmem-build-verify pod there) shows the evidence.`;
  const textfile: AlertRule[] = [
    {
      alert: "KmemFixInstallKubelet",
      expr: state("install"),
      for: durationText(t.kmemFor),
      labels: { severity: "critical" },
      annotations: {
        summary: "The kubelet on {{ $labels.instance }} switches kernel memory accounting on for pod cgroups",
        description:
          "Fix state install: a 3.10 kernel that accounts kmem only where the kubelet (runc code linked in) arms it, " +
          "and this kubelet does. Pods leak memory cgroup IDs and are OOM-killed for kernel memory their dashboards do not show. " +
          next(CONTRACT.fixes.kubelet),
      },
    },
    {
      alert: "KmemFixRestartKubelet",
      expr: state("restart"),
      for: durationText(t.kmemFor),
      labels: { severity: "warning" },
      annotations: {
        summary:
          "The nokmem kubelet is installed on {{ $labels.instance }} but the running kubelet is the old one",
        description:
          "Fix state restart: the installed kubelet is a nokmem build, the running process is not. " +
          next(stepOf("restart")),
      },
    },
    {
      alert: "KmemFixReboot",
      expr: state("reboot"),
      for: durationText(t.kmemFor),
      labels: { severity: "warning" },
      annotations: {
        summary: "{{ $labels.instance }} needs a reboot to finish the kmem fix",
        description:
          "Fix state reboot: the nokmem kubelet runs, but kubepods/ and its QoS parents still account kernel memory " +
          "(a 3.10 memory cgroup copies its parent's accounting; it cannot be switched off), so every new pod accounts it too. " +
          next(stepOf("reboot")),
      },
    },
    {
      alert: "KmemFixRuntime",
      expr: state("runtime"),
      for: durationText(t.kmemFor),
      labels: { severity: "warning" },
      annotations: {
        summary:
          "The container runtime's runc on {{ $labels.instance }} switches kernel memory accounting on",
        description:
          "Fix state runtime: the kubelet is fixed, the runtime's runc still links kmem-enabling code. " +
          next(stepOf("runtime")),
      },
    },
    {
      alert: "KmemChargedByKernel",
      // older scripts write no fix state: the kernel flag says the same
      expr:
        `${state("kernel")} or (max by (instance) (kmem_build_kernel_charges_all_memcgs) == 1 ` +
        `unless on (instance) ${onInstance(".+")})`,
      for: durationText(t.kmemFor),
      labels: { severity: "info" },
      annotations: {
        summary:
          "The kernel on {{ $labels.instance }} charges kernel memory to every memory cgroup by itself",
        description:
          "Fix state kernel: a >= 4.6 kernel on cgroup v1 without cgroup.memory=nokmem accounts kmem in every memory cgroup, " +
          "whatever the kubelet does; the kubelet is not to blame and nothing on the node needs a page. " +
          "Without the boot parameter, size limits for usage as the OOM killer counts it (rss + cache + kmem). " +
          next(stepOf("kernel")),
      },
    },
    {
      alert: "KmemFixStateUnknown",
      expr: state("unknown"),
      for: durationText(2 * t.kmemFor),
      labels: { severity: "warning" },
      annotations: {
        summary: "verify-kmem.sh cannot tell the kmem fix state of {{ $labels.instance }}",
        description:
          "Fix state unknown: a counter, the kubelet binary or the cgroup layout could not be read. " +
          next("read the UNKNOWN checks in the node's report"),
      },
    },
    {
      alert: "KmemChargedToPodCgroups",
      // kmem where the fix state says there should be none (fixed, not-affected), or a script without
      // fix states on a kernel that does not charge by itself
      expr:
        `max by (instance, level) (kmem_build_cgroup_kmem_usage_bytes{level=~"pod|container"}) > 0 ` +
        `unless on (instance) ${onInstance(STATES_WITH_ALERT.join("|"))} == 1 ` +
        `unless on (instance) max by (instance) (kmem_build_kernel_charges_all_memcgs) == 1`,
      for: durationText(t.kmemFor),
      labels: { severity: "warning" },
      annotations: {
        summary: "Kernel memory is charged to {{ $labels.level }} memory cgroups on {{ $labels.instance }}",
        description:
          "{{ $value | humanize1024 }}B of kernel memory in the largest {{ $labels.level }} cgroup on {{ $labels.instance }}, " +
          "where the fix state expects none. The memory cgroup OOM killer counts it, dashboards built on rss + cache do not. " +
          next("find the cause (kubelet, runtime's runc, kernel)"),
      },
    },
    {
      alert: "KubeletNotNokmem",
      // the kubelet-binary check FAILs (or WARNs) when the kubelet links runc's kmem-enabling code;
      // fix state install has its own (critical) alert
      expr:
        `max by (instance, status) (kmem_build_check_status{check="kubelet-binary",status=~"FAIL|WARN"}) == 1 ` +
        `unless on (instance) ${onInstance("install")} == 1`,
      for: durationText(t.binaryFor),
      labels: { severity: "warning" },
      annotations: {
        summary: "The kubelet on {{ $labels.instance }} is not a nokmem build",
        description:
          "verify-kmem.sh reports kubelet-binary {{ $labels.status }} on {{ $labels.instance }}: the kubelet links runc's " +
          "kmem-enabling code (or could not be read). " +
          next(CONTRACT.fixes.kubelet),
      },
    },
    {
      alert: "KmemCausedOOMKill",
      // memcg OOM kills of pods whose kernel memory was >= KMEM_SHARE of usage, counted from the kernel log
      // (kmem_build_oom_kills_history_total, kills before this boot, is never alerted on; nor are kills
      // read from a plain syslog file, authenticated="false": any local user can write one with
      // `logger -t kernel`, and the check reports them as a WARN to confirm with dmesg)
      expr: `sum by (instance, pod_uid, pod_namespace, pod_name) (increase(kmem_build_oom_kills_kmem_total{authenticated!="false"}[${durationText(t.oomWindow)}])) > 0`,
      labels: { severity: "critical" },
      annotations: {
        summary: "A pod on {{ $labels.instance }} was OOM-killed because of kernel memory",
        description:
          "Pod {{ $labels.pod_namespace }}/{{ $labels.pod_name }} ({{ $labels.pod_uid }}) on {{ $labels.instance }} was killed " +
          `by the memory cgroup OOM killer with kernel memory >= ${Math.round(KMEM_SHARE * 100)}% of its usage. verify-kmem.sh on the node lists the kill (oom-kills-kmem).`,
      },
    },
    {
      alert: "KmemCheckNotRunning",
      // written at every run: older than two intervals means the DaemonSet pod is not running the check
      expr: `time() - max by (instance) (kmem_build_verify_timestamp_seconds) > ${t.staleAfter}`,
      labels: { severity: "warning" },
      annotations: {
        summary: "The kmem check has not run on {{ $labels.instance }} for two intervals",
        description:
          "The last verify-kmem.sh result on {{ $labels.instance }} is {{ $value | humanizeDuration }} old " +
          `(the check runs every ${durationText(t.interval)}). Look at the kmem-build-verify pod on that node.`,
      },
    },
  ];

  const ratio = (num: string) =>
    `(${num}) / (container_spec_memory_limit_bytes{id=~"${CADVISOR_POD_ID}(/[^/]+)?"} > 0)`;
  const cadvisor: (AlertRule | RecordingRule)[] = [
    { record: HIDDEN_POD, expr: withPodUid(hidden(CADVISOR_POD_ID)) },
    { record: HIDDEN_CONTAINER, expr: withPodUid(hidden(CADVISOR_CONTAINER_ID)) },
    {
      alert: "KmemHiddenMemoryNearOOM",
      // the oom-headroom check of verify-kmem.sh, on cAdvisor's series of pod and container cgroups
      expr:
        `${ratio("container_memory_usage_bytes")} > ${HEADROOM_USAGE} ` +
        `and ${ratio("container_memory_rss + container_memory_cache")} < ${HEADROOM_SEEN}`,
      for: durationText(t.binaryFor),
      labels: { severity: "warning" },
      annotations: {
        summary:
          "{{ $labels.namespace }}/{{ $labels.pod }} {{ $labels.container }} on {{ $labels.instance }} is near its OOM limit, dashboards show it far below",
        description:
          "Usage (what the memory cgroup OOM killer counts) is {{ $value | humanizePercentage }} of the limit of memory cgroup {{ $labels.id }} " +
          `while rss + cache, what dashboards show, is below ${HEADROOM_SEEN * 100}%: kernel memory fills the rest (kmem_build:pod_hidden_memory_bytes, ` +
          "kmem_build:container_hidden_memory_bytes). The OOM killer will strike before the dashboards warn.",
      },
    },
  ];
  return [
    { name: "kmem-build", rules: textfile },
    { name: "kmem-build-cadvisor", rules: cadvisor },
    { name: "kmem-build-api", rules: apiRules(t) },
  ];
}

const header = (what: string) =>
  `# ${what}\n# Written by kmem-build ${TOOL_VERSION} (kmem-build manifests).\n`;
const yaml = (obj: unknown) => stringify(obj, { lineWidth: 0, aliasDuplicateObjects: false });

/** A rules file for Prometheus's `rule_files:` (promtool check rules). */
export function plainRulesFile(t: RuleTimings): string {
  return (
    header("kmem-build alerts and recording rules, for Prometheus without the operator (rule_files:).") +
    yaml({ groups: ruleGroups(t) })
  );
}

/** The same groups as a PrometheusRule (monitoring.coreos.com/v1, the Prometheus Operator's CRD). */
export function prometheusRule(t: RuleTimings, namespace: string, labels: Record<string, string>): string {
  return (
    header(
      "kmem-build alerts and recording rules for the Prometheus Operator (needs its PrometheusRule CRD).",
    ) +
    yaml({
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PrometheusRule",
      metadata: { name: "kmem-build-verify", namespace, labels },
      spec: { groups: ruleGroups(t) },
    })
  );
}
