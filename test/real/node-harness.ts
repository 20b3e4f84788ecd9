/**
 * A real Kubernetes node for the tests: Debian's containerd (runc underneath) with its own
 * root/state/socket/config in a temp dir, a local busybox image as the sandbox ("pause") and app
 * image, and a real kubelet (standalone with static pod manifests, or joined to an API server with
 * --kubeconfig) under strace, which records every open of a file for the behavioural proof.
 *
 * Isolation, so a test never touches a real node's state on the same machine:
 *   - everything on disk lives in one temp dir (containerd root/state/socket, runc root, kubelet
 *     root-dir, manifests, logs);
 *   - the kubelet runs with --cgroup-root=/kmem-build-test-<id>: its kubepods/ tree (and the
 *     container cgroups runc makes under it) lands there in every hierarchy, never in a real kubepods/;
 *   - ports: the kubelet API on a free port on 127.0.0.1, healthz/read-only ports off; no iptables chains.
 *
 * Cleanup is one POSIX sh script, node-janitor.sh, run by stop() (after a graceful start: static
 * pods removed, the kubelet stopped with SIGTERM so strace flushes), by process exit/SIGINT/SIGTERM
 * handlers, and by a detached watchdog that waits for the test process to die (SIGKILL, a crashed
 * worker). It kills the kubelet, containerd, the shims and every process in the node's cgroups,
 * unmounts everything under the temp dir (deepest first), removes the cgroup trees bottom-up in every
 * hierarchy, the shims' sockets, the pods' /var/log/pods directories (hard-coded in kubelet 1.20),
 * puts back the kernel settings the kubelet changes (vm.overcommit_memory, kernel.panic …), and
 * deletes the temp dir. Checked by hand: SIGINT and SIGKILL of the test worker leave nothing.
 * startNode() also reaps the temp dirs of dead owners first.
 */
import { execa } from "execa";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
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
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { once, TEST_CACHE } from "./shared.js";
import { alive } from "../../src/util/lock.js";

/** Name of the local image used as sandbox ("pause") image and as the app image. */
export const NODE_IMAGE = "localhost/kmem-build-node-busybox:1";
const PREFIX = "kmem-build-node-";
export const CGROUP_PREFIX = "kmem-build-test-";

/** Where the values from before any node started are kept (node-janitor.sh reads it too). */
const SYSCTLS_SAVED = "/run/kmem-build-node.sysctls";
/** The settings kubelet 1.20 writes at start (setupKernelTunables): restored on stop. */
const KUBELET_SYSCTLS = [
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
];

