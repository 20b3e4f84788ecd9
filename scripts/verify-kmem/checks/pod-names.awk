# check pod-names: whether the container runtime named the pods and containers (else they are shown by UID and ID)
# reads: np, nc; NCG, L, RP, RC; fact(names_source), fact(names_skipped), fact(names_timeout), fact(names_limit), fact(names_why), fact(euid)
# thresholds: none
# causes: none
# (its place and title: checks.tsv; the facts: report/facts.awk; helpers: report.awk, lib.awk)

function check_pod_names(   i, npn, ncn, src) {
  npn = 0; ncn = 0
  for (i = 1; i <= NCG; i++) { if (L[i] == "pod") { if (RP[i] != "") npn++ } else if (RC[i] != "") ncn++ }
  src = fact("names_source")
  if (fact("names_skipped") == 1) check("pod-names", "INFO", "not asked: --proc-root reads a fixture, not this node (pass --runtime-endpoint unix:///PATH to ask its runtime)", "", "", 1)
  else if (src != "") check("pod-names", "INFO", "names from " src ": " npn " of " np " pod cgroups and " ncn " of " nc " container cgroups named" \
    (fact("names_timeout") == 1 ? " (stopped after " fact("names_limit") " s: the rest by ID)" : ""), "", "", 1)
  else check("pod-names", "INFO", "no container runtime answered (" fact("names_why") "): pods are shown by UID", \
    (fact("euid") == "0" ? "" : "run as root, or ") "pass --runtime-endpoint unix:///PATH (the containerd, CRI-O or docker socket of the node)", "", 1)
}
