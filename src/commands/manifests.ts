/**
 * `kmem-build manifests`: writes ready-to-apply Kubernetes files that run verify-kmem.sh on every
 * node continuously (DaemonSet + ConfigMap), a PrometheusRule, and the node-problem-detector wiring.
 * The output directory appears whole or not at all: files are written to a hidden sibling
 * directory and renamed into place.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { BuildError, UsageError } from "../errors.js";
import {
  APP,
  generateManifests,
  durationText,
  podMounts,
  type ManifestOptions,
} from "../kube-manifests/generate.js";
import {
  checkBinaryDir,
  checkDistinct,
  checkKernelLog,
  checkTextfileDir,
  hostPath,
} from "../kube-manifests/host-paths.js";
import { parseImageRef } from "../kube-manifests/image-ref.js";
import { bundledScriptPath, durationSeconds } from "../verify/script-args.js";
import { interruptSignal } from "../signals.js";
import { replaceWith, stagingPathFor } from "../util/fs.js";
import { checkReplaceable, MANIFESTS_OUTPUT, writeMarker } from "../util/out-dir.js";

/**
 * The default image: the official busybox image, named without a registry host, so the container
 * runtime resolves it through its own configuration (Docker Hub, or the mirror the nodes use).
 * The manifests need nothing from it but POSIX sh, awk and the usual utilities; pass --image with
 * any image from your own registry that has them (busybox, alpine, a distro base image).
 */
export const DEFAULT_IMAGE = "busybox:1.36";
export const DEFAULT_TEXTFILE_DIR = "/var/lib/node_exporter/textfile";

interface ManifestFlags {
  out: string;
  image: string;
  namespace: string;
  interval: string;
  textfileDir: string;
  kubelet: string;
  runtime?: string[];
  kernelLog?: string;
  hostNetwork?: boolean;
  nodeApi?: boolean;
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

export function parseManifestOptions(f: ManifestFlags): ManifestOptions {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(f.namespace))
    throw new UsageError(
      `--namespace "${f.namespace}" is not a Kubernetes namespace name`,
      "lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit",
    );
  parseImageRef(f.image);
  const intervalSeconds = durationSeconds(f.interval, "--interval");
  if (intervalSeconds < 10 || intervalSeconds > 86400)
    throw new UsageError(`--interval must be between 10s and 24h, got "${f.interval}"`);
  const runtimes = (f.runtime?.length ? f.runtime : ["/usr/bin/runc"]).map((r) => hostPath(r, "--runtime"));
  const kubelet = hostPath(f.kubelet, "--kubelet");
  for (const [flag, p] of [["--kubelet", kubelet], ...runtimes.map((r) => ["--runtime", r])] as const)
    checkBinaryDir(p, flag);
  const kernelLog = f.kernelLog !== undefined ? hostPath(f.kernelLog, "--kernel-log") : undefined;
  if (kernelLog) checkKernelLog(kernelLog);
  const o: ManifestOptions = {
    image: f.image,
    namespace: f.namespace,
    intervalSeconds,
    textfileDir: hostPath(f.textfileDir, "--textfile-dir"),
    kubelet,
    runtimes,
    kernelLog,
    hostNetwork: f.hostNetwork === true,
    nodeApi: f.nodeApi !== false,
  };
  const mounts = podMounts(o);
  checkTextfileDir(
    o.textfileDir,
    mounts.filter((m) => m.flag !== "--textfile-dir"),
  );
  checkDistinct(mounts);
  return o;
}

/** Writes `files` to `out` whole: staged in a hidden sibling, then renamed; an earlier output is replaced. */
async function writeAtomically(out: string, files: { path: string; content: string }[]): Promise<void> {
  await checkReplaceable(out, MANIFESTS_OUTPUT);
  const parent = dirname(out);
  await mkdir(parent, { recursive: true }).catch((err: Error) => {
    throw new BuildError(`cannot create ${parent}: ${err.message}`);
  });
  const stage = stagingPathFor(out);
  const { signal, dispose } = interruptSignal();
  let staged = false;
  try {
    await mkdir(stage); // exclusively: what is removed below is this run's own
    staged = true;
    for (const f of files) {
      const target = join(stage, f.path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, f.content);
      if (signal.aborted) throw signal.reason;
    }
    await writeMarker(stage, MANIFESTS_OUTPUT);
    if (signal.aborted) throw signal.reason;
    await replaceWith(stage, out, MANIFESTS_OUTPUT);
  } catch (err) {
    if (err instanceof UsageError || (err as Error).name === "InterruptedError") throw err;
    throw new BuildError(
      `cannot write the manifests to ${out}: ${(err as Error).message}`,
      "nothing was written",
    );
  } finally {
    dispose();
    if (staged) await rm(stage, { recursive: true, force: true });
  }
}

