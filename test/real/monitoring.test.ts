/**
 * The monitoring side for real, on the real node of node-harness.ts (containerd + runc + the
 * kmem-build kubelet 1.20.2 of the real suite, a pod charging kernel memory):
 *   - `kmem-build verify --prometheus` writes the textfile into a directory Debian's node_exporter
 *     (1.5, textfile collector only) serves, every few seconds, like the DaemonSet;
 *   - Debian's Prometheus (2.42) scrapes node_exporter and the kubelet's /metrics/cadvisor over
 *     HTTPS as a real scraper: the kubelet demands a client certificate (--anonymous-auth=false,
 *     --client-ca-file; a request without one gets 401), Prometheus presents one from the test's CA
 *     and checks the kubelet's serving certificate against it;
 *   - the generated rules (src/monitoring/rules.ts) with short `for:` windows, alerts sent to
 *     Debian's Alertmanager (0.25).
 * Everything listens on 127.0.0.1 on free ports, is started here and stopped in afterAll.
 * What Prometheus's HTTP API answered is printed (the docs quote it).
 */
import { execa } from "execa";
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { plainRulesFile, HIDDEN_POD, type RuleTimings } from "../../src/monitoring/rules.js";
import { CONTRACT } from "../../src/verify/contract.js";
import { CLI } from "../helpers/cli.js";
import { freePort, NODE_IMAGE, sleep, startNode, type Node } from "./node-harness.js";
import { nokmemKubelet } from "./shared.js";

const POD = "kmem-monitored";
const TIMINGS: RuleTimings = { kmemFor: 4, binaryFor: 4, oomWindow: 60, staleAfter: 15, interval: 3 };
const TEXTFILE = "kmem-build.prom";

function manifest(): string {
  const script =
    "mkdir -p /tmp/k; i=0; while [ $i -lt 3000 ]; do : > /tmp/k/f$i; i=$((i+1)); done; exec sleep 2147483647";
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: POD, namespace: "default" },
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

const dir = mkdtempSync(join(tmpdir(), "kmem-monitoring-"));
const procs: ChildProcess[] = [];
let node: Node | undefined;
let kubelet = "";
let writer: { stop: boolean; runs: number; done?: Promise<void> } = { stop: false, runs: 0 };
const ports = { node: 0, prom: 0, am: 0 };
const answers: string[] = [];

function daemon(name: string, cmd: string, args: string[]): ChildProcess {
  const log = openSync(join(dir, `${name}.log`), "a");
  const p = spawn(cmd, args, { stdio: ["ignore", log, log] });
  procs.push(p);
  return p;
}

async function stopAll(): Promise<void> {
  writer.stop = true;
  await writer.done?.catch(() => undefined);
  for (const p of procs.reverse()) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    const gone = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    await Promise.race([gone, sleep(10_000)]);
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  }
}
process.once("exit", () => {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
});

