/**
 * `verify --cluster` on Node objects as the API server returns them: the kernel, the running kubelet
 * and the fix state that follows from status.nodeInfo alone; the DaemonSet's last report (the script's
 * own text in the pod log) shown beside it, and where the two disagree the running kubelet wins.
 */
import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  apiFixState,
  kernelClass,
  kubeletClass,
  type KernelClass,
  type KubeletClass,
} from "../../src/verify/cluster-classify.js";
import { combine, lastDaemonSetReport, nodeFromApi, type ClusterReport } from "../../src/verify/cluster.js";
import {
  clusterHtml,
  clusterJUnit,
  renderCluster,
  renderClusterBrief,
} from "../../src/verify/cluster-render.js";
import { runScript } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

/** A Node as `kubectl get node -o json` prints it (the fields this reads, and some it does not). */
function nodeObject(
  name: string,
  kernel: string,
  kubelet: string,
  runtime: string,
  conditions: { type: string; status: string; reason: string; message: string }[] = [],
) {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux" } },
    status: {
      conditions: [
        { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" },
        ...conditions,
      ],
      nodeInfo: {
        architecture: "amd64",
        bootID: "3f6c1e2a-0a51-4cbb-9c3a-1d2e3f4a5b6c",
        containerRuntimeVersion: runtime,
        kernelVersion: kernel,
        kubeProxyVersion: kubelet,
        kubeletVersion: kubelet,
        machineID: "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e",
        operatingSystem: "linux",
        osImage: "CentOS Linux 7 (Core)",
        systemUUID: "4C4C4544-0042-3010-8052-B3C04F4E3732",
      },
    },
  };
}

describe("classes of kernel and kubelet version strings", () => {
  const kernels: [string, KernelClass][] = [
    ["3.10.0-1160.el7.x86_64", "knows-nokmem"],
    ["3.10.0-1160.119.1.el7.x86_64", "knows-nokmem"],
    ["3.10.0-1127.el7.x86_64", "knows-nokmem"],
    ["3.10.0-1126.el7.x86_64", "affected"],
    ["3.10.0-1062.4.1.el7.x86_64", "affected"],
    ["3.10.0-957.27.2.el7.x86_64", "affected"],
    ["3.10.0-514.el7.x86_64", "affected"],
    ["3.10.0-11270.el7.x86_64", "knows-nokmem"],
    ["4.4.0-210-generic", "affected"],
    ["4.5.7", "affected"],
    ["4.6.0", "4.6+"],
    ["4.18.0-477.10.1.el8_8.x86_64", "4.6+"],
    ["5.4.270-1.el7.elrepo.x86_64", "4.6+"],
    ["6.18.0+", "4.6+"],
    ["10.1.0", "4.6+"],
    ["", "unknown"],
    ["linux", "unknown"],
  ];
  it.each(kernels)("kernel %s: %s", (k, c) => expect(kernelClass(k)).toBe(c));

  const kubelets: [string, KubeletClass][] = [
    ["v1.20.2+nokmem", "nokmem-marked"],
    ["v1.13.12+nokmem", "nokmem-marked"],
    ["v1.21.0-rc.1+nokmem", "nokmem-marked"],
    ["v1.20.2+build.7.nokmem", "nokmem-marked"],
    ["v1.20.2", "arms-kmem"],
    ["v1.10.13", "arms-kmem"],
    ["v1.21.1", "arms-kmem"],
    ["v1.20.4+k3s1", "arms-kmem"],
    ["v1.20.2+nokmemx", "arms-kmem"],
    ["v1.21.2", "no-kmem-code"],
    ["v1.21.10", "no-kmem-code"],
    ["v1.27.4+rke2r1", "no-kmem-code"],
    ["v1.30.0", "no-kmem-code"],
    ["unknown", "unknown"],
    ["", "unknown"],
  ];
  it.each(kubelets)("kubelet %s: %s", (v, c) => expect(kubeletClass(v)).toBe(c));

  it("the API alone tells install only for an affected kernel whose running kubelet arms kmem", () => {
    expect(apiFixState("affected", "arms-kmem")).toMatchObject({
      state: "install",
      possible: ["install", "restart"],
    });
    expect(apiFixState("affected", "nokmem-marked")).toMatchObject({
      state: "ask-node",
      possible: ["reboot", "runtime", "fixed"],
    });
    expect(apiFixState("knows-nokmem", "arms-kmem")).toMatchObject({
      state: "ask-node",
      possible: ["install", "not-affected"],
    });
    expect(apiFixState("4.6+", "arms-kmem")).toMatchObject({
      state: "ask-node",
      possible: ["kernel", "not-affected"],
    });
    expect(apiFixState("4.6+", "unknown").state).toBe("ask-node");
    expect(apiFixState("affected", "unknown").state).toBe("unknown");
    expect(apiFixState("unknown", "arms-kmem").state).toBe("unknown");
  });
});

