# check container-cgroups-kmem: whether container cgroups have kernel memory charged, and who switched accounting on
# reads: layout, rootok, havekp, memver, np, nc, cnz, cmax, cmi, cmiss, ckub, crt, kmemcause, kmemfile, kerneltxt; KPP
# thresholds: none: any byte of kmem is a FAIL
# causes: kernel, kubelet, runtime
# remedies: through fixfor() (report/fixstate.awk): the node next step where its fix state is about the cause
# (its place and title: checks.tsv; the facts: report/facts.awk; helpers: report.awk, lib.awk)

function check_container_cgroups_kmem(   s) {
  if (unjudged("container-cgroups-kmem", nc " container cgroups; cgroup v2 has no separate kmem counter", "")) return
  if (nc == 0) check("container-cgroups-kmem", "INFO", "no container cgroups under the " np " pod cgroups", "", "", 1)
  else if (cnz > 0) {
    s = cnz " of " nc " container cgroups have kernel memory charged (largest: " hb(cmax) " in container " ctrref(cmi) " of pod " podref(cmi) ")"
    if (kmemcause == "kernel") check("container-cgroups-kmem", "FAIL", s "; " kerneltxt, fixfor("kernel", FIXW["kernel"]), "kernel", 1)
    else if (crt > 0) check("container-cgroups-kmem", "FAIL", s "; " crt " of them switched on by the runtime (runc) under pod cgroups that do not account kmem" \
      (ckub > 0 ? "; " ckub " inherit it from pod cgroups the kubelet set up" : ""), fixfor("runtime", FIXW["runtime"]), "runtime", 1)
    else check("container-cgroups-kmem", "FAIL", s "; their pod cgroups account kmem too (containers inherit it from the pod cgroup the kubelet set up)", fixfor("kubelet", FIXW["kubelet"]), "kubelet", 1)
  } else if (cmiss == nc && !kmemfile) check("container-cgroups-kmem", "PASS", "the kernel has no memory.kmem.usage_in_bytes: no kmem accounting (" nc " container cgroups)", "", "", 1)
  else if (cmiss > 0) check("container-cgroups-kmem", "WARN", "could not read memory.kmem.usage_in_bytes of " cmiss " of " nc " container cgroups (missing, unreadable or not a byte count); the others read 0", "", "", 0)
  else check("container-cgroups-kmem", "PASS", "all " nc " container cgroups read 0 bytes of kernel memory", "", "", 1)
}