export interface NodeOptions {
  /** kubelet binary to run. */
  kubelet: string;
  /** Static pods for standalone mode: file name → manifest (YAML or JSON). */
  manifests?: Record<string, string>;
  /** Join an API server with this kubeconfig instead of (or besides) static pods. */
  kubeconfig?: string;
  /** Node name (--hostname-override); default kmem-node-<id>. Static pod names end in -<nodeName>. */
  nodeName?: string;
  /** Run the kubelet under strace (default true). */
  strace?: boolean;
  extraKubeletArgs?: string[];
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

export interface NodeContainer {
  id: string;
  kind: "sandbox" | "container";
  podName: string;
  podNamespace: string;
  podUid: string;
  containerName: string | null;
  status: string;
  pid: number;
}

export interface KmemOpen {
  pid: number;
  path: string;
  flags: string;
  /** cgroup path relative to the memory hierarchy root */
  cgroup: string;
}

export interface Node {
  id: string;
  dir: string;
  nodeName: string;
  /** containerd's gRPC socket (file path) and as a CRI endpoint (unix://…). */
  socket: string;
  endpoint: string;
  /** --cgroup-root given to the kubelet ("/kmem-build-test-<id>") and its memory cgroup directory. */
  cgroupRoot: string;
  memoryCgroupDir: string;
  /** kubepods/ in the memory hierarchy */
  kubepodsDir: string;
  manifestDir: string;
  kubeletRoot: string;
  kubeletLog: string;
  containerdLog: string;
  /** strace's log (in the temp dir: gone after stop(); the parsed results stay available). */
  straceLog: string | null;
  image: string;
  kubeletPort: number;
  /** ctr against this node's containerd, namespace k8s.io. */
  ctr(args: string[]): Promise<string>;
  /** Containers (sandboxes and app containers) containerd's CRI made for pods. */
  containers(): Promise<NodeContainer[]>;
  /** Waits until the pod's sandbox and all named containers run, and `ready` (if given) holds. */
  waitForPod(
    podName: string,
    containerNames: string[],
    timeoutMs?: number,
    ready?: (pod: NodeContainer[]) => boolean,
  ): Promise<NodeContainer[]>;
  /** Opens of memory.kmem.limit_in_bytes for writing seen by strace so far (complete after stop()). */
  kmemLimitWrites(): KmemOpen[];
  /** Opens for writing of any memory cgroup file seen by strace (e.g. "memory.limit_in_bytes"). */
  cgroupFileWrites(file: string): KmemOpen[];
  /** Whether the kubelet process is still running. */
  kubeletAlive(): boolean;
  /** Stops the kubelet (SIGTERM) and starts it again from the same path with the same arguments. */
  restartKubelet(): Promise<void>;
  stop(): Promise<void>;
}

const log0 = (line: string): void => {
  process.stderr.write(`[node] ${line}\n`);
};

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A TCP port on 127.0.0.1 nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Mount points of every cgroup hierarchy (v1 and v2) from /proc/self/mountinfo. */
export function cgroupMounts(): { path: string; fs: string; options: string }[] {
  const out: { path: string; fs: string; options: string }[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const [fs, , options] = post.split(" ");
    if (fs !== "cgroup" && fs !== "cgroup2") continue;
    out.push({ path: unescapeMount(pre.split(" ")[4] ?? ""), fs, options: options ?? "" });
  }
  return out;
}

export function memoryHierarchy(): string {
  const m = cgroupMounts().find((c) => c.fs === "cgroup" && c.options.split(",").includes("memory"));
  if (!m) throw new Error("no cgroup v1 memory hierarchy mounted: the real-node test needs one");
  return m.path;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below dir. */
export function mountsUnder(dir: string): string[] {
  const res: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const p = unescapeMount(line.split(" ")[4] ?? "");
    if (p === dir || p.startsWith(dir + "/")) res.push(p);
  }
  return res;
}

function waitGoneSync(alive: () => boolean, ms: number): boolean {
  const end = Date.now() + ms;
  for (;;) {
    if (!alive()) return true;
    if (Date.now() > end) return false;
    spawnSync("sleep", ["0.1"]);
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The one cleanup implementation (a POSIX sh script, so the detached watchdog can run it too). */
export const JANITOR = fileURLToPath(new URL("./node-janitor.sh", import.meta.url));

/**
 * Everything a node leaves behind, removed forcefully and synchronously (usable from exit and
 * signal handlers) by node-janitor.sh. Returns what could not be removed (empty when clean).
 */
export function cleanupNodeSync(dir: string, cgroupName: string, log: (l: string) => void = log0): string[] {
  const r = spawnSync("sh", [JANITOR, dir, cgroupName], { encoding: "utf8", timeout: 120_000 });
  const problems = String(r.stderr ?? "")
    .split("\n")
    .filter(Boolean);
  if (r.status !== 0 && !problems.length) problems.push(`node-janitor.sh exited ${r.status ?? r.signal}`);
  for (const p of problems) log(`cleanup: ${p}`);
  return problems;
}

/** Leftovers of runs that were killed (SIGKILL): temp dirs whose owner process is gone. */
export function reapStaleNodes(log: (l: string) => void = log0): void {
  for (const e of readdirSync(tmpdir())) {
    if (!e.startsWith(PREFIX)) continue;
    const dir = join(tmpdir(), e);
    let owner = 0;
    try {
      owner = Number(readFileSync(join(dir, "owner.pid"), "utf8"));
    } catch {
      continue;
    }
    if (owner && alive(owner)) continue;
    const id = e.slice(PREFIX.length);
    log(`reaping the leftovers of a killed run: ${dir}`);
    cleanupNodeSync(dir, CGROUP_PREFIX + id, log);
  }
}

const liveNodes = new Map<string, () => void>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const all = (): void => {
    for (const f of [...liveNodes.values()]) f();
  };
  process.on("exit", all);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      all();
      process.exit(sig === "SIGINT" ? 130 : 143);
    });
  }
}

