/**
 * A real single-node Kubernetes control plane for the tests (docs/testing.md, "A real cluster"):
 * etcd from Debian (`etcd-server`), kube-apiserver, kube-controller-manager and kube-scheduler
 * built from the genuine 1.20.2 tree (shared.ts controlPlane()), certificates made with openssl, and kubectl
 * 1.20.2 from Debian's `kubernetes-client` package. The node itself (containerd + our kubelet)
 * comes from node-harness.ts.
 *
 * kubectl: machines may carry another kubectl at /usr/bin/kubectl (this one has a 1.32 from the
 * machine image, owned by a package named `kubectl`, so `apt-get install kubernetes-client` would
 * conflict with it). The test never uses the one on PATH: it fetches Debian's kubernetes-client
 * .deb with `apt-get download` (checked by apt against the signed archive index), unpacks it into
 * the test cache with `dpkg-deb -x`, and runs that binary by its path (version skew ±0 with the
 * 1.20.2 API server).
 *
 * Isolation and cleanup: everything lives in one temp dir; every daemon listens on 127.0.0.1 on a
 * free port (no insecure port); each runs in its own process group, recorded in the temp dir.
 * stop(), an exit/SIGINT/SIGTERM handler and the next run's reaper (for a run killed with SIGKILL)
 * kill the groups and delete the dir.
 */
import { execa } from "execa";
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { controlPlane, once, TEST_CACHE } from "./shared.js";
import { freePort, sleep } from "./node-harness.js";

const PREFIX = "kmem-build-cluster-";

export interface Cluster {
  dir: string;
  /** kubeconfig of the cluster admin (O=system:masters). */
  adminKubeconfig: string;
  /** kubeconfig for the kubelet of `nodeName` (CN=system:node:<nodeName>, O=system:nodes). */
  kubeletKubeconfig: string;
  nodeName: string;
  kubectlPath: string;
  apiserverUrl: string;
  /** kubectl 1.20.2 as the admin; rejects on a non-zero exit. */
  kubectl(
    args: string[],
    opts?: { input?: string; timeout?: number; reject?: boolean },
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  logs(): string;
  stop(): void;
}

/**
 * Whether a process of the group still runs. Read from /proc: the daemons are this process's
 * children, and an exited child stays a zombie (which kill(-pgid, 0) still finds) until Node's
 * event loop reaps it, which cannot happen while cleanup waits synchronously.
 */
function groupAlive(pgid: number): boolean {
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, "utf8");
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so split after the last ")"
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(f[2]) === pgid && f[0] !== "Z") return true;
  }
  return false;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Kills every recorded process group (TERM, then KILL) and deletes the dir; returns what survived. */
export function cleanupClusterSync(dir: string): string[] {
  const problems: string[] = [];
  const pgFile = join(dir, "pgids");
  const pgids = existsSync(pgFile)
    ? readFileSync(pgFile, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => Number(l.split(" ")[0]))
    : [];
  // reverse start order: scheduler, controller-manager, apiserver, etcd
  for (const sig of ["SIGTERM", "SIGKILL"] as const) {
    for (const g of [...pgids].reverse()) {
      try {
        process.kill(-g, sig);
      } catch {
        /* gone */
      }
    }
    const end = Date.now() + (sig === "SIGTERM" ? 10_000 : 5_000);
    while (Date.now() < end && pgids.some(groupAlive)) spawnSleep(100);
  }
  for (const g of pgids) if (groupAlive(g)) problems.push(`process group ${g} still alive`);
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    problems.push(`cannot remove ${dir}: ${(err as Error).message}`);
  }
  return problems;
}

function spawnSleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Clusters of runs that died without cleaning up (owner pid gone). */
export function reapStaleClusters(log: (l: string) => void): void {
  for (const e of readdirSync(tmpdir())) {
    if (!e.startsWith(PREFIX)) continue;
    const dir = join(tmpdir(), e);
    let owner = 0;
    try {
      owner = Number(readFileSync(join(dir, "owner.pid"), "utf8").trim() || "0");
    } catch {
      continue; // being created right now, or not ours
    }
    if (owner && pidAlive(owner)) continue;
    const problems = cleanupClusterSync(dir);
    log(`reaped a stale test cluster ${dir}${problems.length ? `: ${problems.join("; ")}` : ""}`);
  }
}

const live = new Map<string, () => void>();
let handlers = false;
function installExitHandlers(): void {
  if (handlers) return;
  handlers = true;
  const all = () => {
    for (const f of [...live.values()]) f();
  };
  process.on("exit", all);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.once(sig, () => {
      all();
      process.exit(sig === "SIGINT" ? 130 : 143);
    });
}

