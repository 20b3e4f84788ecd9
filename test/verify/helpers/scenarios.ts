/**
 * Fixture nodes: a fake /proc (--proc-root) and a memory cgroup tree (--cgroup-root) per scenario,
 * written into a temp dir. Expectations live in the tests.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fakeGoBinary } from "./binaries.js";
import { v1cg, v2cg, procTree } from "./memcg.js";
import { countDirs, hexName, layTree, symlink, type Tree } from "./tree.js";

export const UID = {
  G: "1b4c9a0e-0d6f-4c8e-9d2a-5b7e3f1a2c01",
  B: "2c5dab1f-1e70-4d9f-8e3b-6c8f4a2b3d02",
  E: "3d6ebc20-2f81-4ea0-9f4c-7d905b3c4e03",
};
/** 64-hex container ids. */
export const CTR = {
  g1: "a1".repeat(32),
  b1: "b1".repeat(32),
  b2: "b2".repeat(32),
  e1: "e1".repeat(32),
};
export const EL7_KERNEL = "3.10.0-1160.el7.x86_64";
export const EL8_KERNEL = "4.18.0-477.10.1.el8_8.x86_64";
export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

/** /proc/PID/status of a root process, the lines the script reads. */
export const ROOT_STATUS = (name: string): string =>
  `Name:\t${name}\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n`;

export interface Laid {
  dir: string;
  cg: string;
  proc: string;
  /** Script arguments pointing at the fixture (binaries included where the scenario has them). */
  args: string[];
  dirs: number;
}

function lay(
  dir: string,
  proc: Parameters<typeof procTree>[0],
  cg: Tree,
  bins: Record<string, Buffer> = {},
  extra = 0,
  procExtra: Tree = {},
): Laid {
  const cgDir = join(dir, "cg");
  const procDir = join(dir, "proc");
  const dirs = countDirs(cg);
  layTree(cgDir, cg);
  layTree(procDir, {
    ...procTree({ ...proc, numCgroups: proc.numCgroups < 0 ? dirs + extra : proc.numCgroups }),
    ...procExtra,
  });
  const args = ["--proc-root", procDir, "--cgroup-root", cgDir];
  if (Object.keys(bins).length === 0) args.push("--no-binaries");
  for (const [name, content] of Object.entries(bins)) {
    const p = join(dir, name);
    writeFileSync(p, content, { mode: 0o755 });
    args.push(name === "kubelet" ? "--kubelet" : "--runtime", p);
  }
  return { dir, cg: cgDir, proc: procDir, args, dirs };
}

const noise = (): Tree => ({
  "system.slice": v1cg(
    { rss: 200 * MiB, cache: 300 * MiB },
    {
      "docker.service": v1cg({ rss: 80 * MiB }),
      "kubelet.service": v1cg({ rss: 60 * MiB }),
    },
  ),
  "user.slice": v1cg({ rss: 10 * MiB }),
});

/**
 * CentOS 7, cgroupfs driver. Guaranteed pod clean; burstable pod with kmem switched on by the kubelet
 * (the real case: 1.5 GiB rss + 1 GiB cache, 3.4 GB kmem, 6 GiB usage); best-effort pod clean at pod
 * level, its container switched on by the runtime's runc (on 3.10 the pod carries the charge too).
 * kubelet and docker-runc still link the kmem-enabling code.
 */
export function centos7Cgroupfs(dir: string): Laid {
  // a parent's kmem counters include its children's (3.10): kubepods and the QoS parents carry their pods'
  const kubepods = v1cg(
    { rss: 2 * GiB, cache: GiB, kmem: 3_400_008_192 },
    {
      [`pod${UID.G}`]: v1cg(
        { rss: 40 * MiB, cache: 10 * MiB, slab: "inactive" },
        {
          [CTR.g1]: v1cg({ rss: 40 * MiB, cache: 10 * MiB, slab: "inactive" }),
        },
      ),
      burstable: v1cg(
        { kmem: 3_400_000_000 },
        {
          [`pod${UID.B}`]: v1cg(
            {
              usage: 6 * GiB,
              rss: 1.5 * GiB,
              cache: GiB,
              kmem: 3_400_000_000,
              kmemMax: 3_500_000_000,
              failcnt: 3,
              slab: "active",
            },
            {
              [CTR.b1]: v1cg({
                usage: 6 * GiB - MiB,
                rss: 1.5 * GiB,
                cache: GiB,
                kmem: 3_399_000_000,
                slab: "active",
              }),
              [CTR.b2]: v1cg({ rss: 1 * MiB, kmem: 1_000_000, slab: "active" }),
            },
          ),
        },
      ),
      besteffort: v1cg(
        { kmem: 8192 },
        {
          [`pod${UID.E}`]: v1cg(
            { rss: 8 * MiB, kmem: 8192, slab: "inactive" },
            {
              [CTR.e1]: v1cg({ rss: 8 * MiB, kmem: 8192, slab: "active" }),
            },
          ),
        },
      ),
    },
  );
  return lay(
    dir,
    { layout: "v1", kernel: EL7_KERNEL, numCgroups: -1, hostname: "centos7-node" },
    v1cg({ rss: 4 * GiB }, { ...noise(), kubepods }),
    { kubelet: fakeGoBinary({ kmem: true }), "docker-runc-current": fakeGoBinary({ kmem: true }) },
    40,
  );
}

