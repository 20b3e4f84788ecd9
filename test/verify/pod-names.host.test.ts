/**
 * Pods by name: verify reads namespace, pod name and container name from the container runtime's labels.
 * containerd is the real daemon (its own socket, containers created with the kubelet's labels, ctr read
 * over --runtime-endpoint); crictl and docker, which this machine does not run, are stand-ins on PATH that
 * print what the real CLIs print. A dead or hanging socket costs at most the time limit, then UIDs only.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FleetReport, NodeReport } from "../../src/verify/report.js";
import { Containerd, HAVE_CONTAINERD } from "./helpers/containerd.js";
import { v1cg, procTree } from "./helpers/memcg.js";
import { REPO, SCRIPT, runCli, runCliAsync, runJson, runScript } from "./helpers/run-script.js";
import { makeKeys, startSshd } from "./helpers/sshd.js";
import { layTree, type Tree } from "./helpers/tree.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-names-"));
const validate = new Ajv({ allErrors: true }).compile(
  JSON.parse(readFileSync(join(REPO, "schemas/verify-report.schema.json"), "utf8")),
);

const MiB = 1024 ** 2;
const UID = {
  web: "7d3c1f0a-5b2e-4c61-9a8d-0e1f2a3b4c5d",
  db: "8e4d2a1b-6c3f-4d72-8b9e-1f2a3b4c5d6e",
  gone: "9f5e3b2c-7d40-4e83-9caf-2a3b4c5d6e7f",
};
const ID = {
  webSandbox: "5a".repeat(32),
  web: "c0".repeat(32),
  dbSandbox: "5b".repeat(32),
  db: "d0".repeat(32),
  /** a container cgroup the runtime does not know (pod known) */
  stray: "ee".repeat(32),
  /** the container of a pod the runtime does not know */
  gone: "f0".repeat(32),
};
const NAMES: Record<string, { namespace: string; pod: string; uid: string; container?: string }> = {
  [ID.webSandbox]: { namespace: "shop", pod: "web-0", uid: UID.web },
  [ID.web]: { namespace: "shop", pod: "web-0", uid: UID.web, container: "app" },
  [ID.dbSandbox]: { namespace: "store", pod: "db-0", uid: UID.db },
  [ID.db]: { namespace: "store", pod: "db-0", uid: UID.db, container: "postgres" },
};

/** A CentOS 7 node (3.10: the binaries decide) whose container cgroups carry the ids above. */
function node(dir: string, driver: "cgroupfs" | "systemd", prefix = "cri-containerd"): string[] {
  const c = (id: string, prefix: string) => (driver === "cgroupfs" ? id : `${prefix}-${id}.scope`);
  const p = (qos: string, uid: string) =>
    driver === "cgroupfs" ? `pod${uid}` : `kubepods-${qos}-pod${uid.replace(/-/g, "_")}.slice`;
  const pods = (prefix: string) => ({
    burstable: {
      [p("burstable", UID.web)]: v1cg(
        { rss: 40 * MiB, kmem: 3 * MiB, slab: "active" },
        {
          [c(ID.webSandbox, prefix)]: v1cg({ rss: MiB }),
          [c(ID.web, prefix)]: v1cg({ rss: 39 * MiB, kmem: 3 * MiB, slab: "active" }),
        },
      ),
      [p("burstable", UID.db)]: v1cg(
        { rss: 80 * MiB },
        {
          [c(ID.dbSandbox, prefix)]: v1cg({ rss: MiB }),
          [c(ID.db, prefix)]: v1cg({ rss: 79 * MiB }),
          [c(ID.stray, prefix)]: v1cg({}),
        },
      ),
    },
    besteffort: { [p("besteffort", UID.gone)]: v1cg({}, { [c(ID.gone, prefix)]: v1cg({}) }) },
  });
  let tree: Tree;
  if (driver === "cgroupfs") {
    const t = pods("");
    tree = { kubepods: v1cg({}, { burstable: v1cg({}, t.burstable), besteffort: v1cg({}, t.besteffort) }) };
  } else {
    const t = pods(prefix);
    tree = {
      "kubepods.slice": v1cg(
        {},
        {
          "kubepods-burstable.slice": v1cg({}, t.burstable),
          "kubepods-besteffort.slice": v1cg({}, t.besteffort),
        },
      ),
    };
  }
  layTree(join(dir, "cg"), tree);
  layTree(join(dir, "proc"), procTree({ layout: "v1", kernel: "3.10.0-1160.el7.x86_64", numCgroups: 40 }));
  return ["--proc-root", join(dir, "proc"), "--cgroup-root", join(dir, "cg"), "--no-binaries"];
}

