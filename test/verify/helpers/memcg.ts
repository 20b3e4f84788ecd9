/** Fixture builders for memory cgroups (v1 and v2) and the /proc files the script reads. */
import { symlink, type Tree } from "./tree.js";

export interface V1Counters {
  usage?: number;
  rss?: number;
  cache?: number;
  kmem?: number;
  kmemMax?: number;
  failcnt?: number;
  /**
   * memory.kmem.slabinfo on a 3.10 kernel: "active" is readable (accounting on); "inactive" fails to read
   * with EIO as the kernel's does (a symlink to /proc/self/mem, whose offset 0 is unmapped); "missing"
   * has no file.
   */
  slab?: "active" | "inactive" | "missing";
}

const SLABINFO =
  "slabinfo - version: 2.1\n# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n";

/** A cgroup v1 memory cgroup directory with its counter files, plus child cgroups. */
export function v1cg(c: V1Counters = {}, children: Tree = {}): Tree {
  const rss = c.rss ?? 0;
  const cache = c.cache ?? 0;
  const kmem = c.kmem ?? 0;
  const usage = c.usage ?? rss + cache + kmem;
  const t: Tree = {
    "cgroup.procs": "",
    tasks: "",
    "memory.usage_in_bytes": `${usage}\n`,
    "memory.limit_in_bytes": "9223372036854771712\n",
    "memory.stat": `cache ${cache}\nrss ${rss}\nmapped_file 0\nswap 0\ntotal_cache ${cache}\ntotal_rss ${rss}\ntotal_mapped_file 0\n`,
    "memory.kmem.usage_in_bytes": `${kmem}\n`,
    "memory.kmem.max_usage_in_bytes": `${c.kmemMax ?? kmem}\n`,
    "memory.kmem.failcnt": `${c.failcnt ?? 0}\n`,
    "memory.kmem.limit_in_bytes": "9223372036854771712\n",
  };
  const slab = c.slab ?? "inactive";
  if (slab === "active") t["memory.kmem.slabinfo"] = SLABINFO;
  else if (slab === "inactive") t["memory.kmem.slabinfo"] = symlink("/proc/self/mem");
  return { ...t, ...children };
}

/** A cgroup v2 directory: memory.current and memory.stat (anon, file, kernel). */
export function v2cg(
  c: { current?: number; anon?: number; file?: number; kernel?: number } = {},
  children: Tree = {},
): Tree {
  const anon = c.anon ?? 0;
  const file = c.file ?? 0;
  const kernel = c.kernel ?? 0;
  return {
    "cgroup.procs": "",
    "cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
    "memory.current": `${c.current ?? anon + file + kernel}\n`,
    "memory.max": "max\n",
    "memory.stat": `anon ${anon}\nfile ${file}\nkernel ${kernel}\nkernel_stack 0\nslab ${kernel}\n`,
    ...children,
  };
}

const MOUNT_COMMON = [
  "22 1 253:0 / / rw,relatime shared:1 - xfs /dev/mapper/centos-root rw,attr2,inode64,noquota",
  "18 22 0:17 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw",
];
const TMPFS = "24 18 0:20 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:7 - tmpfs tmpfs ro,mode=755";
const V1_SYSTEMD =
  "25 24 0:21 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd";
const V1_MEMORY =
  "30 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory";
const V1_CPU =
  "31 24 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpuacct,cpu";
const UNIFIED =
  "26 24 0:22 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate";
const V2_ROOT =
  "26 18 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot";

export type Layout = "v1" | "hybrid" | "v2" | "none";

export function mountinfo(layout: Layout): string {
  const lines = [...MOUNT_COMMON];
  if (layout === "v1") lines.push(TMPFS, V1_SYSTEMD, V1_MEMORY, V1_CPU);
  if (layout === "hybrid") lines.push(TMPFS, UNIFIED, V1_SYSTEMD, V1_MEMORY, V1_CPU);
  if (layout === "v2") lines.push(V2_ROOT);
  return lines.join("\n") + "\n";
}

export interface ProcSpec {
  layout: Layout;
  kernel: string;
  cmdline?: string;
  hostname?: string;
  /** /proc/cgroups memory num_cgroups. */
  numCgroups: number;
}

/** The /proc files the script reads, for --proc-root. */
export function procTree(p: ProcSpec): Tree {
  const hier = p.layout === "v2" ? 0 : 4;
  return {
    self: { mountinfo: mountinfo(p.layout) },
    cmdline: `${p.cmdline ?? `BOOT_IMAGE=/vmlinuz-${p.kernel} root=/dev/mapper/centos-root ro crashkernel=auto rhgb quiet`}\n`,
    cgroups:
      "#subsys_name\thierarchy\tnum_cgroups\tenabled\n" +
      `cpuset\t3\t1\t1\ncpu\t5\t60\t1\ncpuacct\t5\t60\t1\nmemory\t${hier}\t${p.numCgroups}\t1\ndevices\t6\t60\t1\n`,
    sys: { kernel: { osrelease: `${p.kernel}\n`, hostname: `${p.hostname ?? "node-a"}\n` } },
  };
}
