/**
 * Kernel logs with memcg OOM reports, written by us from the report formats (docs/domain.md, "Kernel OOM reports"):
 * an EL7 /var/log/messages (3.10: "Task in … killed as a result of limit of …", stats one line per memcg)
 * and a dmesg dump of a >= 4.19 kernel ("oom-kill:…oom_memcg=…", stats one per line), each with
 * noise, interleaved lines of other programs, a report cut short and memcg paths below other directories.
 */
export const POD = {
  /** the seed: burstable pod at its 5,859,473 kB limit, 3.2 GiB of it kernel memory */
  seed: "5d1c0b6e-8a3f-4c1e-9f7a-2b6d8e4c1a01",
  /** systemd driver, a container limit reached by rss alone */
  rss: "6e2d1c7f-9b40-4d2f-8a8b-3c7e9f5d2b02",
  /** a report cut after its "memory:" line */
  cut: "7f3e2d80-ac51-4e30-9b9c-4d80a06e3c03",
  /** >= 4.19: nested below other directories, pipe buffers (the real reproduction's numbers) */
  pipes: "8a4f3e91-bd62-4f41-8cad-5e91b17f4d04",
  /** >= 4.19: pod-level limit, one-line stats of 4.19, little kmem */
  pod419: "9b504fa2-ce73-4052-9dbe-6fa2c2805e05",
  /** >= 4.19: report cut after the oom-kill line */
  cut419: "ac615ab3-df84-4163-8ecf-70b3d3916f06",
};
export const CTR = {
  seed: "c0ffee".repeat(10) + "0001",
  seedPause: "9a05e".repeat(12) + "1234",
  rss: "d00d".repeat(16),
  cut: "e1e1".repeat(16),
  pipes: "f00d".repeat(16),
  pod419: "abcd".repeat(16),
  cut419: "beef".repeat(16),
};

const us = (u: string) => u.replace(/-/g, "_");
const STATS310 = (cacheKb: number, rssKb: number) =>
  `cache:${cacheKb}KB rss:${rssKb}KB rss_huge:0KB mapped_file:0KB swap:0KB inactive_anon:0KB active_anon:${rssKb}KB inactive_file:${cacheKb}KB active_file:0KB unevictable:0KB`;

