# check pod-cgroups-kmem: whether pod cgroups have kernel memory charged, and who switched accounting on (kubelet at pod level, runtime through containers)
# reads: layout, rootok, havekp, memver, np, pnz, pmax, pmi, pmiss, pkub, prt, kmemcause, kmemfile, kall, kerneltxt; KPP, KF
# thresholds: none: any byte of kmem is a FAIL
# causes: kernel, kubelet, runtime
# remedies: through fixfor() (report/fixstate.awk): the node next step where its fix state is about the cause
# (its place and title: checks.tsv; the facts: report/facts.awk; helpers: report.awk, lib.awk)

function check_pod_cgroups_kmem(   s) {
  if (unjudged("pod-cgroups-kmem", np " pod cgroups; cgroup v2 has no separate kmem counter (kernel memory is in memory.current, see hidden_bytes)", \
    "run on a Kubernetes node, or pass --cgroup-root DIR")) return
  if (pnz > 0) {
    s = pnz " of " np " pod cgroups have kernel memory charged (largest: " hb(pmax) " in pod " podref(pmi) ", kmem failcnt " (num(KF[pmi]) ? KF[pmi] : "?") ")"
    if (kmemcause == "kernel") check("pod-cgroups-kmem", "FAIL", s "; " kerneltxt, fixfor("kernel", FIXW["kernel"]), "kernel", 1)
    else if (pkub > 0) check("pod-cgroups-kmem", "FAIL", s "; " pkub " of them account kmem at pod level: the kubelet switched it on (its vendored runc writes memory.kmem.limit_in_bytes)" \
      (prt > 0 ? "; " prt " only through containers the runtime set up (see container-cgroups-kmem)" : ""), fixfor("kubelet", FIXW["kubelet"]), "kubelet", 1)
    else check("pod-cgroups-kmem", "FAIL", s "; pod-level accounting is off: the charge comes from containers whose runtime (runc) switched kmem on", fixfor("runtime", FIXW["runtime"]), "runtime", 1)
  } else if (pmiss == np && !kmemfile) {
    check("pod-cgroups-kmem", "PASS", "the kernel has no memory.kmem.usage_in_bytes: no kmem accounting (" np " pod cgroups)", "", "", 1)
  } else if (pmiss > 0) {
    check("pod-cgroups-kmem", "WARN", "could not read memory.kmem.usage_in_bytes of " pmiss " of " np " pod cgroups (missing, unreadable or not a byte count); the others read 0", "", "", 0)
  } else {
    s = "all " np " pod cgroups read 0 bytes of kernel memory"
    if (kall == 1) s = s " (the kernel would charge kmem: see kernel-kmem-policy)"
    check("pod-cgroups-kmem", "PASS", s, "", "", 1)
  }
}
