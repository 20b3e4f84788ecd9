# human.awk (part of report.awk): the report for people (the default output).

function human(   i, k, n, shown, verbose) {
  verbose = fact("verbose") == 1
  printf "kmem check of %s at %s (verify-kmem.sh %s)\n", jesc(fact("hostname")), fact("timestamp"), fact("version")
  printf "kernel %s, cgroup %s%s, memory cgroups at %s\n\n", (kernel == "" ? "?" : kernel), layout, (driver != "" ? ", driver " driver : ""), jesc(root)
  printf "Fix state: %s: %s\nNext step: %s\n\n", FIX, jesc(FIXSUM), FIXNEXT
  for (i = 1; i <= NCK; i++) {
    printf "[%s] %s: %s\n", CST[i], CID[i], tesc(CSE[i])
    if (CCA[i] != "" && CST[i] != "PASS" && CST[i] != "INFO") printf "       cause: %s\n", CCA[i]
    if (CRE[i] != "" && CST[i] != "PASS") printf "       fix: %s\n", tesc(CRE[i])
  }
  n = 0
  for (i = 1; i <= NCG; i++) if (verbose || (num(KM[i]) && KM[i] + 0 > 0) || (ACT[i] == "active" && kge != 1) || HW[i]) SHOW[++n] = i
  if (n > 0) {
    printf "\n%s (%d of %d):\n", (verbose ? "Pod and container cgroups" : "Cgroups with kernel memory"), n, NCG
    printf "%-9s  %-10s  %-36s  %-12s  %10s  %10s  %10s  %10s  %10s  %7s  %10s  %10s  %8s  %9s  %s\n", "LEVEL", "QOS", "POD (NAMESPACE/NAME OR UID)", "CONTAINER", "USAGE", "RSS", "CACHE", "KMEM", "KMEM MAX", "FAILCNT", "HIDDEN", "LIMIT", "USE/LIM", "RSS+C/LIM", "ACCOUNTING"
    shown = 0
    for (k = 1; k <= n; k++) {
      i = SHOW[k]
      if (!verbose && ++shown > 20) { printf "... %d more (--verbose or --json lists all)\n", n - 20; break }
      printf "%-9s  %-10s  %-36s  %-12s  %10s  %10s  %10s  %10s  %10s  %7s  %10s  %10s  %8s  %9s  %s\n", L[i], Q[i], jesc(podref(i)), (RC[i] != "" ? jesc(RC[i]) : (C[i] == "" ? "-" : jesc(short(C[i])))), \
        hb(US[i]), hb(RSSV[i]), hb(CA[i]), hb(KM[i]), hb(KX[i]), (num(KF[i]) ? KF[i] : "-"), hb(hidden(i)), hb(LIM[i]), \
        (UR[i] == "" ? "-" : pct(UR[i])), (DR[i] == "" ? "-" : pct(DR[i])), ACT[i]
    }
    print "HIDDEN = usage - (rss + cache): memory the OOM killer counts but rss/cache dashboards miss"
    print "USE/LIM = usage / limit as the OOM killer counts it; RSS+C/LIM = (rss + cache) / limit as dashboards show it"
  }
  if (NOK > 0) {
    printf "\nOOM kills in %s (%s)%s:\n", klsrc (fact("klpath") != "" ? " " jesc(fact("klpath")) : ""), \
      (NOKALL > NOK ? NOKALL ", the last " NOK " listed; " (NOKALL - NOK) " earlier ones only counted" : NOK), \
      (klauth ? "" : ", not authenticated: any local user can write it (logger -t kernel)")
    k = (verbose || NOK <= 20) ? 1 : NOK - 19
    if (k > 1) printf "... %d earlier (--verbose or --json lists all)\n", k - 1
    for (; k <= NOK; k++) {
      printf "%s  [%s] %s: usage %s, limit %s, kmem %s (%s of usage), rss + cache %s; killed %s (pid %s)%s\n", \
        (OT[k] == "" ? "(no time)" : OT[k]), klsrc (klauth ? "" : ", unauthenticated"), jesc(who(OU[k], OC[k])), hb(OUS[k]), hb(OLI[k]), hb(OKM[k]), (OSH[k] == "" ? "?" : pct(OSH[k])), \
        ((num(OKRSS[k]) && num(OKCA[k])) ? hb(sprintf("%.0f", OKRSS[k] + OKCA[k])) : "-"), jesc(OCM[k]), (OPID[k] == "" ? "?" : OPID[k]), (OH[k] ? "  (history)" : (OKC[k] ? "  <- kernel memory" : ""))
    }
  }
  printf "\nResult: %s (exit %d%s): %d PASS, %d FAIL, %d WARN, %d INFO\n", result, code, \
    (GATED != "" ? ", --gate: fix state " GATED : (FIX == "unknown" && code == 2 && !UNKNOWNS && !FAILS ? ": fix state unknown" : "")), TOT["PASS"], TOT["FAIL"], TOT["WARN"], TOT["INFO"]
}
