# check kmem-accounting-active: whether accounting is switched on (memory.kmem.slabinfo readable) in kubepods, its QoS parents, pods or containers, even at 0 bytes
# reads: memver, kge, nokmem, kernel, anyact, anyin, paract, parunk, pars, pact, cact, aunk, np, nc; NCG, NPA
# thresholds: none
# causes: kernel, kubelet, runtime
# remedies: through fixfor() (report/fixstate.awk): the node next step where its fix state is about the cause
# (its place and title: checks.tsv; the facts: report/facts.awk; helpers: report.awk, lib.awk)

function check_kmem_accounting_active(   armed, s) {
  armed = "armed: on 3.10 accounting once on stays on for the life of the cgroup (and, with memory.use_hierarchy=1 as systemd sets it, is inherited by every cgroup created under it), so slab memory, leaked memcg IDs and hidden OOM kills follow even at 0 bytes now (a 6 GB pod was OOM-killed at 2.5 GB rss + cache, 3.4 GB of it kmem)"
  if (memver != "v1" || (NCG == 0 && NPA == 0)) check("kmem-accounting-active", "INFO", (memver == "v2" ? "cgroup v2: not applicable" : "no pod or container cgroups to look at"), "", "", 1)
  else if (kge == 1 && nokmem) check("kmem-accounting-active", "PASS", "off in every memory cgroup (kernel " kernel " >= 4.6 with cgroup.memory=nokmem)", "", "", 1)
  else if (kge == 1) check("kmem-accounting-active", "INFO", "on in every memory cgroup: kernel " kernel " >= 4.6 accounts kmem unless booted with cgroup.memory=nokmem", "", "kernel", 1)
  else if (anyact + anyin == 0) check("kmem-accounting-active", "WARN", "memory.kmem.slabinfo not readable as a signal here: cannot tell per cgroup", "", "", 0)
  else if (paract + pact + cact > 0) {
    s = "accounting on (memory.kmem.slabinfo readable) in " (paract > 0 ? pars " (" paract " of " NPA " kubepods/QoS parents), " : "") pact " of " np " pod cgroups and " cact " of " nc " container cgroups"
    if (paract > 0) check("kmem-accounting-active", "FAIL", s ": every pod created under " (paract == 1 ? "it" : "them") " inherits accounting until the node reboots; " armed, fixfor("kubelet", "drain and reboot the node (after the nokmem kubelet is installed and running)"), "kubelet", 1)
    else if (pact > 0) check("kmem-accounting-active", "FAIL", s ": pod level is the kubelet (containers inherit it); " armed, fixfor("kubelet", FIXW["kubelet"]), "kubelet", 1)
    else check("kmem-accounting-active", "FAIL", s ": only at container level, so the runc of the container runtime switches it on; " armed, fixfor("runtime", FIXW["runtime"]), "runtime", 1)
  } else check("kmem-accounting-active", "PASS", "off in all " NPA " kubepods/QoS parents, " np " pod and " nc " container cgroups (memory.kmem.slabinfo fails to read)" (aunk + parunk > 0 ? "; " (aunk + parunk) " not probed" : ""), "", "", 1)
}
