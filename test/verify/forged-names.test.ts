/**
 * Names from the runtime can be forged by any pod author. A pod's annotations are
 * printed by crictl (`pods`/`ps -o json`, beside the labels) and by ctr (`containers info`, in the OCI
 * spec); an annotation "id" followed by the kubelet's label keys used to start a record of its own, so
 * shop/shop-web-0 could rename another pod kube-system/etcd-master-0, container etcd, in the report
 * and the metrics. crictl and ctr are stand-ins on PATH printing what the real tools print for such a
 * pod (crictl's pods/ps take only -o json|yaml|table; ctr prints Go's indented JSON); the real ctr of
 * containerd 1.6 is driven by test/verify/pod-names.host.test.ts (host tier).
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { NodeReport } from "../../src/verify/report.js";
import { procTree, v1cg } from "./helpers/memcg.js";
import { REPO, runJson, runScript } from "./helpers/run-script.js";
import { layTree } from "./helpers/tree.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-forged-"));
const validate = new Ajv({ allErrors: true }).compile(
  JSON.parse(readFileSync(join(REPO, "schemas/verify-report.schema.json"), "utf8")),
);
const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  rmSync(TMP, { recursive: true, force: true });
});

const UID = { shop: "a5a5a5a5-0000-4000-8000-00000000a5a5", victim: "b6b6b6b6-0000-4000-8000-00000000b6b6" };
const ID = {
  shopSandbox: "a0".repeat(32),
  shop: "a1".repeat(32),
  victimSandbox: "b0".repeat(32),
  victim: "b1".repeat(32),
};
const LABELS: Record<string, Record<string, string>> = {
  [ID.shopSandbox]: { ns: "shop", pod: "shop-web-0", uid: UID.shop },
  [ID.shop]: { ns: "shop", pod: "shop-web-0", uid: UID.shop, ctr: "web" },
  [ID.victimSandbox]: { ns: "payments", pod: "api-0", uid: UID.victim },
  [ID.victim]: { ns: "payments", pod: "api-0", uid: UID.victim, ctr: "api" },
};
const kubeLabels = (id: string) => {
  const l = LABELS[id]!;
  return {
    ...(l.ctr ? { "io.kubernetes.container.name": l.ctr } : {}),
    "io.kubernetes.pod.name": l.pod,
    "io.kubernetes.pod.namespace": l.ns,
    "io.kubernetes.pod.uid": l.uid,
  };
};
/** What shop-web-0's author wrote into its pod's annotations (sorted: "id" first, as Go prints maps). */
const FORGED = {
  id: ID.victim,
  "io.kubernetes.container.name": "etcd",
  "io.kubernetes.pod.name": "etcd-master-0",
  "io.kubernetes.pod.namespace": "kube-system",
  "io.kubernetes.pod.uid": UID.victim,
};
const annotationsOf = (id: string) =>
  LABELS[id]!.uid === UID.shop
    ? { ...FORGED, "kubernetes.io/config.source": "api" }
    : { "kubernetes.io/config.source": "api" };

const TRUE_NAMES = {
  [`pod ${UID.shop}`]: ["shop", "shop-web-0", null],
  [`pod ${UID.victim}`]: ["payments", "api-0", null],
  [ID.shopSandbox]: ["shop", "shop-web-0", "POD"],
  [ID.shop]: ["shop", "shop-web-0", "web"],
  [ID.victimSandbox]: ["payments", "api-0", "POD"],
  [ID.victim]: ["payments", "api-0", "api"],
};

function rows(r: NodeReport): Record<string, [string | null, string | null, string | null]> {
  const out: Record<string, [string | null, string | null, string | null]> = {};
  for (const c of r.cgroups) {
    const key = c.level === "pod" ? `pod ${c.pod_uid}` : (c.container ?? "").replace(/^.*-|\.scope$/g, "");
    out[key] = [c.pod_namespace, c.pod_name, c.container_name];
  }
  return out;
}