function rows(r: NodeReport): Record<string, [string | null, string | null, string | null]> {
  const out: Record<string, [string | null, string | null, string | null]> = {};
  for (const c of r.cgroups) {
    const key = c.level === "pod" ? `pod ${c.pod_uid}` : (c.container ?? "").replace(/^.*-|\.scope$/g, "");
    out[key] = [c.pod_namespace, c.pod_name, c.container_name];
  }
  return out;
}

const ALL_NAMED = {
  [`pod ${UID.web}`]: ["shop", "web-0", null],
  [`pod ${UID.db}`]: ["store", "db-0", null],
  [`pod ${UID.gone}`]: [null, null, null],
  [ID.webSandbox]: ["shop", "web-0", "POD"],
  [ID.web]: ["shop", "web-0", "app"],
  [ID.dbSandbox]: ["store", "db-0", "POD"],
  [ID.db]: ["store", "db-0", "postgres"],
  [ID.stray]: ["store", "db-0", null],
  [ID.gone]: [null, null, null],
};
const NONE_NAMED = Object.fromEntries(Object.keys(ALL_NAMED).map((k) => [k, [null, null, null]]));

const podNames = (r: NodeReport) => r.checks.find((c) => c.id === "pod-names")!;

/** An attacker pod whose annotations forge another pod's record, and its victim. */
export const FORGE = {
  shopUid: "a5a5a5a5-0000-4000-8000-00000000a5a5",
  victimUid: "b6b6b6b6-0000-4000-8000-00000000b6b6",
  attacker: "a1".repeat(32),
  victim: "b1".repeat(32),
};
const FORGED_NAMED = {
  [`pod ${FORGE.shopUid}`]: ["shop", "shop-web-0", null],
  [`pod ${FORGE.victimUid}`]: ["payments", "api-0", null],
  [FORGE.attacker]: ["shop", "shop-web-0", "web"],
  [FORGE.victim]: ["payments", "api-0", "api"],
};
/** A cgroupfs node with the attacker's pod and the victim's, one container each. */
function forgedNode(dir: string): string[] {
  layTree(join(dir, "cg"), {
    kubepods: v1cg(
      {},
      {
        [`pod${FORGE.shopUid}`]: v1cg({ rss: MiB }, { [FORGE.attacker]: v1cg({ rss: MiB }) }),
        [`pod${FORGE.victimUid}`]: v1cg({ rss: MiB }, { [FORGE.victim]: v1cg({ rss: MiB }) }),
      },
    ),
  });
  layTree(join(dir, "proc"), procTree({ layout: "v1", kernel: "3.10.0-1160.el7.x86_64", numCgroups: 40 }));
  return ["--proc-root", join(dir, "proc"), "--cgroup-root", join(dir, "cg"), "--no-binaries"];
}

/** The script without blocking this process (a socket server in it may need to answer). */
function runAsync(
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; ms: number }> {
  const started = Date.now();
  return new Promise((res) => {
    const child = spawn("dash", [SCRIPT, ...args], {
      env: env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.resume();
    const t = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(t);
      res({ code, stdout, ms: Date.now() - started });
    });
  });
}

