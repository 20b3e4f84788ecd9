# facts.awk (part of report.awk): what the checks, the fix state and the renderers read, derived once from
# the records (facts F[], cgroups, binaries, samples, kills), each named here and nowhere else.  A name
# set here is global and read-only after facts(); the comment above a group says who reads it.

# is the kernel version v at least maj.min (1, 0, or -1 when v is not a version)
function kver_ge(v, maj, min,   a) {
  if (v !~ /^[0-9]+\.[0-9]+/) return -1
  split(v, a, /[^0-9]/)
  if (a[1] + 0 != maj) return (a[1] + 0 > maj)
  return (a[2] + 0 >= min)
}
# the facts, in the order they build on one another
function facts() {
  node()
  kmemcounts()
  binaries()
  memcgs()
  headroom()
  oomkills()
}
# the node: kernel, cgroup layout and driver, cgroup.memory=nokmem and whether it holds, accounting per
# cgroup (ACT) and in kubepods and its QoS parents (PAA; paract, parin, parunk, pars)
function node(   i, nw, w) {
  layout = fact("layout"); memver = fact("memver"); root = fact("memroot"); kernel = fact("kernel")
  for (i = 1; i <= NCG; i++) names(i)

  nokmem = 0
  nw = split(fact("cmdline"), w, " ")
  for (i = 1; i <= nw; i++) if (w[i] ~ /^cgroup\.memory=/ && ("," substr(w[i], 15) ",") ~ /,nokmem,/) nokmem = 1
  v1 = (memver == "v1")
  kge = kver_ge(kernel, 4, 6)
  # 3.10.0-<build>: the RHEL 7.8 kernel (3.10.0-1127) is the first known to take cgroup.memory=nokmem
  kbuild = (kernel ~ /^3\.10\.0-[0-9]+/) ? substr(kernel, 8) + 0 : -1
  kparam = (kge == 1 || kbuild >= 1127)
  # memory.kmem.slabinfo of kubepods and its QoS parents (probed on v1 kernels < 4.6)
  paract = 0; parin = 0; parunk = 0; pars = ""
  for (i = 1; i <= NPA; i++) {
    PAA[i] = (PAS[i] > 0 && (PAS[i] in SLAB)) ? SLAB[PAS[i]] : "unknown"
    if (PAA[i] == "missing") PAA[i] = "unknown"
    if (PAA[i] == "active") { paract++; pars = pars (pars == "" ? "" : ", ") PAP[i] } else if (PAA[i] == "inactive") parin++; else parunk++
  }
  kall = ""
  if (v1) kall = nokmem ? 0 : (kge == 1 ? 1 : (kge == 0 ? 0 : ""))
  percg = v1 && kge != 1
  driver = ""
  if (("cgroupfs" in DRV) && ("systemd" in DRV)) driver = "mixed"
  else if ("cgroupfs" in DRV) driver = "cgroupfs"
  else if ("systemd" in DRV) driver = "systemd"
  rootok = fact("rootok") == 1
  havekp = NKP > 0
  # accounting state per cgroup
  # On kernels < 4.6 only the probe answers: the command line may name a parameter the kernel lacks.
  for (i = 1; i <= NCG; i++) {
    if (!v1) ACT[i] = "not-applicable"
    else if (kge == 1) ACT[i] = nokmem ? "inactive" : "active"
    else if (SI[i] > 0 && (SI[i] in SLAB)) ACT[i] = (SLAB[SI[i]] == "active") ? "active" : (SLAB[SI[i]] == "inactive" ? "inactive" : "unknown")
    else ACT[i] = "unknown"
  }
  anyact = paract; anyin = parin
  for (i = 1; i <= NCG; i++) { if (ACT[i] == "active") anyact++; else if (ACT[i] == "inactive") anyin++ }
  # the parameter holds where the kernel is >= 4.6, or where every probed cgroup agrees (3.10)
  nkeff = nokmem && v1 && (kge == 1 || (kge == 0 && anyact == 0 && anyin > 0))
  if (nkeff) percg = 0
}
# kmem per pod and container cgroup (pod-cgroups-kmem, container-cgroups-kmem, brief, pod-names).
function kmemcounts(   i, k, pi) {
  # Who charges: a pod cgroup with accounting on is the kubelet (its containers inherit it);
  # a container with accounting on under a pod without it, or kmem in a container while its
  # pod reads 0, is the runtime (on 3.10 the pod then carries the charge of the container too).
  for (i = 1; i <= NCG; i++) if (L[i] == "container" && ACT[i] == "active") CHACT[U[i]] = 1
  np = 0; nc = 0; pnz = 0; cnz = 0; pmiss = 0; cmiss = 0; pmax = "-1"; cmax = "-1"
  pkub = 0; prt = 0; ckub = 0; crt = 0
  for (i = 1; i <= NCG; i++) {
    k = KM[i]
    if (L[i] == "pod") {
      np++
      if (!num(k)) pmiss++
      else if (k + 0 > 0) {
        pnz++; if (k + 0 > pmax + 0) { pmax = k; pmi = i }
        if (ACT[i] == "inactive" && (U[i] in CHACT)) prt++; else pkub++
      }
    } else {
      nc++
      if (!num(k)) cmiss++
      else if (k + 0 > 0) {
        cnz++; if (k + 0 > cmax + 0) { cmax = k; cmi = i }
        pi = (U[i] in POD) ? POD[U[i]] : 0
        if (pi && ACT[pi] == "active") ckub++
        else if (ACT[i] == "active" || (pi && num(KM[pi]) && KM[pi] + 0 == 0)) crt++
        else ckub++
      }
    }
  }
  pact = 0; cact = 0; aunk = 0
  for (i = 1; i <= NCG; i++) {
    if (ACT[i] == "active") { if (L[i] == "pod") pact++; else cact++ }
    else if (ACT[i] == "unknown") aunk++
  }
  kmemfile = fact("rootkmem") == 1
  kmemcause = (kall == 1) ? "kernel" : ""
  # the cause as pod-cgroups-kmem and container-cgroups-kmem word it when the kernel charges
  kerneltxt = "cause: the kernel (" kernel ", cgroup v1, no cgroup.memory=nokmem) charges kmem to every memory cgroup; the kubelet is not to blame"
}
# binaries: nokbin (--no-binaries), binstatus and binnote (how much kmem code in a binary matters here:
# kubelet-binary, runtime-binaries), kb (the kubelet row), BV (verdict per binary), BM (checksum match)
function binaries(   i) {
  nokbin = fact("nobinaries") == 1
  # kmem-enabling code in a binary matters where kmem is switched on per cgroup (3.10 kernels)
  if (percg) { binstatus = "FAIL"; binnote = "" }
  else if (memver == "v2") { binstatus = "INFO"; binnote = " (no effect on cgroup v2)" }
  else if (nokmem) { binstatus = "WARN"; binnote = " (no effect while the kernel is booted with cgroup.memory=nokmem)" }
  else { binstatus = "WARN"; binnote = " (the kernel charges kmem to every memory cgroup anyway, see kernel-kmem-policy)" }
  kb = 0
  for (i = 1; i <= NB; i++) {
    BV[i] = ""
    if (BS[i] == "ok") BV[i] = (BK[i] > 0 ? "kmem-code-linked" : (BN[i] > 0 ? "nokmem-variant-linked" : "no-kmem-code"))
    if (BR[i] == "kubelet") kb = i
  }
  # the kubelet among the expected checksums (--checksums; kubelet-checksum, json checksum_match)
  if (fact("checksums_wanted") == 1 && kb && BS[kb] == "ok" && BH[kb] != "" && (BH[kb] in SUMS)) BM[kb] = SUMS[BH[kb]]
}
# memory cgroup IDs (leaked-memcgs, json, prom), and sampling (kmem-stays-zero, json, prom)
function memcgs() {
  numcg = fact("num_cgroups"); cmp = (fact("compare") == 1) && rootok && num(NDIRS) && num(numcg)
  leaked = cmp ? numcg - NDIRS : ""
  if (leaked != "" && leaked < 0) leaked = 0
  dur = fact("duration"); itv = fact("interval")
}
# usage / limit (what the OOM killer compares) beside (rss + cache) / limit (oom-headroom, human, json)
function headroom(   i) {
  kmemfix = (kall == 1 || memver == "v2") ? FIXW["kernel"] : FIXW["kubelet"]
  kmemwho = (kall == 1 || memver == "v2") ? "kernel" : (percg ? "kubelet" : "")
  nlim = 0; nhw = 0; hmax = -1; hmi = 0
  for (i = 1; i <= NCG; i++) {
    UR[i] = ""; DR[i] = ""
    if (!num(LIM[i]) || !num(US[i]) || LIM[i] + 0 <= 0) continue
    nlim++; UR[i] = US[i] / LIM[i]
    if (num(RSSV[i]) && num(CA[i])) DR[i] = (RSSV[i] + CA[i]) / LIM[i]
    if (UR[i] > hmax) { hmax = UR[i]; hmi = i }
    if (UR[i] > HEADROOM_USAGE && DR[i] != "" && DR[i] < HEADROOM_SEEN) {
      HW[i] = 1
      nhw++
    }
  }
}
# memcg OOM kills in the kernel log (oom-kills-kmem, human, json, prom)
function oomkills(   i) {
  klsrc = fact("klsrc")
  # dmesg and journalctl -k (the kernel transport of the journal) come from the kernel; a plain file only
  # with --trust-kernel-log
  klauth = (klsrc != "" && (klsrc != "file" || fact("kltrust") == 1))
  NPO = 0
  # kills before the current boot (btime) or before --since are history: never a FAIL
  cut = fact("btime"); if (num(fact("since")) && (cut == "" || fact("since") + 0 > cut + 0)) cut = fact("since")
  cutwhy = (cut == fact("since") && cut != "") ? "--since" : "the current boot"
  for (i = 1; i <= NOK; i++) {
    OSH[i] = kmemshare(OKM[i], OUS[i])
    OKC[i] = (OSH[i] != "" && OSH[i] >= KMEM_SHARE) ? 1 : 0
    OH[i] = history(OT[i], cut, fact("tzoff"))
    if (!(OU[i] in PKALL)) { PORD[++NPO] = OU[i]; PKALL[OU[i]] = 0; PKKM[OU[i]] = 0; PKH[OU[i]] = 0 }
    PKALL[OU[i]]++
    if (OH[i]) { PKH[OU[i]]++; continue }
    if (!OKC[i]) continue
    if (!PKKM[OU[i]]++) NKPODS++
  }
}