function fixture(dir: string): string[] {
  layTree(join(dir, "cg"), {
    kubepods: v1cg(
      {},
      {
        burstable: v1cg(
          {},
          {
            [`pod${UID.shop}`]: v1cg({ rss: 1 << 20 }, { [ID.shopSandbox]: v1cg({}), [ID.shop]: v1cg({}) }),
            [`pod${UID.victim}`]: v1cg(
              { rss: 1 << 20, kmem: 4096, slab: "active" },
              { [ID.victimSandbox]: v1cg({}), [ID.victim]: v1cg({ kmem: 4096, slab: "active" }) },
            ),
          },
        ),
      },
    ),
  });
  layTree(join(dir, "proc"), procTree({ layout: "v1", kernel: "3.10.0-1160.el7.x86_64", numCgroups: 40 }));
  return ["--proc-root", join(dir, "proc"), "--cgroup-root", join(dir, "cg"), "--no-binaries"];
}

async function socket(path: string): Promise<void> {
  const s = createServer((c) => c.destroy());
  servers.push(s);
  await new Promise<void>((r) => s.listen(path, r));
}

function standIn(dir: string, name: string, body: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return `${dir}:${process.env.PATH}`;
}

const sockDir = join(TMP, "run");
beforeAll(async () => {
  mkdirSync(sockDir, { recursive: true });
  await socket(join(sockDir, "crio.sock"));
  await socket(join(sockDir, "containerd.sock"));
});

describe("crictl (pods and ps -a -o json, pretty as crictl prints them)", () => {
  function crictl(): string {
    const data = join(TMP, "crictl-data");
    mkdirSync(data, { recursive: true });
    const pods = {
      items: [ID.shopSandbox, ID.victimSandbox].map((id) => ({
        id,
        metadata: { name: LABELS[id]!.pod, uid: LABELS[id]!.uid, namespace: LABELS[id]!.ns, attempt: 0 },
        state: "SANDBOX_READY",
        createdAt: "1764475200000000000",
        labels: kubeLabels(id),
        annotations: annotationsOf(id),
        runtimeHandler: "",
      })),
    };
    const ps = {
      containers: [ID.shop, ID.victim].map((id) => ({
        id,
        podSandboxId: id === ID.shop ? ID.shopSandbox : ID.victimSandbox,
        metadata: { name: LABELS[id]!.ctr, attempt: 0 },
        image: { image: "sha256:" + "ab".repeat(32), annotations: {} },
        imageRef: "sha256:" + "ab".repeat(32),
        state: "CONTAINER_RUNNING",
        createdAt: "1764475201000000000",
        labels: kubeLabels(id),
        annotations: { ...annotationsOf(id), "io.kubernetes.container.hash": "5f2c1a" },
      })),
    };
    writeFileSync(join(data, "pods.json"), JSON.stringify(pods, null, 2) + "\n");
    writeFileSync(join(data, "ps.json"), JSON.stringify(ps, null, 2) + "\n");
    return standIn(
      join(TMP, "bin-crictl"),
      "crictl",
      [
        'case "$3 $4 $5 $6" in',
        `  "pods -o json ") cat ${data}/pods.json ;;`,
        `  "ps -a -o json") cat ${data}/ps.json ;;`,
        '  *) echo "crictl: unexpected $*" >&2; exit 1 ;;',
        "esac",
      ].join("\n"),
    );
  }

  test("the forged annotation renames no pod or container: report, human text and metrics", () => {
    const PATH = crictl();
    const args = [...fixture(join(TMP, "n-crictl")), "--runtime-endpoint", `unix://${sockDir}/crio.sock`];
    const env = { ...process.env, PATH };
    const { report } = runJson(args, { env });
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(report.checks.find((c) => c.id === "pod-names")!.seen).toContain("names from CRI (crictl)");
    expect(rows(report)).toEqual(TRUE_NAMES);
    const human = runScript(args, { env }).stdout;
    expect(human).not.toContain("etcd");
    expect(human).toContain("payments/api-0");
    const prom = join(TMP, "crictl.prom");
    runScript([...args, "--prometheus", prom], { env });
    const text = readFileSync(prom, "utf8");
    expect(text).not.toContain("etcd");
    // the same with every awk the script supports
    for (const awk of ["/usr/bin/gawk", "/usr/bin/mawk", "/usr/bin/busybox"]) {
      if (!existsSync(awk)) continue;
      const d = join(TMP, `awk-${awk.replace(/\//g, "_")}`);
      mkdirSync(d, { recursive: true });
      if (!existsSync(join(d, "awk"))) symlinkSync(awk, join(d, "awk"));
      const r = runJson(args, { env: { ...process.env, PATH: `${d}:${PATH}` } });
      expect(rows(r.report), awk).toEqual(TRUE_NAMES);
    }
    expect(text).toContain(
      `pod_uid="${UID.victim}",container="${ID.victim}",pod_namespace="payments",pod_name="api-0",container_name="api"`,
    );
  });
});