const servers: Server[] = [];
const held: Socket[] = [];
/** A unix socket that accepts connections and never says a word (a hung runtime). */
async function silentSocket(path: string): Promise<void> {
  const s = createServer((conn) => held.push(conn));
  servers.push(s);
  await new Promise<void>((r) => s.listen(path, r));
}

afterAll(async () => {
  for (const c of held) c.destroy();
  for (const s of servers) await new Promise((r) => s.close(r));
  rmSync(TMP, { recursive: true, force: true });
});

describe.skipIf(!HAVE_CONTAINERD)("a real containerd, read with ctr over --runtime-endpoint", () => {
  const cd = new Containerd(join(TMP, "containerd"));
  let endpoint = "";
  beforeAll(async () => {
    try {
      await cd.start();
      cd.importImage();
      for (const [id, l] of Object.entries(NAMES)) cd.create(id, l);
      endpoint = `unix://${cd.socket}`;
    } catch (err) {
      await cd.stop();
      throw err;
    }
  }, 120_000);
  afterAll(async () => {
    await cd.stop();
    // nothing of ours left running: no containerd on our socket
    const left = spawnSync("pgrep", ["-f", cd.dir], { encoding: "utf8" }).stdout.trim();
    expect(left).toBe("");
  }, 30_000);

  test("cgroupfs: every pod and container row carries its namespace, pod and container name", () => {
    const args = node(join(TMP, "cgfs"), "cgroupfs");
    const { report } = runJson([...args, "--runtime-endpoint", endpoint]);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(rows(report)).toEqual(ALL_NAMED);
    expect(podNames(report)).toMatchObject({
      status: "INFO",
      seen: `names from containerd (ctr) at ${endpoint}: 2 of 3 pod cgroups and 4 of 6 container cgroups named`,
      conclusive: true,
    });
    // the same node without a runtime: UIDs as before, nothing else changes
    const bare = runJson(args).report;
    expect(rows(bare)).toEqual(NONE_NAMED);
    expect(report.exit_code).toBe(bare.exit_code);
    expect(report.checks.filter((c) => c.id !== "pod-names").map((c) => c.status)).toEqual(
      bare.checks.filter((c) => c.id !== "pod-names").map((c) => c.status),
    );
  });

  test("Prometheus: the cgroup series carry the names as labels", () => {
    const prom = join(TMP, "names.prom");
    runScript([...node(join(TMP, "prom"), "cgroupfs"), "--runtime-endpoint", endpoint, "--prometheus", prom]);
    const text = readFileSync(prom, "utf8");
    expect(text).toContain(
      `kmem_build_cgroup_kmem_usage_bytes{level="container",qos="burstable",pod_uid="${UID.web}",container="${ID.web}",pod_namespace="shop",pod_name="web-0",container_name="app"} 3145728`,
    );
    expect(text).toContain(
      `kmem_build_cgroup_usage_bytes{level="pod",qos="besteffort",pod_uid="${UID.gone}",container="",pod_namespace="",pod_name="",container_name=""} 0`,
    );
  });

  test("a pod author's annotation \"id\" does not start another container's record", () => {
    // shop/shop-web-0's container carries the annotation id=<the victim's container id>; ctr prints it
    // in the OCI spec, next to the kubelet's label keys (ctr copies the labels there too). The victim,
    // payments/api-0, is read after it (its ids sort later): the old parser gave it the attacker's names.
    cd.create(
      FORGE.attacker,
      { namespace: "shop", pod: "shop-web-0", uid: FORGE.shopUid, container: "web" },
      { id: FORGE.victim },
    );
    cd.create(FORGE.victim, { namespace: "payments", pod: "api-0", uid: FORGE.victimUid, container: "api" });
    const info = cd.ctr(["containers", "info", FORGE.attacker]);
    expect(info).toMatch(
      new RegExp(
        `"annotations": \\{\\s+"id": "${FORGE.victim}",\\s+"io\\.kubernetes\\.container\\.name": "web"`,
      ),
    );
    try {
      const { report } = runJson([...forgedNode(join(TMP, "forged")), "--runtime-endpoint", endpoint]);
      expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
      expect(rows(report)).toEqual(FORGED_NAMED);
    } finally {
      cd.ctr(["containers", "delete", FORGE.attacker, FORGE.victim], "delete the forged containers");
    }
  });

  test("systemd driver: cri-containerd-<id>.scope cgroups are mapped to their containers", () => {
    const { report } = runJson([
      ...node(join(TMP, "sysd"), "systemd", "cri-containerd"),
      "--runtime-endpoint",
      endpoint,
    ]);
    expect(report.node.cgroup_driver).toBe("systemd");
    expect(rows(report)).toEqual(ALL_NAMED);
  });

  test("human report: the table and the findings name the pod and container", () => {
    const args = [...node(join(TMP, "human"), "cgroupfs"), "--runtime-endpoint", endpoint];
    const r = runScript([...args, "--verbose"]);
    expect(r.stdout).toMatch(/^LEVEL +QOS +POD \(NAMESPACE\/NAME OR UID\) +CONTAINER +USAGE/m);
    expect(r.stdout).toMatch(/^container +burstable +shop\/web-0 +app +42\.0 MiB/m);
    expect(r.stdout).toMatch(/^container +burstable +store\/db-0 +POD +/m);
    expect(r.stdout).toMatch(new RegExp(`^pod +besteffort +${UID.gone} +- `, "m"));
    expect(r.stdout).toContain(`in container app (${ID.web.slice(0, 12)}) of pod shop/web-0`);
    expect(r.stdout).toContain(`[INFO] pod-names: names from containerd (ctr) at ${endpoint}`);
  });

  test("kmem-build verify --runtime-endpoint: the node report, and the fleet table names the charged cgroups", () => {
    const args = [...node(join(TMP, "cli"), "cgroupfs"), "--runtime-endpoint", endpoint];
    const j = runCli(["verify", ...args, "--json"]);
    expect(rows(JSON.parse(j.stdout) as NodeReport)).toEqual(ALL_NAMED);
    const junit = join(TMP, "names.xml");
    const fleet = runCli(["verify", ...args, "--junit", junit, "--quiet"]);
    expect(fleet.stdout).toContain(
      `in container app of pod shop/web-0 (/kubepods/burstable/pod${UID.web}/${ID.web})`,
    );
    expect(readFileSync(junit, "utf8")).toContain(
      '<testcase classname="kmem-build.verify.local" name="pod-names"',
    );
    expect(runCli(["verify", ...args, "--runtime-endpoint", "tcp://127.0.0.1:1"]).stderr).toContain(
      'bad --runtime-endpoint "tcp://127.0.0.1:1" (use unix:///PATH)',
    );
  });

  test("fleet over ssh: the node's runtime names its pods in the fleet report and table", async () => {
    const keys = makeKeys(join(TMP, "ssh-keys"));
    const sshd = await startSshd(keys, "names");
    try {
      const ssh = [
        "--ssh",
        `ssh://root@127.0.0.1:${sshd.port}`,
        "--identity",
        keys.clientKey,
        "--ssh-option",
        "StrictHostKeyChecking=no",
        "--ssh-option",
        "UserKnownHostsFile=/dev/null",
        "--ssh-option",
        "LogLevel=ERROR",
        "--quiet",
      ];
      const args = [...node(join(TMP, "ssh-node"), "cgroupfs"), "--runtime-endpoint", endpoint];
      const j = await runCliAsync(["verify", ...ssh, ...args, "--json"]);
      const fleet = JSON.parse(j.stdout) as FleetReport;
      expect(fleet.hosts[0]!.error).toBeNull();
      expect(rows(fleet.hosts[0]!.report!)).toEqual(ALL_NAMED);
      const table = await runCliAsync(["verify", ...ssh, ...args]);
      expect(table.stdout).toContain("in container app of pod shop/web-0 (");
    } finally {
      await sshd.stop();
    }
  }, 60_000);

  test("read-only: the runtime's containers are the same after verify (labels, update time)", () => {
    const before = Object.keys(NAMES).map((id) => cd.ctr(["containers", "info", id]));
    runJson([...node(join(TMP, "ro"), "cgroupfs"), "--runtime-endpoint", endpoint]);
    const after = Object.keys(NAMES).map((id) => cd.ctr(["containers", "info", id]));
    expect(after).toEqual(before);
    expect(cd.ctr(["containers", "list", "-q"]).trim().split("\n").sort()).toEqual(Object.keys(NAMES).sort());
  });
});

