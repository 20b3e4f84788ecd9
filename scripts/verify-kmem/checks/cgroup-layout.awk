# check cgroup-layout: which cgroup hierarchy holds the memory controller, and whether its root can be read
# reads: layout, memver, root, rootok; fact(mountinfo), fact(unified)
# thresholds: none
# causes: none
# (its place and title: checks.tsv; the facts: report/facts.awk; helpers: report.awk, lib.awk)

function check_cgroup_layout(   s) {
  if (layout == "unknown" || !rootok) {
    check("cgroup-layout", "WARN", \
      (layout == "unknown" ? "no memory cgroup controller found in " fact("mountinfo") : "memory cgroup root " root " is not a readable directory"), \
      "run on a node with the memory cgroup controller mounted, or pass --cgroup-root DIR", "", 0)
  } else if (layout == "v2") {
    check("cgroup-layout", "INFO", \
      "cgroup v2 (unified) at " root ": kernel memory is part of memory.current and cannot be accounted separately", "", "", 1)
  } else {
    s = (layout == "hybrid" ? "hybrid (v1 controllers, unified hierarchy at " fact("unified") ")" : "cgroup v1 (legacy)")
    check("cgroup-layout", "INFO", \
      s ": memory controller " memver " at " root, "", "", 1)
  }
}