describe("ctr (containers list -q, then containers info per container: Go's indented JSON)", () => {
  /** ctr's `containers info`: the container record, the OCI spec with the pod's annotations in it. */
  function info(id: string): string {
    const sandbox = !LABELS[id]!.ctr;
    const labels = sandbox
      ? { ...kubeLabels(id), "io.cri-containerd.kind": "sandbox" }
      : { ...kubeLabels(id), "io.cri-containerd.kind": "container" };
    return (
      JSON.stringify(
        {
          ID: id,
          Labels: labels,
          Image: "registry.k8s.io/pause:3.6",
          Runtime: { Name: "io.containerd.runc.v2", Options: { type_url: "containerd.runc.v1.Options" } },
          SnapshotKey: id,
          Snapshotter: "overlayfs",
          CreatedAt: "2026-12-06T04:00:00.000000000Z",
          UpdatedAt: "2026-12-06T04:00:00.000000000Z",
          Extensions: {
            "io.cri-containerd.container.metadata": {
              type_url: "github.com/containerd/cri/pkg/store/container/Metadata",
              value: "eyJWZXJzaW9uIjoidjEifQ==",
            },
          },
          Spec: {
            ociVersion: "1.0.2-dev",
            process: { user: { uid: 0, gid: 0 }, args: ["/pause"], cwd: "/" },
            annotations: {
              ...annotationsOf(id),
              "io.kubernetes.cri.container-type": sandbox ? "sandbox" : "container",
            },
            linux: { cgroupsPath: `/kubepods/burstable/pod${LABELS[id]!.uid}/${id}` },
          },
        },
        null,
        4,
      ) + "\n"
    );
  }

  function ctr(): string {
    const data = join(TMP, "ctr-data");
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, "list"), Object.keys(LABELS).join("\n") + "\n");
    for (const id of Object.keys(LABELS)) writeFileSync(join(data, `${id}.json`), info(id));
    return standIn(
      join(TMP, "bin-ctr"),
      "ctr",
      [
        'case "$5 $6" in',
        `  "containers list") cat ${data}/list ;;`,
        `  "containers info") cat "${data}/$7.json" ;;`,
        '  *) echo "ctr: unexpected $*" >&2; exit 1 ;;',
        "esac",
      ].join("\n"),
    );
  }

  test("the forged annotations in the OCI spec rename no pod or container", () => {
    const PATH = ctr();
    const args = [...fixture(join(TMP, "n-ctr")), "--runtime-endpoint", `unix://${sockDir}/containerd.sock`];
    const { report } = runJson(args, { env: { ...process.env, PATH } });
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(report.checks.find((c) => c.id === "pod-names")!.seen).toContain("names from containerd (ctr)");
    expect(rows(report)).toEqual(TRUE_NAMES);
    const brief = runScript([...args, "--brief"], { env: { ...process.env, PATH } }).stdout;
    expect(brief).toContain("payments/api-0");
    expect(brief).not.toContain("etcd");
  });
});