describe("no runtime reachable: UIDs as today, one INFO line saying why, within the time limit", () => {
  test("a socket nobody listens on: refused at once", () => {
    const dead = join(TMP, "dead.sock");
    // bind and close: the socket file stays, nothing accepts
    spawnSync("python3", [
      "-c",
      `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(dead)})`,
    ]);
    const started = Date.now();
    const { report } = runJson([
      ...node(join(TMP, "dead"), "cgroupfs"),
      "--runtime-endpoint",
      `unix://${dead}`,
    ]);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(rows(report)).toEqual(NONE_NAMED);
    const c = podNames(report);
    expect(c.status).toBe("INFO");
    expect(c.seen).toMatch(
      /^no container runtime answered \(.*unix:\/\/.*dead\.sock: .*\): pods are shown by UID$/,
    );
    expect(c.remedy).toContain("--runtime-endpoint unix:///PATH");
    expect(report.checks.filter((x) => x.status === "INFO" && /runtime answered/.test(x.seen))).toHaveLength(
      1,
    );
  });

  const DEFAULT_SOCKETS = [
    "/run/containerd/containerd.sock",
    "/run/k3s/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/var/run/cri-dockerd.sock",
    "/var/run/docker.sock",
  ];
  test.skipIf(DEFAULT_SOCKETS.some((p) => existsSync(p)))(
    "no --runtime-endpoint on a machine without a runtime: the usual sockets are looked for, and named",
    () => {
      // stand-ins that note any call: with no socket there is nothing to ask
      const calls = join(TMP, "default-calls.log");
      const bin = join(TMP, "bin-default");
      for (const t of ["crictl", "ctr", "docker"]) standIn(bin, t, `echo "${t} $*" >>${calls}; exit 1`);
      node(join(TMP, "cgfs-default"), "cgroupfs");
      const started = Date.now();
      const { report } = runJson(["--cgroup-root", join(TMP, "cgfs-default", "cg"), "--no-binaries"], {
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      });
      expect(Date.now() - started).toBeLessThan(8000);
      expect(existsSync(calls)).toBe(false);
      expect(podNames(report).seen).toBe(
        `no container runtime answered (no socket at ${DEFAULT_SOCKETS.slice(0, -1).join(", ")} or ${DEFAULT_SOCKETS.at(-1)}): pods are shown by UID`,
      );
      expect(report.cgroups.every((c) => c.pod_name === null)).toBe(true);
      expect(report.cgroups.length).toBe(9);
    },
  );

  test("no socket at the path: said so, nothing run", () => {
    const { report } = runJson([
      ...node(join(TMP, "nosock"), "cgroupfs"),
      "--runtime-endpoint",
      "unix:///nonexistent/x.sock",
    ]);
    expect(rows(report)).toEqual(NONE_NAMED);
    expect(podNames(report).seen).toBe(
      "no container runtime answered (no socket at unix:///nonexistent/x.sock): pods are shown by UID",
    );
  });

  /** PATH without timeout(1): every program of /usr/bin and /usr/sbin but that one. */
  function pathWithoutTimeout(): string {
    const dir = join(TMP, "no-timeout-bin");
    mkdirSync(dir, { recursive: true });
    for (const d of ["/usr/sbin", "/usr/bin"])
      for (const f of readdirSync(d))
        if (f !== "timeout")
          try {
            symlinkSync(join(d, f), join(dir, f));
          } catch {
            /* same name in both: the first wins */
          }
    return dir;
  }

  test.skipIf(!HAVE_CONTAINERD).each([
    ["timeout(1)", undefined],
    ["busybox timeout", "busybox"],
    ["a watchdog (no timeout on PATH)", "no-timeout"],
  ])(
    "a runtime that accepts and never answers: given up after --runtime-timeout, with %s",
    async (_n, how) => {
      const hung = join(TMP, `hung-${how ?? "timeout"}.sock`);
      await silentSocket(hung);
      let env = process.env;
      if (how === "no-timeout") {
        env = { ...process.env, PATH: pathWithoutTimeout() };
        expect(spawnSync("dash", ["-c", "command -v timeout"], { env }).status).not.toBe(0);
      } else if (how === "busybox") {
        const dir = join(TMP, "bb-timeout-bin");
        mkdirSync(dir, { recursive: true });
        symlinkSync("/usr/bin/busybox", join(dir, "timeout"));
        env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
      }
      const args = [
        ...node(join(TMP, `hung-${how ?? "t"}`), "cgroupfs"),
        "--runtime-endpoint",
        `unix://${hung}`,
      ];
      const r = await runAsync([...args, "--runtime-timeout", "2", "--json"], env);
      expect(r.ms).toBeGreaterThanOrEqual(2000);
      expect(r.ms).toBeLessThan(9000);
      const report = JSON.parse(r.stdout) as NodeReport;
      expect(rows(report)).toEqual(NONE_NAMED);
      expect(podNames(report).seen).toBe(
        `no container runtime answered (ctr at unix://${hung}: no answer within 2 s): pods are shown by UID`,
      );
      // the stopped ctr is gone, not left hanging on the socket (busybox timeout's own watcher
      // process notices within a second that its program is gone, and ends)
      const left = () => spawnSync("pgrep", ["-f", hung], { encoding: "utf8" }).stdout.trim();
      if (how === "busybox")
        for (let i = 0; i < 30 && left() !== ""; i++) await new Promise((r) => setTimeout(r, 100));
      expect(left()).toBe("");
    },
    30_000,
  );

  test("--proc-root (a fixture) without --runtime-endpoint: this machine's runtime is not asked", () => {
    const { report } = runJson(node(join(TMP, "fixture"), "cgroupfs"));
    expect(podNames(report).seen).toMatch(/^not asked: --proc-root reads a fixture/);
    expect(runScript(["--runtime-endpoint", "tcp://x:1"]).stderr).toContain("bad --runtime-endpoint");
  });
});

