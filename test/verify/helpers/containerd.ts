/**
 * A real containerd for the tests: its own root, state, socket and opt directory in a temp dir (nothing
 * under /run/containerd or /var/lib/containerd), the CRI plugin off (ctr talks to the core API), and a
 * local busybox-static image (podman import of a rootfs, podman save, ctr images import). Containers are
 * created in namespace k8s.io with the labels the kubelet's CRI gives them; no task is ever started, so
 * no shim, mount or cgroup is left behind. stop() ends the daemon (also on process exit).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const HAVE_CONTAINERD =
  spawnSync("sh", ["-c", "command -v containerd && command -v ctr && command -v podman"]).status === 0 &&
  process.getuid?.() === 0;

/** busybox-static's binary (Debian: busybox-static; plain busybox is static on Debian too). */
function busyboxStatic(): string {
  for (const p of ["/bin/busybox", "/usr/bin/busybox"]) if (existsSync(p)) return p;
  throw new Error("no busybox binary (apt-get install busybox-static)");
}

function sh(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${what}: ${cmd} ${args.join(" ")}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

export interface KubeLabels {
  namespace: string;
  pod: string;
  uid: string;
  /** Omitted for a pod sandbox (CRI labels it io.cri-containerd.kind=sandbox instead). */
  container?: string;
}

export class Containerd {
  readonly socket: string;
  readonly image: string;
  private child: ChildProcess | null = null;
  private readonly onExit = () => this.child?.kill("SIGKILL");

  constructor(readonly dir: string) {
    this.socket = join(dir, "containerd.sock");
    this.image = `localhost/kmem-build-verify-test:${process.pid}`;
  }

  /** ctr on this daemon, namespace k8s.io. */
  ctr(args: string[], what = "ctr"): string {
    return sh("ctr", ["--address", this.socket, "-n", "k8s.io", ...args], what);
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const conf = join(this.dir, "config.toml");
    writeFileSync(
      conf,
      [
        "version = 2",
        `root = "${join(this.dir, "root")}"`,
        `state = "${join(this.dir, "state")}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = "${this.socket}"`,
        "[ttrpc]",
        `  address = "${this.socket}.ttrpc"`,
        "[debug]",
        '  address = ""',
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${join(this.dir, "opt")}"`,
        "",
      ].join("\n"),
    );
    this.child = spawn("containerd", ["--config", conf], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    this.child.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    process.once("exit", this.onExit);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`containerd exited ${this.child.exitCode}:\n${log}`);
      if (spawnSync("ctr", ["--address", this.socket, "version"], { timeout: 5000 }).status === 0) break;
      if (Date.now() > deadline) throw new Error(`containerd did not answer on ${this.socket}:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The busybox-static image, imported through podman's OCI archive (podman's copy removed again). */
  importImage(): void {
    const rootfs = join(this.dir, "rootfs");
    mkdirSync(join(rootfs, "bin"), { recursive: true });
    copyFileSync(busyboxStatic(), join(rootfs, "bin", "busybox"));
    const tar = join(this.dir, "rootfs.tar");
    sh("tar", ["-C", rootfs, "-cf", tar, "."], "rootfs tar");
    const archive = join(this.dir, "image.oci.tar");
    try {
      sh("podman", ["import", "--quiet", tar, this.image], "podman import");
      sh("podman", ["save", "--quiet", "--format", "oci-archive", "-o", archive, this.image], "podman save");
    } finally {
      spawnSync("podman", ["rmi", "--force", this.image], { timeout: 60_000 });
    }
    this.ctr(["images", "import", "--snapshotter", "native", archive], "ctr images import");
  }

  /** A container with the kubelet's labels (no task: nothing runs), and OCI annotations (a pod author's). */
  create(id: string, l: KubeLabels, annotations: Record<string, string> = {}): void {
    const labels = [
      `io.kubernetes.pod.name=${l.pod}`,
      `io.kubernetes.pod.namespace=${l.namespace}`,
      `io.kubernetes.pod.uid=${l.uid}`,
      l.container !== undefined
        ? `io.kubernetes.container.name=${l.container}`
        : "io.cri-containerd.kind=sandbox",
    ];
    this.ctr(
      [
        "containers",
        "create",
        "--snapshotter",
        "native",
        ...labels.flatMap((x) => ["--label", x]),
        ...Object.entries(annotations).flatMap(([k, v]) => ["--annotation", `${k}=${v}`]),
        this.image,
        id,
      ],
      `create container ${id}`,
    );
  }

  async stop(): Promise<void> {
    const c = this.child;
    this.child = null;
    process.removeListener("exit", this.onExit);
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(t);
  }
}
