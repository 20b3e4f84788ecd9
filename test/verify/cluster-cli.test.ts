/**
 * `kmem-build verify --cluster` end to end with the real kubectl (the one on PATH) against a
 * stand-in API server in this process that serves discovery, the node list, the DaemonSet's pods and
 * a pod's log as kube-apiserver does, over HTTPS (a CA and serving certificate made with openssl;
 * client-go sends no credential over plain HTTP). The kubeconfig's current context leads nowhere and its user is
 * an exec credential plugin whose token the server requires: the context and the plugin are kubectl's
 * business, as they must be. The real API server is in test/real/cluster.test.ts.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Ajv } from "ajv";
import type { ClusterReport } from "../../src/verify/cluster.js";
import { CLI, REPO, runScript } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";
import { makePki, serveHttps, type HttpsServer } from "../helpers/https-server.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-cluster-"));
const HAVE_KUBECTL =
  spawnSync("kubectl", ["version", "--client"], { env: { ...process.env, HOME: TMP } }).status === 0;
const TOKEN = "kmem-test-token-3f9a";
const validate = new Ajv({ allErrors: true }).compile(
  JSON.parse(readFileSync(join(REPO, "schemas/cluster-report.schema.json"), "utf8")),
);

function node(name: string, kernel: string, kubelet: string, runtime: string) {
  return {
    metadata: { name, uid: `uid-${name}`, labels: { "kubernetes.io/hostname": name } },
    status: {
      conditions: [
        { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" },
      ],
      nodeInfo: {
        kernelVersion: kernel,
        kubeletVersion: kubelet,
        kubeProxyVersion: kubelet,
        containerRuntimeVersion: runtime,
        osImage: "CentOS Linux 7 (Core)",
        operatingSystem: "linux",
        architecture: "amd64",
      },
    },
  };
}
const NODES = {
  kind: "NodeList",
  apiVersion: "v1",
  metadata: { resourceVersion: "1" },
  items: [
    node("el7-old", "3.10.0-957.27.2.el7.x86_64", "v1.20.2", "docker://19.3.15"),
    node("el7-fixed", S.EL7_KERNEL, "v1.20.2+nokmem", "containerd://1.4.3"),
    node("el8", S.EL8_KERNEL, "v1.20.2", "containerd://1.4.3"),
  ],
};
const dsPod = (nodeName: string) => ({
  metadata: {
    name: `kmem-build-verify-${nodeName}`,
    namespace: "kmem-build",
    labels: { "app.kubernetes.io/name": "kmem-build-verify" },
  },
  spec: { nodeName, containers: [{ name: "verify", image: "busybox" }] },
  status: { phase: "Running" },
});
const PODS = {
  kind: "PodList",
  apiVersion: "v1",
  metadata: { resourceVersion: "2" },
  items: [dsPod("el7-fixed")],
};

let server: HttpsServer;
let kubeconfig: string;
let podLog: string;
let logCode: number;
const requests: string[] = [];

beforeAll(async () => {
  const pki = makePki(TMP);
  // the DaemonSet's log: the script's own report of a fixture EL7 node, as the loop prints it
  const fixture = S.centos7Systemd(join(TMP, "node"));
  const r = runScript(fixture.args);
  logCode = r.code!;
  podLog = `${r.stdout}\nkmem-build-verify: verify-kmem.sh exited ${r.code} (0 OK, 1 problem, 2 could not tell); next run in 300s\n`;
  server = await serveHttps(pki, (req, res) => {
    const url = new URL(req.url!, "http://x");
    const path = url.pathname;
    requests.push(`${req.method} ${path}${url.search}`);
    const send = (code: number, o: unknown) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(typeof o === "string" ? o : JSON.stringify(o));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return send(401, {
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        message: "Unauthorized",
        reason: "Unauthorized",
        code: 401,
      });
    if (path === "/version") return send(200, { major: "1", minor: "20", gitVersion: "v1.20.2" });
    if (path === "/api") return send(200, { kind: "APIVersions", versions: ["v1"] });
    if (path === "/apis") return send(200, { kind: "APIGroupList", apiVersion: "v1", groups: [] });
    if (path === "/api/v1")
      return send(200, {
        kind: "APIResourceList",
        groupVersion: "v1",
        resources: [
          { name: "nodes", singularName: "node", namespaced: false, kind: "Node", verbs: ["get", "list"] },
          { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs: ["get", "list"] },
          { name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] },
        ],
      });
    if (path === "/api/v1/nodes") return send(200, NODES);
    if (
      path === "/api/v1/pods" &&
      url.searchParams.get("labelSelector") === "app.kubernetes.io/name=kmem-build-verify"
    )
      return send(200, PODS);
    if (path === "/api/v1/namespaces/kmem-build/pods/kmem-build-verify-el7-fixed")
      return send(200, { kind: "Pod", apiVersion: "v1", ...dsPod("el7-fixed") });
    if (path === "/api/v1/namespaces/kmem-build/pods/kmem-build-verify-el7-fixed/log") {
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end(podLog);
    }
    send(404, { kind: "Status", apiVersion: "v1", status: "Failure", code: 404, reason: "NotFound" });
  });
  const plugin = join(TMP, "plugin.sh");
  writeFileSync(
    plugin,
    `#!/bin/sh\necho called >> '${join(TMP, "plugin-calls")}'\nprintf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"${TOKEN}"}}'\n`,
    { mode: 0o755 },
  );
  kubeconfig = join(TMP, "kubeconfig");
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "here",
          cluster: {
            server: server.url,
            "certificate-authority": pki.ca,
          },
        },
        {
          name: "nowhere",
          cluster: { server: "https://127.0.0.1:9", "certificate-authority": join(TMP, "ca.crt") },
        },
      ],
      users: [
        {
          name: "plugin",
          user: { exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: plugin } },
        },
      ],
      contexts: [
        { name: "nowhere", context: { cluster: "nowhere", user: "plugin" } },
        { name: "prod", context: { cluster: "here", user: "plugin" } },
      ],
      "current-context": "nowhere",
    }),
  );
});
afterAll(async () => {
  await server?.close();
  rmSync(TMP, { recursive: true, force: true });
});

/** The CLI without blocking this process, whose server must answer kubectl. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, HOME: TMP, KUBECONFIG: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => res({ code, stdout, stderr }));
  });
}

describe.skipIf(!HAVE_KUBECTL)("verify --cluster with kubectl", () => {
  test("each node's kernel, running kubelet, runtime and fix state; the DaemonSet's report beside the API's view", async () => {
    const r = await cli([
      "verify",
      "--cluster",
      "--kubeconfig",
      kubeconfig,
      "--context",
      "prod",
      "--json",
      "--junit",
      join(TMP, "j.xml"),
      "--html",
      join(TMP, "c.html"),
    ]);
    expect(r.stderr).toBe("");
    const report = JSON.parse(r.stdout) as ClusterReport;
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    const by = Object.fromEntries(report.nodes.map((n) => [n.node, n]));
    expect(report.nodes.map((n) => n.node)).toEqual(["el7-fixed", "el7-old", "el8"]);
    expect(by["el7-old"]).toMatchObject({
      kernel_class: "affected",
      kubelet_class: "arms-kmem",
      container_runtime: "docker://19.3.15",
      fix_state: "install",
      daemonset: null,
      exit_code: 1,
    });
    expect(by["el8"]).toMatchObject({
      kernel_class: "4.6+",
      fix_state: "ask-node",
      exit_code: 2,
      api: { possible: ["kernel", "not-affected"] },
    });
    const state = /^Fix state: ([a-z-]+):/m.exec(podLog)![1];
    expect(by["el7-fixed"]).toMatchObject({
      kernel_class: "knows-nokmem",
      kubelet_version: "v1.20.2+nokmem",
      kubelet_class: "nokmem-marked",
      api: { fix_state: "ask-node" },
      daemonset: {
        namespace: "kmem-build",
        pod: "kmem-build-verify-el7-fixed",
        fix_state: state,
        exit_code: logCode,
      },
      fix_state: state,
    });
    expect(r.code).toBe(1);
    expect(report.daemonset_reports).toBe(
      "the last report in the log of each app.kubernetes.io/name=kmem-build-verify pod (1 running)",
    );
    expect(
      requests.some((l) =>
        /^GET \/api\/v1\/namespaces\/kmem-build\/pods\/kmem-build-verify-el7-fixed\/log\?.*tailLines=1000/.test(
          l,
        ),
      ),
    ).toBe(true);
    expect(readFileSync(join(TMP, "plugin-calls"), "utf8")).toMatch(/called/);
    expect(readFileSync(join(TMP, "j.xml"), "utf8")).toContain('<testsuite name="el7-old"');
    expect(readFileSync(join(TMP, "c.html"), "utf8")).toContain("v1.20.2+nokmem");

    const table = await cli(["verify", "--cluster", "--kubeconfig", kubeconfig, "--context", "prod"]);
    expect(table.stdout).toMatch(
      /^el7-old\s+3\.10\.0-957\.27\.2\.el7\.x86_64\s+affected\s+v1\.20\.2\s+arms-kmem\s+docker:\/\/19\.3\.15\s+install\s+-\s+install$/m,
    );
    expect(table.stdout).toMatch(/^Result: PROBLEM \(exit 1\): 3 nodes, /m);
  });

  test("--no-daemonset reads no pods; --brief; the kubeconfig's own context fails with kubectl's message (exit 2)", async () => {
    const before = requests.length;
    const brief = await cli([
      "verify",
      "--cluster",
      "--kubeconfig",
      kubeconfig,
      "--context",
      "prod",
      "--no-daemonset",
      "--brief",
    ]);
    expect(requests.slice(before).some((l) => l.includes("/pods"))).toBe(false);
    expect(brief.stdout).toMatch(
      /^el7-fixed: UNKNOWN: ask the node \(reboot\/runtime\/not-affected\/fixed\): ask the node/m,
    );
    expect(brief.stdout).toMatch(/^el7-old: PROBLEM: install: install the nokmem kubelet/m);
    expect(brief.code).toBe(1);
    const nowhere = await cli(["verify", "--cluster", "--kubeconfig", kubeconfig]);
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toMatch(
      /error: cannot read the nodes of the cluster: kubectl get nodes: .*127\.0\.0\.1:9/,
    );
    const both = await cli(["verify", "--cluster", "--ssh", "n1"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("choose one of --cluster and --ssh/--hosts-file");
    const par = await cli(["verify", "--cluster", "--parallel", "0"]);
    expect(par.code).toBe(2);
    expect(par.stderr).toContain('--parallel must be a positive integer, got "0"');
    const ctx = await cli(["verify", "--context", "prod"]);
    expect(ctx.stderr).toContain("--context needs --cluster");
  });
});
