/**
 * Every step of the fix on one EL7 node, on the real CentOS/RHEL 7.9 kernel (and 7.3's) booted in a VM:
 * the shipped verify-kmem.sh runs inside, under busybox sh + awk and under bash + gawk, against the
 * kernel's own memory cgroups, /proc and dmesg. kmem is switched on the way runc's code does it (1, then
 * -1) and inherited the way the kernel does it (memory.use_hierarchy=1); the kubelet is a process
 * exec'ing the file on disk, replaced the way rpm replaces it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { UID, CTR } from "../verify/helpers/scenarios.js";
import {
  K73,
  K79,
  gnuPair,
  kubeletBinaries,
  stripClock,
  printRecord,
  record,
  runVm,
  said,
  unavailable,
  verdicts,
  type VmRun,
  type VmVerdict,
} from "./helpers/vm.js";

const WHY = unavailable();
const TMP = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "el7-fix-states-"));
afterAll(() => {
  printRecord(
    "fix states verified by verify-kmem.sh inside the EL7 VM (state, kernel, fix state, exits, shells):",
  );
  rmSync(TMP, { recursive: true, force: true });
});
const BINS = WHY ? { kmem: "", nokmem: "" } : kubeletBinaries(TMP);
const GNU = WHY ? [] : gnuPair();
const FILES = [BINS.kmem, BINS.nokmem, ...GNU];
const POD2 = "4e7fcd31-3092-4fb1-a05d-8ea16c4d5f04";
const CTR2 = "c2".repeat(32);
const ENV = { POD_UID: UID.B, CTR_ID: CTR.b1, POD2, CTR2 };
const SHELLS = GNU.length ? ["busybox", "bash+gawk"] : ["busybox"];

/** The verdicts of one label, the same under every shell (but the clock). */
function one(v: VmVerdict[], label: string): VmVerdict {
  const got = v.filter((x) => x.label === label);
  expect(got.map((x) => x.shell)).toEqual(SHELLS);
  for (const x of got.slice(1)) {
    expect(stripClock(x.report)).toEqual(stripClock(got[0]!.report));
    expect([x.code, x.reboot]).toEqual([got[0]!.code, got[0]!.reboot]);
  }
  for (const x of got) expect(x.rebootOutput, "--reboot-required prints nothing").toBe(0);
  return got[0]!;
}

function check(v: VmVerdict, id: string) {
  const c = v.report.checks.find((x) => x.id === id);
  expect(c, id).toBeDefined();
  return c!;
}

function accounting(v: VmVerdict): string[] {
  return v.report.cgroups.map((g) => `${g.level} ${g.path} ${g.kmem_accounting}`);
}