/** CentOS 7, systemd driver, everything clean; a nokmem kubelet (Go 1.19 build info) and a modern runc. */
export function centos7Systemd(dir: string): Laid {
  const u = (s: string) => s.replace(/-/g, "_");
  const kp = v1cg(
    {},
    {
      [`kubepods-pod${u(UID.G)}.slice`]: v1cg(
        { rss: 20 * MiB },
        {
          [`docker-${CTR.g1}.scope`]: v1cg({ rss: 20 * MiB }),
        },
      ),
      "kubepods-burstable.slice": v1cg(
        {},
        {
          [`kubepods-burstable-pod${u(UID.B)}.slice`]: v1cg(
            { rss: 30 * MiB, cache: 5 * MiB },
            {
              [`cri-containerd-${CTR.b1}.scope`]: v1cg({ rss: 30 * MiB, cache: 5 * MiB }),
            },
          ),
        },
      ),
      "kubepods-besteffort.slice": v1cg(
        {},
        {
          [`kubepods-besteffort-pod${u(UID.E)}.slice`]: v1cg(
            {},
            {
              [`crio-${CTR.e1}.scope`]: v1cg({}),
              [`crio-conmon-${CTR.e1}.scope`]: v1cg({}),
            },
          ),
        },
      ),
    },
  );
  return lay(
    dir,
    { layout: "v1", kernel: EL7_KERNEL, numCgroups: -1 },
    v1cg({}, { ...noise(), "kubepods.slice": kp }),
    {
      kubelet: fakeGoBinary({ nokmem: true, tags: "nokmem" }),
      runc: fakeGoBinary({ tags: "seccomp,apparmor", path: "github.com/opencontainers/runc" }),
    },
    3,
  );
}

/** EL8 (4.18), hybrid layout, no cgroup.memory=nokmem: the kernel charges kmem by itself. */
export function hybridKernelCharges(dir: string, charged = true): Laid {
  const kmem = charged ? 5 * MiB : 0;
  const kubepods = v1cg(
    {},
    {
      burstable: v1cg(
        {},
        {
          [`pod${UID.B}`]: v1cg(
            { rss: 100 * MiB, cache: 20 * MiB, kmem },
            {
              [CTR.b1]: v1cg({ rss: 100 * MiB, cache: 20 * MiB, kmem }),
            },
          ),
        },
      ),
    },
  );
  return lay(dir, { layout: "hybrid", kernel: EL8_KERNEL, numCgroups: -1 }, v1cg({}, { kubepods }), {
    kubelet: fakeGoBinary({ tags: "selinux" }),
    runc: fakeGoBinary({ nokmem: true }),
  });
}

/** EL8 booted with cgroup.memory=nokmem: nothing charged. */
export function hybridNokmemParam(dir: string): Laid {
  const kubepods = v1cg(
    {},
    {
      [`pod${UID.G}`]: v1cg({ rss: 10 * MiB }, { [CTR.g1]: v1cg({ rss: 10 * MiB }) }),
    },
  );
  return lay(
    dir,
    {
      layout: "hybrid",
      kernel: EL8_KERNEL,
      numCgroups: -1,
      cmdline: `BOOT_IMAGE=(hd0,gpt2)/vmlinuz-${EL8_KERNEL} root=/dev/mapper/rhel-root ro cgroup.memory=nosocket,nokmem quiet`,
    },
    v1cg({}, { kubepods }),
  );
}

/** cgroup v2 only (systemd driver): no kmem counter; hidden share comes from memory.current. */
export function v2Systemd(dir: string): Laid {
  const u = (s: string) => s.replace(/-/g, "_");
  const kp = v2cg(
    {},
    {
      "kubepods-burstable.slice": v2cg(
        {},
        {
          [`kubepods-burstable-pod${u(UID.B)}.slice`]: v2cg(
            { anon: 50 * MiB, file: 10 * MiB, kernel: 3 * MiB },
            {
              [`cri-containerd-${CTR.b1}.scope`]: v2cg({ anon: 50 * MiB, file: 10 * MiB, kernel: 3 * MiB }),
            },
          ),
        },
      ),
    },
  );
  return lay(
    dir,
    { layout: "v2", kernel: "5.14.0-362.8.1.el9_3.x86_64", numCgroups: -1 },
    v2cg({}, { "kubepods.slice": kp }),
  );
}

