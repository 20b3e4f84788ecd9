/**
 * The behavioural proof on a real node: containerd + runc + the kubelet v1.20.2 built by
 * kmem-build from the genuine tree, running a burstable static pod that charges kernel memory.
 *   - under strace, the kmem-build kubelet never opens memory.kmem.limit_in_bytes for writing;
 *     the upstream build of the same tree (the tag not taking effect) does, on kubepods/ and the pod cgroup;
 *   - verify on that node (the script shipped in the RPM, and `kmem-build verify`) finds the real pod
 *     and its containers, reads the kernel's kmem figures, judges both kubelet binaries, and names the
 *     kernel (>= 4.6 charges kmem itself) as the cause.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { execa } from "execa";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, CLI, REPO } from "../helpers/cli.js";
import { BUILD_TIMEOUT_MS, nokmemKubelet, realBuild, upstreamKubelet } from "./shared.js";
import { cgroupMounts, NODE_IMAGE, startNode, type Node, type NodeContainer } from "./node-harness.js";

const NAMESPACE = "kmem-build-test";
const POD = "kmem-charger";
const MiB = 1024 * 1024;
const SCRIPT = join(REPO, "scripts", "verify-kmem.sh");

/**
 * A burstable pod (memory request < limit, 64Mi) whose app container charges kernel memory: 4000
 * files (dentries + inodes) and 8 pipes held full by blocked writers (pipe buffers), then sleeps.
 * hostNetwork: no CNI on this node.
 */
function manifest(): string {
  const script = [
    "mkdir -p /tmp/k",
    "i=0",
    "while [ $i -lt 4000 ]; do : > /tmp/k/f$i; i=$((i+1)); done",
    "for j in 1 2 3 4 5 6 7 8; do yes kmem-build | sleep 2147483647 & done",
    "exec sleep 2147483647",
  ].join("\n");
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: POD, namespace: NAMESPACE },
    spec: {
      hostNetwork: true,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: "app",
          image: NODE_IMAGE,
          imagePullPolicy: "Never",
          command: ["/bin/sh", "-c", script],
          resources: { requests: { memory: "16Mi", cpu: "10m" }, limits: { memory: "64Mi" } },
        },
      ],
    },
  });
}

interface Row {
  level: "pod" | "container";
  qos: string;
  pod_uid: string;
  container: string | null;
  pod_namespace?: string | null;
  pod_name?: string | null;
  container_name?: string | null;
  path: string;
  kmem_usage_bytes: number | null;
}
interface Report {
  result: string;
  exit_code: number;
  node: {
    kernel: string;
    kernel_charges_all_memcgs: boolean | null;
    memory_root: string;
    cgroup_driver: string;
  };
  checks: { id: string; status: string; cause: string | null; seen: string }[];
  cgroups: Row[];
}

const nodes: Node[] = [];
afterAll(async () => {
  for (const n of nodes) await n.stop().catch((err: Error) => console.error(err.message));
});

/** The kmem figure in the kernel file, read now. */
function kmemNow(memoryRoot: string, path: string): number {
  return Number(readFileSync(join(memoryRoot, path, "memory.kmem.usage_in_bytes"), "utf8").trim());
}

/** verify's own figure must match the kernel's, read just before and just after (idle pod: small drift). */
function expectSameFigure(label: string, seen: number, before: number, after: number): void {
  const lo = Math.min(before, after);
  const hi = Math.max(before, after);
  const slack = Math.max(512 * 1024, hi * 0.1);
  expect(seen, `${label}: verify read ${seen}, kernel ${before}..${after}`).toBeGreaterThanOrEqual(
    lo - slack,
  );
  expect(seen, `${label}: verify read ${seen}, kernel ${before}..${after}`).toBeLessThanOrEqual(hi + slack);
}

async function startPodNode(kubelet: string): Promise<{ node: Node; pod: NodeContainer[]; t0: number }> {
  const t0 = Date.now();
  const node = await startNode({ kubelet, manifests: { "kmem-charger.json": manifest() } });
  nodes.push(node);
  // the app has finished charging once its shell has exec'ed the final sleep
  const pod = await node.waitForPod(`${POD}-${node.nodeName}`, ["app"], 240_000, (cs) => {
    const app = cs.find((c) => c.containerName === "app");
    try {
      return !!app?.pid && readFileSync(`/proc/${app.pid}/comm`, "utf8").trim() === "sleep";
    } catch {
      return false;
    }
  });
  return { node, pod, t0 };
}