/** kubectl 1.20.2 from Debian's kubernetes-client, unpacked into the test cache (never /usr/bin). */
export async function debianKubectl(): Promise<string> {
  const r = await once(
    "kubectl-debian-1.20.2",
    async () => {
      const dir = join(TEST_CACHE, "kubectl");
      mkdirSync(TEST_CACHE, { recursive: true });
      const work = mkdtempSync(join(TEST_CACHE, ".kubectl-"));
      try {
        const download = () =>
          execa("apt-get", ["download", "kubernetes-client"], { cwd: work, reject: false });
        let d = await download();
        if (d.exitCode !== 0) {
          await execa("apt-get", ["update", "-qq"]);
          d = await download();
        }
        if (d.exitCode !== 0) throw new Error(`apt-get download kubernetes-client failed:\n${d.stderr}`);
        const deb = readdirSync(work).find((f) => /^kubernetes-client_.*\.deb$/.test(f));
        if (!deb) throw new Error(`apt-get download left no kubernetes-client .deb in ${work}`);
        await execa("dpkg-deb", ["-x", join(work, deb), join(work, "root")]);
        const bin = join(work, "root", "usr", "bin", "kubectl");
        const v = JSON.parse((await execa(bin, ["version", "--client", "-o", "json"])).stdout);
        if (v.clientVersion?.gitVersion !== "v1.20.2")
          throw new Error(`${deb} holds kubectl ${v.clientVersion?.gitVersion}, not v1.20.2`);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        await execa("cp", [bin, join(dir, "kubectl")]);
        return { kubectl: join(dir, "kubectl"), deb };
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
    true,
  );
  return r.kubectl;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await execa("openssl", args, { cwd: dir });
}

/** CA, API server serving cert, admin and kubelet client certs, service-account key pair. */
async function makeCerts(dir: string, nodeName: string): Promise<void> {
  const ext = join(dir, "ext.cnf");
  writeFileSync(
    ext,
    [
      "[server]",
      "subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, IP:10.0.0.1",
      "extendedKeyUsage = serverAuth",
      "keyUsage = digitalSignature, keyEncipherment",
      "[client]",
      "extendedKeyUsage = clientAuth",
      "keyUsage = digitalSignature, keyEncipherment",
      "",
    ].join("\n"),
  );
  await openssl(dir, [
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
    "2",
    "-subj",
    "/CN=kmem-build-test-ca",
  ]);
  const leaf = async (name: string, subj: string, section: string) => {
    await openssl(dir, [
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
    await openssl(dir, [
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
      "2",
      "-extfile",
      ext,
      "-extensions",
      section,
    ]);
  };
  await leaf("apiserver", "/CN=kube-apiserver", "server");
  await leaf("admin", "/O=system:masters/CN=kmem-build-test-admin", "client");
  await leaf("kubelet", `/O=system:nodes/CN=system:node:${nodeName}`, "client");
  await openssl(dir, ["genrsa", "-out", "sa.key", "2048"]);
  await openssl(dir, ["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
}

function kubeconfig(dir: string, server: string, user: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: ${server}
    certificate-authority: ${join(dir, "ca.crt")}
users:
- name: ${user}
  user:
    client-certificate: ${join(dir, `${user}.crt`)}
    client-key: ${join(dir, `${user}.key`)}
contexts:
- name: test
  context: {cluster: test, user: ${user}}
current-context: test
`;
}

/**
 * The address the node registers and its kubelet serves on. Kubernetes 1.20 refuses a loopback
 * --node-ip, and the API server reaches the kubelet (logs, exec) at the node's InternalIP: so the
 * machine's first non-loopback IPv4 address.
 */
export function hostIPv4(): string {
  for (const addrs of Object.values(networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  throw new Error("no non-loopback IPv4 address on this machine: the kubelet needs one as its node IP");
}

/**
 * kubelet flags for joining this cluster: serving on the node IP, and accepting only clients with a
 * certificate from the cluster CA (the API server's kubelet client certificate), no anonymous access.
 */
export function kubeletServingArgs(c: Cluster): string[] {
  const ip = hostIPv4();
  return [
    `--address=${ip}`,
    `--node-ip=${ip}`,
    "--anonymous-auth=false",
    `--client-ca-file=${join(c.dir, "ca.crt")}`,
  ];
}

export async function startCluster(opts: { nodeName: string; log?: (l: string) => void }): Promise<Cluster> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`cluster: ${l}\n`));
  reapStaleClusters(log);
  installExitHandlers();
  const [cp, kubectlPath] = [await controlPlane(), await debianKubectl()];
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, "owner.pid"), String(process.pid));
  const id = dir;
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    live.delete(id);
    const problems = cleanupClusterSync(dir);
    if (problems.length) throw new Error(`the test cluster left things behind:\n${problems.join("\n")}`);
  };
  live.set(id, () => {
    try {
      stop();
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
    }
  });
  const logFiles: string[] = [];
  const start = (name: string, bin: string, args: string[]) => {
    const logFile = join(dir, `${name}.log`);
    logFiles.push(logFile);
    const p = spawn(bin, args, {
      detached: true,
      stdio: ["ignore", openSync(logFile, "a"), openSync(logFile, "a")],
    });
    writeFileSync(join(dir, "pgids"), `${p.pid} ${name}\n`, { flag: "a" });
    p.unref();
    log(`started ${name} (pid ${p.pid})`);
    return p;
  };
  const tail = (f: string, n = 30) => {
    try {
      return readFileSync(f, "utf8").split("\n").slice(-n).join("\n");
    } catch {
      return "";
    }
  };
  try {
    await makeCerts(dir, opts.nodeName);
    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    start("etcd", "etcd", [
      "--name=kmem-test",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=kmem-test=http://127.0.0.1:${etcdPeer}`,
      "--log-level=warn",
    ]);
    const server = `https://127.0.0.1:${apiPort}`;
    start("kube-apiserver", cp.apiserver, [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      "--insecure-port=0",
      `--tls-cert-file=${join(dir, "apiserver.crt")}`,
      `--tls-private-key-file=${join(dir, "apiserver.key")}`,
      `--client-ca-file=${join(dir, "ca.crt")}`,
      `--kubelet-client-certificate=${join(dir, "admin.crt")}`,
      `--kubelet-client-key=${join(dir, "admin.key")}`,
      "--kubelet-preferred-address-types=InternalIP",
      `--service-account-key-file=${join(dir, "sa.pub")}`,
      `--service-account-signing-key-file=${join(dir, "sa.key")}`,
      "--service-account-issuer=https://kubernetes.default.svc",
      "--service-cluster-ip-range=10.0.0.0/24",
      "--authorization-mode=Node,RBAC",
      "--profiling=false",
      "--v=1",
    ]);
    const admin = join(dir, "admin.kubeconfig");
    writeFileSync(admin, kubeconfig(dir, server, "admin"));
    const kubeletKubeconfig = join(dir, "kubelet.kubeconfig");
    writeFileSync(kubeletKubeconfig, kubeconfig(dir, server, "kubelet"));
    const kubectl: Cluster["kubectl"] = async (args, o = {}) => {
      const r = await execa(kubectlPath, ["--kubeconfig", admin, ...args], {
        input: o.input,
        timeout: o.timeout ?? 60_000,
        reject: false,
      });
      const res = { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
      if (res.code !== 0 && o.reject !== false)
        throw new Error(`kubectl ${args.join(" ")} exited ${res.code}:\n${res.stderr}\n${res.stdout}`);
      return res;
    };
    const end = Date.now() + 120_000;
    for (;;) {
      const r = await kubectl(["get", "--raw", "/readyz"], { reject: false, timeout: 10_000 });
      if (r.code === 0 && r.stdout.trim() === "ok") break;
      if (Date.now() > end)
        throw new Error(
          `the API server did not become ready:\n${r.stderr}\n--- apiserver:\n${tail(join(dir, "kube-apiserver.log"))}\n--- etcd:\n${tail(join(dir, "etcd.log"))}`,
        );
      await sleep(1000);
    }
    log(`kube-apiserver ready at ${server}`);
    start("kube-controller-manager", cp.controllerManager, [
      `--kubeconfig=${admin}`,
      "--leader-elect=false",
      "--port=0",
      "--secure-port=0",
      `--service-account-private-key-file=${join(dir, "sa.key")}`,
      `--root-ca-file=${join(dir, "ca.crt")}`,
      "--v=1",
    ]);
    start("kube-scheduler", cp.scheduler, [
      `--kubeconfig=${admin}`,
      "--leader-elect=false",
      "--port=0",
      "--secure-port=0",
      "--v=1",
    ]);
    return {
      dir,
      adminKubeconfig: admin,
      kubeletKubeconfig,
      nodeName: opts.nodeName,
      kubectlPath,
      apiserverUrl: server,
      kubectl,
      logs: () => logFiles.map((f) => `--- ${f}:\n${tail(f)}`).join("\n"),
      stop,
    };
  } catch (err) {
    try {
      stop();
    } catch (e) {
      log((e as Error).message);
    }
    throw err;
  }
}