/**
 * What curl needs to run: the binary, every library `ldd` names and the dynamic loader, each at
 * the path the loader looks for it (symbolic links resolved: the file itself is copied there).
 */
export async function curlFiles(curl = "/usr/bin/curl"): Promise<string[]> {
  if (!existsSync(curl))
    throw new Error(`${curl} is missing: the node image needs Debian's curl (apt-get install curl)`);
  const out = (await execa("ldd", [curl])).stdout;
  const files = [curl];
  for (const line of out.split("\n")) {
    // "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x…)" and the loader "/lib64/ld-linux-x86-64.so.2 (0x…)"
    const m = /=>\s*(\/\S+)\s+\(/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) files.push(m[1]);
    else if (/not found/.test(line)) throw new Error(`ldd ${curl}: ${line.trim()}`);
  }
  return files;
}

/**
 * The node image: a busybox-static rootfs with every applet (sh, awk, sleep, find …) as a symlink,
 * plus Debian's curl with its libraries (the DaemonSet's loop asks the API server for its node with
 * it, checking the certificate: busybox wget checks none), imported with podman and saved as an OCI
 * archive (cached across runs, keyed by busybox, curl and every library curl loads).
 */
export async function nodeImageArchive(): Promise<string> {
  const busybox = "/bin/busybox";
  const curl = await curlFiles();
  const h = createHash("sha256").update(readFileSync(busybox));
  for (const f of curl) h.update(`\n${f}\n`).update(readFileSync(f));
  const key = h.digest("hex").slice(0, 16);
  const r = await once(
    `node-image-${key}`,
    async () => {
      const out = join(TEST_CACHE, "node-image", key);
      mkdirSync(out, { recursive: true });
      const file = (await execa("file", ["-b", busybox])).stdout;
      if (!/statically linked/.test(file))
        throw new Error(`${busybox} is not static (${file}): install busybox-static`);
      const rootfs = join(out, "rootfs");
      rmSync(rootfs, { recursive: true, force: true });
      for (const d of ["bin", "tmp", "etc", "proc", "sys", "dev", "var/run"])
        mkdirSync(join(rootfs, d), { recursive: true });
      await execa("cp", [busybox, join(rootfs, "bin", "busybox")]);
      await execa(join(rootfs, "bin", "busybox"), ["--install", "-s", join(rootfs, "bin")]);
      // --install -s links to the absolute path it was run from: point them at /bin/busybox
      for (const e of readdirSync(join(rootfs, "bin"))) {
        if (e === "busybox") continue;
        rmSync(join(rootfs, "bin", e));
        await execa("ln", ["-s", "busybox", join(rootfs, "bin", e)]);
      }
      for (const f of curl) {
        mkdirSync(join(rootfs, dirname(f)), { recursive: true });
        await execa("cp", ["-L", f, join(rootfs, f)]);
      }
      writeFileSync(
        join(rootfs, "etc", "passwd"),
        "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
      );
      writeFileSync(join(rootfs, "etc", "group"), "root:x:0:\nnobody:x:65534:\n");
      const rootTar = join(out, "rootfs.tar");
      await execa("tar", [
        "--sort=name",
        "--mtime=@0",
        "--owner=0",
        "--group=0",
        "-C",
        rootfs,
        "-cf",
        rootTar,
        ".",
      ]);
      await execa("podman", ["import", "--change", 'CMD ["/bin/sleep", "2147483647"]', rootTar, NODE_IMAGE]);
      rmSync(rootTar, { force: true });
      const archive = join(out, "image.oci.tar");
      rmSync(archive, { force: true });
      await execa("podman", ["save", "--format", "oci-archive", "-o", archive, NODE_IMAGE]);
      rmSync(rootfs, { recursive: true, force: true });
      return { archive };
    },
    true,
  );
  return r.archive;
}