/** Where the pod and its containers sit in the memory hierarchy (relative paths), from the real tree. */
function podPaths(
  node: Node,
  pod: NodeContainer[],
): { pod: string; sandbox: string; app: string; uid: string } {
  const uid = pod[0]?.podUid ?? "";
  const memRoot = node.memoryCgroupDir.slice(0, -node.cgroupRoot.length);
  const podRel = `${node.cgroupRoot}/kubepods/burstable/pod${uid}`;
  expect(existsSync(join(memRoot, podRel)), `${podRel} exists (burstable pod cgroup)`).toBe(true);
  const sandbox = pod.find((c) => c.kind === "sandbox")!;
  const app = pod.find((c) => c.containerName === "app")!;
  const children = readdirSync(join(memRoot, podRel), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  expect(children.sort()).toEqual([sandbox.id, app.id].sort());
  return { pod: podRel, sandbox: `${podRel}/${sandbox.id}`, app: `${podRel}/${app.id}`, uid };
}

function check(r: Report, id: string): Report["checks"][number] {
  const c = r.checks.find((x) => x.id === id);
  expect(c, `check ${id} in the report`).toBeDefined();
  return c!;
}

let ours = "";
let releaseDir = "";
let rpmScript = "";
let workDir = "";

beforeAll(async () => {
  ours = await nokmemKubelet("amd64");
  releaseDir = (await realBuild()).releaseDir;
  // the verify script the RPM installs, extracted from the RPM this run built
  workDir = mkdtempSync(join(tmpdir(), "kmem-node-test-"));
  const rpm = (await execa("find", [releaseDir, "-name", `kubelet-*.x86_64.rpm`])).stdout
    .split("\n")
    .filter(Boolean)[0];
  if (!rpm) throw new Error(`no kubelet x86_64 RPM under ${releaseDir}`);
  await execa(
    "sh",
    ["-c", `rpm2cpio "$1" | cpio -idm --quiet ./usr/libexec/kmem-build/verify-kmem.sh`, "sh", rpm],
    { cwd: workDir },
  );
  rpmScript = join(workDir, "usr/libexec/kmem-build/verify-kmem.sh");
  expect(readFileSync(rpmScript, "utf8")).toBe(readFileSync(join(releaseDir, "verify-kmem.sh"), "utf8"));
}, BUILD_TIMEOUT_MS); // the first suite of a run may build the real tree
afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe.sequential("a real node (containerd + runc + kubelet 1.20.2)", () => {
  test("the kmem-build kubelet never opens memory.kmem.limit_in_bytes for writing; verify reads the real pod", async () => {
    const { node, pod, t0 } = await startPodNode(ours);
    const up = (Date.now() - t0) / 1000;
    const p = podPaths(node, pod);
    const memRoot = node.memoryCgroupDir.slice(0, -node.cgroupRoot.length);
    // the container really charges kernel memory (this kernel charges every memcg)
    const appKmem = kmemNow(memRoot, p.app);
    expect(appKmem, "kmem charged by the app container").toBeGreaterThan(1 * MiB);

    const args = [
      "--kubelet",
      ours,
      "--runtime",
      "/usr/sbin/runc",
      "--cgroup-root",
      node.memoryCgroupDir,
      // names from this node's containerd, whose socket is not the default one
      "--runtime-endpoint",
      node.endpoint,
      "--json",
    ];

    const reports: [string, Report][] = [];
    for (const [label, run] of [
      ["rpm script", async () => execa("sh", [rpmScript, ...args], { reject: false })],
      ["kmem-build verify", async () => execa("node", [CLI, "verify", ...args], { reject: false })],
    ] as const) {
      const before = [p.pod, p.sandbox, p.app].map((x) => kmemNow(memRoot, x)) as [number, number, number];
      const r = await run();
      const after = [p.pod, p.sandbox, p.app].map((x) => kmemNow(memRoot, x)) as [number, number, number];
      expect(r.exitCode, `${label}: ${r.stderr}`).toBe(1);
      const report = JSON.parse(String(r.stdout)) as Report;
      reports.push([label, report]);

      expect(report.result).toBe("PROBLEM");
      expect(report.node.memory_root).toBe(node.memoryCgroupDir);
      expect(report.node.cgroup_driver).toBe("cgroupfs");
      // this kernel (>= 4.6, no cgroup.memory=nokmem) charges kmem itself: the cause is the kernel
      expect(report.node.kernel_charges_all_memcgs).toBe(true);
      expect(check(report, "kubelet-binary").status).toBe("PASS");
      expect(check(report, "runtime-binaries").status).toBe("PASS");
      for (const id of ["pod-cgroups-kmem", "container-cgroups-kmem"]) {
        expect(check(report, id).status, id).toBe("FAIL");
        expect(check(report, id).cause, id).toBe("kernel");
      }
      // the real pod and its two containers (sandbox + app), with the kernel's figures
      const rel = (x: string): string => x.slice(node.cgroupRoot.length);
      const podRow = report.cgroups.find((c) => c.level === "pod" && c.pod_uid === p.uid);
      expect(podRow, `${label}: pod row`).toBeDefined();
      expect(podRow!.qos).toBe("burstable");
      expect(podRow!.path).toBe(rel(p.pod));
      const rows = report.cgroups.filter((c) => c.level === "container" && c.pod_uid === p.uid);
      const sandboxId = pod.find((c) => c.kind === "sandbox")!.id;
      const appId = pod.find((c) => c.containerName === "app")!.id;
      expect(rows.map((c) => c.container).sort()).toEqual([sandboxId, appId].sort());
      const rowOf = (id: string): Row => rows.find((c) => c.container === id)!;
      expectSameFigure(`${label} pod`, podRow!.kmem_usage_bytes!, before[0], after[0]);
      expectSameFigure(`${label} sandbox`, rowOf(sandboxId).kmem_usage_bytes!, before[1], after[1]);
      expectSameFigure(`${label} app`, rowOf(appId).kmem_usage_bytes!, before[2], after[2]);
      // names read from the runtime: static pod names end in -<node name>; the sandbox is "POD"
      for (const r2 of [podRow!, rowOf(appId), rowOf(sandboxId)]) {
        expect(r2.pod_namespace, `${label}: ${r2.path}`).toBe(NAMESPACE);
        expect(r2.pod_name, `${label}: ${r2.path}`).toBe(`${POD}-${node.nodeName}`);
      }
      expect(podRow!.container_name).toBeNull();
      expect(rowOf(appId).container_name).toBe("app");
      expect(rowOf(sandboxId).container_name).toBe("POD");
      expect(check(report, "pod-names").status).not.toBe("FAIL");
    }
    const human = await execa("node", [CLI, "verify", ...args.filter((a) => a !== "--json")], {
      reject: false,
    });
    expect(human.exitCode).toBe(1);
    expect(human.stdout).toMatch(new RegExp(`${NAMESPACE}/${POD}-${node.nodeName}\\s+POD\\b`));
    expect(human.stdout).toMatch(new RegExp(`${NAMESPACE}/${POD}-${node.nodeName}\\s+app\\b`));
    console.log(`verify (human) on the real node, kmem-build kubelet:\n${human.stdout}`);

    const tStop = Date.now();
    await node.stop();
    const writes = node.kmemLimitWrites();
    const limitWrites = node.cgroupFileWrites("memory.limit_in_bytes");
    console.log(
      `kmem-build kubelet: ${writes.length} opens of memory.kmem.limit_in_bytes for writing; ` +
        `${limitWrites.length} of memory.limit_in_bytes (${[...new Set(limitWrites.map((w) => w.cgroup))].join(", ")}); ` +
        `node up in ${up.toFixed(1)} s, stopped in ${((Date.now() - tStop) / 1000).toFixed(1)} s`,
    );
    // strace saw the kubelet create the pod cgroup (it set the pod's memory limit there) ...
    expect(limitWrites.map((w) => w.cgroup)).toContain(p.pod);
    // ... and never open the kmem limit for writing
    expect(writes).toEqual([]);
    expectNodeGone(node);
  });

  test(
    "the upstream kubelet of the same tree opens it for writing on kubepods/ and the pod cgroup",
    async () => {
      const upstream = await upstreamKubelet();
      const { node, pod } = await startPodNode(upstream);
      const p = podPaths(node, pod);
      // verify judges this binary: it carries runc's kmem-enabling code
      const r = await cli([
        "verify",
        "--kubelet",
        upstream,
        "--runtime",
        "/usr/sbin/runc",
        "--cgroup-root",
        node.memoryCgroupDir,
        "--json",
      ]);
      const report = JSON.parse(r.stdout) as Report;
      // never PASS; FAIL where the kubelet decides (3.10), WARN where the kernel charges kmem to every
      // memcg anyway (>= 4.6 without cgroup.memory=nokmem, like this one): the kernel is the cause there
      expect(report.node.kernel_charges_all_memcgs).toBe(true);
      expect(check(report, "kubelet-binary").status).toBe("WARN");
      expect(check(report, "kubelet-binary").seen).toContain(
        "the kernel charges kmem to every memory cgroup anyway",
      );
      expect(check(report, "kubelet-binary").seen).toContain(
        "failed to set %s, because either tasks have already joined",
      );
      expect(check(report, "pod-cgroups-kmem").cause).toBe("kernel");
      await node.stop();
      const writes = node.kmemLimitWrites();
      const byCgroup = new Map<string, number>();
      for (const w of writes) byCgroup.set(w.cgroup, (byCgroup.get(w.cgroup) ?? 0) + 1);
      console.log(
        `upstream kubelet: ${writes.length} opens of memory.kmem.limit_in_bytes for writing: ` +
          [...byCgroup].map(([c, n]) => `${c} ×${n}`).join(", "),
      );
      expect(byCgroup.get(`${node.cgroupRoot}/kubepods`) ?? 0).toBeGreaterThanOrEqual(1);
      expect(byCgroup.get(p.pod) ?? 0).toBeGreaterThanOrEqual(1);
      expectNodeGone(node);
    },
    BUILD_TIMEOUT_MS,
  ); // may build the upstream kubelet first

  test("fix state for real: `kernel` on this kernel, `restart` while the file on disk is not the running kubelet, and back", async () => {
    // a copy of the nokmem kubelet (the shared one is never touched), running as a real node's kubelet
    const dir = mkdtempSync(join(workDir, "restart-"));
    const bin = join(dir, "kubelet");
    copyFileSync(ours, bin);
    const node = await startNode({ kubelet: bin, strace: false });
    nodes.push(node);
    const pid = kubeletPid(node.kubeletRoot);
    const verify = async (): Promise<{
      code: number;
      fix_state: string;
      next_step: string;
      running: unknown;
    }> => {
      const r = await execa(
        "sh",
        [
          SCRIPT,
          "--kubelet",
          bin,
          "--kubelet-pid",
          String(pid),
          "--cgroup-root",
          node.memoryCgroupDir,
          "--no-kernel-log",
          "--json",
        ],
        { reject: false },
      );
      const j = JSON.parse(String(r.stdout)) as {
        fix_state: string;
        next_step: string;
        running_kubelet: unknown;
      };
      return {
        code: r.exitCode ?? -1,
        fix_state: j.fix_state,
        next_step: j.next_step,
        running: j.running_kubelet,
      };
    };
    const before = await verify();
    console.log(`kubelet pid ${pid}: ${JSON.stringify(before)}`);
    expect(before.fix_state).toBe("kernel");
    expect(before.running).toEqual({ pid, found_by: "option", exe: bin, matches: "same", version: null });

    // what yum upgrade does: a new file at the path (here the same build, a new inode) while the old runs
    renameSync(bin, `${bin}.old`);
    copyFileSync(ours, bin);
    const during = await verify();
    console.log(`replaced on disk: ${JSON.stringify(during)}`);
    expect(during.fix_state).toBe("restart");
    expect(during.next_step).toBe(
      "restart the kubelet (systemctl restart kubelet), then drain and reboot the node",
    );
    expect(during.running).toEqual({
      pid,
      found_by: "option",
      exe: `${bin}.old`,
      matches: "other",
      version: null,
    });
    // put back: the running kubelet is the file on disk again
    rmSync(bin);
    renameSync(`${bin}.old`, bin);
    const back = await verify();
    expect(back.fix_state).toBe("kernel");
    expect(back.running).toEqual({ pid, found_by: "option", exe: bin, matches: "same", version: null });
    // the running binary removed and a new one installed: the exe link names a deleted file
    rmSync(bin);
    copyFileSync(ours, bin);
    const deleted = await verify();
    expect(deleted.fix_state).toBe("restart");
    expect(deleted.running).toEqual({
      pid,
      found_by: "option",
      exe: `${bin} (deleted)`,
      matches: "deleted",
      version: null,
    });
    expect(node.kubeletAlive()).toBe(true);
    // the script on the real /proc (no --kubelet-pid) finds a process named kubelet
    const human = await execa(
      "sh",
      [SCRIPT, "--kubelet", bin, "--cgroup-root", node.memoryCgroupDir, "--no-kernel-log"],
      { reject: false },
    );
    expect(human.stdout).toContain("\nFix state: ");
    await node.stop();
    expectNodeGone(node);
  }, 300_000);
});

/** The pid of the kubelet process whose command line names this node's --root-dir. */
function kubeletPid(root: string): number {
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, "utf8").trim() !== "kubelet") continue;
      if (readFileSync(`/proc/${e}/cmdline`, "utf8").includes(root)) return Number(e);
    } catch {
      continue;
    }
  }
  throw new Error(`no kubelet process with ${root} on its command line`);
}

/** Nothing of the node is left: no cgroup in any hierarchy, no mount, no process, no temp dir. */
function expectNodeGone(node: Node): void {
  for (const m of cgroupMounts())
    expect(existsSync(join(m.path, node.cgroupRoot)), `${m.path}${node.cgroupRoot}`).toBe(false);
  expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(node.dir);
  const procs = readdirSync("/proc").filter((e) => {
    if (!/^\d+$/.test(e)) return false;
    try {
      return readFileSync(`/proc/${e}/cmdline`, "utf8").includes(node.dir);
    } catch {
      return false;
    }
  });
  expect(procs, "processes of the node").toEqual([]);
  expect(existsSync(node.dir)).toBe(false);
}
