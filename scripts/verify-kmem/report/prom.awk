# prom.awk (part of report.awk): the Prometheus textfile (--prometheus FILE).

function prom(f,   i, lb) {
  print "# kmem-build verify-kmem.sh " fact("version") " at " fact("timestamp") > f
  pm(f, "kmem_build_verify_exit_code", "gauge", "Exit code of verify-kmem.sh: 0 OK, 1 problem, 2 unknown")
  print "kmem_build_verify_exit_code " code > f
  pm(f, "kmem_build_verify_timestamp_seconds", "gauge", "When verify-kmem.sh last ran (Unix time)")
  print "kmem_build_verify_timestamp_seconds " (num(fact("epoch")) ? fact("epoch") : 0) > f
  pm(f, "kmem_build_fix_state", "gauge", "1 for the fix state of the node, 0 for the others")
  for (i = 1; i <= NST; i++) print "kmem_build_fix_state{state=\"" STN[i] "\"} " (STN[i] == FIX ? 1 : 0) > f
  pm(f, "kmem_build_check_status", "gauge", "1 for the current status of each verify-kmem.sh check")
  for (i = 1; i <= NCK; i++) print "kmem_build_check_status{check=\"" CID[i] "\",status=\"" CST[i] "\"} 1" > f
  pm(f, "kmem_build_kernel_charges_all_memcgs", "gauge", "1 if the kernel charges kmem to every memory cgroup (v1, >= 4.6, no cgroup.memory=nokmem)")
  print "kmem_build_kernel_charges_all_memcgs " (kall == 1 ? 1 : 0) > f
  pser(f, "kmem_build_cgroup_usage_bytes", "US", "memory.usage_in_bytes (v2: memory.current) of a pod or container cgroup")
  pser(f, "kmem_build_cgroup_rss_bytes", "RSSV", "total_rss (v2: anon) of a pod or container cgroup")
  pser(f, "kmem_build_cgroup_cache_bytes", "CA", "total_cache (v2: file) of a pod or container cgroup")
  pser(f, "kmem_build_cgroup_kmem_usage_bytes", "KM", "memory.kmem.usage_in_bytes of a pod or container cgroup")
  pser(f, "kmem_build_cgroup_kmem_max_usage_bytes", "KX", "memory.kmem.max_usage_in_bytes of a pod or container cgroup")
  pser(f, "kmem_build_cgroup_kmem_failcnt", "KF", "memory.kmem.failcnt of a pod or container cgroup")
  pser(f, "kmem_build_cgroup_hidden_bytes", "HID", "usage - (rss + cache) of a pod or container cgroup")
  pser(f, "kmem_build_cgroup_kmem_accounting_active", "ACT", "1 if kmem accounting is on for the cgroup")
  if (num(numcg)) {
    pm(f, "kmem_build_memcgs", "gauge", "Memory cgroups the kernel holds (/proc/cgroups num_cgroups)")
    print "kmem_build_memcgs " dnum(numcg) > f
  }
  if (cmp) {
    pm(f, "kmem_build_memcg_directories", "gauge", "Memory cgroup directories present")
    print "kmem_build_memcg_directories " dnum(NDIRS) > f
    pm(f, "kmem_build_memcgs_leaked", "gauge", "Memory cgroups deleted but not freed by the kernel")
    print "kmem_build_memcgs_leaked " leaked > f
  }
  pser(f, "kmem_build_cgroup_limit_bytes", "LIM", "memory.limit_in_bytes (v2: memory.max) of a pod or container cgroup, when limited")
  if (fact("klsrc") != "") {
    pm(f, "kmem_build_oom_kills_total", "counter", "memcg OOM kills of a pod or its containers found in the kernel log among the last " OOM_KEEP " listed")
    for (i = 1; i <= NPO; i++) print "kmem_build_oom_kills_total" oomlb(PORD[i]) " " PKALL[PORD[i]] > f
    pm(f, "kmem_build_oom_kills_kmem_total", "counter", "memcg OOM kills of a pod or its containers with kernel memory >= " share(KMEM_SHARE) " of usage (kmem made the kill) among the last " OOM_KEEP " listed")
    for (i = 1; i <= NPO; i++) print "kmem_build_oom_kills_kmem_total" oomlb(PORD[i]) " " PKKM[PORD[i]] > f
    pm(f, "kmem_build_oom_kills_history_total", "counter", "memcg OOM kills of a pod or its containers from before the current boot or --since (history, never a FAIL) among the last " OOM_KEEP " listed")
    for (i = 1; i <= NPO; i++) print "kmem_build_oom_kills_history_total" oomlb(PORD[i]) " " PKH[PORD[i]] > f
    # the per-pod series above cover the listed kills only (at most OOM_KEEP pods); these count all
    lb = "{source=\"" klsrc "\",authenticated=\"" (klauth ? "true" : "false") "\"}"
    pm(f, "kmem_build_oom_kills_all_total", "counter", "memcg OOM kills of pod/container cgroups found in the kernel log, listed or not")
    print "kmem_build_oom_kills_all_total" lb " " (NOKALL + 0) > f
    pm(f, "kmem_build_oom_kills_all_kmem_total", "counter", "of those, kills with kernel memory >= " share(KMEM_SHARE) " of usage (not history)")
    print "kmem_build_oom_kills_all_kmem_total" lb " " (OKALLKM + 0) > f
    pm(f, "kmem_build_oom_kills_all_history_total", "counter", "of those, kills from before the current boot or --since")
    print "kmem_build_oom_kills_all_history_total" lb " " (OKALLH + 0) > f
    pm(f, "kmem_build_oom_kills_not_listed", "gauge", "memcg OOM kills of pod/container cgroups counted but not listed per pod (earlier than the last " OOM_KEEP ")")
    print "kmem_build_oom_kills_not_listed" lb " " (NOKALL - NOK) > f
  }
  if (dur != "") {
    pm(f, "kmem_build_sampled_kmem_max_bytes", "gauge", "Largest kmem usage seen in any pod or container cgroup while sampling")
    print "kmem_build_sampled_kmem_max_bytes " (num(SMAX) ? dnum(SMAX) : 0) > f
  }
  close(f)
}
# labels of a pod in the OOM kill series: its uid, and its namespace and name when known ("" if not)
function oomlb(uid) {
  wnames(uid, "")
  return "{pod_uid=\"" pesc(uid) "\",pod_namespace=\"" pesc(WN) "\",pod_name=\"" pesc(WP) "\",source=\"" klsrc "\",authenticated=\"" (klauth ? "true" : "false") "\"}"
}
function pm(f, name, type, help) { print "# HELP " name " " help > f; print "# TYPE " name " " type > f }
# the gauge name of every pod and container cgroup: what (US, RSSV, CA, KM, KX, KF, HID, LIM, ACT) its value
function pser(f, name, what, help,   i, v, lb) {
  pm(f, name, "gauge", help)
  for (i = 1; i <= NCG; i++) {
    if (what == "US") v = US[i]; else if (what == "RSSV") v = RSSV[i]; else if (what == "CA") v = CA[i]
    else if (what == "KM") v = KM[i]; else if (what == "KX") v = KX[i]; else if (what == "KF") v = KF[i]
    else if (what == "HID") v = hidden(i); else if (what == "LIM") v = LIM[i]
    else v = (ACT[i] == "active" ? "1" : (ACT[i] == "inactive" ? "0" : ""))
    if (!num(v)) continue
    lb = "{level=\"" L[i] "\",qos=\"" Q[i] "\",pod_uid=\"" pesc(U[i]) "\",container=\"" pesc(C[i]) "\",pod_namespace=\"" pesc(RN[i]) "\",pod_name=\"" pesc(RP[i]) "\",container_name=\"" pesc(RC[i]) "\"}"
    print name lb " " dnum(v) > f
  }
}
