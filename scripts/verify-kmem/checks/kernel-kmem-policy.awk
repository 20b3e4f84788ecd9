# check kernel-kmem-policy: whether the kernel charges kernel memory to every memory cgroup by itself, and whether it honours cgroup.memory=nokmem
# reads: memver, kernel, nokmem, kge, kbuild, nkeff, anyact, anyin
# thresholds: none (kernel 4.6 and build 3.10.0-1127 are facts of the kernels)
# causes: kernel
# remedies: through fixfor() (report/fixstate.awk): the node next step where its fix state is about the cause
# (its place and title: checks.tsv; the facts: report/facts.awk; helpers: report.awk, lib.awk)

function check_kernel_kmem_policy() {
  if (memver == "v2") check("kernel-kmem-policy", "INFO", "kernel " kernel ", cgroup v2: no separate kmem accounting to switch off", "", "", 1)
  else if (memver == "") check("kernel-kmem-policy", "INFO", "kernel " kernel ": no memory cgroup hierarchy to judge", "", "", 1)
  else if (nokmem && kge == 1) check("kernel-kmem-policy", "PASS", "kernel " kernel " booted with cgroup.memory=nokmem: kernel memory is not charged to memory cgroups", "", "", 1)
  else if (nkeff) check("kernel-kmem-policy", "PASS", "kernel " kernel " booted with cgroup.memory=nokmem and memory.kmem.slabinfo fails to read in all " anyin " probed cgroups (kubepods, QoS parents, pods, containers): the kernel honours it", "", "", 1)
  else if (nokmem && anyact > 0) check("kernel-kmem-policy", "WARN", \
    "kernel " kernel " ignores cgroup.memory=nokmem: kmem accounting is on in " anyact " probed cgroups (memory.kmem.slabinfo reads); the parameter needs RHEL 7.8 (3.10.0-1127) or later" \
    (kbuild >= 1127 ? " and this build should know it: check that it is the booted kernel" : ", and kernel build " kernel " predates it"), \
    (kbuild >= 1127 ? "reboot into this kernel with the parameter, or install the nokmem kubelet built by kmem-build; then drain and reboot" : "upgrade the kernel to 3.10.0-1127 (RHEL 7.8) or later and reboot, or install the nokmem kubelet built by kmem-build and reboot"), "kernel", 1)
  else if (nokmem) check("kernel-kmem-policy", "WARN", "kernel " kernel " booted with cgroup.memory=nokmem, but no memory.kmem.slabinfo could be probed: cannot tell whether the kernel honours it (it needs RHEL 7.8 (3.10.0-1127) or later)", "", "", 0)
  else if (kge < 0) check("kernel-kmem-policy", "WARN", "kernel version " (kernel == "" ? "unknown" : "\"" kernel "\" not understood") ": cannot tell whether it charges kmem to every memory cgroup", "", "", 1)
  else if (kge == 1) check("kernel-kmem-policy", "WARN", \
    "kernel " kernel " (>= 4.6) charges kernel memory to every memory cgroup by itself, whatever the kubelet does: cgroup.memory=nokmem is not on the kernel command line", \
    fixfor("kernel", "add cgroup.memory=nokmem to the kernel command line and reboot (EL: grubby --update-kernel=ALL --args=cgroup.memory=nokmem)"), "kernel", 1)
  else check("kernel-kmem-policy", "INFO", \
    "kernel " kernel " accounts kernel memory only in cgroups where a finite memory.kmem.limit_in_bytes was written (runc code in the kubelet or the runtime writes 1, then -1; -1 alone switches nothing on) and in cgroups created under them (memory.use_hierarchy=1)", "", "", 1)
}
