/**
 * The manifests of `kmem-build manifests` on a real single-node cluster (docs/testing.md,
 * "A real cluster"): etcd, the 1.20.2 control plane built from the genuine tree, our nokmem
 * kubelet joined with --kubeconfig, containerd + runc (node-harness.ts). `kubectl apply` of the generated files, then:
 *   - the DaemonSet pod runs on the node and its report (the same script, run in the pod as the
 *     loop runs it) matches the host's own run: the pod the test runs there, the node facts, the
 *     binaries' verdicts;
 *   - the node_exporter textfile with kmem_build_ metrics appears in --textfile-dir, with the test
 *     pod's series, written by rename (no temp file left);
 *   - from inside the running DaemonSet pod (issue 17 item 6): writes to host memory cgroup files
 *     (its own container's and another pod's memory.limit_in_bytes, the hierarchy's cgroup.procs, a
 *     new child cgroup) fail with EROFS, the pod runs as the docs say (uid 0, no capabilities, no
 *     privilege escalation), and it still writes its report afterwards;
 *   - the node-problem-detector wiring: the JSON patch applied to a node-problem-detector-shaped
 *     DaemonSet, and the plugin run from its mount the way NPD runs it (exit code → status, output
 *     trimmed and cut to max_output_length, the configured timeout).
 *   - the version mark: the kmem-build kubelet registers as v1.20.2+nokmem (status.nodeInfo, kubectl
 *     get nodes and describe), and the API server keeps taking its status (the tree's own version
 *     parsers on the same string: test/real/version-mark.test.ts);
 *   - the running kubelet seen from the pod through the API server (the Node's kubeletVersion, read
 *     with the ServiceAccount that may only get nodes, by curl in the image): the same version as
 *     the mark on disk; `restart` once the kubelet on disk is replaced (by rename, as rpm does) with
 *     a build of another version while the old process runs; the host's state again once the
 *     kubelet is restarted and the Node reports the new version;
 *   - `kmem-build verify --cluster` through a kubeconfig with two contexts and an exec credential
 *     plugin: the node with its kernel, kubelet, runtime and fix state, read from the API server only
 *     (the DaemonSet's last report beside it), and the kube_node_info rules agreeing on a series built
 *     from the real Node object.
 * The PrometheusRule is not applied: the cluster has no Prometheus Operator CRD (its validation is
 * in test/unit/manifests.test.ts). Everything is stopped afterwards, also on failure.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execa } from "execa";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { release } from "node:os";
import { cli, REPO } from "../helpers/cli.js";
import { kubeletServingArgs, startCluster, type Cluster } from "./cluster-harness.js";
import { NODE_IMAGE, startNode, type Node } from "./node-harness.js";
import { BUILD_TIMEOUT_MS, nokmemKubelet } from "./shared.js";
import { plainRulesFile, timingsFor } from "../../src/monitoring/rules.js";
import type { ClusterReport } from "../../src/verify/cluster.js";

const NS = "kmem-build";
const NODE = "kmem-cluster-node";
const INTERVAL = 30;
/** Debian's runc: what containerd runs (BinaryName "runc" on PATH). */
const RUNC = "/usr/sbin/runc";

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor<T>(
  what: string,
  ms: number,
  f: () => Promise<T | undefined | false>,
  detail?: () => string,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end)
      throw new Error(`timed out after ${ms / 1000}s waiting for ${what}${detail ? `\n${detail()}` : ""}`);
    await sleep(1000);
  }
}

interface Report {
  exit_code: number;
  result: string;
  node: { hostname: string; kernel: string; cgroup_layout: string; memory_root: string };
  checks: { id: string; status: string }[];
  cgroups: {
    level: string;
    pod_uid: string;
    path: string;
    container: string | null;
    kmem_usage_bytes: number | null;
  }[];
  binaries: { role: string; verdict: string | null; sha256: string | null }[];
  fix_state: string;
  fix_summary: string;
  running_kubelet: {
    pid: number | null;
    found_by: string;
    exe: string | null;
    matches: string;
    version: string | null;
  } | null;
}

/**
 * Runs an NPD custom-plugin rule as node-problem-detector does (pkg/custompluginmonitor/plugin):
 * the rule's path and args, killed at the timeout; stdout trimmed and cut to max_output_length
 * bytes; exit 0 → OK, 1 → NonOK, anything else (and a timeout) → Unknown. `exec` prefixes the
 * command (here: kubectl exec into the pod that mounts the plugin, as NPD's own container would).
 */
async function runNpdRule(
  cfg: { pluginConfig: { timeout: string; max_output_length: number } },
  rule: { path: string; args: string[]; timeout: string },
  exec: string[],
): Promise<{
  status: "OK" | "NonOK" | "Unknown";
  message: string;
  exitCode: number | undefined;
  timedOut: boolean;
}> {
  const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)?.[1] ?? NaN);
  const timeoutMs = Math.min(seconds(rule.timeout), seconds(cfg.pluginConfig.timeout)) * 1000;
  const [cmd, ...pre] = exec;
  const r = await execa(cmd!, [...pre, rule.path, ...rule.args], {
    reject: false,
    timeout: timeoutMs,
    killSignal: "SIGKILL",
  });
  let message = String(r.stdout).slice(0, 4096).trim();
  if (r.timedOut) message = `Timeout when running plugin "${rule.path}": output - ${JSON.stringify(message)}`;
  message = Buffer.from(message).subarray(0, cfg.pluginConfig.max_output_length).toString();
  const status = r.timedOut ? "Unknown" : r.exitCode === 0 ? "OK" : r.exitCode === 1 ? "NonOK" : "Unknown";
  return { status, message, exitCode: r.exitCode, timedOut: !!r.timedOut };
}