/** EL7 (3.10.0-1160) /var/log/messages. */
export function el7Messages(): string {
  const k = (t: string, m: string) => `Nov 28 ${t} node-a kernel: ${m}`;
  const seedPod = `/kubepods/burstable/pod${POD.seed}`;
  const sysPod = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${us(POD.rss)}.slice`;
  const sysCtr = `${sysPod}/docker-${CTR.rss}.scope`;
  return [
    "Nov 28 03:13:59 node-a systemd: Started Session 4512 of user root.",
    k("03:14:01", "IPv6: ADDRCONF(NETDEV_UP): cali4c2f8e1d0ab: link is not ready"),
    // the seed's kill
    k("03:14:07", "java invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=999"),
    k("03:14:07", `java cpuset=${CTR.seed} mems_allowed=0`),
    k(
      "03:14:07",
      "CPU: 3 PID: 23456 Comm: java Kdump: loaded Tainted: G               ------------ T 3.10.0-1160.el7.x86_64 #1",
    ),
    k("03:14:07", "Hardware name: VMware, Inc. VMware Virtual Platform/440BX Desktop Reference Platform"),
    k("03:14:07", "Call Trace:"),
    k("03:14:07", " [<ffffffff9a3865b9>] dump_stack+0x19/0x1b"),
    k("03:14:07", " [<ffffffff9a381458>] dump_header+0x90/0x229"),
    "Nov 28 03:14:07 node-a dockerd-current[1187]: memory: usage 1kB, limit 2kB, failcnt 0 (not the kernel)",
    k("03:14:07", `Task in ${seedPod}/${CTR.seed} killed as a result of limit of ${seedPod}`),
    k("03:14:07", "memory: usage 5859473kB, limit 5859473kB, failcnt 34555027"),
    k("03:14:07", "memory+swap: usage 5859473kB, limit 9007199254740988kB, failcnt 0"),
    k("03:14:07", "kmem: usage 3356432kB, limit 9007199254740988kB, failcnt 0"),
    k("03:14:07", `Memory cgroup stats for ${seedPod}: ${STATS310(0, 0)}`),
    k("03:14:07", `Memory cgroup stats for ${seedPod}/${CTR.seedPause}: ${STATS310(0, 40)}`),
    "Nov 28 03:14:07 node-a kubelet: I1128 03:14:07.123456 1234 kubelet.go:1900] Killed process 1 (x) says nobody",
    k("03:14:07", `Memory cgroup stats for ${seedPod}/${CTR.seed}: ${STATS310(12345, 2490076)}`),
    k("03:14:07", "[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name"),
    k("03:14:07", "[23001]     0 23001      253        1       4        0          -998 pause"),
    k("03:14:07", "[23456]  1000 23456  3096000   622529    1500        0           999 java"),
    k("03:14:07", "Memory cgroup out of memory: Kill process 23456 (java) score 1424 or sacrifice child"),
    k(
      "03:14:07",
      "Killed process 23456 (java), UID 1000, total-vm:12384000kB, anon-rss:2487000kB, file-rss:3116kB, shmem-rss:0kB",
    ),
    // a global (not memcg) OOM: no "Task in", not counted
    k("03:40:00", "mysqld invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0"),
    k("03:40:00", "Out of memory: Kill process 999 (mysqld) score 900 or sacrifice child"),
    k(
      "03:40:00",
      "Killed process 999 (mysqld), UID 27, total-vm:4000000kB, anon-rss:3000000kB, file-rss:0kB",
    ),
    // systemd driver, container limit, rss only
    k("04:02:11", "nginx invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=994"),
    k("04:02:11", `Task in ${sysCtr} killed as a result of limit of ${sysCtr}`),
    k("04:02:11", "memory: usage 524288kB, limit 524288kB, failcnt 88"),
    k("04:02:11", "memory+swap: usage 524288kB, limit 9007199254740988kB, failcnt 0"),
    k("04:02:11", "kmem: usage 0kB, limit 9007199254740988kB, failcnt 0"),
    k("04:02:11", `Memory cgroup stats for ${sysCtr}: ${STATS310(1024, 523264)}`),
    k("04:02:11", "Memory cgroup out of memory: Kill process 4242 (nginx) score 1994 or sacrifice child"),
    k(
      "04:02:11",
      "Killed process 4242 (nginx), UID 101, total-vm:600000kB, anon-rss:523000kB, file-rss:100kB",
    ),
    // a memcg that is not a pod: counted apart
    k("04:30:00", "dockerd invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=-500"),
    k(
      "04:30:00",
      "Task in /system.slice/docker.service killed as a result of limit of /system.slice/docker.service",
    ),
    k("04:30:00", "memory: usage 1048576kB, limit 1048576kB, failcnt 3"),
    k("04:30:00", "kmem: usage 10240kB, limit 9007199254740988kB, failcnt 0"),
    k(
      "04:30:00",
      "Killed process 1187 (dockerd-current), UID 0, total-vm:2000000kB, anon-rss:1000000kB, file-rss:0kB",
    ),
    // cut short after "memory:" (the rest of the report was lost), then unrelated lines
    k(
      "05:00:01",
      `Task in /kubepods/besteffort/pod${POD.cut}/${CTR.cut} killed as a result of limit of /kubepods/besteffort/pod${POD.cut}/${CTR.cut}`,
    ),
    k("05:00:01", "memory: usage 262144kB, limit 262144kB, failcnt 12"),
    "Nov 28 05:00:02 node-a systemd-logind: New session 4513 of user root.",
    k("05:00:03", "XFS (dm-3): Mounting V5 Filesystem"),
    "",
  ].join("\n");
}

/** A dmesg dump (seconds since boot) of a >= 4.19 kernel; btime of the fixture is BTIME. */
export const BTIME = 1_764_460_800; // 2025-11-30T00:00:00Z
export function dmesgNew(): string {
  const nested = `/process_api/4c27321468056ec0/kubepods/burstable/pod${POD.pipes}/${CTR.pipes}`;
  const pod419 = `/kubepods/pod${POD.pod419}`;
  const cut = `/kubepods/besteffort/pod${POD.cut419}/${CTR.cut419}`;
  const d = (t: string, m: string) => `[${t.padStart(12)}] ${m}`;
  const block = (t: string, kv: [string, number][]) => kv.map(([k, v]) => d(t, `${k} ${v}`));
  return [
    d("0.000000", "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org)"),
    d("3600.100000", "perl invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"),
    d("3600.100010", "CPU: 1 PID: 20031 Comm: perl Not tainted 6.1.0-18-amd64 #1  Debian 6.1.76-1"),
    d("3600.100020", "Call Trace:"),
    d("3600.100030", " <TASK>"),
    d("3600.100040", " dump_stack_lvl+0x44/0x5c"),
    d("3600.100050", " </TASK>"),
    d("3600.100060", "memory: usage 49152kB, limit 49152kB, failcnt 33"),
    d("3600.100070", "memory+swap: usage 49152kB, limit 9007199254740988kB, failcnt 0"),
    d("3600.100080", "kmem: usage 26728kB, limit 9007199254740988kB, failcnt 0"),
    d("3600.100090", `Memory cgroup stats for ${nested}:`),
    ...block("3600.100100", [
      ["cache", 0],
      ["rss", 22470656],
      ["rss_huge", 0],
      ["shmem", 0],
    ]),
    d("3600.100105", "e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: None"),
    ...block("3600.100110", [
      ["mapped_file", 0],
      ["hierarchical_memory_limit", 50331648],
      ["total_cache", 0],
      ["total_rss", 22470656],
      ["total_rss_huge", 0],
    ]),
    d("3600.100120", "Tasks state (memory values in pages):"),
    d("3600.100130", "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"),
    d("3600.100140", "[  20031]     0 20031     7468     6656   106496        0             0 perl"),
    d(
      "3600.100150",
      `oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=${nested},task_memcg=${nested},task=perl,pid=20031,uid=0`,
    ),
    d(
      "3600.100160",
      "Memory cgroup out of memory: Killed process 20031 (perl) total-vm:29872kB, anon-rss:21888kB, file-rss:4736kB, shmem-rss:0kB, UID:0 pgtables:104kB oom_score_adj:0",
    ),
    // 4.19: stats one line per memcg (summed), pod-level limit, a container's process killed
    d(
      "7200.500000",
      "app invoked oom-killer: gfp_mask=0x6000c0(GFP_KERNEL), nodemask=(null), order=0, oom_score_adj=-997",
    ),
    d("7200.500010", "memory: usage 1048576kB, limit 1048576kB, failcnt 501"),
    d("7200.500020", "memory+swap: usage 1048576kB, limit 9007199254740988kB, failcnt 0"),
    d("7200.500030", "kmem: usage 20480kB, limit 9007199254740988kB, failcnt 0"),
    d(
      "7200.500040",
      `Memory cgroup stats for ${pod419}: cache:0KB rss:0KB rss_huge:0KB shmem:0KB mapped_file:0KB`,
    ),
    d(
      "7200.500050",
      `Memory cgroup stats for ${pod419}/${CTR.pod419}: cache:102400KB rss:921600KB rss_huge:0KB shmem:0KB mapped_file:0KB`,
    ),
    d("7200.500060", "Tasks state (memory values in pages):"),
    d(
      "7200.500070",
      `oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=${CTR.pod419},mems_allowed=0,oom_memcg=${pod419},task_memcg=${pod419}/${CTR.pod419},task=app,pid=31337,uid=1000`,
    ),
    d("7200.500080", "Memory cgroup out of memory: Kill process 31337 (app) score 2 or sacrifice child"),
    d(
      "7200.500090",
      "Killed process 31337 (app) total-vm:2000000kB, anon-rss:921000kB, file-rss:400kB, shmem-rss:0kB",
    ),
    // a global OOM (constraint none): not a memcg kill
    d(
      "8000.000000",
      "stress invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0",
    ),
    d(
      "8000.000100",
      "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/user.slice,task=stress,pid=777,uid=0",
    ),
    d("8000.000200", "Out of memory: Killed process 777 (stress) total-vm:9000000kB, anon-rss:8000000kB"),
    // cut after the oom-kill line; the next report follows at once
    d("9000.000000", "worker invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=1000"),
    d("9000.000010", "memory: usage 131072kB, limit 131072kB, failcnt 7"),
    d("9000.000020", "kmem: usage 65536kB, limit 9007199254740988kB, failcnt 0"),
    d(
      "9000.000030",
      `oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=${cut},task_memcg=${cut},task=worker,pid=4040,uid=65534`,
    ),
    d("9100.000000", "bash invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"),
    d("9100.000010", "memory: usage 2048kB, limit 2048kB, failcnt 1"),
    "",
  ].join("\n");
}