if (WHY) {
  test.skip(`real EL7 kernel tier skipped: ${WHY}`, () => {});
} else {
  describe.each(["cgroupfs", "systemd"] as const)("7.9 without the boot parameter, %s layout", (layout) => {
    let run: VmRun;
    let v: VmVerdict[];
    const u = layout === "cgroupfs" ? "" : "kubepods.slice";
    test("one boot: old kubelet, binary replaced, restarted, a pod created after the restart", async () => {
      run = await runVm({
        kernel: K79,
        files: FILES,
        env: { ...ENV, LAYOUT: layout },
        script: `
gnu_setup
install_kubelet /root/kubelet-kmem kmem
start_kubelet
kubepods $LAYOUT && pod $LAYOUT $POD_UID $CTR_ID || say error creating the node
P=$(pod_dir $LAYOUT $POD_UID)
say states $(for d in ${u || "kubepods"} $P $(ctr_dir $LAYOUT $P $CTR_ID); do state $d; done)
say kmem $(cat $M/$P/memory.kmem.usage_in_bytes)
verify old-kubelet
install_kubelet /root/kubelet-nokmem nokmem
say exe $(readlink /proc/$KUBELET_PID/exe)
verify binary-replaced
stop_kubelet
start_kubelet
verify restarted
pod $LAYOUT $POD2 $CTR2 || say error creating the second pod
say pod2 $(state $(pod_dir $LAYOUT $POD2)) $(cat $M/$(pod_dir $LAYOUT $POD2)/memory.kmem.limit_in_bytes)
verify restarted-new-pod
`,
      });
      expect(run.rc, run.console).toBe(0);
      expect(run.uname).toBe("3.10.0-1160.el7.x86_64");
      v = verdicts(run);
      const s = said(run);
      expect(s.error).toBeUndefined();
      // kubepods, the pod and its container: all switched on (the container by inheritance)
      expect(s.states).toBe("on on on");
      expect(Number(s.kmem)).toBeGreaterThan(0);
      // 3.10's rename over a running file: the deleted old file takes the name of rpm's temp file
      expect(s.exe).toBe("/usr/bin/kubelet;5f3c9a1e (deleted)");
      // created by the nokmem kubelet (mkdir only): on, inherited from the armed parents; the limit not copied
      expect(s.pod2).toBe("on 9223372036854771712");
    });

    test("old kubelet: install (the boot parameter offered on 7.9), kured's sentinel exits 1", () => {
      const x = one(v, "old-kubelet");
      record(
        `${layout}: old kubelet running`,
        v.filter((y) => y.label === "old-kubelet"),
        "3.10.0-1160 (7.9)",
      );
      expect([x.report.fix_state, x.code, x.reboot]).toEqual(["install", 1, 1]);
      expect(x.report.next_step).toMatch(/^either boot with cgroup.memory=nokmem/);
      expect(check(x, "kmem-accounting-active").status).toBe("FAIL");
      expect(check(x, "kubelet-binary").status).toBe("FAIL");
      expect(x.report.node.cgroup_driver).toBe(layout);
      expect(accounting(x).every((a) => a.endsWith(" active"))).toBe(true);
      expect(x.report.running_kubelet).toMatchObject({
        found_by: "proc",
        exe: "/usr/bin/kubelet",
        matches: "same",
      });
      expect(x.report.node.kernel).toBe("3.10.0-1160.el7.x86_64");
    });

    test("binary replaced, old process running: restart, sentinel exits 1", () => {
      const x = one(v, "binary-replaced");
      record(
        `${layout}: nokmem binary installed`,
        v.filter((y) => y.label === "binary-replaced"),
        "3.10.0-1160 (7.9)",
      );
      expect([x.report.fix_state, x.code, x.reboot]).toEqual(["restart", 1, 1]);
      expect(x.report.running_kubelet).toMatchObject({
        exe: "/usr/bin/kubelet;5f3c9a1e (deleted)",
        matches: "deleted",
      });
      expect(check(x, "kubelet-binary").status).toBe("PASS");
    });

    test("restarted: reboot, sentinel exits 0; a pod created by the nokmem kubelet still accounts", () => {
      const x = one(v, "restarted");
      record(
        `${layout}: nokmem kubelet restarted`,
        v.filter((y) => y.label === "restarted"),
        "3.10.0-1160 (7.9)",
      );
      expect([x.report.fix_state, x.code, x.reboot]).toEqual(["reboot", 1, 0]);
      expect(x.report.running_kubelet).toMatchObject({ exe: "/usr/bin/kubelet", matches: "same" });
      const y = one(v, "restarted-new-pod");
      record(
        `${layout}: new pod after the restart`,
        v.filter((z) => z.label === "restarted-new-pod"),
        "3.10.0-1160 (7.9)",
      );
      expect([y.report.fix_state, y.code, y.reboot]).toEqual(["reboot", 1, 0]);
      expect(y.report.cgroups.filter((g) => g.level === "pod").map((g) => g.kmem_accounting)).toEqual([
        "active",
        "active",
      ]);
    });

    test("rebooted (a fresh boot, the nokmem kubelet creates everything): fixed, sentinel exits 1", async () => {
      const r = await runVm({
        kernel: K79,
        files: FILES,
        env: { ...ENV, LAYOUT: layout },
        script: `
gnu_setup
install_kubelet /root/kubelet-nokmem nokmem
start_kubelet
kubepods $LAYOUT && pod $LAYOUT $POD_UID $CTR_ID || say error creating the node
P=$(pod_dir $LAYOUT $POD_UID)
say states $(for d in ${u || "kubepods"} $P $(ctr_dir $LAYOUT $P $CTR_ID); do state $d; done)
say kmem $(cat $M/$P/memory.kmem.usage_in_bytes)
verify rebooted
`,
      });
      expect(r.rc, r.console).toBe(0);
      const s = said(r);
      expect([s.error, s.states, s.kmem]).toEqual([undefined, "off off off", "0"]);
      const all = verdicts(r);
      const x = one(all, "rebooted");
      record(`${layout}: rebooted`, all, "3.10.0-1160 (7.9)");
      expect([x.report.fix_state, x.code, x.reboot]).toEqual(["fixed", 0, 1]);
      expect(check(x, "kmem-accounting-active").status).toBe("PASS");
      expect(accounting(x).every((a) => a.endsWith(" inactive"))).toBe(true);
    });
  });

  test("7.9 booted with cgroup.memory=nokmem: runc's writes are ignored, not-affected, sentinel exits 1", async () => {
    const r = await runVm({
      kernel: K79,
      cmdline: "cgroup.memory=nokmem",
      files: FILES,
      env: { ...ENV, LAYOUT: "cgroupfs" },
      script: `
gnu_setup
install_kubelet /root/kubelet-kmem kmem
start_kubelet
kubepods $LAYOUT && pod $LAYOUT $POD_UID $CTR_ID || say error creating the node
P=$(pod_dir $LAYOUT $POD_UID)
mkdir $M/probe && echo 104857600 >$M/probe/memory.kmem.limit_in_bytes && say write accepted
say probe-limit $(cat $M/probe/memory.kmem.limit_in_bytes)
rmdir $M/probe
say states $(for d in kubepods $P $P/$CTR_ID; do state $d; done)
say kmem $(cat $M/$P/memory.kmem.usage_in_bytes)
verify nokmem-param
`,
    });
    expect(r.rc, r.console).toBe(0);
    const s = said(r);
    expect(s.error).toBeUndefined();
    expect(s.write).toBe("accepted");
    expect(s["probe-limit"]).toBe("9223372036854771712");
    expect([s.states, s.kmem]).toEqual(["off off off", "0"]);
    const all = verdicts(r);
    const x = one(all, "nokmem-param");
    record("cgroupfs: old kubelet, cgroup.memory=nokmem", all, "3.10.0-1160 (7.9)");
    expect([x.report.fix_state, x.code, x.reboot]).toEqual(["not-affected", 0, 1]);
    expect(check(x, "kernel-kmem-policy").status).toBe("PASS");
    expect(x.report.node.kernel_nokmem_param).toBe(true);
    // the old kubelet is still said, but not a FAIL while the kernel ignores its writes
    expect(check(x, "kubelet-binary").status).toBe("WARN");
  });

  test("7.3 booted with cgroup.memory=nokmem: the parameter changes nothing, verify WARNs naming the build", async () => {
    const r = await runVm({
      kernel: K73,
      cmdline: "cgroup.memory=nokmem",
      files: FILES,
      env: { ...ENV, LAYOUT: "cgroupfs" },
      script: `
gnu_setup
install_kubelet /root/kubelet-kmem kmem
start_kubelet
kubepods $LAYOUT && pod $LAYOUT $POD_UID $CTR_ID || say error creating the node
P=$(pod_dir $LAYOUT $POD_UID)
say cmdline $(cat /proc/cmdline)
say states $(for d in kubepods $P $P/$CTR_ID; do state $d; done)
say kmem $(cat $M/$P/memory.kmem.usage_in_bytes)
verify param-ignored
install_kubelet /root/kubelet-nokmem nokmem
stop_kubelet
start_kubelet
verify param-ignored-restarted
`,
    });
    expect(r.rc, r.console).toBe(0);
    expect(r.uname).toBe("3.10.0-514.el7.x86_64");
    const s = said(r);
    expect(s.error).toBeUndefined();
    expect(s.cmdline).toContain("cgroup.memory=nokmem");
    expect(s.states).toBe("on on on");
    expect(Number(s.kmem)).toBeGreaterThan(0);
    const all = verdicts(r);
    const x = one(all, "param-ignored");
    record(
      "cgroupfs: old kubelet, cgroup.memory=nokmem",
      all.filter((y) => y.label === "param-ignored"),
      "3.10.0-514 (7.3)",
    );
    expect([x.report.fix_state, x.code, x.reboot]).toEqual(["install", 1, 1]);
    const k = check(x, "kernel-kmem-policy");
    expect(k.status).toBe("WARN");
    expect(k.seen).toContain("kernel 3.10.0-514.el7.x86_64 ignores cgroup.memory=nokmem");
    expect(k.seen).toContain("needs RHEL 7.8 (3.10.0-1127) or later");
    expect(x.human).toContain(
      "[WARN] kernel-kmem-policy: kernel 3.10.0-514.el7.x86_64 ignores cgroup.memory=nokmem",
    );
    // no "either boot with cgroup.memory=nokmem": this kernel does not know it
    expect(x.report.next_step).toMatch(/^install the nokmem kubelet/);
    const y = one(all, "param-ignored-restarted");
    record(
      "cgroupfs: nokmem kubelet restarted, parameter",
      all.filter((z) => z.label === "param-ignored-restarted"),
      "3.10.0-514 (7.3)",
    );
    expect([y.report.fix_state, y.code, y.reboot]).toEqual(["reboot", 1, 0]);
  });

  test("a memcg OOM kill made by kmem, read back from the kernel's own dmesg", async () => {
    const OOM_UID = "5f80de42-41a3-4ac2-b16e-9fb27e5e6f05";
    const OOM_CTR = "d0".repeat(32);
    const r = await runVm({
      kernel: K79,
      files: FILES,
      env: { ...ENV, OOM_UID, OOM_CTR },
      script: `
gnu_setup
install_kubelet /root/kubelet-kmem kmem
start_kubelet
kubepods cgroupfs || say error creating the node
P=kubepods/burstable/pod$OOM_UID
kubelet_creates $P 33554432 && mkdir $M/$P/$OOM_CTR || say error creating the pod
# the container: 40000 files on a tmpfs (slab charged to it, about 24 MiB, not reclaimable: they are the
# files), then 16 MiB of string built by awk, in user space: over the 32 MiB limit only because of the
# kmem. (dd reading /dev/zero into its buffer faults the pages in from the kernel's copy, where 3.10
# fails the memcg charge with a short read instead of an OOM kill now and then: dd exited 0.)
sh -c 'echo $$ >"$1/cgroup.procs"; mkdir /tmp/oom && cd /tmp/oom || exit 1
  i=0; while [ $i -lt 40 ]; do mkdir d$i && (cd d$i && seq 1 1000 | xargs touch 2>/dev/null); i=$((i + 1)); done
  echo "@@SAY filled $(cat "$2/memory.kmem.usage_in_bytes") $(cat "$2/memory.usage_in_bytes")"
  exec awk "BEGIN { s = 1; while (length(s) < 16777216) s = s s; print length(s) }"' sh $M/$P/$OOM_CTR $M/$P
say oom-exit $?
dmesg | grep -E "invoked oom-killer|Task in|^.{15}kmem: usage|Killed process" | sed 's/^/@@SAY dmesg /'
verify oom-kill
`,
    });
    expect(r.rc, r.console).toBe(0);
    const s = said(r);
    expect(s.error).toBeUndefined();
    expect(s["oom-exit"]).toBe("137");
    const [kmem, usage] = s.filled!.split(" ").map(Number);
    expect(kmem! / usage!).toBeGreaterThan(0.5);
    const all = verdicts(r);
    const x = one(all, "oom-kill");
    record("cgroupfs: old kubelet, kmem OOM kill in dmesg", all, "3.10.0-1160 (7.9)");
    expect([x.report.fix_state, x.code, x.reboot]).toEqual(["install", 1, 1]);
    expect(x.report.kernel_log.source).toBe("dmesg");
    expect(x.report.oom_kills).toHaveLength(1);
    const k = x.report.oom_kills[0]!;
    expect(k).toMatchObject({
      // the limit that was hit is the pod's: the kill is the pod's, its task in the container
      level: "pod",
      pod_uid: OOM_UID,
      container: OOM_CTR,
      memcg: `/kubepods/burstable/pod${OOM_UID}`,
      task_memcg: `/kubepods/burstable/pod${OOM_UID}/${OOM_CTR}`,
      limit_bytes: 33554432,
      kmem_caused: true,
      source: "dmesg",
      process: { name: "awk" },
    });
    expect(k.kmem_share!).toBeGreaterThan(0.5);
    expect(k.history ?? false).toBe(false);
    expect(check(x, "oom-kills-kmem").status).toBe("FAIL");
  });
}