describe("kmem-build manifests on a real cluster", () => {
  let cluster: Cluster | undefined;
  let node: Node | undefined;
  let work: string;
  let out: string;
  let textfileDir: string;
  /** The kubelet the node runs: a copy of the build's in a directory of this test's (replaced on disk below). */
  let kubelet: string;
  let builtKubelet: string;
  /** Set by the first test: the DaemonSet pod, and the test pod's memory cgroup (relative to the memory root). */
  let dsPod: string | undefined;
  let subjectCgroup: string | undefined;
  const t0 = Date.now();

  beforeAll(async () => {
    // KMEM_BUILD_CLUSTER_KUBELET: a developer's shortcut while the suite's real build is busy elsewhere;
    // the test still requires it to be a nokmem build (its verdict is checked below)
    builtKubelet = process.env.KMEM_BUILD_CLUSTER_KUBELET ?? (await nokmemKubelet());
    cluster = await startCluster({ nodeName: NODE });
    // inside the cluster's dir: removed with it, also when the run is interrupted
    work = await mkdtemp(join(cluster.dir, "test-"));
    // the node runs a copy of its own: the last test replaces it on disk while it runs
    await mkdir(join(work, "bin"));
    kubelet = join(work, "bin", "kubelet");
    await copyFile(builtKubelet, kubelet);
    out = join(work, "manifests");
    // not under /tmp: the pod has its own /tmp (an emptyDir), and the command refuses overlapping mounts
    textfileDir = await mkdtemp("/var/tmp/kmem-build-cluster-textfile-");
    node = await startNode({
      kubelet,
      kubeconfig: cluster.kubeletKubeconfig,
      nodeName: NODE,
      strace: false,
      // the API server reaches the kubelet (logs, exec) at the node's InternalIP
      extraKubeletArgs: kubeletServingArgs(cluster),
    });
    await waitFor("the node to register", 120_000, async () => {
      const r = await cluster!.kubectl(["get", "node", NODE, "-o", "name"], { reject: false });
      return r.code === 0;
    });
  }, 2 * BUILD_TIMEOUT_MS); // may build the real kubelet and the control plane first (both cached afterwards)

  afterAll(async () => {
    const problems: string[] = [];
    const dirs = [node?.dir, cluster?.dir, textfileDir].filter((d): d is string => !!d);
    try {
      await node?.stop();
    } catch (err) {
      problems.push((err as Error).message);
    }
    try {
      cluster?.stop();
    } catch (err) {
      problems.push((err as Error).message);
    }
    if (textfileDir) await rm(textfileDir, { recursive: true, force: true });
    process.stderr.write(`cluster test: ${((Date.now() - t0) / 1000).toFixed(0)} s in all\n`);
    // nothing of ours may be left running
    for (const d of dirs) {
      const left = (await execa("pgrep", ["-af", d], { reject: false })).stdout;
      if (left.trim()) problems.push(`left running:\n${left}`);
      if (existsSync(d)) problems.push(`${d} not removed`);
    }
    if (problems.length) throw new Error(problems.join("\n"));
  });

  it("applies the generated manifests; the DaemonSet pod checks the node like the host does", async () => {
    const c = cluster!;
    const gen = await cli([
      "manifests",
      "--out",
      out,
      "--image",
      NODE_IMAGE,
      "--namespace",
      NS,
      "--interval",
      `${INTERVAL}s`,
      "--textfile-dir",
      textfileDir,
      // the test node has no network plugin (DOMAIN: NotReady, hostNetwork pods only)
      "--host-network",
      "--kubelet",
      kubelet,
      "--runtime",
      RUNC,
    ]);
    expect(gen.stderr).toBe("");
    expect(gen.code).toBe(0);
    // This cluster has no kube-proxy: the kubernetes Service's ClusterIP (KUBERNETES_SERVICE_HOST in
    // every pod) leads nowhere. The pod (host network) is pointed at the API server's own address,
    // where kube-proxy would have sent it; container env takes precedence over the Service's.
    const api = new URL(c.apiserverUrl);
    const withApi = await c.kubectl([
      "set",
      "env",
      "--local",
      "-f",
      join(out, "20-daemonset.yaml"),
      "-o",
      "yaml",
      `KUBERNETES_SERVICE_HOST=${api.hostname}`,
      `KUBERNETES_SERVICE_PORT=${api.port}`,
    ]);
    await writeFile(join(out, "20-daemonset.yaml"), withApi.stdout);

    // a pod with a memory limit on the node: the one the report must show
    const testPod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "kmem-subject", namespace: "default" },
      spec: {
        nodeName: NODE,
        hostNetwork: true,
        automountServiceAccountToken: false,
        tolerations: [{ operator: "Exists" }],
        containers: [
          {
            name: "app",
            image: NODE_IMAGE,
            imagePullPolicy: "Never",
            command: [
              "sh",
              "-c",
              "mkdir -p /tmp/d && for i in $(seq 1 200); do : > /tmp/d/f$i; done; exec sleep 100000",
            ],
            resources: { limits: { memory: "64Mi", cpu: "100m" } },
          },
        ],
      },
    };
    const apply = await c.kubectl(["apply", "-f", out]);
    expect(apply.stdout).toMatch(/namespace\/kmem-build created/);
    expect(apply.stdout).toMatch(/serviceaccount\/kmem-build-verify created/);
    expect(apply.stdout).toMatch(/clusterrole\.rbac\.authorization\.k8s\.io\/kmem-build-verify created/);
    expect(apply.stdout).toMatch(
      /clusterrolebinding\.rbac\.authorization\.k8s\.io\/kmem-build-verify created/,
    );
    expect(apply.stdout).toMatch(/configmap\/kmem-build-verify created/);
    expect(apply.stdout).toMatch(/daemonset\.apps\/kmem-build-verify created/);
    // the PrometheusRule needs the operator's CRD, which this cluster does not have
    const rule = await c.kubectl(["apply", "-f", join(out, "prometheus")], { reject: false });
    expect(rule.code).not.toBe(0);
    expect(rule.stderr).toMatch(/no matches for kind "PrometheusRule"/);

    await waitFor("the default service account", 60_000, async () => {
      const r = await c.kubectl(["get", "serviceaccount", "default", "-n", "default", "-o", "name"], {
        reject: false,
      });
      return r.code === 0;
    });
    await c.kubectl(["apply", "-f", "-"], { input: JSON.stringify(testPod) });
    const subjectUid = (
      await c.kubectl(["get", "pod", "kmem-subject", "-o", "jsonpath={.metadata.uid}"])
    ).stdout.trim();
    expect(subjectUid).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(
      "the test pod running",
      180_000,
      async () =>
        (await c.kubectl(["get", "pod", "kmem-subject", "-o", "jsonpath={.status.phase}"])).stdout ===
        "Running",
      () => c.logs(),
    );

    const podName = await waitFor(
      "the DaemonSet pod running on the node",
      180_000,
      async () => {
        const r = await c.kubectl([
          "get",
          "pods",
          "-n",
          NS,
          "-l",
          "app.kubernetes.io/name=kmem-build-verify",
          "-o",
          "json",
        ]);
        const pods = JSON.parse(r.stdout).items as {
          metadata: { name: string };
          spec: { nodeName: string };
          status: { phase: string };
        }[];
        const p = pods.find((x) => x.spec.nodeName === NODE && x.status.phase === "Running");
        return p?.metadata.name;
      },
      () => `${c.logs()}\n${node!.containerdLog}`,
    );
    dsPod = podName;
    // the DaemonSet controller reports the pod ready a moment after it runs
    const ds = await waitFor("the DaemonSet to report 1 of 1 ready", 60_000, async () => {
      const r = (await c.kubectl(["get", "ds", "-n", NS, "-o", "wide"])).stdout;
      return /kmem-build-verify\s+1\s+1\s+1\s+1\s+1/.test(r) ? r : false;
    });
    process.stderr.write(`$ kubectl get ds -n ${NS} -o wide\n${ds}\n`);
    expect(ds).toMatch(/kmem-build-verify\s+1\s+1\s+1\s+1\s+1/);

    // the textfile: written by the pod into the host directory, by rename
    const prom = join(textfileDir, "kmem-build.prom");
    const metrics = await waitFor(
      "the textfile with the test pod's series",
      300_000,
      async () => {
        if (!existsSync(prom)) return false;
        const text = await readFile(prom, "utf8");
        return text.includes(`pod_uid="${subjectUid}"`) ? text : false;
      },
      () => `textfile dir: ${existsSync(textfileDir)}`,
    );
    const lines = metrics.split("\n").filter((l) => l.startsWith("kmem_build_"));
    process.stderr.write(
      `textfile ${prom} (excerpt):\n${lines
        .filter((l) => !l.includes("pod_uid") || l.includes(subjectUid))
        .slice(0, 40)
        .join("\n")}\n`,
    );
    expect(lines.find((l) => l.startsWith("kmem_build_verify_timestamp_seconds "))).toBeDefined();
    const ts = Number(lines.find((l) => l.startsWith("kmem_build_verify_timestamp_seconds "))!.split(" ")[1]);
    expect(Math.abs(Date.now() / 1000 - ts)).toBeLessThan(5 * INTERVAL);
    expect(
      lines.some(
        (l) => l.startsWith(`kmem_build_cgroup_kmem_usage_bytes{level="pod",`) && l.includes(subjectUid),
      ),
    ).toBe(true);
    expect((await readdir(textfileDir)).filter((f) => f !== "kmem-build.prom")).toEqual([]);

    // the loop's own output: one report per interval in the pod's log
    const podLog = await waitFor("a report in the pod log", 60_000, async () => {
      const r = await c.kubectl(["logs", "-n", NS, podName], { reject: false });
      return r.code === 0 && /verify-kmem\.sh exited [012]/.test(r.stdout) ? r.stdout : false;
    });
    const lastRun = podLog.slice(podLog.lastIndexOf("kmem check of "));
    process.stderr.write(`$ kubectl logs -n ${NS} ${podName} (last run)\n${lastRun}\n`);
    expect(lastRun).toMatch(/^kmem check of /);
    expect(lastRun).toMatch(/Result: (OK|PROBLEM|UNKNOWN) \(exit [012]\)/);

    // the DaemonSet's view, as JSON: the same script with the loop's mounts and arguments, in the pod
    const spec = JSON.parse(
      (await c.kubectl(["get", "ds", "kmem-build-verify", "-n", NS, "-o", "json"])).stdout,
    ).spec.template.spec;
    const podArgs = spec.containers[0].args as string[];
    const inPod = await c.kubectl(
      [
        "exec",
        "-n",
        NS,
        podName,
        "--",
        "sh",
        "/etc/kmem-build/verify-kmem.sh",
        "--json",
        // the loop inspects the binaries itself: its verdicts are compared below
        "--no-binaries",
        "--proc-root",
        "/tmp/kmem-build-proc",
        ...podArgs,
      ],
      { reject: false, timeout: 120_000 },
    );
    const hostRun = await execa(
      "sh",
      [join(REPO, "scripts", "verify-kmem.sh"), "--json", "--kubelet", kubelet, "--runtime", RUNC],
      {
        reject: false,
      },
    );
    const pod = JSON.parse(inPod.stdout) as Report;
    const host = JSON.parse(hostRun.stdout) as Report;
    expect(pod.exit_code).toBe(inPod.code);

    // the node facts
    // the pod names the node as Kubernetes does (spec.nodeName from the downward API)
    expect(pod.node.hostname).toBe(NODE);
    expect(pod.node.kernel).toBe(host.node.kernel);
    expect(pod.node.cgroup_layout).toBe(host.node.cgroup_layout);
    expect(pod.node.memory_root).toBe(host.node.memory_root);
    // the test pod, at pod and container level, on this node's kubepods
    const ours = (r: Report) =>
      r.cgroups
        .filter((g) => g.path.includes(node!.cgroupRoot.slice(1)) && g.pod_uid === subjectUid)
        .map((g) => `${g.level} ${g.path}`)
        .sort();
    expect(ours(pod).length).toBeGreaterThanOrEqual(2); // the pod and its container(s)
    expect(ours(pod)).toEqual(ours(host));
    const subjectPod = pod.cgroups.find((g) => g.pod_uid === subjectUid && g.level === "pod")!;
    expect(subjectPod.kmem_usage_bytes).not.toBeNull();
    subjectCgroup = subjectPod.path;
    // the verdicts of the checks that depend only on the node
    const verdicts = (r: Report) =>
      r.checks
        .filter((k) => ["cgroup-layout", "kernel-kmem-policy"].includes(k.id))
        .map((k) => `${k.id} ${k.status}`);
    expect(verdicts(pod)).toEqual(verdicts(host));
    expect(verdicts(pod)).toHaveLength(2);
    // the binaries the loop saw through its read-only mounts are the node's: same verdicts as the host's run
    expect(host.binaries.find((b) => b.role === "kubelet")!.verdict).toBe("nokmem-variant-linked");
    for (const id of ["kubelet-binary", "runtime-binaries"]) {
      const status = host.checks.find((k) => k.id === id)!.status;
      expect(lines, id).toContain(`kmem_build_check_status{check="${id}",status="${status}"} 1`);
    }
    expect(lastRun).toMatch(/\[PASS\] kubelet-binary: \/host\S+ is a nokmem build/);
    expect(pod.result).toBe(host.result);
  });

  it("inside the DaemonSet pod: host memory cgroup files cannot be written (EROFS); uid 0 without capabilities; the loop still reports", async () => {
    const c = cluster!;
    expect(dsPod && subjectCgroup, "needs the first test's pod").toBeTruthy();
    // Each write is harmless should it succeed (the value already there; "0" moves only the writing
    // subshell, which exits at once; an empty child cgroup, removed again), so a regression shows as a
    // failed assertion, not a broken node.
    const probe = [
      "set -u",
      "mem=/sys/fs/cgroup/memory",
      `own=$mem$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)`,
      `subject=$mem/${subjectCgroup!.replace(/^\//, "")}`,
      "try() {",
      '  if ( printf "%s\\n" "$3" > "$2" ) 2> /tmp/probe.err; then echo "$1 WROTE"',
      '  else echo "$1 FAILED $(tr "\\n" " " < /tmp/probe.err)"; fi',
      "}",
      'try own-limit "$own/memory.limit_in_bytes" "$(cat "$own/memory.limit_in_bytes")"',
      'try subject-limit "$subject/memory.limit_in_bytes" "$(cat "$subject/memory.limit_in_bytes")"',
      'try own-procs "$own/cgroup.procs" 0',
      'try root-procs "$mem/cgroup.procs" 0',
      'if mkdir "$own/kmem-build-write-probe" 2> /tmp/probe.err; then rmdir "$own/kmem-build-write-probe"; echo "mkdir WROTE"',
      'else echo "mkdir FAILED $(tr "\\n" " " < /tmp/probe.err)"; fi',
      'echo "own $own"',
      'grep -E "^(Uid|Gid|CapPrm|CapEff|CapBnd|NoNewPrivs):" /proc/self/status',
      `awk '$5 == "/sys/fs/cgroup/memory" || index($5, "/sys/fs/cgroup/memory/") == 1 { print "mount", $5, $6 }' /proc/self/mountinfo`,
    ].join("\n");
    const before = Number(
      /^kmem_build_verify_timestamp_seconds (\d+)/m.exec(
        await readFile(join(textfileDir, "kmem-build.prom"), "utf8"),
      )![1],
    );
    const r = await c.kubectl(["exec", "-n", NS, dsPod!, "--", "sh", "-c", probe], { reject: false });
    process.stderr.write(`in the DaemonSet pod ${dsPod}:\n${r.stdout}\n${r.stderr}\n`);
    expect(r.code, r.stderr).toBe(0);
    // the line whose first field is `what` (/proc/self/status separates with a tab)
    const said = (what: string) => r.stdout.split("\n").find((l) => l.split(/\s/)[0] === what) ?? "";
    // the container's own cgroup is a real host cgroup of this node's pods, not something else
    expect(said("own")).toContain(`${node!.cgroupRoot}/kubepods`);
    for (const what of ["own-limit", "subject-limit", "own-procs", "root-procs", "mkdir"])
      expect(said(what), what).toMatch(/ FAILED .*Read-only file system/);
    // read-only (the runtime's own cgroup mount may lie beneath the hostPath: read-only too), and
    // nothing mounted below it
    const mounts = r.stdout.split("\n").filter((l) => l.startsWith("mount "));
    expect(mounts.length).toBeGreaterThanOrEqual(1);
    for (const m of mounts) expect(m).toMatch(/^mount \/sys\/fs\/cgroup\/memory ro,/);
    // what docs/continuous-verify.md says the pod runs as: uid 0, every capability dropped, no escalation
    expect(said("Uid:")).toMatch(/^Uid:\s+0\s+0\s+0\s+0$/);
    expect(said("CapPrm:")).toMatch(/^CapPrm:\s+0{16}$/);
    expect(said("CapEff:")).toMatch(/^CapEff:\s+0{16}$/);
    expect(said("CapBnd:")).toMatch(/^CapBnd:\s+0{16}$/);
    expect(said("NoNewPrivs:")).toMatch(/^NoNewPrivs:\s+1$/);
    // the check itself is unaffected: the loop writes its next report after the attempts
    const after = await waitFor(
      "a report written after the write attempts",
      4 * INTERVAL * 1000,
      async () => {
        const m = /^kmem_build_verify_timestamp_seconds (\d+)/m.exec(
          await readFile(join(textfileDir, "kmem-build.prom"), "utf8"),
        );
        return m && Number(m[1]) > before ? Number(m[1]) : false;
      },
    );
    expect(after).toBeGreaterThan(before);
    const prom = await readFile(join(textfileDir, "kmem-build.prom"), "utf8");
    expect(prom).toMatch(/^kmem_build_verify_exit_code [012]$/m);
  });

  it("node-problem-detector: the patch wires the plugin in, and it runs under NPD's contract", async () => {
    const c = cluster!;
    // a DaemonSet shaped like upstream's node-problem-detector (flags in `command`, one container)
    const npd = {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "node-problem-detector", namespace: NS },
      spec: {
        selector: { matchLabels: { app: "node-problem-detector" } },
        template: {
          metadata: { labels: { app: "node-problem-detector" } },
          spec: {
            hostNetwork: true,
            automountServiceAccountToken: false,
            tolerations: [{ operator: "Exists" }],
            containers: [
              {
                name: "node-problem-detector",
                image: NODE_IMAGE,
                imagePullPolicy: "Never",
                // stands in for /node-problem-detector --logtostderr …: appended flags become arguments
                command: ["sh", "-c", "exec sleep 100000", "node-problem-detector", "--logtostderr"],
                volumeMounts: [{ name: "log", mountPath: "/var/log", readOnly: true }],
              },
            ],
            volumes: [{ name: "log", hostPath: { path: "/var/log" } }],
          },
        },
      },
    };
    await c.kubectl(["apply", "-f", "-"], { input: JSON.stringify(npd) });
    await c.kubectl([
      "patch",
      "daemonset",
      "node-problem-detector",
      "-n",
      NS,
      "--type",
      "json",
      "--patch-file",
      join(out, "node-problem-detector", "daemonset-patch.json"),
    ]);
    const cmd = JSON.parse(
      (
        await c.kubectl([
          "get",
          "ds",
          "node-problem-detector",
          "-n",
          NS,
          "-o",
          "jsonpath={.spec.template.spec.containers[0].command}",
        ])
      ).stdout,
    );
    expect(cmd).toContain("--config.custom-plugin-monitor=/etc/kmem-build/kmem-build-monitor.json");
    const npdPod = await waitFor("the patched node-problem-detector pod", 180_000, async () => {
      const r = await c.kubectl(["get", "pods", "-n", NS, "-l", "app=node-problem-detector", "-o", "json"]);
      const pods = JSON.parse(r.stdout).items as {
        metadata: { name: string; deletionTimestamp?: string };
        spec: { volumes: { name: string }[] };
        status: { phase: string };
      }[];
      const p = pods.find(
        (x) =>
          !x.metadata.deletionTimestamp &&
          x.status.phase === "Running" &&
          x.spec.volumes.some((v) => v.name === "kmem-build"),
      );
      return p?.metadata.name;
    });

    // the monitor config NPD would load, from where NPD would load it
    const cfgText = (
      await c.kubectl(["exec", "-n", NS, npdPod, "--", "cat", "/etc/kmem-build/kmem-build-monitor.json"])
    ).stdout;
    const cfg = JSON.parse(cfgText);
    expect(cfg).toEqual(
      JSON.parse(await readFile(join(out, "node-problem-detector", "kmem-build-monitor.json"), "utf8")),
    );
    const rule = cfg.rules[0];
    // NPD executes the path itself: it must be executable in the mount
    const mode = (
      await c.kubectl(["exec", "-n", NS, npdPod, "--", "stat", "-L", "-c", "%a", rule.path])
    ).stdout.trim();
    expect(mode).toBe("555");

    const exec = [c.kubectlPath, "--kubeconfig", c.adminKubeconfig, "exec", "-n", NS, npdPod, "--"];
    const res = await runNpdRule(cfg, rule, exec);
    process.stderr.write(
      `NPD plugin: status ${res.status} (exit ${res.exitCode}), condition ${rule.condition} message "${res.message}"\n`,
    );
    // the plugin reports what the DaemonSet last wrote: the same exit code as in the textfile
    const prom = await readFile(join(textfileDir, "kmem-build.prom"), "utf8");
    const code = Number(/^kmem_build_verify_exit_code (\d)/m.exec(prom)![1]);
    expect(res.timedOut).toBe(false);
    expect(res.exitCode).toBe(code);
    expect(res.status).toBe(["OK", "NonOK", "Unknown"][code]);
    expect(res.message.length).toBeGreaterThan(0);
    expect(Buffer.byteLength(res.message)).toBeLessThanOrEqual(cfg.pluginConfig.max_output_length);
    if (code === 1) expect(res.message).toMatch(/^kmem check FAIL: [a-z-]+/);

    // what NPD then does with a permanent rule: sets the node condition (True on NonOK, False on
    // OK, Unknown otherwise) in the node's status, so the verdict shows in `kubectl describe node`
    const dflt = cfg.conditions.find((x: { type: string }) => x.type === rule.condition);
    const condition = {
      type: rule.condition,
      status: { OK: "False", NonOK: "True", Unknown: "Unknown" }[res.status],
      reason: res.status === "OK" ? dflt.reason : rule.reason,
      message: res.status === "OK" ? dflt.message : res.message,
      lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    };
    await waitFor("the node condition set", 60_000, async () => {
      const nodeObj = JSON.parse((await c.kubectl(["get", "node", NODE, "-o", "json"])).stdout);
      nodeObj.status.conditions = [
        ...nodeObj.status.conditions.filter((x: { type: string }) => x.type !== rule.condition),
        condition,
      ];
      const put = ["replace", "--raw", `/api/v1/nodes/${NODE}/status`, "-f", "-"];
      return (await c.kubectl(put, { input: JSON.stringify(nodeObj), reject: false })).code === 0; // 409: retry
    });
    const describe = (await c.kubectl(["describe", "node", NODE])).stdout;
    const condLine = describe.split("\n").find((l) => l.trim().startsWith(rule.condition));
    process.stderr.write(`$ kubectl describe node ${NODE} | grep ${rule.condition}\n${condLine}\n`);
    expect(condLine).toMatch(
      new RegExp(
        `^\\s*${rule.condition}\\s+${condition.status}\\s.*${condition.reason}\\s+${condition.message.slice(0, 20)}`,
      ),
    );

    // NPD's timeout: a rule that outlives it is killed and reported Unknown
    const slow = await runNpdRule(
      { pluginConfig: { ...cfg.pluginConfig, timeout: "1s" } },
      { path: "sh", args: ["-c", "echo started; sleep 30"], timeout: "1s" },
      exec,
    );
    expect(slow).toMatchObject({ status: "Unknown", timedOut: true });
    expect(slow.message).toMatch(/^Timeout when running plugin "sh"/);
  });

  it("the kmem-build kubelet registers as v1.20.2+nokmem; the API server and kubectl accept it; verify --cluster lists the node from the API alone", async () => {
    const c = cluster!;
    const MARKED = "v1.20.2+nokmem";
    expect((await execa(kubelet, ["--version"])).stdout.trim()).toBe(`Kubernetes ${MARKED}`);
    const nodeObj = () => c.kubectl(["get", "node", NODE, "-o", "json"]).then((r) => JSON.parse(r.stdout));
    const n0 = await nodeObj();
    expect(n0.status.nodeInfo.kubeletVersion).toBe(MARKED);
    // the API server keeps taking this kubelet's updates: its node Lease is renewed (every 10 s; the
    // node status itself is re-posted only on change or every 5 min in 1.20)
    const renewed = () =>
      c
        .kubectl(["get", "lease", "-n", "kube-node-lease", NODE, "-o", "jsonpath={.spec.renewTime}"])
        .then((r) => r.stdout.trim());
    const r0 = await renewed();
    expect(r0).toMatch(/^\d{4}-/);
    await waitFor("the node lease renewed by the kubelet", 90_000, async () => (await renewed()) !== r0);
    const wide = (await c.kubectl(["get", "nodes", "-o", "wide"])).stdout;
    process.stderr.write(`$ kubectl get nodes -o wide\n${wide}\n`);
    expect(wide).toMatch(new RegExp(`^${NODE}\\s+\\S+\\s+\\S+\\s+\\S+\\s+v1\\.20\\.2\\+nokmem\\s`, "m"));
    expect((await c.kubectl(["describe", "node", NODE])).stdout).toMatch(
      /Kubelet Version:\s+v1\.20\.2\+nokmem$/m,
    );

    // verify --cluster: a kubeconfig whose current context leads nowhere, and whose user is an exec
    // credential plugin (client.authentication.k8s.io/v1beta1) handing out the admin certificate
    const calls = join(work, "exec-plugin-calls");
    const cred = join(work, "exec-credential.json");
    await writeFile(
      cred,
      JSON.stringify({
        apiVersion: "client.authentication.k8s.io/v1beta1",
        kind: "ExecCredential",
        status: {
          clientCertificateData: await readFile(join(c.dir, "admin.crt"), "utf8"),
          clientKeyData: await readFile(join(c.dir, "admin.key"), "utf8"),
        },
      }),
    );
    const plugin = join(work, "exec-plugin.sh");
    await writeFile(plugin, `#!/bin/sh\necho called >> '${calls}'\nexec cat '${cred}'\n`, { mode: 0o755 });
    const kc = join(work, "fleet-kubeconfig");
    await writeFile(
      kc,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          {
            name: "real",
            cluster: { server: c.apiserverUrl, "certificate-authority": join(c.dir, "ca.crt") },
          },
          { name: "nowhere", cluster: { server: "https://127.0.0.1:9" } },
        ],
        users: [
          {
            name: "exec-admin",
            user: { exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: plugin } },
          },
        ],
        contexts: [
          { name: "nowhere", context: { cluster: "nowhere", user: "exec-admin" } },
          { name: "real", context: { cluster: "real", user: "exec-admin" } },
        ],
        "current-context": "nowhere",
      }),
    );
    // kubectl 1.20.2 (Debian's) is the kubectl on PATH
    const env = { PATH: `${dirname(c.kubectlPath)}:${process.env.PATH}`, HOME: work, KUBECONFIG: "" };
    const junit = join(work, "cluster.junit.xml");
    const html = join(work, "cluster.html");
    const t0 = Date.now();
    const json = await cli(
      [
        "verify",
        "--cluster",
        "--kubeconfig",
        kc,
        "--context",
        "real",
        "--json",
        "--junit",
        junit,
        "--html",
        html,
      ],
      { env },
    );
    const seconds = (Date.now() - t0) / 1000;
    const report = JSON.parse(json.stdout) as ClusterReport;
    process.stderr.write(
      `verify --cluster (${seconds.toFixed(1)} s): ${JSON.stringify(report.nodes, null, 2)}\n`,
    );
    expect(report.kind).toBe("cluster");
    expect(report.nodes.map((x) => x.node)).toEqual([NODE]);
    const me = report.nodes[0]!;
    expect(me).toMatchObject({
      kernel: release(),
      kubelet_version: MARKED,
      kubelet_class: "nokmem-marked",
      api: { fix_state: "ask-node" },
    });
    expect(me.container_runtime).toMatch(/^containerd:\/\/\S+$/);
    expect(me.container_runtime).toBe(n0.status.nodeInfo.containerRuntimeVersion);
    expect(me.kernel_class).toBe(kernelIsOld() ? "affected" : "4.6+");
    expect((await readFile(calls, "utf8")).split("\n").filter(Boolean).length).toBeGreaterThanOrEqual(1);
    // the DaemonSet's last report, as its pod printed it, beside the API's view
    if (dsPod) {
      const podLog = (await c.kubectl(["logs", "-n", NS, dsPod, "--tail=1000"])).stdout;
      const lastState = [...podLog.matchAll(/^Fix state: ([a-z-]+):/gm)].pop()?.[1];
      expect(me.daemonset).toMatchObject({ namespace: NS, pod: dsPod });
      // a run may end between the two reads: the state is the same on this node either way
      expect(me.daemonset!.fix_state).toBe(lastState);
      expect(me.fix_state).toBe(me.daemonset!.fix_state);
      expect(json.code).toBe(me.daemonset!.exit_code);
    }
    expect(await readFile(junit, "utf8")).toContain(`<testsuite name="${NODE}"`);
    expect(await readFile(html, "utf8")).toContain(MARKED);

    // the API alone: ask the node (the kernel decides here, and only the node knows its cgroup layout)
    const brief = await cli(
      ["verify", "--cluster", "--kubeconfig", kc, "--context", "real", "--no-daemonset", "--brief"],
      { env },
    );
    process.stderr.write(
      `$ kmem-build verify --cluster --no-daemonset --brief\n${brief.stdout}${brief.stderr}\n`,
    );
    expect(brief.code).toBe(2);
    expect(brief.stdout).toMatch(new RegExp(`^${NODE}: UNKNOWN: ask the node \\(`, "m"));
    const table = await cli(["verify", "--cluster", "--kubeconfig", kc, "--context", "real"], { env });
    process.stderr.write(`$ kmem-build verify --cluster --context real\n${table.stdout}\n`);
    expect(table.stdout).toMatch(
      new RegExp(
        `^${NODE}\\s+${release().replace(/[.+]/g, "\\$&")}\\s+\\S+\\s+v1\\.20\\.2\\+nokmem\\s+nokmem-marked\\s+containerd://`,
        "m",
      ),
    );
    // the kubeconfig's own current context: kubectl's error, could not tell
    const nowhere = await cli(["verify", "--cluster", "--kubeconfig", kc], { env });
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toMatch(/cannot read the nodes of the cluster: kubectl get nodes: /);

    // kube_node_info as kube-state-metrics builds it from this Node: the rules give the API's state
    const info = n0.status.nodeInfo;
    const rules = join(work, "rules");
    await mkdir(rules, { recursive: true });
    await writeFile(join(rules, "kmem-build.rules.yaml"), plainRulesFile(timingsFor(300)));
    const series = `kube_node_info{container_runtime_version="${info.containerRuntimeVersion}",internal_ip="",job="kube-state-metrics",kernel_version="${info.kernelVersion}",kubelet_version="${info.kubeletVersion}",kubeproxy_version="${info.kubeProxyVersion}",node="${NODE}",os_image="${info.osImage}",pod_cidr="",provider_id="",system_uuid="${info.systemUUID}"}`;
    await writeFile(
      join(rules, "node.yaml"),
      JSON.stringify({
        rule_files: ["kmem-build.rules.yaml"],
        evaluation_interval: "1m",
        tests: [
          {
            interval: "1m",
            input_series: [{ series, values: "1x10" }],
            promql_expr_test: [
              {
                expr: "kmem_build:node_api_fix_state",
                eval_time: "2m",
                exp_samples: [
                  {
                    labels: `kmem_build:node_api_fix_state{node="${NODE}",state="${me.api.fix_state}"}`,
                    value: 1,
                  },
                ],
              },
              {
                expr: "kmem_build:node_kubelet_class",
                eval_time: "2m",
                exp_samples: [
                  {
                    labels: `kmem_build:node_kubelet_class{kubelet_class="nokmem-marked",node="${NODE}"}`,
                    value: 1,
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    const prom = await execa("promtool", ["test", "rules", "node.yaml"], { cwd: rules, reject: false });
    expect(prom.exitCode, prom.stdout + prom.stderr).toBe(0);
  }, 600_000);
  it("the DaemonSet sees the running kubelet through the API server: the same version, restart once the kubelet on disk is replaced under the running one, the host's state again after the restart", async () => {
    const c = cluster!;
    const n = node!;
    expect(dsPod, "needs the first test's pod").toBeTruthy();
    const MARKED = "v1.20.2+nokmem";
    const NEXT = "v1.20.9+nokmem";
    const onDisk = `/host${kubelet}`;

    // the least privilege: its ServiceAccount may get a node, and do nothing else
    const sa = `system:serviceaccount:${NS}:kmem-build-verify`;
    const may = async (verb: string, what: string, ...more: string[]) =>
      (await c.kubectl(["auth", "can-i", verb, what, ...more, "--as", sa], { reject: false })).stdout.trim();
    expect(await may("get", `nodes/${NODE}`)).toBe("yes");
    for (const [verb, what, ...more] of [
      ["list", "nodes"],
      ["watch", "nodes"],
      ["patch", "nodes"],
      ["get", "nodes", "--subresource=status"],
      ["get", "nodes", "--subresource=proxy"],
      ["get", "pods"],
      ["get", "secrets"],
      ["create", "pods"],
    ])
      expect(await may(verb!, what!, ...more), `${verb} ${what} ${more.join(" ")}`).toBe("no");

    const spec = JSON.parse(
      (await c.kubectl(["get", "ds", "kmem-build-verify", "-n", NS, "-o", "json"])).stdout,
    ).spec.template.spec;
    const podArgs = spec.containers[0].args as string[];
    // one run of the pod's own loop (KMEM_ONCE, a TMPDIR beside the running loop's) with --json:
    // the API server asked with the pod's token, as every run asks it
    const loopJson = async (): Promise<{ report: Report; stderr: string }> => {
      const once = "/tmp/kmem-build-test-once";
      const r = await c.kubectl(
        [
          "exec",
          "-n",
          NS,
          dsPod!,
          "--",
          "env",
          "KMEM_ONCE=1",
          `TMPDIR=${once}`,
          `KMEM_TEXTFILE=${once}/kmem-build.prom`,
          "sh",
          "/etc/kmem-build/verify-loop.sh",
          "--json",
          ...podArgs,
        ],
        { reject: false, timeout: 180_000 },
      );
      const end = r.stdout.lastIndexOf("\nkmem-build-verify: verify-kmem.sh exited ");
      expect(end, `${r.stdout}\n${r.stderr}`).toBeGreaterThan(0);
      // kubectl's own line for a non-zero exit (the loop exits with the script's code) is not the loop's
      const stderr = r.stderr.replace(/^command terminated with exit code [0-9]+\n?/m, "");
      return { report: JSON.parse(r.stdout.slice(0, end)) as Report, stderr };
    };
    const hostJson = async (): Promise<Report> =>
      JSON.parse(
        (
          await execa(
            "sh",
            [join(REPO, "scripts", "verify-kmem.sh"), "--json", "--kubelet", kubelet, "--runtime", RUNC],
            { reject: false },
          )
        ).stdout,
      ) as Report;
    // through the kubelet: nothing while it restarts
    const podLog = async () =>
      (await c.kubectl(["logs", "-n", NS, dsPod!, "--tail=2000"], { reject: false })).stdout;
    /** the loop's last "Fix state: <state>: <summary>" line, without the prefix */
    const lastFix = (log: string) => [...log.matchAll(/^Fix state: (.*)$/gm)].pop()?.[1];
    const nodeVersion = async () =>
      (
        await c.kubectl(["get", "node", NODE, "-o", "jsonpath={.status.nodeInfo.kubeletVersion}"])
      ).stdout.trim();
    const install = async (bytes: Buffer) => {
      // as rpm installs a file: written beside it under another name, then renamed over it
      const tmp = join(work, "bin", "kubelet;kmem-test");
      await writeFile(tmp, bytes, { mode: 0o755 });
      await rename(tmp, kubelet);
    };

    // (a) the kubelet that runs is the one on disk: the API's version is the mark of the file
    expect(await nodeVersion()).toBe(MARKED);
    const a = await loopJson();
    const hostA = await hostJson();
    process.stderr.write(
      `before: pod ${a.report.fix_state} (${a.report.fix_summary}) ${JSON.stringify(a.report.running_kubelet)}; host ${hostA.fix_state} ${JSON.stringify(hostA.running_kubelet)}\n`,
    );
    expect(a.stderr).toBe("");
    expect(a.report.running_kubelet).toEqual({
      pid: null,
      found_by: "api",
      exe: null,
      matches: "same",
      version: MARKED,
    });
    expect(hostA.running_kubelet).toMatchObject({ matches: "same" });
    expect(a.report.fix_state).toBe(hostA.fix_state);
    expect(a.report.fix_state).not.toBe("restart");
    const logA = await podLog();
    expect(logA).not.toMatch(/no kubelet process is running/);
    // every run asked the API server without a complaint (curl, the token, the CA, the answer)
    expect(
      logA.split("\n").filter((l) => l.startsWith("kmem-build-verify: ") && !/ exited \d /.test(l)),
    ).toEqual([]);

    // (b) another build (the same kubelet with another version: only the string constant differs)
    // replaces the file while the old process runs
    const built = await readFile(builtKubelet);
    const from = Buffer.from(MARKED);
    const to = Buffer.from(NEXT);
    const patched = Buffer.from(built);
    let marks = 0;
    for (let i = patched.indexOf(from); i >= 0; i = patched.indexOf(from, i + from.length)) {
      to.copy(patched, i);
      marks++;
    }
    expect(marks).toBeGreaterThanOrEqual(1);
    const secs = (t: number) => `${((Date.now() - t) / 1000).toFixed(0)} s`;
    let replaced = false;
    try {
      await install(patched);
      replaced = true;
      const tReplaced = Date.now();
      expect((await execa(kubelet, ["--version"])).stdout.trim()).toBe(`Kubernetes ${NEXT}`);
      expect(await nodeVersion()).toBe(MARKED);
      const restart = await waitFor(
        "the DaemonSet's next run to report restart",
        8 * INTERVAL * 1000,
        async () => {
          const s = lastFix(await podLog());
          return s?.startsWith("restart: ") ? s : false;
        },
        () => `last fix state: ${lastFix(logA)}`,
      );
      process.stderr.write(
        `${marks} copies of ${MARKED} patched to ${NEXT}; ${secs(tReplaced)} after the replacement, the DaemonSet's run: Fix state: ${restart}\n`,
      );
      expect(restart).toContain(
        `(the API server reports the running kubelet as ${MARKED}, the kubelet on disk (${onDisk}) is ${NEXT})`,
      );
      const b = await loopJson();
      expect(b.report.fix_state).toBe("restart");
      expect(b.report.running_kubelet).toMatchObject({ found_by: "api", matches: "other", version: MARKED });
      // the host sees the same from the process: its executable is the replaced (deleted) file
      const hostB = await hostJson();
      process.stderr.write(`host: ${hostB.fix_state} (${hostB.fix_summary})\n`);
      expect(hostB.fix_state).toBe("restart");
      expect(n.kubeletAlive()).toBe(true);

      // (c) the kubelet restarted from the new file: the Node reports its version, and the pod
      // gives the state the host's own run gives
      const tRestart = Date.now();
      await n.restartKubelet();
      await waitFor("the Node to report the restarted kubelet's version", 180_000, async () => {
        return (await nodeVersion()) === NEXT;
      });
      process.stderr.write(`the Node reports ${NEXT} ${secs(tRestart)} after the restart began\n`);
      const hostC = await hostJson();
      expect(hostC.running_kubelet).toMatchObject({ matches: "same" });
      expect(hostC.fix_state).not.toBe("restart");
      const after = await waitFor(
        `the DaemonSet's run after the restart to report ${hostC.fix_state}`,
        8 * INTERVAL * 1000,
        async () => {
          const s = lastFix(await podLog());
          return s?.startsWith(`${hostC.fix_state}: `) ? s : false;
        },
      );
      process.stderr.write(
        `${secs(tRestart)} after the restart began, the DaemonSet's run: Fix state: ${after}\n`,
      );
      const cr = await loopJson();
      process.stderr.write(
        `after: pod ${cr.report.fix_state} ${JSON.stringify(cr.report.running_kubelet)}; host ${hostC.fix_state} ${JSON.stringify(hostC.running_kubelet)}\n`,
      );
      expect(cr.stderr).toBe("");
      expect(cr.report.fix_state).toBe(hostC.fix_state);
      expect(cr.report.running_kubelet).toEqual({
        pid: null,
        found_by: "api",
        exe: null,
        matches: "same",
        version: NEXT,
      });
    } finally {
      // the build's own kubelet back on disk and running, as before this test
      if (replaced) {
        await install(built);
        await n.restartKubelet();
        await waitFor("the Node to report the build's kubelet again", 180_000, async () => {
          return (await nodeVersion()) === MARKED;
        });
      }
    }
  }, 1_200_000);
});

/** This machine's kernel, the node's: a 3.10 one would be "affected" (the suite runs on 6.x). */
function kernelIsOld(): boolean {
  return /^([0-3]\.|4\.[0-5]([^0-9]|$))/.test(release());
}
