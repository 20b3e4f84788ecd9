# check oom-kills-kmem: whether kernel memory made memcg OOM kills of pods in the kernel log (history and unauthenticated logs never FAIL)
# reads: klsrc, klauth, cutwhy, kmemfix, kmemwho, NKPODS; NOK, NOKALL, OKALLKM, OKALLH, OLINES, OOUT, OKC, OH, OSH, OU, OC, OT, OKM, OUS, OLI, OKRSS, OKCA, PKKM; fact(klpath), fact(klwhy), fact(oomscope)
# thresholds: KMEM_SHARE, OOM_KEEP (lib.awk: a kill with kmem / usage at least KMEM_SHARE was made by kmem; the last OOM_KEEP kills are listed in full)
# causes: kernel, kubelet
# remedies: through fixfor() (report/fixstate.awk): the node next step where its fix state is about the cause
# (its place and title: checks.tsv; the facts: report/facts.awk; helpers: report.awk, lib.awk)

function check_oom_kills_kmem(   i, s, s2, kks, kshown, nkk, nhist) {
  kks = ""
  # one entry per pod (a pod is often killed again and again): its count and its last kill; the
  # pods killed last first
  kshown = 0
  for (i = NOK; i >= 1 && kshown < 5; i--) {
    if (!OKC[i] || OH[i] || (OU[i] in KSHOWN)) continue
    KSHOWN[OU[i]] = 1; kshown++
    kks = kks "; " who(OU[i], OC[i]) (PKKM[OU[i]] > 1 ? ": " PKKM[OU[i]] " kills, the last" : "") (OT[i] != "" ? " at " OT[i] : "") \
      ": kmem " hb(OKM[i]) " = " pct(OSH[i]) " of usage " hb(OUS[i]) \
      " (limit " hb(OLI[i]) ", rss + cache " ((num(OKRSS[i]) && num(OKCA[i])) ? hb(sprintf("%.0f", OKRSS[i] + OKCA[i])) : "?") ")"
  }
  if (NKPODS > kshown) kks = kks "; " (NKPODS - kshown) " more pod" (NKPODS - kshown == 1 ? "" : "s") " (see oom_kills)"
  if (klsrc == "") check("oom-kills-kmem", "INFO", "kernel log not read: " fact("klwhy"), "pass --kernel-log FILE (/var/log/messages, a journalctl -k export or a dmesg dump)", "", 1)
  else {
    s = "read " klsrc (fact("klpath") != "" ? " " fact("klpath") : "") " (" (OLINES + 0) " lines): " (NOKALL + 0) " memcg OOM kill" (NOKALL == 1 ? "" : "s") " of pod/container cgroups"
    if (NOKALL > NOK) s = s " (the last " NOK " listed in full, " (NOKALL - NOK) " earlier ones only counted)"
    nhist = OKALLH + 0; nkk = OKALLKM + 0
    if (nhist > 0) s = s " (" nhist " before " cutwhy ": history, listed, not judged)"
    if (OOUT > 0) s = s " (" OOUT " more of pod/container cgroups outside the scanned root " jesc(fact("oomscope")) ": not its pods, not judged)"
    s2 = ", " nkk " with kernel memory >= " share(KMEM_SHARE) " of usage (kmem made the kill)" (NKPODS > 1 ? " in " NKPODS " pods" (NOKALL > NOK ? " among the listed kills" : "") : "") kks
    # a syslog file takes `logger -t kernel` lines from any local user: it alone is not proof
    if (nkk > 0 && !klauth) check("oom-kills-kmem", "WARN", s s2 "; read from " jesc(fact("klpath")) ", which any local user can write (logger -t kernel): not authenticated; confirm with dmesg or journalctl -k", \
      "confirm the kills with dmesg or journalctl -k (the channels of the kernel itself); pass --trust-kernel-log when only the kernel writes " jesc(fact("klpath")), "", 1)
    else if (nkk > 0) check("oom-kills-kmem", "FAIL", s s2, fixfor(kmemwho, kmemfix), kmemwho, 1)
    else if (NOKALL > 0 && NOKALL == nhist) check("oom-kills-kmem", "INFO", s, "", "", 1)
    else if (NOKALL > 0) check("oom-kills-kmem", "INFO", s ", none with kernel memory >= " share(KMEM_SHARE) " of usage: rss + cache reached the limit (listed in oom_kills, not blamed on kmem)", "", "", 1)
    else check("oom-kills-kmem", "PASS", s, "", "", 1)
  }
}