// ---------------------------------------------------------------------------------------------------------
// crictl (containerd, CRI-O, cri-dockerd) and docker: stand-ins that print what the real CLIs print
// ---------------------------------------------------------------------------------------------------------

function crictlJson(pretty: boolean): { pods: string; ps: string } {
  const labels = (id: string) => {
    const n = NAMES[id]!;
    return {
      ...(n.container ? { "io.kubernetes.container.name": n.container } : {}),
      "io.kubernetes.pod.name": n.pod,
      "io.kubernetes.pod.namespace": n.namespace,
      "io.kubernetes.pod.uid": n.uid,
    };
  };
  const pods = {
    items: [ID.webSandbox, ID.dbSandbox].map((id) => ({
      id,
      metadata: { name: NAMES[id]!.pod, uid: NAMES[id]!.uid, namespace: NAMES[id]!.namespace, attempt: 0 },
      state: "SANDBOX_READY",
      createdAt: "1764475200000000000",
      labels: { ...labels(id), app: NAMES[id]!.pod.replace(/-0$/, "") },
      annotations: {
        "kubernetes.io/config.seen": "2026-11-30T04:00:00Z",
        "kubernetes.io/config.source": "api",
      },
      runtimeHandler: "",
    })),
  };
  const ps = {
    containers: [ID.web, ID.db].map((id) => ({
      id,
      podSandboxId: id === ID.web ? ID.webSandbox : ID.dbSandbox,
      metadata: { name: NAMES[id]!.container, attempt: 0 },
      image: { image: "sha256:" + "ab".repeat(32), annotations: {} },
      imageRef: "docker.io/library/app@sha256:" + "cd".repeat(32),
      state: "CONTAINER_RUNNING",
      createdAt: "1764475201000000000",
      labels: labels(id),
      annotations: { "io.kubernetes.container.hash": "5f2c1a", "io.kubernetes.container.restartCount": "0" },
    })),
  };
  const f = (o: unknown) => (pretty ? JSON.stringify(o, null, 2) : JSON.stringify(o));
  return { pods: f(pods), ps: f(ps) };
}

