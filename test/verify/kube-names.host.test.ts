/**
 * verify --kubeconfig: the rows a node's runtime could not name are named through the API server, with
 * the real kubectl (one `get pods -A -o json`) against a stand-in API server in this process that
 * serves discovery and the pod list as kube-apiserver does, over HTTPS with client certificates made
 * with openssl (the kubeconfig carries the CA, client certificate and key, as kubeadm's admin.conf).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { applyApiNames, containerId, parsePodList } from "../../src/verify/kube-names.js";
import type { FleetReport, NodeReport } from "../../src/verify/report.js";
import { CLI } from "./helpers/run-script.js";
import { clientCert, makePki, serveHttps, type HttpsServer } from "../helpers/https-server.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-kube-"));
const HAVE_KUBECTL =
  spawnSync("kubectl", ["version", "--client"], { env: { ...process.env, HOME: TMP } }).status === 0;

const POD_LIST = {
  kind: "PodList",
  apiVersion: "v1",
  metadata: { resourceVersion: "4711" },
  items: [
    {
      metadata: { name: "checkout-7d9f", namespace: "shop", uid: S.UID.B },
      status: {
        phase: "Running",
        containerStatuses: [
          { name: "app", containerID: `docker://${S.CTR.b1}`, ready: true },
          { name: "envoy", containerID: `docker://${S.CTR.b2}`, ready: true },
        ],
        initContainerStatuses: [{ name: "migrate", containerID: `docker://${"99".repeat(32)}` }],
      },
    },
    { metadata: { name: "dns-0", namespace: "kube-system", uid: S.UID.G }, status: { phase: "Pending" } },
  ],
};

test("parsePodList: pods by UID with their containers by id (any runtime:// prefix)", () => {
  const pods = parsePodList(JSON.stringify(POD_LIST));
  expect([...pods.keys()]).toEqual([S.UID.B, S.UID.G]);
  expect(pods.get(S.UID.B)).toEqual({
    namespace: "shop",
    name: "checkout-7d9f",
    containers: new Map([
      [S.CTR.b1, "app"],
      [S.CTR.b2, "envoy"],
      ["99".repeat(32), "migrate"],
    ]),
  });
  expect(containerId(`cri-containerd-${S.CTR.b1}.scope`)).toBe(S.CTR.b1);
  expect(containerId(`docker-${S.CTR.b1}.scope`)).toBe(S.CTR.b1);
  expect(containerId(S.CTR.b1)).toBe(S.CTR.b1);
});

test("applyApiNames fills only what the node left null and says so in pod-names", () => {
  const row = (
    uid: string,
    container: string | null,
    names: [string | null, string | null, string | null],
  ) => ({
    level: container ? ("container" as const) : ("pod" as const),
    qos: "burstable",
    pod_uid: uid,
    container,
    pod_namespace: names[0],
    pod_name: names[1],
    container_name: names[2],
  });
  const report = {
    checks: [
      { id: "pod-names", status: "INFO", seen: "no container runtime answered (x): pods are shown by UID" },
    ],
    cgroups: [
      row(S.UID.B, null, [null, null, null]),
      row(S.UID.B, `docker-${S.CTR.b1}.scope`, [null, null, null]),
      row(S.UID.B, S.CTR.b2, ["shop", "checkout-7d9f", "envoy-from-node"]),
      row(S.UID.E, S.CTR.e1, [null, null, null]),
    ],
  } as unknown as NodeReport;
  const fleet = {
    hosts: [
      { host: "n1", report },
      { host: "n2", report: null },
    ],
  } as unknown as FleetReport;
  expect(applyApiNames(fleet, parsePodList(JSON.stringify(POD_LIST)))).toBe(2);
  expect(report.cgroups.map((c) => [c.pod_namespace, c.pod_name, c.container_name])).toEqual([
    ["shop", "checkout-7d9f", null],
    ["shop", "checkout-7d9f", "app"],
    ["shop", "checkout-7d9f", "envoy-from-node"],
    [null, null, null],
  ]);
  expect(report.checks[0]!.seen).toMatch(/; 2 more rows named by the API server \(--kubeconfig\)$/);
});

describe.skipIf(!HAVE_KUBECTL)("kmem-build verify --kubeconfig with the real kubectl", () => {
  let server: HttpsServer;
  const requests: string[] = [];
  let kubeconfig = "";
  const b64 = (f: string) => readFileSync(join(TMP, f)).toString("base64");
  /** A kubeconfig as kubeadm writes admin.conf: the CA, a client certificate and its key, inline. */
  const kubeconfigFor = (file: string, port: number) =>
    writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{name: test, cluster: {server: "https://127.0.0.1:${port}", certificate-authority-data: ${b64("ca.crt")}}}]`,
        `users: [{name: admin, user: {client-certificate-data: ${b64("admin.crt")}, client-key-data: ${b64("admin.key")}}}]`,
        "contexts: [{name: test, context: {cluster: test, user: admin}}]",
        "current-context: test",
        "",
      ].join("\n"),
    );

  beforeAll(async () => {
    // the admin client certificate as kubeadm's admin.conf carries it (files in TMP, b64 reads them)
    const ca = makePki(TMP);
    clientCert(ca, "admin", "/O=system:masters/CN=kmem-admin");
    server = await serveHttps(
      ca,
      (req, res) => {
        const path = new URL(req.url!, "https://x").pathname;
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        requests.push(`${req.method} ${path} ${peer.subject?.CN ?? ""}`);
        const send = (code: number, o: unknown) => {
          res.writeHead(code, { "content-type": "application/json" });
          res.end(JSON.stringify(o));
        };
        if (path === "/version") return send(200, { major: "1", minor: "20", gitVersion: "v1.20.2" });
        if (path === "/api") return send(200, { kind: "APIVersions", versions: ["v1"] });
        if (path === "/apis") return send(200, { kind: "APIGroupList", apiVersion: "v1", groups: [] });
        if (path === "/api/v1")
          return send(200, {
            kind: "APIResourceList",
            groupVersion: "v1",
            resources: [
              { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs: ["get", "list"] },
            ],
          });
        if (path === "/api/v1/pods") return send(200, POD_LIST);
        send(404, { kind: "Status", apiVersion: "v1", status: "Failure", code: 404, reason: "NotFound" });
      },
      { clientAuth: true },
    );
    kubeconfig = join(TMP, "kubeconfig");
    kubeconfigFor(kubeconfig, server.port);
  });
  afterAll(async () => {
    await server.close();
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

  test("rows the node could not name get namespace, pod and container names from the API server", async () => {
    const node = S.centos7Cgroupfs(join(TMP, "node"));
    const r = await cli(["verify", ...node.args, "--kubeconfig", kubeconfig, "--json", "--quiet"]);
    expect(r.code, r.stderr).toBe(1);
    expect(requests).toContain("GET /api/v1/pods kmem-admin");
    const report = JSON.parse(r.stdout) as NodeReport;
    const names = Object.fromEntries(
      report.cgroups.map((c) => [
        c.level === "pod" ? `pod ${c.pod_uid}` : c.container,
        [c.pod_namespace, c.pod_name, c.container_name],
      ]),
    );
    expect(names).toEqual({
      [`pod ${S.UID.G}`]: ["kube-system", "dns-0", null],
      [S.CTR.g1]: ["kube-system", "dns-0", null],
      [`pod ${S.UID.B}`]: ["shop", "checkout-7d9f", null],
      [S.CTR.b1]: ["shop", "checkout-7d9f", "app"],
      [S.CTR.b2]: ["shop", "checkout-7d9f", "envoy"],
      [`pod ${S.UID.E}`]: [null, null, null],
      [S.CTR.e1]: [null, null, null],
    });
    expect(report.checks.find((c) => c.id === "pod-names")!.seen).toMatch(
      /; 5 more rows named by the API server \(--kubeconfig\)$/,
    );
    // the fleet table names the charged cgroups too
    const table = await cli(["verify", ...node.args, "--kubeconfig", kubeconfig, "--quiet"]);
    expect(table.stdout).toContain("in container app of pod shop/checkout-7d9f (");
  });

  test("an API server that cannot be reached: a warning, the same verdict, UIDs", async () => {
    const probe = createNetServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const bad = join(TMP, "bad-kubeconfig");
    kubeconfigFor(bad, closedPort);
    const node = S.centos7Cgroupfs(join(TMP, "node-bad"));
    const r = await cli(["verify", ...node.args, "--kubeconfig", bad, "--json", "--quiet"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/verify: no names from the API server: kubectl get pods: .*refused/);
    const report = JSON.parse(r.stdout) as NodeReport;
    expect(report.cgroups.every((c) => c.pod_name === null && c.container_name === null)).toBe(true);
  });
});
