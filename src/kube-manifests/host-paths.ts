/**
 * Which host paths the DaemonSet may mount, and where they land in the pod. The pod runs as uid 0:
 * a writable hostPath of a system directory (or a read-only one of the cluster's keys) would hand
 * it the node. Refused with a usage error naming the flag, the value and what to pass instead.
 */
import { posix } from "node:path";
import { UsageError } from "../errors.js";

/** Never mounted, in any mode: the node's system, its keys, its kernel interfaces, other pods' data. */
const SYSTEM_TREES = [
  "/etc",
  "/usr",
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/boot",
  "/root",
  "/proc",
  "/sys",
  "/dev",
  "/run",
  "/var/run",
  "/var/lib/kubelet",
  "/var/lib/docker",
  "/var/lib/containerd",
  "/var/lib/containers",
  "/var/lib/etcd",
  "/var/lib/cni",
  "/opt/cni",
  "/etc/kubernetes",
];
/** Parents of everything: refused themselves (a subdirectory of them is fine). */
const SYSTEM_PARENTS = [
  "/",
  "/var",
  "/var/lib",
  "/var/log",
  "/opt",
  "/home",
  "/srv",
  "/mnt",
  "/media",
  "/tmp",
];

export const under = (p: string, dir: string) => p === dir || p.startsWith(dir === "/" ? "/" : `${dir}/`);
/** One of the two contains the other (or they are the same). */
export const overlaps = (a: string, b: string) => under(a, b) || under(b, a);

/** The system tree or parent `dir` falls in, if any. */
export function systemPlace(dir: string): string | undefined {
  return SYSTEM_TREES.find((t) => under(dir, t)) ?? SYSTEM_PARENTS.find((t) => t === dir);
}

/** An absolute, normalised host path without "..", quotes, backslashes or white space. */
export function hostPath(value: string, flag: string): string {
  if (!value.startsWith("/"))
    throw new UsageError(`${flag} must be an absolute path on the nodes, not "${value}"`);
  if (value.split("/").includes("..") || /[\s"'\\]/.test(value) || /\p{Cc}/u.test(value))
    throw new UsageError(`${flag} "${value}" must not contain "..", quotes, backslashes or spaces`);
  return posix.normalize(value).replace(/\/+$/, "") || "/";
}

/**
 * What a directory of its own for textfiles looks like: its last component names the textfile
 * collector, node_exporter or kmem-build (node_exporter's own examples, Debian's
 * /var/lib/prometheus/node-exporter, /var/lib/node_exporter/textfile_collector). A directory that
 * something else reads (a cron spool, a bin directory on PATH, an rpm database, ~/.ssh) has another
 * name, whatever the distribution or the product calls its place: this rule does not depend on
 * knowing them. The SYSTEM_TREES list is the second line.
 */
const TEXTFILE_NAME = /textfile|node[-_]?exporter|kmem[-_]build/i;

/** A component starting with "." (a user's or a tool's configuration: ~/.ssh, ~/.kube), if any. */
const hiddenPart = (p: string) => p.split("/").find((c) => c.startsWith("."));

/**
 * --textfile-dir: mounted writable at the same path in the pod, so it must be a directory of its own
 * (TEXTFILE_NAME, nothing hidden on the way) and must not overlap any other mount of the pod, in the
 * pod or on the host (a writable view of the kubelet's directory).
 */
export function checkTextfileDir(
  dir: string,
  others: readonly { flag: string; path: string; hostPath?: string }[],
): void {
  const sys = systemPlace(dir);
  if (sys)
    throw new UsageError(
      `--textfile-dir ${dir} is ${sys === dir ? "a host system directory" : `under the host system directory ${sys}`}: the pod would get it writable, as root`,
      "pass the directory node_exporter's --collector.textfile.directory names, e.g. /var/lib/node_exporter/textfile",
    );
  for (const m of others) {
    const clash = overlaps(dir, m.path)
      ? `${m.path}, which the pod already mounts`
      : m.hostPath !== undefined && overlaps(dir, m.hostPath)
        ? `the host directory ${m.hostPath} of ${m.flag}, which the pod must only read`
        : undefined;
    if (clash)
      throw new UsageError(
        `--textfile-dir ${dir} overlaps ${clash}`,
        "pass a directory of its own, e.g. /var/lib/node_exporter/textfile",
      );
  }
  const last = posix.basename(dir);
  const hidden = hiddenPart(dir);
  if (hidden || !TEXTFILE_NAME.test(last))
    throw new UsageError(
      hidden
        ? `--textfile-dir ${dir} is inside the hidden directory ${hidden}: the pod would get it writable, as root`
        : `--textfile-dir ${dir} does not look like a directory of its own for textfiles (its name "${last}" names no textfile collector): the pod would get it writable, as root, and another program may read it`,
      "pass the directory node_exporter's --collector.textfile.directory names, e.g. /var/lib/node_exporter/textfile (a name with textfile, node_exporter or kmem-build in it)",
    );
}

/** --kernel-log: its directory is mounted read-only at /host<dir>. */
export function checkKernelLog(file: string): void {
  const dir = posix.dirname(file);
  const sys = SYSTEM_TREES.find((t) => under(dir, t)) ?? ["/", "/var", "/var/lib"].find((t) => t === dir);
  if (sys)
    throw new UsageError(
      `--kernel-log ${file}: its directory ${dir} would be mounted into the pod, and ${sys === dir ? `${dir} is` : `it is under ${sys},`} a host system directory`,
      "pass the syslog file the kernel writes to, e.g. /var/log/messages (EL7) or /var/log/kern.log, or leave --kernel-log out",
    );
  // Only the node's logs: a kernel log is a file under /var/log, so no other directory (TLS keys, a
  // kubeconfig's, a product's state) is ever mounted, whatever its name.
  const hidden = hiddenPart(file);
  if (!under(dir, "/var/log") || hidden)
    throw new UsageError(
      hidden
        ? `--kernel-log ${file}: ${hidden} is a hidden directory or file, not a log`
        : `--kernel-log ${file} is not under /var/log: its directory ${dir} would be mounted into the pod, and only the node's log directory may be`,
      "pass the syslog file the kernel writes to, e.g. /var/log/messages (EL7) or /var/log/kern.log, or leave --kernel-log out",
    );
}

/** --kubelet / --runtime: the binary's directory is mounted read-only at /host<dir>. */
export function checkBinaryDir(file: string, flag: string): void {
  const dir = posix.dirname(file);
  if (dir === "/")
    throw new UsageError(`${flag} ${file}: a binary directly in / cannot be mounted on its own`);
  const bad = [
    "/etc",
    "/root",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/run",
    "/var/run",
    "/var/lib/kubelet",
  ].find((t) => under(dir, t));
  if (bad)
    throw new UsageError(
      `${flag} ${file}: its directory ${dir} is under ${bad}, which the pod must not see`,
      "pass the installed binary, e.g. /usr/bin/kubelet or /usr/bin/runc",
    );
}

/** Two volumes mounted at the same path, or one inside another's host directory twice: not appliable. */
export function checkDistinct(mounts: readonly { flag: string; path: string }[]): void {
  for (let i = 0; i < mounts.length; i++)
    for (let j = i + 1; j < mounts.length; j++) {
      const a = mounts[i]!;
      const b = mounts[j]!;
      if (a.path === b.path)
        throw new UsageError(
          `${b.flag} mounts ${b.path}, which ${a.flag} already mounts`,
          "give each flag a directory of its own",
        );
    }
}