/** A 3.10 node whose kernel holds `numCgroups` memcgs while few directories exist (leaked memcg IDs). */
export function leakedMemcgs(dir: string, numCgroups: number): Laid {
  const kubepods = v1cg(
    {},
    {
      besteffort: v1cg({}, { [`pod${UID.E}`]: v1cg({}, { [CTR.e1]: v1cg({}) }) }),
    },
  );
  return lay(dir, { layout: "v1", kernel: EL7_KERNEL, numCgroups }, v1cg({}, { kubepods }));
}

/** Container directory names a JSON writer can get wrong. */
export const ODD = {
  space: "ctr with spaces",
  quote: 'q"uote\\back',
  tab: "tab\there",
  newline: "new\nline",
  utf8: "caf\u00e9-\u{1f600}",
  invalid: Buffer.from([0x62, 0x61, 0x64, 0xff, 0x2d, 0x75, 0x74, 0x66]),
};

export function oddNames(dir: string): Laid {
  // a parent's kmem counters include its children's (3.10)
  const kubepods = v1cg(
    { kmem: 4096 },
    {
      burstable: v1cg(
        { kmem: 4096 },
        {
          [`pod${UID.B}`]: v1cg(
            { kmem: 4096, slab: "inactive" },
            {
              [ODD.space]: v1cg({ kmem: 4096, slab: "active" }),
              [ODD.quote]: v1cg({}),
              [ODD.tab]: v1cg({}),
              [ODD.newline]: v1cg({}),
              [ODD.utf8]: v1cg({}),
              [hexName(ODD.invalid)]: v1cg({}),
            },
          ),
        },
      ),
    },
  );
  return lay(
    dir,
    { layout: "v1", kernel: EL7_KERNEL, numCgroups: -1 },
    v1cg({}, { "with space": v1cg({}), kubepods }),
  );
}

export function noKubepods(dir: string): Laid {
  return lay(dir, { layout: "v1", kernel: EL7_KERNEL, numCgroups: -1 }, v1cg({}, noise()));
}

export function emptyKubepods(dir: string): Laid {
  return lay(
    dir,
    { layout: "v1", kernel: EL7_KERNEL, numCgroups: -1 },
    v1cg({}, { kubepods: v1cg({}, { burstable: v1cg(), besteffort: v1cg() }) }),
  );
}

export function noMemoryController(dir: string): Laid {
  const l = lay(dir, { layout: "none", kernel: EL7_KERNEL, numCgroups: 1 }, {});
  // no memory cgroup mounted and nothing to scan
  return { ...l, args: ["--proc-root", l.proc, "--no-binaries"] };
}

/** A 3.10 node with `pods` burstable pods of two containers each, every one charged with some kmem. */
export function manyPods(dir: string, pods: number): Laid {
  const burstable: Tree = {};
  for (let p = 0; p < pods; p++) {
    const id = (c: number) => `${p}${c}`.padStart(64, "0");
    burstable[`pod${String(p).padStart(8, "0")}-0000-4000-8000-000000000000`] = v1cg(
      { kmem: 4096, slab: "active" },
      {
        [id(1)]: v1cg({ kmem: 4096, slab: "active" }),
        // created under its armed pod: on too (3.10, memory.use_hierarchy=1), nothing charged
        [id(2)]: v1cg({ slab: "active" }),
      },
    );
  }
  return lay(
    dir,
    { layout: "v1", kernel: EL7_KERNEL, numCgroups: -1 },
    // a parent's kmem counters include its children's (3.10)
    v1cg(
      {},
      { kubepods: v1cg({ kmem: pods * 4096 }, { burstable: v1cg({ kmem: pods * 4096 }, burstable) }) },
    ),
  );
}

/** RHEL 7 kernel builds (docs/domain.md, "Kernels and the boot parameter"): only 7.8 and 7.9 know cgroup.memory=nokmem. */
export const RHEL7 = {
  "7.3": "3.10.0-514.el7.x86_64",
  "7.6": "3.10.0-957.el7.x86_64",
  "7.8": "3.10.0-1127.el7.x86_64",
  "7.9": "3.10.0-1160.el7.x86_64",
} as const;

