/**
 * What the API server's Node object says about the kmem fix, without the node: its kernel
 * (status.nodeInfo.kernelVersion), its running kubelet (kubeletVersion) and runtime
 * (containerRuntimeVersion). kube-state-metrics exports the same strings as kube_node_info labels,
 * so the classes are regular expressions written once, for this module and for the Prometheus rules
 * (src/monitoring/rules.ts): RE2 syntax that JavaScript reads the same way, matched whole (as
 * PromQL's =~ does).
 */
import type { FixState } from "./report.js";

/** 3.10.0-1127 (RHEL 7.8) and later EL7 kernels know the boot parameter cgroup.memory=nokmem. */
export const KERNEL_KNOWS_NOKMEM_RE =
  "3\\.10\\.0-(112[7-9]|11[3-9][0-9]|1[2-9][0-9][0-9]|[2-9][0-9][0-9][0-9]|[1-9][0-9]{4,})([.-].*)?\\.el7.*";
/** Before 4.6 a memory cgroup accounts kmem only once a kmem limit is written (what runc does). */
export const KERNEL_BEFORE_4_6_RE = "([0-3]\\.[0-9]+|4\\.[0-5])([^0-9].*)?";
/** From 4.6 cgroup v1 accounts kmem in every memory cgroup unless booted with cgroup.memory=nokmem. */
export const KERNEL_4_6_PLUS_RE = "(4\\.([6-9]|[1-9][0-9]+)|([5-9]|[1-9][0-9]+)\\.[0-9]+)([^0-9].*)?";
/** kmem-build's mark: the build metadata identifier nokmem (v1.20.2+nokmem). */
export const KUBELET_MARKED_RE = "v?[0-9]+\\.[0-9]+\\.[0-9]+[^+]*\\+(.*\\.)?nokmem(\\..*)?";
/** Upstream kubelets up to 1.21.1 vendor a runc that arms kmem (1.21.2 vendors one without kmem code). */
export const KUBELET_ARMS_KMEM_RE =
  "v?(0\\.[0-9]+|1\\.([0-9]|1[0-9]|20))\\.[0-9]+([^0-9].*)?|v?1\\.21\\.[01]([^0-9].*)?";
export const KUBELET_VERSION_RE = "v?[0-9]+\\.[0-9]+\\.[0-9]+.*";

const whole = (re: string) => new RegExp(`^(?:${re})$`, "s");
const KNOWS = whole(KERNEL_KNOWS_NOKMEM_RE);
const BEFORE = whole(KERNEL_BEFORE_4_6_RE);
const AFTER = whole(KERNEL_4_6_PLUS_RE);
const MARKED = whole(KUBELET_MARKED_RE);
const ARMS = whole(KUBELET_ARMS_KMEM_RE);
const VERSION = whole(KUBELET_VERSION_RE);

export type KernelClass = "affected" | "knows-nokmem" | "4.6+" | "unknown";
export type KubeletClass = "nokmem-marked" | "arms-kmem" | "no-kmem-code" | "unknown";
/** A fix state the API can tell, or ask-node: only the node can tell (boot parameter, reboot, runc). */
export type ApiFixState = "install" | "ask-node" | "unknown";

export const KERNEL_TEXT: Record<KernelClass, string> = {
  affected:
    "kernel < 4.6 (3.10 EL7 before 7.8): kmem accounting is switched on per cgroup by whoever writes a kmem limit, and cannot be switched off by a boot parameter; cgroup v1",
  "knows-nokmem":
    "RHEL 7.8+ kernel (3.10.0-1127 or later): knows cgroup.memory=nokmem, whether it was booted with it only the node can tell; cgroup v1",
  "4.6+":
    "kernel >= 4.6: on cgroup v1 every memory cgroup accounts kmem unless booted with cgroup.memory=nokmem, on cgroup v2 nothing to fix; the Node object shows neither",
  unknown: "kernel version not understood",
};
export const KUBELET_TEXT: Record<KubeletClass, string> = {
  "nokmem-marked": "a kmem-build kubelet (version marked +nokmem): never arms kmem",
  "arms-kmem": "upstream kubelet <= 1.21.1: its runc arms kmem accounting for every pod cgroup",
  "no-kmem-code": "upstream kubelet >= 1.21.2: vendors a runc without kmem code",
  unknown: "kubelet version not understood",
};

export function kernelClass(kernel: string | null): KernelClass {
  if (!kernel) return "unknown";
  if (KNOWS.test(kernel)) return "knows-nokmem";
  if (BEFORE.test(kernel)) return "affected";
  if (AFTER.test(kernel)) return "4.6+";
  return "unknown";
}

export function kubeletClass(version: string | null): KubeletClass {
  if (!version || !VERSION.test(version)) return "unknown";
  if (MARKED.test(version)) return "nokmem-marked";
  if (ARMS.test(version)) return "arms-kmem";
  return "no-kmem-code";
}

export interface ApiVerdict {
  state: ApiFixState;
  /** The node's own fix states (verify-kmem.sh) the API facts leave open, worst first. */
  possible: FixState[];
  why: string;
  next_step: string;
}

/** The fix state that follows from the kernel and the running kubelet alone. */
export function apiFixState(k: KernelClass, b: KubeletClass): ApiVerdict {
  const ask = (possible: FixState[], why: string): ApiVerdict => ({
    state: "ask-node",
    possible,
    why,
    next_step: "ask the node: kmem-build verify --ssh, or the kmem-build-verify DaemonSet's report",
  });
  if (k === "unknown" || (b === "unknown" && k !== "4.6+"))
    return {
      state: "unknown",
      possible: ["unknown"],
      why: k === "unknown" ? KERNEL_TEXT.unknown : KUBELET_TEXT.unknown,
      next_step: "ask the node: kmem-build verify --ssh",
    };
  if (k === "4.6+")
    return ask(
      ["kernel", "not-affected"],
      "the kubelet does not matter on this kernel: kernel on cgroup v1 without cgroup.memory=nokmem, not-affected on cgroup v2 or with it",
    );
  if (b === "arms-kmem" && k === "affected")
    return {
      state: "install",
      possible: ["install", "restart"],
      why: "the running kubelet arms kmem on a kernel that accounts it wherever it is armed",
      next_step:
        "install the nokmem kubelet built by kmem-build (yum upgrade kubelet), restart the kubelet, then drain and reboot the node",
    };
  if (b === "arms-kmem")
    return ask(
      ["install", "not-affected"],
      "the running kubelet arms kmem: install unless the node was booted with cgroup.memory=nokmem, which this kernel knows",
    );
  return ask(
    k === "knows-nokmem" ? ["reboot", "runtime", "not-affected", "fixed"] : ["reboot", "runtime", "fixed"],
    "the running kubelet never arms kmem; whether kubepods still accounts kmem from before (reboot) or the runtime's runc arms it, only the node can tell",
  );
}