export function registerManifests(program: Command): void {
  program
    .command("manifests")
    .description(
      "Write Kubernetes manifests that run verify-kmem.sh on every node continuously (DaemonSet, PrometheusRule, node-problem-detector plugin)",
    )
    .requiredOption("--out <dir>", "output directory (written whole, or not at all)")
    .option(
      "--image <ref>",
      "any image with POSIX sh and awk (busybox is enough; with curl, the pods also see which kubelet runs); the default names Docker Hub's busybox without a registry host, so nodes resolve it through their own mirror configuration: pass your registry's copy",
      DEFAULT_IMAGE,
    )
    .option(
      "--namespace <ns>",
      "namespace of the DaemonSet, ConfigMap and PrometheusRule (node-problem-detector must run there to mount the plugin)",
      "kube-system",
    )
    .option("--interval <d>", "time between checks on each node (10s … 24h)", "5m")
    .option(
      "--textfile-dir <path>",
      "node_exporter textfile collector directory on the nodes",
      DEFAULT_TEXTFILE_DIR,
    )
    .option("--kubelet <path>", "kubelet binary on the nodes (mounted read-only)", "/usr/bin/kubelet")
    .option(
      "--runtime <path>",
      "runc binary of the container runtime on the nodes (repeatable; default /usr/bin/runc)",
      collect,
    )
    .option(
      "--kernel-log <path>",
      "kernel log file on the nodes for the OOM-kill check, e.g. /var/log/messages (mounted read-only)",
    )
    .option(
      "--host-network",
      "run the pod in the node's network namespace (only for nodes whose pods get no network: no CNI)",
    )
    .option(
      "--no-node-api",
      "no API access for the pods (no ServiceAccount token, no RBAC): the running kubelet's version is then not read, and the restart state not seen from the pod",
    )
    .addHelpText(
      "after",
      `
Writes:
  00-namespace.yaml            (only for a namespace other than default, kube-system, kube-public)
  05-rbac.yaml                 ServiceAccount + ClusterRole (get nodes only) + binding: each pod reads its own Node
                               for the running kubelet's version (not with --no-node-api); needs curl in the image
  10-configmap.yaml            verify-kmem.sh, its loop, the node-problem-detector plugin and monitor config
  20-daemonset.yaml            ${APP}: every node, read-only host mounts, no capabilities
  prometheus/prometheusrule.yaml           alerts and recording rules (needs the Prometheus Operator CRD)
  rules/kmem-build.rules.yaml              the same groups for Prometheus without the operator (rule_files:)
  node-problem-detector/kmem-build-monitor.json   custom-plugin monitor (node condition KernelMemoryAccounting)
  node-problem-detector/daemonset-patch.json      JSON patch that wires it into a node-problem-detector DaemonSet
Then: kubectl apply -f DIR; kubectl apply -f DIR/prometheus (with the operator);
      kubectl -n NS patch daemonset node-problem-detector --type json --patch-file DIR/node-problem-detector/daemonset-patch.json`,
    )
    .action(async (flags: ManifestFlags) => {
      const o = parseManifestOptions(flags);
      const out = resolve(flags.out);
      const script = await readFile(bundledScriptPath(), "utf8");
      if (o.kernelLog && !script.includes("    --kernel-log)"))
        throw new UsageError("--kernel-log: the bundled verify-kmem.sh has no --kernel-log option");
      const files = await generateManifests(o, script);
      await writeAtomically(out, files);
      process.stdout.write(
        `manifests: wrote ${files.length} files to ${out} (namespace ${o.namespace}, image ${o.image}, every ${durationText(o.intervalSeconds)})\n` +
          files.map((f) => `  ${f.path}\n`).join("") +
          `next: kubectl apply -f ${out}\n`,
      );
      if (o.nodeApi && o.image === DEFAULT_IMAGE)
        process.stdout.write(
          `note: ${DEFAULT_IMAGE} has no curl: the pods cannot read the running kubelet's version from the API server, so a kubelet replaced on disk but not restarted (fix state restart) is not seen; pass --image with an image that has curl (or --no-node-api to leave the RBAC out)\n`,
        );
    });
}