export interface El7Spec {
  kernel: string;
  driver: "cgroupfs" | "systemd";
  /** cgroup.memory=nokmem on the command line. */
  param?: boolean;
  /** kubepods and its QoS parents account kmem (memory.kmem.slabinfo reads). */
  parents?: boolean;
  /** the pod cgroup accounts kmem (also when its parents do: it inherited it). */
  pod?: boolean;
  /** the container cgroup accounts kmem. */
  container?: boolean;
  /** kmem bytes charged to the pod and its container (0: armed but nothing charged yet). */
  kmem?: number;
  kubelet?: "kmem" | "nokmem";
  /**
   * the running kubelet process: its exe is the checked file, a deleted one, another file, or none runs;
   * "hidden": no process at all under the proc root, as the DaemonSet's pod sees the host.
   */
  running?: "same" | "deleted" | "other" | "none" | "hidden";
  /** the version the kubelet on disk is stamped with (kmem-build's mark: v1.20.2+nokmem). */
  version?: string;
}

/**
 * An EL7 node at one moment of the fix: one burstable pod with one container, kubepods and both QoS
 * parents, slabinfo readable where accounting is on and EIO where off (as 3.10 does), a kubelet on disk
 * and a kubelet process in the fixture /proc (comm + exe link, as the kernel shows them).
 */
export function el7Node(dir: string, o: El7Spec): Laid {
  const slab = (on?: boolean) => (on ? "active" : "inactive");
  const kmem = o.kmem ?? 0;
  const u = (x: string) => x.replace(/-/g, "_");
  // 3.10 with memory.use_hierarchy=1 (systemd sets it on EL7): a new cgroup under an armed parent is armed,
  // so pods under armed parents are armed, and so on (only on/off is handed down, not the limit)
  const podOn = o.pod || o.parents;
  const ctrOn = o.container || podOn;
  // the charge is the container's; the pod, its QoS parent and kubepods count it too (3.10)
  const charged = ctrOn ? kmem : 0;
  const ctr = v1cg({ rss: 100 * MiB, cache: 20 * MiB, kmem: charged, slab: slab(ctrOn) });
  const pod = (name: string) => ({
    [name]: v1cg(
      { rss: 100 * MiB, cache: 20 * MiB, kmem: charged, slab: slab(podOn) },
      { [o.driver === "cgroupfs" ? CTR.b1 : `docker-${CTR.b1}.scope`]: ctr },
    ),
  });
  const cg: Tree =
    o.driver === "cgroupfs"
      ? {
          kubepods: v1cg(
            { slab: slab(o.parents), kmem: charged },
            {
              burstable: v1cg({ slab: slab(o.parents), kmem: charged }, pod(`pod${UID.B}`)),
              besteffort: v1cg({ slab: slab(o.parents) }),
            },
          ),
        }
      : {
          "kubepods.slice": v1cg(
            { slab: slab(o.parents), kmem: charged },
            {
              "kubepods-burstable.slice": v1cg(
                { slab: slab(o.parents), kmem: charged },
                pod(`kubepods-burstable-pod${u(UID.B)}.slice`),
              ),
              "kubepods-besteffort.slice": v1cg({ slab: slab(o.parents) }),
            },
          ),
        };
  const kubelet = join(dir, "kubelet");
  const running = o.running ?? "same";
  const procExtra: Tree = {};
  if (running !== "none" && running !== "hidden") {
    const exe =
      running === "same"
        ? kubelet
        : running === "deleted"
          ? // as EL7's 3.10 shows it after rpm renamed its temp file (path;<tid>) over the running one: the
            // old, deleted file takes the temp file's name (test/el7/fix-states.test.ts)
            `${kubelet};5f3c9a1e (deleted)`
          : join(dir, "kubelet.old");
    // root's, as the kernel shows it in status (a process of another user never counts as the kubelet)
    procExtra["4242"] = { comm: "kubelet\n", status: ROOT_STATUS("kubelet"), exe: symlink(exe) };
  }
  if (running !== "hidden") procExtra["1"] = { comm: "systemd\n", exe: symlink("/usr/lib/systemd/systemd") };
  const l = lay(
    dir,
    {
      layout: "v1",
      kernel: o.kernel,
      numCgroups: -1,
      hostname: "el7-node",
      cmdline: `BOOT_IMAGE=/vmlinuz-${o.kernel} root=/dev/mapper/centos-root ro crashkernel=auto${o.param ? " cgroup.memory=nokmem" : ""} rhgb quiet`,
    },
    v1cg({}, cg),
    {
      kubelet:
        o.kubelet === "kmem"
          ? fakeGoBinary({ kmem: true, version: o.version })
          : fakeGoBinary({ nokmem: true, tags: "nokmem", version: o.version }),
      runc: fakeGoBinary({ tags: "seccomp", path: "github.com/opencontainers/runc" }),
    },
    0,
    procExtra,
  );
  if (running === "other") {
    writeFileSync(join(dir, "kubelet.old"), fakeGoBinary({ kmem: true }), { mode: 0o755 });
    // a process running another file is the kubelet only when something names it (systemd's MainPID
    // on a real node; here the option): its name alone proves nothing
    l.args.push("--kubelet-pid", "4242");
  }
  return l;
}