async function api<T>(path: string): Promise<T> {
  const r = await fetch(`http://127.0.0.1:${ports.prom}${path}`);
  const body = (await r.json()) as { status: string; data: T };
  expect(body.status, path).toBe("success");
  return body.data;
}
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
const query = (q: string) =>
  api<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(q)}`).then((d) => d.result);

async function until<T>(
  what: string,
  ms: number,
  f: () => Promise<T | undefined | null | false>,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${ms / 1000}s waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await sleep(1000);
  }
}

/** The test's CA, the kubelet's serving certificate (127.0.0.1) and the scraper's client certificate. */
async function certificates(): Promise<void> {
  const ssl = (args: string[]) => execa("openssl", args, { cwd: dir });
  await ssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "1",
    "-subj",
    "/CN=kmem-build-test-ca",
  ]);
  for (const [name, subj, ext] of [
    ["kubelet", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"],
    ["scraper", "/CN=prometheus/O=system:monitoring", "extendedKeyUsage=clientAuth"],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    await ssl([
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      subj,
    ]);
    await ssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
    ]);
  }
}

/** A GET on the kubelet without a client certificate: its status code. */
function anonymousStatus(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/metrics/cadvisor", ca: readFileSync(join(dir, "ca.crt")) },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const textDir = join(dir, "textfile");
function verifyArgs(n: Node, extra: string[]): string[] {
  return [
    CLI,
    "verify",
    "--cgroup-root",
    n.memoryCgroupDir,
    "--runtime-endpoint",
    n.endpoint,
    "--prometheus",
    join(textDir, TEXTFILE),
    ...extra,
  ];
}

beforeAll(async () => {
  kubelet = await nokmemKubelet();
  mkdirSync(textDir);
  await certificates();
  node = await startNode({
    kubelet,
    strace: false,
    manifests: { "monitored.json": manifest() },
    extraKubeletArgs: [
      "--anonymous-auth=false",
      `--client-ca-file=${join(dir, "ca.crt")}`,
      "--authorization-mode=AlwaysAllow",
      `--tls-cert-file=${join(dir, "kubelet.crt")}`,
      `--tls-private-key-file=${join(dir, "kubelet.key")}`,
    ],
  });
  await node.waitForPod(`${POD}-${node.nodeName}`, ["app"], 240_000, (cs) => {
    const app = cs.find((c) => c.containerName === "app");
    try {
      return !!app?.pid && readFileSync(`/proc/${app.pid}/comm`, "utf8").trim() === "sleep";
    } catch {
      return false;
    }
  });

  // the first run checks the binaries too and writes the HTML report of this node (docs/images/)
  const first = await execa(
    "node",
    [
      ...verifyArgs(node, [
        "--kubelet",
        kubelet,
        "--runtime",
        "/usr/sbin/runc",
        "--html",
        join(dir, "node.html"),
        "--quiet",
      ]),
    ],
    { reject: false },
  );
  expect(first.exitCode, first.stderr).toBe(1);
  // KMEM_BUILD_HTML_OUT=FILE keeps this real node's HTML report (the docs' screenshot is of it)
  if (process.env.KMEM_BUILD_HTML_OUT) copyFileSync(join(dir, "node.html"), process.env.KMEM_BUILD_HTML_OUT);
  const n = node;
  writer = { stop: false, runs: 1 };
  writer.done = (async () => {
    while (!writer.stop) {
      await sleep(TIMINGS.interval * 1000);
      if (writer.stop) break;
      await execa("node", verifyArgs(n, ["--no-binaries"]), { reject: false });
      writer.runs++;
    }
  })();

  [ports.node, ports.prom, ports.am] = [await freePort(), await freePort(), await freePort()];
  daemon("node-exporter", "prometheus-node-exporter", [
    `--web.listen-address=127.0.0.1:${ports.node}`,
    "--collector.disable-defaults",
    "--collector.textfile",
    `--collector.textfile.directory=${textDir}`,
  ]);
  writeFileSync(
    join(dir, "alertmanager.yml"),
    "route:\n  receiver: test\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: test\n",
  );
  daemon("alertmanager", "prometheus-alertmanager", [
    `--config.file=${join(dir, "alertmanager.yml")}`,
    `--storage.path=${join(dir, "am-data")}`,
    `--web.listen-address=127.0.0.1:${ports.am}`,
    "--cluster.listen-address=",
  ]);
  writeFileSync(join(dir, "kmem-build.rules.yaml"), plainRulesFile(TIMINGS));
  writeFileSync(
    join(dir, "prometheus.yml"),
    JSON.stringify({
      global: { scrape_interval: "2s", evaluation_interval: "2s" },
      rule_files: [join(dir, "kmem-build.rules.yaml")],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${ports.am}`] }] }] },
      scrape_configs: [
        { job_name: "node", static_configs: [{ targets: [`127.0.0.1:${ports.node}`] }] },
        {
          job_name: "kubelet-cadvisor",
          scheme: "https",
          metrics_path: "/metrics/cadvisor",
          tls_config: {
            ca_file: join(dir, "ca.crt"),
            cert_file: join(dir, "scraper.crt"),
            key_file: join(dir, "scraper.key"),
          },
          static_configs: [{ targets: [`127.0.0.1:${node.kubeletPort}`] }],
        },
      ],
    }),
  );
  daemon("prometheus", "prometheus", [
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "prom-data")}`,
    `--web.listen-address=127.0.0.1:${ports.prom}`,
  ]);
}, 900_000);

afterAll(async () => {
  await stopAll();
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
  console.log(`Prometheus API answers (real run):\n${answers.join("\n")}`);
});

describe("Prometheus, node_exporter and Alertmanager on the real node", () => {
  test("the kubelet refuses an unauthenticated scrape; Prometheus's targets are up", async () => {
    const anonymous = await anonymousStatus(node!.kubeletPort);
    answers.push(`GET /metrics/cadvisor without a client certificate: ${anonymous}`);
    expect(anonymous).toBe(401);
    const t = await until("both targets up", 60_000, async () => {
      const d = await api<{
        activeTargets: {
          labels: Record<string, string>;
          health: string;
          lastError: string;
          scrapeUrl: string;
        }[];
      }>("/api/v1/targets");
      return (
        d.activeTargets.length === 2 && d.activeTargets.every((x) => x.health === "up") && d.activeTargets
      );
    });
    answers.push(`targets: ${t.map((x) => `${x.labels.job} ${x.scrapeUrl} ${x.health}`).join("; ")}`);
  });

  test("node_exporter reads the textfile: no scrape error, kmem_build_ series with their labels", async () => {
    const err = await until("node_textfile_scrape_error", 30_000, () =>
      query("node_textfile_scrape_error").then((r) => (r.length ? r : null)),
    );
    expect(err.map((s) => s.value[1])).toEqual(["0"]);
    answers.push(`node_textfile_scrape_error ${err[0]!.value[1]}`);
    const kmem = await until("kmem_build_cgroup_kmem_usage_bytes of the pod", 30_000, () =>
      query(`kmem_build_cgroup_kmem_usage_bytes{pod_name="${POD}-${node!.nodeName}"}`).then(
        (r) => r.length >= 2 && r,
      ),
    );
    for (const s of kmem) {
      expect(s.metric).toMatchObject({ job: "node", qos: "burstable", pod_namespace: "default" });
      expect(s.metric.pod_uid).toMatch(/^[0-9a-f-]{32,36}$/);
      expect(Number(s.value[1])).toBeGreaterThan(0);
    }
    expect(kmem.map((s) => s.metric.level).sort()).toContain("pod");
    for (const s of kmem) answers.push(`${JSON.stringify(s.metric)} ${s.value[1]}`);
    const checks = await query("kmem_build_check_status == 1");
    expect(checks.find((s) => s.metric.check === "pod-cgroups-kmem")?.metric.status).toBe("FAIL");
    answers.push(
      `kmem_build_check_status == 1: ${checks.map((s) => `${s.metric.check}=${s.metric.status}`).join(", ")}`,
    );
  });

  test("the kernel-charges-kmem alert fires (info), nothing pages; Alertmanager has it", async () => {
    const firing = await until("KmemChargedByKernel firing", 60_000, async () => {
      const d = await api<{
        alerts: { labels: Record<string, string>; state: string; annotations: Record<string, string> }[];
      }>("/api/v1/alerts");
      return (
        d.alerts.some((a) => a.labels.alertname === "KmemChargedByKernel" && a.state === "firing") && d.alerts
      );
    });
    const kernel = firing.find((a) => a.labels.alertname === "KmemChargedByKernel")!;
    expect(kernel.labels).toMatchObject({ severity: "info", instance: `127.0.0.1:${ports.node}` });
    // the node script's own next step for the kernel state (schemas/verify-contract.json)
    const kernelStep = CONTRACT.fix_states.find((f) => f.state === "kernel")!.next_step!;
    expect(kernelStep).toContain("cgroup.memory=nokmem");
    expect(kernel.annotations.description).toContain(`Next step: ${kernelStep}.`);
    for (const quiet of [
      "KmemChargedToPodCgroups",
      "KmemFixInstallKubelet",
      "KubeletNotNokmem",
      "KmemCheckNotRunning",
    ])
      expect(
        firing.filter((a) => a.labels.alertname === quiet),
        quiet,
      ).toEqual([]);
    answers.push(
      `alerts: ${firing.map((a) => `${a.labels.alertname}{severity=${a.labels.severity}} ${a.state}`).join("; ")}`,
    );
    const am = await until("the alert in Alertmanager", 30_000, async () => {
      const r = (await (await fetch(`http://127.0.0.1:${ports.am}/api/v2/alerts`)).json()) as {
        labels: Record<string, string>;
        status: { state: string };
      }[];
      return r.some((a) => a.labels.alertname === "KmemChargedByKernel") && r;
    });
    answers.push(
      `alertmanager /api/v2/alerts: ${am.map((a) => `${a.labels.alertname} ${a.status.state}`).join("; ")}`,
    );
  });

  test("the hidden-memory recording rule agrees with the pod's memory.usage_in_bytes - rss - cache", async () => {
    const uid = (await node!.containers()).find((c) => c.podName === `${POD}-${node!.nodeName}`)!.podUid;
    const podDir = join(node!.kubepodsDir, "burstable", `pod${uid}`);
    const kernelHidden = () => {
      const stat = Object.fromEntries(
        readFileSync(join(podDir, "memory.stat"), "utf8")
          .trim()
          .split("\n")
          .map((l) => l.split(" ") as [string, string]),
      );
      return (
        Number(readFileSync(join(podDir, "memory.usage_in_bytes"), "utf8")) -
        Number(stat.total_rss) -
        Number(stat.total_cache)
      );
    };
    // cAdvisor serves a new cgroup with zeros until its first housekeeping of it (kubelet: 10 s, up to 15 s)
    const rec = await until(`${HIDDEN_POD} of the pod, past cAdvisor's first housekeeping`, 90_000, () =>
      query(`${HIDDEN_POD}{pod_uid="${uid}"}`).then(
        (r) => r.length === 1 && Number(r[0]!.value[1]) !== 0 && r,
      ),
    );
    expect(rec).toHaveLength(1);
    const before = kernelHidden();
    const seen = Number(rec[0]!.value[1]);
    const after = kernelHidden();
    const kernel = (before + after) / 2;
    answers.push(
      `${HIDDEN_POD}{pod_uid="${uid}", id="${rec[0]!.metric.id}"} ${seen}; kernel usage - rss - cache ${before}..${after}`,
    );
    const raw = await Promise.all(
      ["container_memory_usage_bytes", "container_memory_rss", "container_memory_cache"].map(async (m) =>
        (await query(`${m}{id="${rec[0]!.metric.id}"}`)).map((x) => `${m} ${x.value[1]}`).join(""),
      ),
    );
    answers.push(`  cAdvisor: ${raw.join(", ")}`);
    expect(kernel).toBeGreaterThan(1024 * 1024);
    expect(Math.abs(seen - kernel) / kernel).toBeLessThan(0.05);
  });

  test("the stale-check alert fires once the textfile stops being written", async () => {
    writer.stop = true;
    await writer.done;
    const t0 = Date.now();
    const a = await until("KmemCheckNotRunning firing", 90_000, async () => {
      const d = await api<{ alerts: { labels: Record<string, string>; state: string; value: string }[] }>(
        "/api/v1/alerts",
      );
      return d.alerts.find((x) => x.labels.alertname === "KmemCheckNotRunning" && x.state === "firing");
    });
    answers.push(
      `after ${writer.runs} runs, writing stopped: KmemCheckNotRunning firing after ${((Date.now() - t0) / 1000).toFixed(0)}s, value ${Number(a.value).toFixed(1)}s`,
    );
    expect(Number(a.value)).toBeGreaterThan(TIMINGS.staleAfter);
  });
});