function containerdConfig(dir: string, socket: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${dir}/containerd/root"
state = "${dir}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/containerd/opt"

[${cri}]
  sandbox_image = "${NODE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # This sandbox forbids lowering oom_score_adj below 0 (even for root), and the CRI gives every
  # sandbox -998 (and Guaranteed containers -997): runc then fails the sandbox with "failed to
  # update /proc/self/oom_score_adj: Permission denied". restrict_oom_score_adj is containerd's own
  # switch for such environments (rootless mode): it clamps the value to containerd's own (0).
  # Test-only: the kmem behaviour under test does not depend on the OOM score.
  restrict_oom_score_adj = true
  [${cri}.containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"
    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.containerd.runtimes.runc.options]
        BinaryName = "runc"
        Root = "${dir}/runc"
        SystemdCgroup = false
  [${cri}.cni]
    bin_dir = "${dir}/cni/bin"
    conf_dir = "${dir}/cni/conf"
`;
}

/** Opens for writing (O_WRONLY/O_RDWR) of cgroup files named `file` in an strace -f log. */
export function parseCgroupFileWrites(straceText: string, memoryRoot: string, file: string): KmemOpen[] {
  const res: KmemOpen[] = [];
  const re = /^(\d+)\s+(?:open|openat|openat2)\((?:[^,"]+, )?"([^"]*)", ([A-Z0-9_|]+)/;
  for (const line of straceText.split("\n")) {
    const m = re.exec(line);
    const [, pid = "0", path = "", flags = ""] = m ?? [];
    if (!m || !path.endsWith(`/${file}`)) continue;
    if (!/O_WRONLY|O_RDWR/.test(flags)) continue;
    const dir = path.slice(0, -file.length - 1);
    const cgroup = dir.startsWith(memoryRoot + "/") ? dir.slice(memoryRoot.length) : dir;
    res.push({ pid: Number(pid), path, flags, cgroup });
  }
  return res;
}

/** Opens of memory.kmem.limit_in_bytes for writing in an strace -f log. */
export function parseKmemLimitWrites(straceText: string, memoryRoot: string): KmemOpen[] {
  return parseCgroupFileWrites(straceText, memoryRoot, "memory.kmem.limit_in_bytes");
}

/** Starts containerd and the kubelet; resolves once the kubelet has made its kubepods cgroup. */
export async function startNode(opts: NodeOptions): Promise<Node> {
  const log = opts.log ?? log0;
  reapStaleNodes(log);
  installExitHandlers();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  const id = dir.slice(join(tmpdir(), PREFIX).length);
  writeFileSync(join(dir, "owner.pid"), String(process.pid));
  const cgroupName = CGROUP_PREFIX + id;
  // the watchdog: cleans up if this process dies without doing it (SIGKILL, a crashed worker)
  const watchdog = spawn("sh", [JANITOR, dir, cgroupName, "--watch", String(process.pid)], {
    detached: true,
    stdio: "ignore",
  });
  watchdog.unref();
  const cleanup = (): string[] => {
    liveNodes.delete(id);
    try {
      if (watchdog.pid) process.kill(-watchdog.pid, "SIGKILL");
    } catch {
      /* gone */
    }
    return cleanupNodeSync(dir, cgroupName, log);
  };
  liveNodes.set(id, cleanup);
  const memRoot = memoryHierarchy();
  const nodeName = opts.nodeName ?? `kmem-node-${id.toLowerCase().replace(/[^a-z0-9]/g, "")}`;
  const socket = join(dir, "containerd.sock");
  const manifestDir = join(dir, "manifests");
  const kubeletRoot = join(dir, "kubelet");
  const containerdLog = join(dir, "containerd.log");
  const kubeletLog = join(dir, "kubelet.log");
  const straceLog = opts.strace === false ? null : join(dir, "kubelet.strace");
  for (const d of ["containerd", "runc", "cni/bin", "cni/conf", "volume-plugins"])
    mkdirSync(join(dir, d), { recursive: true });
  mkdirSync(manifestDir);
  mkdirSync(kubeletRoot);
  try {
    // kernel settings the kubelet will change: the values from before any node ran are saved once
    // (nodes can overlap) and put back by the janitor of the last node to stop
    try {
      writeFileSync(
        SYSCTLS_SAVED,
        KUBELET_SYSCTLS.map((k) => `${k} ${readFileSync(`/proc/sys/${k}`, "utf8").trim()}\n`).join(""),
        { flag: "wx" },
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }

    // the cgroup root the kubelet requires to exist, in every v1 hierarchy (cpuset needs cpus/mems)
    for (const m of cgroupMounts()) {
      if (m.fs !== "cgroup") continue;
      const d = join(m.path, cgroupName);
      mkdirSync(d, { recursive: true });
      if (m.options.split(",").includes("cpuset"))
        for (const f of ["cpuset.cpus", "cpuset.mems"])
          writeFileSync(join(d, f), readFileSync(join(m.path, f), "utf8").trim() || "\n");
    }

    const archive = await nodeImageArchive();
    writeFileSync(join(dir, "containerd.toml"), containerdConfig(dir, socket));
    const cd = spawn("containerd", ["--config", join(dir, "containerd.toml"), "--log-level", "info"], {
      detached: true,
      stdio: ["ignore", "ignore", openLog(containerdLog)],
    });
    writeFileSync(join(dir, "containerd.pgid"), String(cd.pid));
    cd.unref();
    const ctr = async (args: string[]): Promise<string> =>
      (await execa("ctr", ["--address", socket, "--namespace", "k8s.io", ...args], { timeout: 60_000 }))
        .stdout;
    await waitFor(
      async () =>
        existsSync(socket) &&
        (await ctr(["version"]).then(
          () => true,
          () => false,
        )),
      30_000,
      "containerd socket",
      () => tail(containerdLog),
    );
    await ctr(["images", "import", "--no-unpack=false", archive]).catch(async () =>
      ctr(["images", "import", archive]),
    );
    const images = await ctr(["images", "ls", "-q"]);
    if (!images.split("\n").includes(NODE_IMAGE))
      throw new Error(`image ${NODE_IMAGE} not in containerd after import: ${images}`);
    log(`containerd up (${socket}), image ${NODE_IMAGE} imported`);

    for (const [name, text] of Object.entries(opts.manifests ?? {}))
      writeFileSync(join(manifestDir, name), text);
    const kubeletPort = await freePort();
    const args = [
      "--container-runtime=remote",
      `--container-runtime-endpoint=unix://${socket}`,
      "--runtime-request-timeout=2m",
      `--root-dir=${kubeletRoot}`,
      `--pod-manifest-path=${manifestDir}`,
      "--file-check-frequency=2s",
      ...(opts.kubeconfig ? [`--kubeconfig=${opts.kubeconfig}`] : []),
      `--hostname-override=${nodeName}`,
      "--cgroup-driver=cgroupfs",
      `--cgroup-root=/${cgroupName}`,
      "--fail-swap-on=false",
      "--enforce-node-allocatable=",
      "--eviction-hard=",
      "--image-gc-high-threshold=100",
      "--image-gc-low-threshold=99",
      "--address=127.0.0.1",
      `--port=${kubeletPort}`,
      "--healthz-port=0",
      "--read-only-port=0",
      "--make-iptables-util-chains=false",
      "--oom-score-adj=0",
      `--volume-plugin-dir=${join(dir, "volume-plugins")}`,
      "--v=2",
      ...(opts.extraKubeletArgs ?? []),
    ];
    // -A: a restarted kubelet appends to the same strace log
    const cmd = straceLog
      ? [
          "strace",
          "-f",
          "-qq",
          "-A",
          "-e",
          "trace=open,openat,openat2",
          "-o",
          straceLog,
          opts.kubelet,
          ...args,
        ]
      : [opts.kubelet, ...args];
    let exited = false;
    const spawnKubelet = (): void => {
      const kl = spawn(cmd[0] ?? opts.kubelet, cmd.slice(1), {
        detached: true,
        stdio: ["ignore", "ignore", openLog(kubeletLog)],
      });
      writeFileSync(join(dir, "kubelet.pgid"), String(kl.pid));
      kl.unref();
      exited = false;
      kl.on("exit", () => {
        // a restart's old process ends after the new one has started: only the current one counts
        let current = kl.pid;
        try {
          current = Number(readFileSync(join(dir, "kubelet.pgid"), "utf8"));
        } catch {
          /* the node is cleaned up: this was the last one */
        }
        if (current === kl.pid) exited = true;
      });
    };
    spawnKubelet();
    const kubepodsDir = join(memRoot, cgroupName, "kubepods");
    await waitFor(
      async () => {
        if (exited) throw new Error(`the kubelet exited:\n${tail(kubeletLog)}`);
        return existsSync(kubepodsDir);
      },
      120_000,
      `${kubepodsDir} (kubelet start)`,
      () => tail(kubeletLog),
    );
    log(`kubelet up (${opts.kubelet}), node ${nodeName}, pods under ${kubepodsDir}`);

    const containers = async (): Promise<NodeContainer[]> => {
      const tasks = new Map<string, { pid: number; status: string }>();
      for (const line of (await ctr(["tasks", "ls"])).split("\n").slice(1)) {
        const [tid, pid, status] = line.trim().split(/\s+/);
        if (tid) tasks.set(tid, { pid: Number(pid), status: status ?? "" });
      }
      const res: NodeContainer[] = [];
      for (const cid of (await ctr(["containers", "ls", "-q"])).split("\n").filter(Boolean)) {
        const info = JSON.parse(await ctr(["containers", "info", cid])) as {
          Labels?: Record<string, string>;
        };
        const l = info.Labels ?? {};
        const t = tasks.get(cid);
        res.push({
          id: cid,
          kind: l["io.cri-containerd.kind"] === "sandbox" ? "sandbox" : "container",
          podName: l["io.kubernetes.pod.name"] ?? "",
          podNamespace: l["io.kubernetes.pod.namespace"] ?? "",
          podUid: l["io.kubernetes.pod.uid"] ?? "",
          containerName: l["io.kubernetes.container.name"] ?? null,
          status: t?.status ?? "NONE",
          pid: t?.pid ?? 0,
        });
      }
      return res;
    };

    const node: Node = {
      id,
      dir,
      nodeName,
      socket,
      endpoint: `unix://${socket}`,
      cgroupRoot: `/${cgroupName}`,
      memoryCgroupDir: join(memRoot, cgroupName),
      kubepodsDir,
      manifestDir,
      kubeletRoot,
      kubeletLog,
      containerdLog,
      straceLog,
      image: NODE_IMAGE,
      kubeletPort,
      ctr,
      containers,
      async waitForPod(podName, containerNames, timeoutMs = 180_000, ready) {
        let last: NodeContainer[] = [];
        await waitFor(
          async () => {
            if (exited) throw new Error(`the kubelet exited:\n${tail(kubeletLog)}`);
            last = (await containers()).filter((c) => c.podName === podName);
            const running = (c: NodeContainer | undefined): boolean => c?.status === "RUNNING";
            return (
              running(last.find((c) => c.kind === "sandbox")) &&
              containerNames.every((n) => running(last.find((c) => c.containerName === n))) &&
              (!ready || ready(last))
            );
          },
          timeoutMs,
          `pod ${podName} running`,
          () =>
            `${JSON.stringify(last)}\n--- kubelet:\n${tail(kubeletLog)}\n--- containerd:\n${tail(containerdLog)}`,
        );
        return last;
      },
      kmemLimitWrites: () => [],
      cgroupFileWrites: () => [],
      kubeletAlive: () => !exited,
      async restartKubelet() {
        // as systemd's restart: SIGTERM to the kubelet's group, then the same command line again
        // (the binary's path now names whatever file is there); the containers keep running
        const pgid = Number(readFileSync(join(dir, "kubelet.pgid"), "utf8"));
        try {
          process.kill(-pgid, "SIGTERM");
        } catch {
          /* gone */
        }
        await waitFor(() => !groupAlive(pgid), 30_000, `kubelet process group ${pgid} to end`).catch(
          async () => {
            process.kill(-pgid, "SIGKILL");
            await waitFor(() => !groupAlive(pgid), 10_000, `kubelet process group ${pgid} to die`);
          },
        );
        spawnKubelet();
        // up once it has run a few seconds without exiting (the caller waits for what it needs)
        await sleep(3000);
        if (exited) throw new Error(`the restarted kubelet exited:\n${tail(kubeletLog)}`);
        log(`kubelet restarted (${opts.kubelet})`);
      },
      async stop() {
        if (!liveNodes.has(id)) return;
        // gracefully first: static pods removed → the kubelet stops their containers and removes
        // the pod cgroups itself; then everything else, forcefully
        if (!exited && opts.manifests && !opts.kubeconfig) {
          for (const f of readdirSync(manifestDir)) rmSync(join(manifestDir, f));
          await waitFor(
            async () =>
              !readdirSync(kubepodsDir, { recursive: true }).some((e) =>
                /(^|\/)pod[0-9a-f-]{32,36}$/.test(String(e)),
              ),
            60_000,
            "pods removed by the kubelet",
          ).catch((err: Error) => log(`graceful stop incomplete: ${err.message.split("\n")[0]}`));
        }
        const problems = cleanupWithStraceKept();
        if (problems.length) throw new Error(`node ${id} left things behind:\n${problems.join("\n")}`);
        log(`node ${nodeName} stopped and cleaned up`);
      },
    };
    let straceText: string | null = null;
    const cleanupWithStraceKept = (): string[] => {
      // stop the kubelet first so strace flushes its log, keep the log in memory, then clean up
      const pgFile = join(dir, "kubelet.pgid");
      if (existsSync(pgFile)) {
        const pgid = Number(readFileSync(pgFile, "utf8"));
        try {
          process.kill(-pgid, "SIGTERM");
        } catch {
          /* gone */
        }
        waitGoneSync(() => groupAlive(pgid), 15_000);
      }
      if (straceLog && existsSync(straceLog)) straceText = readFileSync(straceLog, "utf8");
      // KMEM_BUILD_NODE_KEEP_LOGS=DIR keeps the kubelet, containerd and strace logs for debugging
      const keep = process.env.KMEM_BUILD_NODE_KEEP_LOGS;
      if (keep) {
        mkdirSync(join(keep, id), { recursive: true });
        for (const f of [kubeletLog, containerdLog, straceLog])
          if (f && existsSync(f)) writeFileSync(join(keep, id, f.slice(dir.length + 1)), readFileSync(f));
      }
      return cleanup();
    };
    node.cgroupFileWrites = (file: string) => {
      const text = straceText ?? (straceLog && existsSync(straceLog) ? readFileSync(straceLog, "utf8") : "");
      return parseCgroupFileWrites(text, memRoot, file);
    };
    node.kmemLimitWrites = () => node.cgroupFileWrites("memory.kmem.limit_in_bytes");
    return node;
  } catch (err) {
    const problems = cleanup();
    if (problems.length) log(`cleanup after a failed start: ${problems.join("; ")}`);
    throw err;
  }
}

function openLog(file: string): number {
  return openSync(file, "a");
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

async function waitFor(
  cond: () => Promise<boolean> | boolean,
  ms: number,
  what: string,
  detail?: () => string,
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end)
      throw new Error(`timed out after ${ms / 1000}s waiting for ${what}${detail ? `\n${detail()}` : ""}`);
    await sleep(500);
  }
}

/** Bytes in a cgroup file (memory.kmem.usage_in_bytes …). */
export function readCgroupNumber(file: string): number {
  return Number(readFileSync(file, "utf8").trim());
}
