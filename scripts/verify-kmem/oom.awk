# oom.awk: kernel log (syslog file, journalctl -k, dmesg) -> one "oom" record per memcg OOM kill of
# a pod or container cgroup under SCOPE (the scanned root's path in the hierarchy), the last OOM_KEEP
# of them only (every kill is counted: anyone may append forged reports to a syslog file, and neither
# memory, the temp file nor the outputs may grow with them), then "oomlog<TAB>lines<TAB>memcg kills
# <TAB>kills of other memcgs<TAB>kills of pod cgroups outside SCOPE<TAB>kills of pod cgroups in SCOPE
# <TAB>of those kmem-caused (not history)<TAB>history (before CUT)".
# One streaming pass; exit 3 when the log had no lines.  Report formats: docs/domain.md, "Kernel OOM
# reports" (3.10: "Task in A killed as a result of limit of B"; >= 4.19: "oom-kill:...,oom_memcg=B,...").
# A kill is counted from "Task in" or "oom-kill:"; a report cut before either is not a kill.
# Environment: BTIME (boot time, epoch seconds), YEAR and MONTH (now, for syslog dates), SCOPE, CUT
# (epoch seconds: kills before it are history), TZOFF (the node offset, +hhmm, for syslog times).

# seconds since the epoch -> UTC ISO 8601 (days to civil date, no strftime: not in every awk)
function iso(e,   d, s, era, doe, yoe, y, doy, mp, dd, m) {
  d = int(e / 86400); s = e - d * 86400; d += 719468
  era = int(d / 146097); doe = d - era * 146097
  yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
  y = yoe + era * 400; doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
  mp = int((5 * doy + 2) / 153); dd = doy - int((153 * mp + 2) / 5) + 1
  m = mp < 10 ? mp + 3 : mp - 9; if (m <= 2) y++
  return sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, dd, int(s / 3600), int((s % 3600) / 60), s % 60)
}
function kb(v) { return (v ~ /^[0-9]+$/) ? sprintf("%.0f", v * 1024) : "" }
# One log line -> the kernel message in M and its wall-clock time in T ("" when the line has none).
# Returns 0 for lines of other programs (syslog tag not "kernel").
function strip(s,   a, n, p, y, mo) {
  T = ""
  if (substr(s, 1, 1) == "<" && s ~ /^<[0-9]+>/) s = substr(s, index(s, ">") + 1)
  if (s ~ /^[A-Z][a-z][a-z] +[0-9]+ [0-9][0-9]:[0-9][0-9]:[0-9][0-9] [^ ]+ [^ ]+ /) {
    n = split(substr(s, 1, 200), a, " ")
    if (a[5] !~ /^kernel(\[[0-9]+\])?:$/) return 0
    p = index(s, a[5] " "); s = substr(s, p + length(a[5]) + 1)
    mo = MON[a[1]]; y = YEAR; if (mo > MONTH + 0) y--
    if (mo) T = sprintf("%04d-%02d-%02dT%s", y, mo, a[2], a[3])
  } else if (s ~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9][^ ]* [^ ]+ [^ ]+ /) {
    n = split(substr(s, 1, 100), a, " ")
    if (a[3] !~ /^kernel(\[[0-9]+\])?:$/) return 0
    p = length(a[1]) + length(a[2]) + length(a[3]) + 4; s = substr(s, p)
    T = substr(a[1], 1, 19); a[1] = substr(a[1], 20); sub(/^\.[0-9]+/, "", a[1])
    if (a[1] ~ /^[+-][0-9][0-9][0-9][0-9]$/) a[1] = substr(a[1], 1, 3) ":" substr(a[1], 4)
    T = T a[1]
  }
  if (substr(s, 1, 1) == "[") {
    if (s ~ /^\[ *[0-9]+\.[0-9]+\] ?/) {
      if (T == "" && BTIME != "") { p = s; sub(/^\[ */, "", p); T = iso(BTIME + int(p)) }
      sub(/^\[ *[0-9]+\.[0-9]+\] ?/, "", s)
    } else if (s ~ /^\[[A-Z][a-z][a-z] [A-Z][a-z][a-z] +[0-9]+ [0-9][0-9]:[0-9][0-9]:[0-9][0-9] [0-9]+\] ?/) {
      n = split(substr(s, 2, index(s, "]") - 2), a, " ")
      if (T == "" && MON[a[2]]) T = sprintf("%04d-%02d-%02dT%s", a[5], MON[a[2]], a[3], a[4])
      s = substr(s, index(s, "]") + 1); sub(/^ /, "", s)
    }
  }
  M = s
  return 1
}
function reset() {
  OCG = ""; TCG = ""; US = ""; LI = ""; KM = ""; RSS = ""; CA = ""; TRS = ""; TCA = ""; AN = ""; FI = ""; KE = ""
  PID = ""; COMM = ""; PT = ""; PEND = 0; INST = 0
}
function flush(   lv, qos, uid, ctr, rss, cache, kmem, k) {
  if (!PEND || OCG == "") { reset(); return }
  KILLS++
  podof(TCG); lv = LV; uid = UID; ctr = CTR
  podof(OCG)
  if (LV == "") { OTHER++; reset(); return }
  if (SCOPE != "/" && OCG != SCOPE && substr(OCG, 1, length(SCOPE) + 1) != SCOPE "/") { OUTSIDE++; reset(); return }
  if (LV == "pod" && lv == "container" && uid == UID) CTR = ctr
  rss = (TRS != "") ? TRS : (RSS != "" ? RSS : AN)
  cache = (TCA != "") ? TCA : (CA != "" ? CA : FI)
  kmem = (KM != "") ? KM : KE
  REC[OOM_TIME] = PT; REC[OOM_MEMCG] = enc(OCG); REC[OOM_TASK] = enc(TCG); REC[OOM_LEVEL] = LV; REC[OOM_QOS] = QOS
  REC[OOM_UID] = enc(UID); REC[OOM_CTR] = enc(CTR); REC[OOM_USAGE] = US; REC[OOM_LIMIT] = LI; REC[OOM_KMEM] = kmem
  REC[OOM_RSS] = rss; REC[OOM_CACHE] = cache; REC[OOM_PID] = PID; REC[OOM_COMM] = enc(COMM)
  KEPT[++PODK] = record("oom", OOM_N)
  if (PODK > OOM_KEEP) delete KEPT[PODK - OOM_KEEP]
  if (history(PT, CUT, TZOFF)) HIST++
  else if ((k = kmemshare(kmem, US)) != "" && k >= KMEM_SHARE) KMC++
  reset()
}
function proc(s,   i, r) {
  r = substr(s, index(s, "process ") + 8)
  i = index(r, " ("); if (i < 2) return
  PID = substr(r, 1, i - 1); r = substr(r, i + 2)
  i = index(r, ") "); if (i == 0) i = index(r, ")")
  COMM = (i > 0) ? substr(r, 1, i - 1) : r
}
BEGIN {
  records()
  split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", a, " ")
  for (i = 1; i <= 12; i++) MON[a[i]] = i
  BTIME = ENVIRON["BTIME"]; YEAR = ENVIRON["YEAR"] + 0; MONTH = ENVIRON["MONTH"] + 0
  if (BTIME !~ /^[0-9]+$/) BTIME = ""
  SCOPE = ENVIRON["SCOPE"]; if (SCOPE == "") SCOPE = "/"
  CUT = ENVIRON["CUT"]; TZOFF = ENVIRON["TZOFF"]; ooms()
  KILLS = 0; OTHER = 0; OUTSIDE = 0; PODK = 0; KMC = 0; HIST = 0; reset()
}
NR == 1 { FIRST = $0 }
!INST && !/oom|emory|kmem: usage|Task in|Kill/ { next }
{
  if (!strip($0)) next
  m = M
  if (INST) {
    if (m ~ /^[a-z_]+ [0-9]+$/) {
      split(m, a, " ")
      if (a[1] == "cache") CA = a[2]; else if (a[1] == "rss") RSS = a[2]
      else if (a[1] == "total_cache") TCA = a[2]; else if (a[1] == "total_rss") TRS = a[2]
      else if (a[1] == "anon") AN = a[2]; else if (a[1] == "file") FI = a[2]; else if (a[1] == "kernel") KE = a[2]
      next
    }
    if (m ~ /^Tasks state|^\[ *pid *\]/) { INST = 0; next }
    if (m !~ /oom|emory|kmem: usage|Task in|Kill/) next
    INST = 0
  }
  if (index(m, "invoked oom-killer") > 0) { flush(); next }
  if (substr(m, 1, 8) == "Task in ") {
    if (PEND) flush()
    m = substr(m, 9); i = index(m, " killed as a result of limit of ")
    if (i == 0) next
    TCG = substr(m, 1, i - 1); OCG = substr(m, i + 32); PEND = 1; PT = T
    next
  }
  if (substr(m, 1, 14) == "memory: usage ") {
    if (PEND && US != "") flush(); else if (!PEND) reset()
    if (split(m, a, /[ ,]+/) >= 5) { US = kb(substr(a[3], 1, length(a[3]) - 2)); LI = kb(substr(a[5], 1, length(a[5]) - 2)) }
    next
  }
  if (substr(m, 1, 12) == "kmem: usage ") { split(m, a, /[ ,]+/); KM = kb(substr(a[3], 1, length(a[3]) - 2)); next }
  if (substr(m, 1, 24) == "Memory cgroup stats for ") {
    r = substr(m, 25)
    if (substr(r, length(r), 1) == ":") { INST = 1; next }
    i = index(r, ": "); if (i == 0) next
    n = split(substr(r, i + 2), a, " ")
    for (k = 1; k <= n; k++) {
      if (a[k] ~ /^cache:[0-9]+KB$/) CA = kb(CA / 1024 + substr(a[k], 7, length(a[k]) - 8))
      else if (a[k] ~ /^rss:[0-9]+KB$/) RSS = kb(RSS / 1024 + substr(a[k], 5, length(a[k]) - 6))
    }
    next
  }
  if (substr(m, 1, 9) == "oom-kill:") {
    if (PEND) flush()
    n = split(substr(m, 10), a, ",")
    ok = 0
    for (k = 1; k <= n; k++) {
      i = index(a[k], "="); key = substr(a[k], 1, i - 1); v = substr(a[k], i + 1)
      if (key == "constraint") ok = (v == "CONSTRAINT_MEMCG")
      else if (key == "oom_memcg") OCG = v; else if (key == "task_memcg") TCG = v
      else if (key == "task") COMM = v; else if (key == "pid") PID = v
    }
    if (!ok) { reset(); next }
    PEND = 1; PT = T
    next
  }
  if (index(m, "Kill process ") > 0 && m ~ /Kill process [0-9]+ \(/) { if (PEND) proc(m); next }
  if (index(m, "Killed process ") > 0 && m ~ /Killed process [0-9]+ \(/) {
    if (PEND) { proc(m); if (PT == "") PT = T; flush() } else reset()
    next
  }
}
END {
  flush()
  n = NR; if (n == 1 && substr(FIRST, 1, 3) == "-- ") n = 0
  for (i = (PODK > OOM_KEEP ? PODK - OOM_KEEP + 1 : 1); i <= PODK; i++) print KEPT[i]
  print "oomlog\t" n "\t" KILLS "\t" OTHER "\t" OUTSIDE "\t" PODK "\t" KMC "\t" HIST
  exit (n > 0 ? 0 : 3)
}
