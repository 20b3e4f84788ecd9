# check oom-headroom: whether a limited pod or container is near its limit as the OOM killer counts it (usage) while rss + cache, what dashboards show, is not
# reads: nlim, nhw, hmax, hmi, kmemfix, kmemwho; HW, UR, DR, U, C, LIM, US, RSSV, CA
# thresholds: HEADROOM_USAGE, HEADROOM_SEEN (WARN where usage / limit is above the first while (rss + cache) / limit is below the second)
# causes: kernel, kubelet
# remedies: through fixfor() (report/fixstate.awk): the node next step where its fix state is about the cause
# (its place and title: checks.tsv; the facts: report/facts.awk; helpers: report.awk, lib.awk)

function check_oom_headroom(   i, n, hws) {
  hws = ""; n = 0
  for (i = 1; i <= NCG; i++)
    if (HW[i] && ++n <= 5) hws = hws "; " who(U[i], C[i]) " at " pct(UR[i]) " of its " hb(LIM[i]) " limit (usage " hb(US[i]) ") while rss + cache is " pct(DR[i]) " (" hb(sprintf("%.0f", RSSV[i] + CA[i])) "): HIDDEN " hb(hidden(i))
  if (nhw > 5) hws = hws "; " (nhw - 5) " more"
  if (nlim == 0) check("oom-headroom", "INFO", "no pod or container cgroup has a memory limit", "", "", 1)
  else if (nhw > 0) check("oom-headroom", "WARN", nhw " of " nlim " memory-limited pod/container cgroups are above " share(HEADROOM_USAGE) " of their limit as the OOM killer counts it (usage) while rss + cache, what dashboards show, stays below " share(HEADROOM_SEEN) hws, fixfor(kmemwho, kmemfix), kmemwho, 1)
  else check("oom-headroom", "PASS", nlim " memory-limited pod/container cgroups; highest usage / limit " pct(hmax) " (" who(U[hmi], C[hmi]) ", rss + cache " (DR[hmi] == "" ? "?" : pct(DR[hmi])) ")", "", "", 1)
}
