# check kmem-stays-zero: whether kernel memory stayed at 0 in every sample (--duration, --interval)
# reads: dur, itv, memver, kmemcause; NCG, NS, SNZ, SMAX, SMAXAT, SMAXP
# thresholds: none: any byte in any sample is a FAIL
# causes: kernel
# remedies: through fixfor() (report/fixstate.awk): the node next step where its fix state is about the cause
# (its place and title: checks.tsv; the facts: report/facts.awk; helpers: report.awk, lib.awk)

function check_kmem_stays_zero(   s) {
  if (dur == "") check("kmem-stays-zero", "INFO", "one sample taken; pass --duration 10m --interval 10s to watch", "", "", 1)
  else if (memver != "v1" || NCG == 0) check("kmem-stays-zero", "INFO", NS " samples over " dur " s: no kmem counters to watch", "", "", 1)
  else {
    s = NS " samples over " dur " s every " itv " s"
    if (SMAX + 0 > 0) check("kmem-stays-zero", "FAIL", s ": " SNZ " samples non-zero, maximum " hb(SMAX) " at " SMAXAT " in " jesc(SMAXP), \
      (kmemcause == "kernel" ? fixfor("kernel", FIXW["kernel"]) : "see pod-cgroups-kmem and container-cgroups-kmem"), (kmemcause == "kernel" ? "kernel" : ""), 1)
    else check("kmem-stays-zero", "PASS", s ": every pod and container cgroup read 0 in every sample", "", "", 1)
  }
}
