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
 * --textfile-dir: mounted writable at the same path in the pod, so it must not overlap any other
 * mount of the pod, in the pod or on the host (a writable view of the kubelet's directory).
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