describe("Node objects and DaemonSet reports", () => {
  const withDs = (n: ReturnType<typeof nodeFromApi>, log: string | null) => {
    const daemonset =
      log === null
        ? null
        : { namespace: "kmem-build", pod: `kmem-build-verify-${n.node}`, ...lastDaemonSetReport(log) };
    return { ...n, daemonset, ...combine({ ...n, daemonset }) };
  };

  /** The script's real text report of a fixture node, as the DaemonSet loop prints it. */
  function loopLog(args: string[]): { log: string; code: number } {
    const r = runScript([...args]);
    return {
      log: `${r.stdout}\nkmem-build-verify: verify-kmem.sh exited ${r.code} (0 OK, 1 problem, 2 could not tell); next run in 300s\n`,
      code: r.code!,
    };
  }

  it("reads kernel, running kubelet and runtime from nodeInfo, and node-problem-detector's condition", () => {
    const n = nodeFromApi(
      nodeObject("el7-a", "3.10.0-957.el7.x86_64", "v1.20.2", "docker://19.3.15", [
        {
          type: "KernelMemoryAccounting",
          status: "True",
          reason: "KernelMemoryCharged",
          message: "kmem check FAIL: kmem-accounting-active",
        },
      ]),
    );
    expect(n).toMatchObject({
      node: "el7-a",
      kernel: "3.10.0-957.el7.x86_64",
      kernel_class: "affected",
      kubelet_version: "v1.20.2",
      kubelet_class: "arms-kmem",
      container_runtime: "docker://19.3.15",
      os_image: "CentOS Linux 7 (Core)",
      api: { fix_state: "install" },
      npd_condition: { status: "True", reason: "KernelMemoryCharged" },
    });
    const alone = withDs(n, null);
    expect(alone).toMatchObject({ fix_state: "install", result: "PROBLEM", exit_code: 1 });
    const marked = withDs(
      nodeFromApi(nodeObject("el7-b", "3.10.0-957.el7.x86_64", "v1.20.2+nokmem", "containerd://1.4.3")),
      null,
    );
    expect(marked).toMatchObject({
      kubelet_class: "nokmem-marked",
      fix_state: "ask-node",
      result: "UNKNOWN",
      exit_code: 2,
    });
  });

  it("the DaemonSet's own report decides where the API cannot; a nokmem kubelet on disk under a running one that arms kmem is restart", () => {
    const tmp = mkdtempSync(join(tmpdir(), "kmem-cluster-"));
    try {
      const node = S.centos7Systemd(join(tmp, "node"));
      const { log, code } = loopLog(node.args);
      const report = lastDaemonSetReport(`older run\n${log}`);
      expect(report.error).toBeNull();
      expect(report.exit_code).toBe(code);
      expect(report.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const state = /^Fix state: ([a-z-]+):/m.exec(log)![1];
      expect(report.fix_state).toBe(state);
      // the node's own report where the API says "ask the node"
      const marked = withDs(
        nodeFromApi(nodeObject("n1", S.EL7_KERNEL, "v1.20.2+nokmem", "containerd://1.4.3")),
        log,
      );
      expect(marked.fix_state).toBe(state);
      expect(marked.exit_code).toBe(code);
      // a DaemonSet that found a nokmem kubelet on disk, under an API that reports the running one arms kmem
      const fixedLog = log.replace(/^Fix state: [a-z-]+:/m, "Fix state: fixed:");
      const stale = withDs(
        nodeFromApi(nodeObject("n2", "3.10.0-957.el7.x86_64", "v1.20.2", "docker://19.3.15")),
        fixedLog,
      );
      expect(stale).toMatchObject({ fix_state: "restart", result: "PROBLEM", exit_code: 1 });
      expect(stale.next_step).toMatch(
        /^the running kubelet \(v1\.20\.2\) arms kmem while the one on disk is a nokmem build/,
      );
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("a pod log without a whole report, or with a state the script never prints, is no report", () => {
    expect(lastDaemonSetReport("")).toMatchObject({
      fix_state: null,
      error: "no whole report in the pod's log yet",
    });
    expect(
      lastDaemonSetReport(
        "kmem check of x at 2026-01-01T00:00:00Z (verify-kmem.sh 1)\nFix state: pwned: x\nkmem-build-verify: verify-kmem.sh exited 0\n",
      ),
    ).toMatchObject({ fix_state: null });
    expect(
      lastDaemonSetReport("Fix state: fixed: x\nkmem-build-verify: verify-kmem.sh exited 0\n").error,
    ).toMatch(/longer than the 1000 log lines/);
  });

  it("renders the table, brief lines, JUnit and HTML with the cluster's strings made safe", () => {
    const nodes = [
      withDs(nodeFromApi(nodeObject("el7-a", "3.10.0-957.el7.x86_64", "v1.20.2", "docker://19.3.15")), null),
      withDs(
        nodeFromApi(nodeObject("<b>\u001b[2J", "6.1.0-18-amd64", "v1.20.2+nokmem", "containerd://1.4.3")),
        null,
      ),
    ];
    const report: ClusterReport = {
      schema_version: 1,
      kind: "cluster",
      timestamp: "2026-12-06T23:00:00Z",
      context: "prod",
      daemonset_reports: "none running",
      result: "PROBLEM",
      exit_code: 1,
      totals: { nodes: 2, ok: 0, problem: 1, unknown: 1 },
      nodes,
    };
    const text = renderCluster(report);
    expect(text).toMatch(
      /^NODE\s+KERNEL\s+KERNEL CLASS\s+KUBELET\s+KUBELET CLASS\s+RUNTIME\s+FROM API\s+DAEMONSET\s+FIX STATE$/m,
    );
    expect(text).toMatch(
      /^el7-a\s+3\.10\.0-957\.el7\.x86_64\s+affected\s+v1\.20\.2\s+arms-kmem\s+docker:\/\/19\.3\.15\s+install\s+-\s+install$/m,
    );
    expect(text).toContain("ask the node (kernel/not-affected)");
    expect(text).not.toContain("\u001b");
    expect(text).toMatch(
      /^Result: PROBLEM \(exit 1\): 2 nodes, 0 OK, 1 PROBLEM, 1 UNKNOWN \(read from the API server; no node was contacted\)$/m,
    );
    expect(renderClusterBrief(report)).toMatch(/^el7-a: PROBLEM: install: install the nokmem kubelet/m);
    const junit = clusterJUnit(report);
    expect(junit).toContain(
      '<testsuites name="kmem-build verify --cluster" tests="6" failures="2" errors="0" skipped="1">',
    );
    expect(junit).toContain('name="running-kubelet" time="0">\n      <failure message="v1.20.2: arms-kmem"');
    expect(junit).not.toContain("<b>");
    const html = clusterHtml(report);
    expect(html).toContain("&lt;b&gt;");
    expect(html).not.toContain("<b>\u001b");
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'`);
  });
});