/** A bin dir with a stand-in `name` that prints `out[subcommand]` when called as expected. */
function standIn(dir: string, name: string, script: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return `${dir}:${process.env.PATH}`;
}

describe("crictl and docker branches (stand-ins on PATH, a real socket file)", () => {
  const sock = join(TMP, "cri.sock");
  const dockerSock = join(TMP, "docker", "docker.sock");
  beforeAll(async () => {
    await silentSocket(sock);
    mkdirSync(join(TMP, "docker"), { recursive: true });
    await silentSocket(dockerSock);
  });

  function crictl(name: string, pretty: boolean): string {
    const { pods, ps } = crictlJson(pretty);
    writeFileSync(join(TMP, `${name}.pods.json`), pods);
    writeFileSync(join(TMP, `${name}.ps.json`), ps);
    return standIn(
      join(TMP, `bin-${name}`),
      "crictl",
      [
        `[ "$1" = --runtime-endpoint ] && [ "$2" = "unix://${sock}" ] || { echo "crictl: bad endpoint $*" >&2; exit 1; }`,
        `case "$3 $4 $5 $6" in`,
        `  "pods -o json ") cat ${join(TMP, `${name}.pods.json`)} ;;`,
        `  "ps -a -o json") cat ${join(TMP, `${name}.ps.json`)} ;;`,
        `  *) echo "crictl: unexpected $*" >&2; exit 1 ;;`,
        `esac`,
      ].join("\n"),
    );
  }

  test.each([
    ["pretty JSON (as crictl prints it), CRI-O crio-<id>.scope cgroups", true, "crio"],
    ["compact JSON, cgroupfs", false, ""],
  ])("crictl pods + ps: %s", (_n, pretty, prefix) => {
    const PATH = crictl(pretty ? "pretty" : "compact", pretty);
    const args = node(join(TMP, `crictl-${prefix || "cgfs"}`), prefix ? "systemd" : "cgroupfs", prefix);
    const { report } = runJson([...args, "--runtime-endpoint", `unix://${sock}`], {
      env: { ...process.env, PATH },
    });
    expect(rows(report)).toEqual(ALL_NAMED);
    expect(podNames(report).seen).toBe(
      `names from CRI (crictl) at unix://${sock}: 2 of 3 pod cgroups and 4 of 6 container cgroups named`,
    );
  });

  test("docker ps (dockershim labels the sandbox POD itself), docker-<id>.scope cgroups", () => {
    const lines = Object.entries(NAMES).map(([id, n]) =>
      [id, n.uid, n.namespace, n.pod, n.container ?? "POD"].join("\t"),
    );
    lines.push(["12".repeat(32), "", "", "", ""].join("\t")); // a container not started by the kubelet
    writeFileSync(join(TMP, "docker.out"), lines.join("\n") + "\n");
    const PATH = standIn(
      join(TMP, "bin-docker"),
      "docker",
      [
        `[ "$1 $2 $3 $4 $5 $6" = "-H unix://${dockerSock} ps -a --no-trunc --format" ] || { echo "docker: unexpected $*" >&2; exit 1; }`,
        `case "$7" in *'{{.ID}}'*'{{.Label "io.kubernetes.pod.uid"}}'*'{{.Label "io.kubernetes.container.name"}}'*) ;; *) exit 1 ;; esac`,
        `cat ${join(TMP, "docker.out")}`,
      ].join("\n"),
    );
    const args = node(join(TMP, "docker-node"), "systemd", "docker");
    const { report } = runJson([...args, "--runtime-endpoint", `unix://${dockerSock}`], {
      env: { ...process.env, PATH },
    });
    expect(rows(report)).toEqual(ALL_NAMED);
    expect(podNames(report).seen).toMatch(/^names from docker at unix:\/\/.*: 2 of 3 pod cgroups and 4 of 6/);
  });

  test("several --runtime-endpoint, in order: one that answers but knows no pod does not end the search", () => {
    // docker answers with one container that is nobody's pod; crictl on the next socket knows the pods
    standIn(join(TMP, "bin-docker-empty"), "docker", `printf '%s\\t\\t\\t\\t\\n' ${"12".repeat(32)}`);
    const PATH = `${join(TMP, "bin-docker-empty")}:${crictl("multi", true)}`;
    const env = { ...process.env, PATH };
    const base = node(join(TMP, "multi"), "cgroupfs");
    const { report } = runJson(
      [
        ...base,
        "--runtime-endpoint",
        "unix:///nonexistent/a.sock",
        "--runtime-endpoint",
        `unix://${dockerSock}`,
        "--runtime-endpoint",
        `unix://${sock}`,
      ],
      { env },
    );
    expect(rows(report)).toEqual(ALL_NAMED);
    expect(podNames(report).seen).toBe(
      `names from CRI (crictl) at unix://${sock}: 2 of 3 pod cgroups and 4 of 6 container cgroups named`,
    );
    // that runtime alone: it answered, so it is the source, and every row keeps its UID
    const only = runJson([...base, "--runtime-endpoint", `unix://${dockerSock}`], { env }).report;
    expect(rows(only)).toEqual(NONE_NAMED);
    expect(podNames(only).seen).toBe(
      `names from docker at unix://${dockerSock}: 0 of 3 pod cgroups and 0 of 6 container cgroups named`,
    );
  });

  test("the same names under dash, bash, busybox sh and with busybox awk, mawk, gawk", () => {
    const PATH = crictl("portable", true);
    const args = [...node(join(TMP, "portable"), "systemd"), "--runtime-endpoint", `unix://${sock}`];
    const awkDir = (name: string, target: string) => {
      const d = join(TMP, `awk-${name}`);
      mkdirSync(d, { recursive: true });
      symlinkSync(target, join(d, "awk"));
      return `${d}:${PATH}`;
    };
    const variants: [string, string[], string][] = [
      ["dash", ["dash"], PATH],
      ["bash", ["bash"], PATH],
      ["busybox sh", ["busybox", "sh"], PATH],
      ["busybox awk", ["dash"], awkDir("bb", "/usr/bin/busybox")],
    ];
    for (const [name, path] of [
      ["mawk", "/usr/bin/mawk"],
      ["gawk", "/usr/bin/gawk"],
    ])
      if (spawnSync(path!, ["--version"]).status === 0)
        variants.push([name!, ["dash"], awkDir(name!, path!)]);
    expect(variants.length).toBeGreaterThanOrEqual(5);
    for (const [name, shell, path] of variants) {
      const { report } = runJson(args, { shell, env: { ...process.env, PATH: path } });
      expect(rows(report), name).toEqual(ALL_NAMED);
    }
  });
});
