# check leaked-memcgs: how near the kernel is to running out of memory cgroup IDs, and how many deleted cgroups it still holds
# reads: numcg, cmp, leaked, rootok, root; NDIRS; fact(proc)
# thresholds: LIMIT, LEAK_WARN (FAIL at LIMIT memcg IDs, WARN from the share LEAK_WARN of it on)
# causes: none
# (its place and title: checks.tsv; the facts: report/facts.awk; helpers: report.awk, lib.awk)

function check_leaked_memcgs(   s, lf) {
  if (!num(numcg)) check("leaked-memcgs", "INFO", "memory controller not listed in " fact("proc") "/cgroups", "", "", 1)
  else {
    s = numcg " memory cgroups in the kernel (" fact("proc") "/cgroups)"
    if (cmp) s = s ", " NDIRS " directories under " root ": " leaked " deleted but not freed"
    else if (!rootok) s = s "; no memory cgroup directories to compare"
    else s = s "; directories not compared (scanned " root ", not the whole hierarchy)"
    lf = "find what pins deleted memory cgroups (kmem accounting on 3.10 kernels does) and drain and reboot the node before mkdir fails with \"no space left on device\""
    if (numcg + 0 >= LIMIT) check("leaked-memcgs", "FAIL", s "; at the limit of " LIMIT ": new cgroups cannot be created", lf, "", 1)
    else if (numcg + 0 >= LIMIT * LEAK_WARN) check("leaked-memcgs", "WARN", s "; nearing the limit of " LIMIT, lf, "", 1)
    else check("leaked-memcgs", "PASS", s "; limit " LIMIT, "", "", 1)
  }
}
