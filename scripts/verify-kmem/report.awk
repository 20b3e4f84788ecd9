# report.awk: everything gathered (facts, scan, slab probe, samples, names, OOM kills: files in that
# order) -> checks, verdict and the report (human, json or brief on stdout, Prometheus textfile to
# the fact promtmp).  Exit code 0/1/2 (--reboot-required: 0/1/2 for reboot/other/unknown).

# JSON string body: escapes quote, backslash and control characters; bytes that are
# not valid UTF-8 become U+FFFD so the document stays valid UTF-8.
function jesc(s,   out, i, n, c, need) {
  if (s !~ /[\\"\001-\037\177-\377]/) return s
  out = ""; n = length(s)
  for (i = 1; i <= n; i++) {
    c = substr(s, i, 1)
    if (c == "\\") out = out "\\\\"
    else if (c == "\"") out = out "\\\""
    else if (c == "\n") out = out "\\n"
    else if (c == "\t") out = out "\\t"
    else if (c == "\r") out = out "\\r"
    else if (c in CTL) out = out sprintf("\\u%04x", CTL[c])
    else if (c in HI) {
      need = u8len(s, i)
      if (need < 0) out = out "\\ufffd"
      else { out = out substr(s, i, need + 1); i += need }
    } else out = out c
  }
  return out
}
function js(s) { return "\"" jesc(s) "\"" }
# Text for a terminal (human and --brief output): control characters (C0, DEL and C1) become visible
# escapes, so a cgroup name, a log line or a runtime label can neither start a line nor send an
# escape sequence.
function tesc(s,   out, i, n, c, d) {
  if (s !~ /[\001-\037\177]/ && index(s, C2) == 0) return s
  out = ""; n = length(s)
  for (i = 1; i <= n; i++) {
    c = substr(s, i, 1)
    if (c == "\n") out = out "\\n"
    else if (c == "\t") out = out "\\t"
    else if (c in CTL) out = out sprintf("\\x%02x", CTL[c])
    else if (c == C2 && (d = substr(s, i + 1, 1)) in HI && HI[d] <= 159) { out = out sprintf("\\u%04x", HI[d]); i++ }
    else out = out c
  }
  return out
}
function jn(v) { return (v ~ /^-?[0-9]+$/) ? dnum(v) : "null" }
function jb(v) { return v == "" ? "null" : (v ? "true" : "false") }
function jsn(s) { return s == "" ? "null" : js(s) }
# Prometheus label value: valid UTF-8 (bad bytes become U+FFFD); backslash, quote, newline escaped.
function pesc(s,   out, i, n, c, need) {
  if (s ~ /[\177-\377]/) {
    out = ""; n = length(s)
    for (i = 1; i <= n; i++) {
      c = substr(s, i, 1)
      if (!(c in HI)) { out = out c; continue }
      need = u8len(s, i)
      if (need < 0) out = out FFFD
      else { out = out substr(s, i, need + 1); i += need }
    }
    s = out
  }
  return repl(repl(repl(s, "\\", "\\\\"), "\"", "\\\""), "\n", "\\n")
}
function hb(v,   x) {
  if (v !~ /^-?[0-9]+$/) return "-"
  x = v + 0; if (x < 0) return "-" hb(substr(v, 2))
  if (x < 1024) return sprintf("%d B", x)
  if (x < 1048576) return sprintf("%.1f KiB", x / 1024)
  if (x < 1073741824) return sprintf("%.1f MiB", x / 1048576)
  return sprintf("%.2f GiB", x / 1073741824)
}
function num(v) { return v ~ /^-?[0-9]+$/ }
function kver_ge(v, maj, min,   a) {
  if (v !~ /^[0-9]+\.[0-9]+/) return -1
  split(v, a, /[^0-9]/)
  if (a[1] + 0 != maj) return (a[1] + 0 > maj)
  return (a[2] + 0 >= min)
}
# the outcome of a check, kept at its place in checks.tsv (CORD) with its title from there (CTT); every
# check is judged exactly once per run
function check(id, status, seen, remedy, cause, conclusive,   k) {
  NCK++; k = CORD[id]; CID[k] = id; CTI[k] = CTT[id]; CST[k] = status; CSE[k] = seen; CRE[k] = remedy
  CCA[k] = cause; CCO[k] = conclusive; TOT[status]++
  if (status == "FAIL") FAILS++
  if (!conclusive) UNKNOWNS++
}
# container id for messages: docker-<id>.scope -> <id>; 64-hex ids cut to 12 like docker ps
function short(s,   t) {
  t = cid(s)
  if (t ~ /^[0-9a-f]+$/ && length(t) > 12) t = substr(t, 1, 12)
  return t
}
function fact(k) { return (k in F) ? F[k] : "" }
# names of cgroup row i from the runtime: RN namespace, RP pod name, RC container name ("" unknown)
function names(i) {
  wnames(U[i], L[i] == "container" ? C[i] : "")
  RN[i] = WN; RP[i] = WP; RC[i] = WC
}
# a pod for people: namespace/name when its name is known, else its UID
function podname(uid, ns, name) { return name == "" ? uid : (ns == "" ? "" : ns "/") name }
# a container for people: "name (short id)" when its name is known, else the short id
function ctrname(ctr, name) { return name == "" ? short(ctr) : name " (" short(ctr) ")" }
# the pod and container of row i
function podref(i) { return podname(U[i], RN[i], RP[i]) }
function ctrref(i) { return ctrname(C[i], RC[i]) }

BEGIN {
  FS = "\t"
  bytetables(); checktable(); records()
  # thresholds, named here and nowhere else (the texts print them with share())
  LIMIT = 65535           # memcg IDs a v1 kernel has (16 bits)
  LEAK_WARN = 0.8         # leaked-memcgs: WARN from this share of LIMIT on
  HEADROOM_USAGE = 0.9    # oom-headroom: WARN above this usage / limit (what the OOM killer counts) ...
  HEADROOM_SEEN = 0.75    # ... while (rss + cache) / limit (what dashboards show) is below this
  ooms()                  # KMEM_SHARE (a kill with kmem / usage at least this was made by kmem), OOM_KEEP: lib.awk
}
$1 == "F" { F[$2] = substr($0, length($2) + 4); next }
$1 == "kp" { NKP++; KPD[NKP] = $2; KPP[NKP] = dec($3); DRV[$2] = 1; NPA++; PAP[NPA] = dec($3); PAS[NPA] = $4; next }
$1 == "qp" { NPA++; PAP[NPA] = dec($3); PAS[NPA] = $4; next }
$1 == "count" { NDIRS = $2; next }
$1 == "cg" {
  n = ++NCG; L[n] = $CG_LEVEL; Q[n] = $CG_QOS; U[n] = dec($CG_UID); C[n] = dec($CG_CTR); P[n] = dec($CG_PATH)
  US[n] = $CG_USAGE; RSSV[n] = $CG_RSS; CA[n] = $CG_CACHE; KM[n] = $CG_KMEM; KX[n] = $CG_KMAX; KF[n] = $CG_KFAIL
  SI[n] = $CG_SLAB; LIM[n] = $CG_LIMIT
  if (L[n] == "pod") POD[U[n]] = n
  next
}
$1 == "slab" { SLAB[$2] = $3; next }
$1 == "oom" {
  n = ++NOK; OT[n] = $OOM_TIME; OM[n] = dec($OOM_MEMCG); OTM[n] = dec($OOM_TASK); OL[n] = $OOM_LEVEL; OQ[n] = $OOM_QOS
  OU[n] = dec($OOM_UID); OC[n] = dec($OOM_CTR); OUS[n] = $OOM_USAGE; OLI[n] = $OOM_LIMIT; OKM[n] = $OOM_KMEM
  OKRSS[n] = $OOM_RSS; OKCA[n] = $OOM_CACHE; OPID[n] = $OOM_PID; OCM[n] = dec($OOM_COMM)
  next
}
# oom.awk sends only the last OOM_KEEP kills; it counts them all (NOKALL, OKALLKM kmem-caused, OKALLH history)
$1 == "oomlog" { OLINES = $2; OKILLS = $3; OOTHER = $4; OOUT = $5; NOKALL = $6; OKALLKM = $7; OKALLH = $8; next }
$1 == "sample" {
  NS++
  if (num($5) && ($5 + 0 > SMAX + 0 || SMAXAT == "")) { SMAX = $5; SMAXAT = $2; SMAXP = dec($6) }
  if ($4 + 0 > 0) SNZ++
  next
}
$1 == "bin" {
  n = ++NB; BR[n] = $2; BP[n] = $3; BF[n] = $4; BS[n] = $5; BK[n] = $6; BN[n] = $7; BT[n] = $8; BH[n] = $9; BRU[n] = ($10 == 1); BMK[n] = $11
  next
}
$1 == "sum" { SUMS[tolower($2)] = $3; NSUMS++; next }
$1 == "nm" {
  if ($2 != "" && !($2 in NMC)) { NMU[$2] = $3; NMS[$2] = $4; NMP[$2] = $5; NMC[$2] = $6 }
  if ($3 != "" && $5 != "" && !($3 in PNP)) { PNS[$3] = $4; PNP[$3] = $5 }
  next
}

END {
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

  # ---- 1 cgroup-layout
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

  # ---- 2 kernel-kmem-policy
  if (memver == "v2") check("kernel-kmem-policy", "INFO", "kernel " kernel ", cgroup v2: no separate kmem accounting to switch off", "", "", 1)
  else if (memver == "") check("kernel-kmem-policy", "INFO", "kernel " kernel ": no memory cgroup hierarchy to judge", "", "", 1)
  else if (nokmem && kge == 1) check("kernel-kmem-policy", "PASS", "kernel " kernel " booted with cgroup.memory=nokmem: kernel memory is not charged to memory cgroups", "", "", 1)
  else if (nkeff) check("kernel-kmem-policy", "PASS", "kernel " kernel " booted with cgroup.memory=nokmem and memory.kmem.slabinfo fails to read in all " anyin " probed cgroups (kubepods, QoS parents, pods, containers): the kernel honours it", "", "", 1)
  else if (nokmem && anyact > 0) check("kernel-kmem-policy", "WARN", \
    "kernel " kernel " ignores cgroup.memory=nokmem: kmem accounting is on in " anyact " probed cgroups (memory.kmem.slabinfo reads); the parameter needs RHEL 7.8 (3.10.0-1127) or later" \
    (kbuild >= 1127 ? " and this build should know it: check that it is the booted kernel" : ", and kernel build " kernel " predates it"), \
    (kbuild >= 1127 ? "reboot into this kernel with the parameter, or install the nokmem kubelet built by kmem-build; then drain and reboot" : "upgrade the kernel to 3.10.0-1127 (RHEL 7.8) or later and reboot, or install the nokmem kubelet built by kmem-build and reboot"), "kernel", 1)
  else if (nokmem) check("kernel-kmem-policy", "WARN", "kernel " kernel " booted with cgroup.memory=nokmem, but no memory.kmem.slabinfo could be probed: cannot tell whether the kernel honours it (it needs RHEL 7.8 (3.10.0-1127) or later)", "", "", 0)
  else if (kge < 0) check("kernel-kmem-policy", "WARN", "kernel version " (kernel == "" ? "unknown" : "\"" kernel "\" not understood") ": cannot tell whether it charges kmem to every memory cgroup", "", "", 1)
  else if (kge == 1) check("kernel-kmem-policy", "WARN", \
    "kernel " kernel " (>= 4.6) charges kernel memory to every memory cgroup by itself, whatever the kubelet does: cgroup.memory=nokmem is not on the kernel command line", \
    "add cgroup.memory=nokmem to the kernel command line and reboot (EL: grubby --update-kernel=ALL --args=cgroup.memory=nokmem)", "kernel", 1)
  else check("kernel-kmem-policy", "INFO", \
    "kernel " kernel " accounts kernel memory only in cgroups where a finite memory.kmem.limit_in_bytes was written (runc code in the kubelet or the runtime writes 1, then -1; -1 alone switches nothing on) and in cgroups created under them (memory.use_hierarchy=1)", "", "", 1)

  # ---- 3/4 pod and container cgroups
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
  kerneltxt = "cause: the kernel (" kernel ", cgroup v1, no cgroup.memory=nokmem) charges kmem to every memory cgroup; the kubelet is not to blame"
  kernelfix = FIXW["kernel"]; kubeletfix = FIXW["kubelet"]; runtimefix = FIXW["runtime"]

  if (layout == "unknown" || !rootok) {
    check("pod-cgroups-kmem", "WARN", "not checked: no memory cgroup hierarchy", "", "", 0)
    check("container-cgroups-kmem", "WARN", "not checked: no memory cgroup hierarchy", "", "", 0)
  } else if (!havekp) {
    s = "no kubepods cgroup (cgroupfs: kubepods/, systemd: kubepods.slice/) under " root
    check("pod-cgroups-kmem", "WARN", s, "run on a Kubernetes node, or pass --cgroup-root DIR", "", 0)
    check("container-cgroups-kmem", "WARN", s, "", "", 0)
  } else if (memver == "v2") {
    check("pod-cgroups-kmem", "INFO", np " pod cgroups; cgroup v2 has no separate kmem counter (kernel memory is in memory.current, see hidden_bytes)", "", "", 1)
    check("container-cgroups-kmem", "INFO", nc " container cgroups; cgroup v2 has no separate kmem counter", "", "", 1)
  } else if (np == 0) {
    check("pod-cgroups-kmem", "WARN", "no pod cgroups under " KPP[1] ": nothing to check", "", "", 0)
    check("container-cgroups-kmem", "WARN", "no pod cgroups under " KPP[1] ": nothing to check", "", "", 0)
  } else {
    if (pnz > 0) {
      s = pnz " of " np " pod cgroups have kernel memory charged (largest: " hb(pmax) " in pod " podref(pmi) ", kmem failcnt " (num(KF[pmi]) ? KF[pmi] : "?") ")"
      if (kmemcause == "kernel") check("pod-cgroups-kmem", "FAIL", s "; " kerneltxt, kernelfix, "kernel", 1)
      else if (pkub > 0) check("pod-cgroups-kmem", "FAIL", s "; " pkub " of them account kmem at pod level: the kubelet switched it on (its vendored runc writes memory.kmem.limit_in_bytes)" \
        (prt > 0 ? "; " prt " only through containers the runtime set up (see container-cgroups-kmem)" : ""), kubeletfix, "kubelet", 1)
      else check("pod-cgroups-kmem", "FAIL", s "; pod-level accounting is off: the charge comes from containers whose runtime (runc) switched kmem on", runtimefix, "runtime", 1)
    } else if (pmiss == np && !kmemfile) {
      check("pod-cgroups-kmem", "PASS", "the kernel has no memory.kmem.usage_in_bytes: no kmem accounting (" np " pod cgroups)", "", "", 1)
    } else if (pmiss > 0) {
      check("pod-cgroups-kmem", "WARN", "could not read memory.kmem.usage_in_bytes of " pmiss " of " np " pod cgroups (missing, unreadable or not a byte count); the others read 0", "", "", 0)
    } else {
      s = "all " np " pod cgroups read 0 bytes of kernel memory"
      if (kall == 1) s = s " (the kernel would charge kmem: see kernel-kmem-policy)"
      check("pod-cgroups-kmem", "PASS", s, "", "", 1)
    }
    if (nc == 0) check("container-cgroups-kmem", "INFO", "no container cgroups under the " np " pod cgroups", "", "", 1)
    else if (cnz > 0) {
      s = cnz " of " nc " container cgroups have kernel memory charged (largest: " hb(cmax) " in container " ctrref(cmi) " of pod " podref(cmi) ")"
      if (kmemcause == "kernel") check("container-cgroups-kmem", "FAIL", s "; " kerneltxt, kernelfix, "kernel", 1)
      else if (crt > 0) check("container-cgroups-kmem", "FAIL", s "; " crt " of them switched on by the runtime (runc) under pod cgroups that do not account kmem" \
        (ckub > 0 ? "; " ckub " inherit it from pod cgroups the kubelet set up" : ""), runtimefix, "runtime", 1)
      else check("container-cgroups-kmem", "FAIL", s "; their pod cgroups account kmem too (containers inherit it from the pod cgroup the kubelet set up)", kubeletfix, "kubelet", 1)
    } else if (cmiss == nc && !kmemfile) check("container-cgroups-kmem", "PASS", "the kernel has no memory.kmem.usage_in_bytes: no kmem accounting (" nc " container cgroups)", "", "", 1)
    else if (cmiss > 0) check("container-cgroups-kmem", "WARN", "could not read memory.kmem.usage_in_bytes of " cmiss " of " nc " container cgroups (missing, unreadable or not a byte count); the others read 0", "", "", 0)
    else check("container-cgroups-kmem", "PASS", "all " nc " container cgroups read 0 bytes of kernel memory", "", "", 1)
  }

  # ---- 5 kmem-accounting-active
  armed = "armed: on 3.10 accounting once on stays on for the life of the cgroup (and, with memory.use_hierarchy=1 as systemd sets it, is inherited by every cgroup created under it), so slab memory, leaked memcg IDs and hidden OOM kills follow even at 0 bytes now (a 6 GB pod was OOM-killed at 2.5 GB rss + cache, 3.4 GB of it kmem)"
  if (memver != "v1" || (NCG == 0 && NPA == 0)) check("kmem-accounting-active", "INFO", (memver == "v2" ? "cgroup v2: not applicable" : "no pod or container cgroups to look at"), "", "", 1)
  else if (kge == 1 && nokmem) check("kmem-accounting-active", "PASS", "off in every memory cgroup (kernel " kernel " >= 4.6 with cgroup.memory=nokmem)", "", "", 1)
  else if (kge == 1) check("kmem-accounting-active", "INFO", "on in every memory cgroup: kernel " kernel " >= 4.6 accounts kmem unless booted with cgroup.memory=nokmem", "", "kernel", 1)
  else if (anyact + anyin == 0) check("kmem-accounting-active", "WARN", "memory.kmem.slabinfo not readable as a signal here: cannot tell per cgroup", "", "", 0)
  else if (paract + pact + cact > 0) {
    s = "accounting on (memory.kmem.slabinfo readable) in " (paract > 0 ? pars " (" paract " of " NPA " kubepods/QoS parents), " : "") pact " of " np " pod cgroups and " cact " of " nc " container cgroups"
    if (paract > 0) check("kmem-accounting-active", "FAIL", s ": every pod created under " (paract == 1 ? "it" : "them") " inherits accounting until the node reboots; " armed, "drain and reboot the node (after the nokmem kubelet is installed and running)", "kubelet", 1)
    else if (pact > 0) check("kmem-accounting-active", "FAIL", s ": pod level is the kubelet (containers inherit it); " armed, kubeletfix, "kubelet", 1)
    else check("kmem-accounting-active", "FAIL", s ": only at container level, so the runc of the container runtime switches it on; " armed, runtimefix, "runtime", 1)
  } else check("kmem-accounting-active", "PASS", "off in all " NPA " kubepods/QoS parents, " np " pod and " nc " container cgroups (memory.kmem.slabinfo fails to read)" (aunk + parunk > 0 ? "; " (aunk + parunk) " not probed" : ""), "", "", 1)

  # ---- 6/7/8 binaries
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
  if (nokbin) check("kubelet-binary", "INFO", "skipped (--no-binaries)", "", "", 1)
  else if (!kb || BS[kb] == "missing") check("kubelet-binary", "INFO", (kb ? "no kubelet at " BP[kb] : "no kubelet binary found (systemd unit, PATH, /usr/bin/kubelet)"), "pass --kubelet PATH to check one", "", 1)
  else if (BS[kb] != "ok") check("kubelet-binary", "WARN", "cannot read " BP[kb], "run as root", "", 0)
  else {
    tg = (BT[kb] != "" ? "; build tags: " BT[kb] : "") (BRU[kb] ? "; verdict reused: identity (device, inode, size, mtime, ctime) unchanged since the last run" : "") \
      (fact("cache_why") != "" ? "; verdict cache not used: " fact("cache_why") : "")
    if (BMK[kb] != "" && (BV[kb] == "kmem-code-linked" || (BT[kb] != "" && index("," BT[kb] ",", ",nokmem,") == 0)))
      check("kubelet-binary", "FAIL", BP[kb] " reports version " BMK[kb] " (the kmem-build nokmem mark) but " (BV[kb] == "kmem-code-linked" ? "contains the kmem-enabling code of runc" : "its Go build tags are " BT[kb] ", without nokmem") ": not a binary kmem-build built (mislabelled or altered)" tg, \
        "reinstall the kubelet package of a kmem-build build (verify --checksums SHA256SUMS) and find out where this binary came from", "kubelet", 1)
    else if (BV[kb] == "kmem-code-linked")
      check("kubelet-binary", binstatus, BP[kb] " contains the kmem-enabling code of runc (\"failed to set %s, because either tasks have already joined this cgroup or it has children\"): it switches kmem accounting on for every pod cgroup it creates" binnote tg, \
        "install the nokmem kubelet built by kmem-build (GOFLAGS=-tags=nokmem)", "kubelet", 1)
    else if (BV[kb] == "nokmem-variant-linked") check("kubelet-binary", "PASS", BP[kb] " is a nokmem build (\"kernel memory accounting disabled in this runc build\")" (BMK[kb] != "" ? "; version " BMK[kb] : "") tg, "", "", 1)
    else check("kubelet-binary", "PASS", BP[kb] " has no kmem-enabling code linked" (BMK[kb] != "" ? "; version " BMK[kb] : "") tg, "", "", 1)
  }
  if (fact("checksums_wanted") != 1) check("kubelet-checksum", "INFO", "not requested (--checksums SHA256SUMS)", "", "", 1)
  else if (!kb || BS[kb] != "ok" || BH[kb] == "") check("kubelet-checksum", "WARN", "no readable kubelet to checksum", "pass --kubelet PATH", "", 0)
  else if (BH[kb] in SUMS) { BM[kb] = SUMS[BH[kb]]; check("kubelet-checksum", "PASS", "sha256 " BH[kb] " of " BP[kb] " matches " SUMS[BH[kb]], "", "", 1) }
  else check("kubelet-checksum", "FAIL", "sha256 " BH[kb] " of " BP[kb] " matches none of the " NSUMS " expected checksums", "install the kubelet package from the same kmem-build build as the checksums", "kubelet", 1)
  nr = 0; rk = 0; rbad = 0; rs = ""
  for (i = 1; i <= NB; i++) {
    if (BR[i] != "runtime" || BS[i] == "missing") continue
    nr++
    if (BS[i] != "ok") { rbad++; rs = rs "; " BP[i] ": unreadable"; continue }
    if (BV[i] == "kmem-code-linked") rk++
    rs = rs "; " BP[i] ": " BV[i] (BT[i] != "" ? " (tags " BT[i] ")" : "") (BRU[i] ? " (reused: unchanged)" : "")
  }
  if (rs != "") rs = substr(rs, 3)
  if (nokbin) check("runtime-binaries", "INFO", "skipped (--no-binaries)", "", "", 1)
  else if (nr == 0) check("runtime-binaries", "INFO", "no runc binary found (runc, docker-runc, docker-runc-current)", "pass --runtime PATH to check one", "", 1)
  else if (rk > 0) check("runtime-binaries", binstatus, rs binnote, runtimefix, "runtime", 1)
  else if (rbad > 0) check("runtime-binaries", "WARN", rs, "run as root", "", 0)
  else check("runtime-binaries", "PASS", rs, "", "", 1)

  # ---- 9 leaked-memcgs
  numcg = fact("num_cgroups"); cmp = (fact("compare") == 1) && rootok && num(NDIRS) && num(numcg)
  leaked = cmp ? numcg - NDIRS : ""
  if (leaked != "" && leaked < 0) leaked = 0
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

  # ---- 10 kmem-stays-zero
  dur = fact("duration"); itv = fact("interval")
  if (dur == "") check("kmem-stays-zero", "INFO", "one sample taken; pass --duration 10m --interval 10s to watch", "", "", 1)
  else if (memver != "v1" || NCG == 0) check("kmem-stays-zero", "INFO", NS " samples over " dur " s: no kmem counters to watch", "", "", 1)
  else {
    s = NS " samples over " dur " s every " itv " s"
    if (SMAX + 0 > 0) check("kmem-stays-zero", "FAIL", s ": " SNZ " samples non-zero, maximum " hb(SMAX) " at " SMAXAT " in " jesc(SMAXP), \
      (kmemcause == "kernel" ? kernelfix : "see pod-cgroups-kmem and container-cgroups-kmem"), (kmemcause == "kernel" ? "kernel" : ""), 1)
    else check("kmem-stays-zero", "PASS", s ": every pod and container cgroup read 0 in every sample", "", "", 1)
  }

  # ---- 11 oom-headroom: usage / limit (what the OOM killer compares) beside (rss + cache) / limit
  kmemfix = (kall == 1 || memver == "v2") ? kernelfix : kubeletfix
  kmemwho = (kall == 1 || memver == "v2") ? "kernel" : (percg ? "kubelet" : "")
  nlim = 0; nhw = 0; hws = ""; hmax = -1; hmi = 0
  for (i = 1; i <= NCG; i++) {
    UR[i] = ""; DR[i] = ""
    if (!num(LIM[i]) || !num(US[i]) || LIM[i] + 0 <= 0) continue
    nlim++; UR[i] = US[i] / LIM[i]
    if (num(RSSV[i]) && num(CA[i])) DR[i] = (RSSV[i] + CA[i]) / LIM[i]
    if (UR[i] > hmax) { hmax = UR[i]; hmi = i }
    if (UR[i] > HEADROOM_USAGE && DR[i] != "" && DR[i] < HEADROOM_SEEN) {
      HW[i] = 1
      if (++nhw <= 5) hws = hws "; " who(U[i], C[i]) " at " pct(UR[i]) " of its " hb(LIM[i]) " limit (usage " hb(US[i]) ") while rss + cache is " pct(DR[i]) " (" hb(sprintf("%.0f", RSSV[i] + CA[i])) "): HIDDEN " hb(hidden(i))
    }
  }
  if (nhw > 5) hws = hws "; " (nhw - 5) " more"
  if (nlim == 0) check("oom-headroom", "INFO", "no pod or container cgroup has a memory limit", "", "", 1)
  else if (nhw > 0) check("oom-headroom", "WARN", nhw " of " nlim " memory-limited pod/container cgroups are above " share(HEADROOM_USAGE) " of their limit as the OOM killer counts it (usage) while rss + cache, what dashboards show, stays below " share(HEADROOM_SEEN) hws, kmemfix, kmemwho, 1)
  else check("oom-headroom", "PASS", nlim " memory-limited pod/container cgroups; highest usage / limit " pct(hmax) " (" who(U[hmi], C[hmi]) ", rss + cache " (DR[hmi] == "" ? "?" : pct(DR[hmi])) ")", "", "", 1)

  # ---- 12 oom-kills-kmem: memcg OOM kills in the kernel log that kernel memory caused
  klsrc = fact("klsrc")
  # dmesg and journalctl -k (the kernel transport of the journal) come from the kernel; a plain file only
  # with --trust-kernel-log
  klauth = (klsrc != "" && (klsrc != "file" || fact("kltrust") == 1))
  nkk = 0; kks = ""; NPO = 0; nhist = 0
  # kills before the current boot (btime) or before --since are history: never a FAIL
  cut = fact("btime"); if (num(fact("since")) && (cut == "" || fact("since") + 0 > cut + 0)) cut = fact("since")
  cutwhy = (cut == fact("since") && cut != "") ? "--since" : "the current boot"
  for (i = 1; i <= NOK; i++) {
    OSH[i] = kmemshare(OKM[i], OUS[i])
    OKC[i] = (OSH[i] != "" && OSH[i] >= KMEM_SHARE) ? 1 : 0
    OH[i] = history(OT[i], cut, fact("tzoff"))
    if (!(OU[i] in PKALL)) { PORD[++NPO] = OU[i]; PKALL[OU[i]] = 0; PKKM[OU[i]] = 0; PKH[OU[i]] = 0 }
    PKALL[OU[i]]++
    if (OH[i]) { PKH[OU[i]]++; nhist++; continue }
    if (!OKC[i]) continue
    nkk++
    if (!PKKM[OU[i]]++) NKPODS++
  }
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
    else if (nkk > 0) check("oom-kills-kmem", "FAIL", s s2, kmemfix, kmemwho, 1)
    else if (NOKALL > 0 && NOKALL == nhist) check("oom-kills-kmem", "INFO", s, "", "", 1)
    else if (NOKALL > 0) check("oom-kills-kmem", "INFO", s ", none with kernel memory >= " share(KMEM_SHARE) " of usage: rss + cache reached the limit (listed in oom_kills, not blamed on kmem)", "", "", 1)
    else check("oom-kills-kmem", "PASS", s, "", "", 1)
  }

  # ---- 11 pod-names
  npn = 0; ncn = 0
  for (i = 1; i <= NCG; i++) { if (L[i] == "pod") { if (RP[i] != "") npn++ } else if (RC[i] != "") ncn++ }
  src = fact("names_source")
  if (fact("names_skipped") == 1) check("pod-names", "INFO", "not asked: --proc-root reads a fixture, not this node (pass --runtime-endpoint unix:///PATH to ask its runtime)", "", "", 1)
  else if (src != "") check("pod-names", "INFO", "names from " src ": " npn " of " np " pod cgroups and " ncn " of " nc " container cgroups named" \
    (fact("names_timeout") == 1 ? " (stopped after " fact("names_limit") " s: the rest by ID)" : ""), "", "", 1)
  else check("pod-names", "INFO", "no container runtime answered (" fact("names_why") "): pods are shown by UID", \
    (fact("euid") == "0" ? "" : "run as root, or ") "pass --runtime-endpoint unix:///PATH (the containerd, CRI-O or docker socket of the node)", "", 1)

  fixstate()
  # an unknown fix state is "could not tell" (exit 2), unless the kubelet was left out on purpose
  code = FAILS > 0 ? 1 : ((UNKNOWNS > 0 || (FIX == "unknown" && !nokbin)) ? 2 : 0)
  # --gate (rollouts): 0 only when nothing of the fix is left and the checks agree; docs/verify.md
  GATED = ""
  if (fact("gate") == 1) {
    gcode = FIX == "unknown" ? 2 : ((FIX == "fixed" || FIX == "not-affected") ? 0 : 1)
    # the worse of the two, as over a fleet: 1 (a step is left) over 2 (cannot tell) over 0
    if (gcode == 1 || (gcode == 2 && code == 0)) { if (gcode != code) GATED = FIX; code = gcode }
  }
  result = code == 1 ? "PROBLEM" : (code == 2 ? "UNKNOWN" : "OK")
  fmt = fact("format")
  if (fmt == "json") json()
  else if (fmt == "brief") brief()
  else if (fmt != "reboot") human()
  if (fact("promtmp") != "") prom(fact("promtmp"))
  # --reboot-required (kured --reboot-sentinel-command): 0 exactly when a reboot is the step left
  if (fmt == "reboot") exit (FIX == "reboot" ? 0 : (FIX == "unknown" ? 2 : 1))
  exit code
}

# The fix states: one wording each (summary, next step), used by every output and by docs/verify.md.
function states(   kv, kr, pkg, inst) {
  NST = split("not-affected kernel install restart reboot runtime fixed unknown", STN, " ")
  SUMT["not-affected"] = "no memory cgroup accounts kernel memory (cgroup v2, or a kernel that honours cgroup.memory=nokmem)"
  NEXT["not-affected"] = "nothing to do"
  SUMT["kernel"] = "the kernel charges kernel memory to every memory cgroup (v1, kernel >= 4.6, no cgroup.memory=nokmem): no kubelet can change that"
  NEXT["kernel"] = "boot with cgroup.memory=nokmem (grubby --update-kernel=ALL --args=cgroup.memory=nokmem), then drain and reboot the node"
  SUMT["install"] = "the kubelet on disk links the kmem-enabling code of runc: every pod cgroup it creates accounts kernel memory"
  # the package of the version this node runs (never a newer one), and held there; the release is the
  # one the build of this copy packages (stamped), else any of ours; docs/verify.md, docs/installing.md
  kv = fact("kubelet_version"); kr = fact("build_release")
  pkg = kv == "" ? "kubelet-<version>-<release>" : (kr != "" ? "kubelet-" kv "-" kr : "\"kubelet-" kv "-*.nokmem\"")
  inst = "install the nokmem kubelet built by kmem-build for the kubelet version this node runs, and hold it there (yum install " pkg "; yum versionlock add kubelet), restart the kubelet, then drain and reboot the node"
  NEXT["install"] = inst
  NEXT["install-param"] = "either boot with cgroup.memory=nokmem (grubby --update-kernel=ALL --args=cgroup.memory=nokmem; this kernel knows it), then drain and reboot the node; or " inst
  SUMT["restart"] = "the nokmem kubelet is installed but not running: the running kubelet is the old binary (a deleted or another file)"
  NEXT["restart"] = "restart the kubelet (systemctl restart kubelet), then drain and reboot the node"
  SUMT["reboot"] = "the nokmem kubelet is running, but kubepods (or a QoS parent, or a pod) still accounts kernel memory: every pod created under it inherits accounting until the node reboots"
  NEXT["reboot"] = "drain and reboot the node (kured: --reboot-sentinel-command with verify-kmem.sh --reboot-required)"
  SUMT["runtime"] = "container cgroups account kernel memory under clean pods: the runc of the container runtime switches it on"
  NEXT["runtime"] = "upgrade the package of the container runtime (runc 1.0.0-rc94 or later, or a nokmem build), then drain and reboot the node"
  SUMT["fixed"] = "the kubelet is a nokmem build and no kubepods, QoS, pod or container cgroup accounts kernel memory"
  NEXT["fixed"] = "nothing to do"
  SUMT["unknown"] = "cannot tell the fix state of this node"
  NEXT["unknown"] = "see the checks that could not tell (run as root on the node, or pass --cgroup-root / --kubelet)"
}
# The running kubelet: RM (same, other, deleted, unknown, "" none seen), RBY (how it was found), RSAID
# (what it is, for the summary).  A process on this node first; where none can be seen (a pod without
# the host processes), the version the API server reports for this node (--running-version) against
# the version mark of the kubelet on disk: a marked nokmem kubelet on disk while the API reports another
# version means the old process still runs.  Without a mark on disk equal versions cannot be told apart.
function running(   av) {
  RM = fact("run_match"); RBY = fact("run_by"); RSAID = ""; RAV = ""
  if (fact("run_pid") != "") { RSAID = "running kubelet pid " fact("run_pid"); return }
  av = fact("api_version")
  if (av == "" || fact("run_why") != "") return
  RBY = "api"; RAV = av
  RSAID = "the API server reports the running kubelet as " av
  if (kb && BMK[kb] != "") RM = (av == BMK[kb]) ? "same" : "other"
  else RM = (av ~ /\+nokmem$/) ? "other" : "unknown"
}
# FIX (state), FIXWHY (what decided it), FIXNEXT (the one next step)
function fixstate(   kv, rm) {
  states()
  kv = (!kb || BS[kb] != "ok") ? "" : BV[kb]
  running()
  rm = RM
  FIXWHY = ""
  if (memver == "v2") FIX = "not-affected"
  else if (layout == "unknown" || !rootok || memver != "v1") { FIX = "unknown"; FIXWHY = "no memory cgroup hierarchy" }
  else if (kge < 0) { FIX = "unknown"; FIXWHY = "kernel version not understood" }
  else if (nkeff) FIX = "not-affected"
  # the operator just installed the nokmem kubelet: the restart comes first, whatever the kernel
  # a process named kubelet that cannot be told to be the kubelet (another user may have named it so)
  else if (kv != "" && kv != "kmem-code-linked" && fact("run_why") != "") { FIX = "unknown"; FIXWHY = fact("run_why") }
  else if (kv != "" && kv != "kmem-code-linked" && RBY == "api" && rm == "other") { FIX = "restart"; FIXWHY = RSAID ", the kubelet on disk (" BP[kb] ") is " (BMK[kb] != "" ? BMK[kb] : "not marked") }
  else if (kv != "" && kv != "kmem-code-linked" && (rm == "deleted" || rm == "other")) { FIX = "restart"; FIXWHY = "running kubelet pid " fact("run_pid") " is " (rm == "deleted" ? "a deleted file (" fact("run_exe") ")" : "another file (" fact("run_exe") ") than " BP[kb]) }
  else if (kge == 1) FIX = "kernel"
  else if (!havekp) { FIX = "unknown"; FIXWHY = "no kubepods cgroup" }
  else if (kv == "kmem-code-linked") FIX = "install"
  else if (kv == "") { FIX = "unknown"; FIXWHY = (nokbin ? "kubelet not checked (--no-binaries)" : "no readable kubelet binary") }
  else if (paract + pact > 0) FIX = "reboot"
  else if (cact > 0) FIX = "runtime"
  else if (anyact + anyin == 0) { FIX = "unknown"; FIXWHY = "no memory.kmem.slabinfo could be probed" }
  else FIX = "fixed"
  FIXSUM = SUMT[FIX] (FIXWHY != "" ? " (" FIXWHY ")" : "")
  FIXNEXT = (FIX == "install" && kparam) ? NEXT["install-param"] : NEXT[FIX]
  if (FIX == "fixed" || FIX == "reboot") {
    if (RBY == "api" && rm == "same") FIXSUM = FIXSUM "; " RSAID ", the version of " BP[kb]
    else if (RBY == "api") FIXSUM = FIXSUM "; " RSAID ", which cannot be told from " BP[kb] " (no version mark on disk)"
    else if (fact("run_pid") == "" && fact("run_procs") == "0") FIXSUM = FIXSUM "; the running kubelet cannot be seen here (no processes under " fact("procroot") "; the DaemonSet gives the version the API server reports)"
    else if (fact("run_pid") == "") FIXSUM = FIXSUM "; no kubelet process is running"
    else if (rm == "same") FIXSUM = FIXSUM "; running kubelet pid " fact("run_pid") " is " BP[kb]
  }
}

function pct(x) { return sprintf("%.2f%%", x * 100) }
# a threshold as people write it: 0.9 -> 90%
function share(x) { return sprintf("%.0f%%", x * 100) }
function ratio(x) { return x == "" ? "null" : sprintf("%.4f", x) }
# names from the runtime ("nm" records) of a pod uid and container cgroup: WN, WP, WC ("" unknown)
function wnames(uid, ctr,   id) {
  WN = ""; WP = ""; WC = ""
  if (uid in PNP) { WN = PNS[uid]; WP = PNP[uid] }
  if (ctr == "") return
  id = cid(ctr)
  if (!(id in NMC)) return
  WC = NMC[id]
  if (WP == "" && NMP[id] != "") { WN = NMS[id]; WP = NMP[id] }
}
# "pod <uid>" or "pod <namespace>/<name>" when the names are known, and the container
function who(uid, ctr,   s) {
  wnames(uid, ctr)
  s = "pod " podname(uid, WN, WP)
  if (ctr != "") s = s " container " ctrname(ctr, WC)
  return s
}
function hidden(i) {
  if (!num(US[i]) || !num(RSSV[i]) || !num(CA[i])) return ""
  return sprintf("%.0f", US[i] - (RSSV[i] + CA[i]))
}

function json(   i, k, nt, ta, tags) {
  print "{"
  print "  \"schema_version\": 1,"
  print "  \"script_version\": " js(fact("version")) ","
  print "  \"timestamp\": " js(fact("timestamp")) ","
  print "  \"result\": " js(result) ","
  print "  \"exit_code\": " code ","
  print "  \"fix_state\": " js(FIX) ","
  print "  \"fix_summary\": " js(FIXSUM) ","
  print "  \"next_step\": " js(FIXNEXT) ","
  printf "  \"running_kubelet\": %s,\n", (RBY == "api" ? "{\"pid\": null, \"found_by\": \"api\", \"exe\": null, \"matches\": " js(RM) ", \"version\": " js(RAV) "}" : \
    fact("run_pid") == "" ? "null" : "{\"pid\": " jn(fact("run_pid")) ", \"found_by\": " js(fact("run_by")) ", \"exe\": " jsn(fact("run_exe")) ", \"matches\": " js(fact("run_match")) ", \"version\": null}")
  printf "  \"node\": {\"hostname\": %s, \"kernel\": %s, \"kernel_nokmem_param\": %s, \"kernel_charges_all_memcgs\": %s, ", \
    jsn(fact("hostname")), jsn(kernel), (nokmem ? "true" : "false"), jb(kall)
  printf "\"cgroup_layout\": %s, \"memory_controller\": %s, \"memory_root\": %s, \"cgroup_driver\": %s, \"kubepods\": [", \
    js(layout), jsn(memver), jsn(root), jsn(driver)
  for (i = 1; i <= NKP; i++) printf "%s%s", (i > 1 ? ", " : ""), js(KPP[i])
  print "]},"
  printf "  \"totals\": {\"pass\": %d, \"fail\": %d, \"warn\": %d, \"info\": %d},\n", TOT["PASS"], TOT["FAIL"], TOT["WARN"], TOT["INFO"]
  print "  \"checks\": ["
  for (i = 1; i <= NCK; i++)
    printf "    {\"id\": %s, \"title\": %s, \"status\": %s, \"seen\": %s, \"remedy\": %s, \"cause\": %s, \"conclusive\": %s}%s\n", \
      js(CID[i]), js(CTI[i]), js(CST[i]), js(CSE[i]), js(CRE[i]), jsn(CCA[i]), (CCO[i] ? "true" : "false"), (i < NCK ? "," : "")
  print "  ],"
  print "  \"cgroups\": ["
  for (i = 1; i <= NCG; i++)
    printf "    {\"level\": %s, \"qos\": %s, \"pod_uid\": %s, \"container\": %s, \"pod_namespace\": %s, \"pod_name\": %s, \"container_name\": %s, \"path\": %s, \"usage_bytes\": %s, \"total_rss_bytes\": %s, \"total_cache_bytes\": %s, \"kmem_usage_bytes\": %s, \"kmem_max_usage_bytes\": %s, \"kmem_failcnt\": %s, \"hidden_bytes\": %s, \"kmem_accounting\": %s, \"limit_bytes\": %s, \"usage_limit_ratio\": %s, \"rss_cache_limit_ratio\": %s}%s\n", \
      js(L[i]), js(Q[i]), js(U[i]), jsn(C[i]), jsn(RN[i]), jsn(RP[i]), jsn(RC[i]), js(P[i]), jn(US[i]), jn(RSSV[i]), jn(CA[i]), jn(KM[i]), jn(KX[i]), jn(KF[i]), jn(hidden(i)), js(ACT[i]), \
      jn(LIM[i]), ratio(UR[i]), ratio(DR[i]), (i < NCG ? "," : "")
  print "  ],"
  print "  \"binaries\": ["
  for (i = 1; i <= NB; i++) {
    tags = "null"
    if (BS[i] == "ok" && BT[i] != "") { nt = split(BT[i], ta, ","); tags = "["; for (k = 1; k <= nt; k++) tags = tags (k > 1 ? ", " : "") js(ta[k]); tags = tags "]" }
    printf "    {\"role\": %s, \"path\": %s, \"found_by\": %s, \"readable\": %s, \"verdict\": %s, \"build_tags\": %s, \"sha256\": %s, \"checksum_match\": %s, \"reused\": %s, \"version_mark\": %s}%s\n", \
      js(BR[i]), js(BP[i]), js(BF[i]), (BS[i] == "ok" ? "true" : "false"), jsn(BV[i]), tags, jsn(BH[i]), jsn(BM[i]), (BRU[i] ? "true" : "false"), jsn(BMK[i]), (i < NB ? "," : "")
  }
  print "  ],"
  printf "  \"memcgs\": {\"num_cgroups\": %s, \"directories\": %s, \"leaked\": %s, \"limit\": %d, \"compared\": %s},\n", \
    jn(numcg), jn(NDIRS), jn(leaked ""), LIMIT, (cmp ? "true" : "false")
  printf "  \"samples\": {\"count\": %d, \"duration_seconds\": %s, \"interval_seconds\": %s, \"max_kmem_bytes\": %s, \"max_at\": %s, \"max_path\": %s, \"nonzero_samples\": %d},\n", \
    NS, jn(dur), jn(itv), jn(SMAX == "" ? "0" : SMAX), jsn(SMAX + 0 > 0 ? SMAXAT : ""), jsn(SMAX + 0 > 0 ? SMAXP : ""), SNZ
  oomjson()
  print "}"
}

function oomjson(   i, u, c, rc) {
  printf "  \"kernel_log\": {\"source\": %s, \"path\": %s, \"lines\": %s, \"memcg_oom_kills\": %s, \"other_memcg_oom_kills\": %s, \"scope\": %s, \"outside_root_oom_kills\": %s, \"authenticated\": %s, ", \
    jsn(klsrc), jsn(fact("klpath")), (klsrc == "" ? "null" : jn(OLINES + 0)), (klsrc == "" ? "null" : jn(OKILLS + 0)), (klsrc == "" ? "null" : jn(OOTHER + 0)), \
    js(fact("oomscope")), (klsrc == "" ? "null" : jn(OOUT + 0)), (klsrc == "" ? "null" : (klauth ? "true" : "false"))
  printf "\"pod_oom_kills\": %s, \"pod_oom_kills_kmem_caused\": %s, \"pod_oom_kills_history\": %s, \"pod_oom_kills_not_listed\": %s, \"pod_oom_kills_list_limit\": %d},\n", \
    (klsrc == "" ? "null" : NOKALL + 0), (klsrc == "" ? "null" : OKALLKM + 0), (klsrc == "" ? "null" : OKALLH + 0), \
    (klsrc == "" ? "null" : NOKALL - NOK), OOM_KEEP
  print "  \"oom_kills\": ["
  for (i = 1; i <= NOK; i++) {
    u = OU[i]; c = OC[i]
    rc = (num(OKRSS[i]) && num(OKCA[i])) ? sprintf("%.0f", OKRSS[i] + OKCA[i]) : ""
    printf "    {\"time\": %s, \"memcg\": %s, \"task_memcg\": %s, \"level\": %s, \"qos\": %s, \"pod_uid\": %s, \"container\": %s, ", \
      jsn(OT[i]), js(OM[i]), jsn(OTM[i]), js(OL[i]), js(OQ[i]), js(u), jsn(c)
    wnames(u, c)
    printf "\"pod_namespace\": %s, \"pod_name\": %s, \"container_name\": %s, ", jsn(WN), jsn(WP), jsn(WC)
    printf "\"usage_bytes\": %s, \"limit_bytes\": %s, \"kmem_usage_bytes\": %s, \"rss_bytes\": %s, \"cache_bytes\": %s, \"hidden_bytes\": %s, \"kmem_share\": %s, \"kmem_caused\": %s, ", \
      jn(OUS[i]), jn(OLI[i]), jn(OKM[i]), jn(OKRSS[i]), jn(OKCA[i]), jn((num(OUS[i]) && rc != "") ? sprintf("%.0f", OUS[i] - rc) : ""), ratio(OSH[i]), (OKC[i] ? "true" : "false")
    printf "\"history\": %s, \"source\": %s, ", (OH[i] ? "true" : "false"), js(klsrc)
    printf "\"process\": {\"pid\": %s, \"name\": %s}}%s\n", jn(OPID[i]), jsn(OCM[i]), (i < NOK ? "," : "")
  }
  print "  ]"
}

function brief(   i) {
  if (code == 0) { printf "OK [%s]: %d pod and %d container cgroups charge no kernel memory; next: %s\n", FIX, np, nc, FIXNEXT; return }
  for (i = 1; i <= NCK; i++) if ((code == 1 && CST[i] == "FAIL") || (code == 2 && !CCO[i])) break
  # no check to name: the fix state decided (unknown, or a step left under --gate)
  if (i > NCK) printf "%s [%s]: fix state %s: %s; next: %s\n", result, FIX, FIX, jesc(FIXSUM), FIXNEXT
  else printf "%s [%s]: %s: %s; next: %s\n", result, FIX, CID[i], tesc(CSE[i]), FIXNEXT
}

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

function prom(f,   i, lb, m) {
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
  m["kmem_build_cgroup_usage_bytes"] = "memory.usage_in_bytes (v2: memory.current) of a pod or container cgroup"
  m["kmem_build_cgroup_rss_bytes"] = "total_rss (v2: anon) of a pod or container cgroup"
  m["kmem_build_cgroup_cache_bytes"] = "total_cache (v2: file) of a pod or container cgroup"
  m["kmem_build_cgroup_kmem_usage_bytes"] = "memory.kmem.usage_in_bytes of a pod or container cgroup"
  m["kmem_build_cgroup_kmem_max_usage_bytes"] = "memory.kmem.max_usage_in_bytes of a pod or container cgroup"
  m["kmem_build_cgroup_kmem_failcnt"] = "memory.kmem.failcnt of a pod or container cgroup"
  m["kmem_build_cgroup_hidden_bytes"] = "usage - (rss + cache) of a pod or container cgroup"
  m["kmem_build_cgroup_kmem_accounting_active"] = "1 if kmem accounting is on for the cgroup"
  pser(f, "kmem_build_cgroup_usage_bytes", m, "US")
  pser(f, "kmem_build_cgroup_rss_bytes", m, "RSSV")
  pser(f, "kmem_build_cgroup_cache_bytes", m, "CA")
  pser(f, "kmem_build_cgroup_kmem_usage_bytes", m, "KM")
  pser(f, "kmem_build_cgroup_kmem_max_usage_bytes", m, "KX")
  pser(f, "kmem_build_cgroup_kmem_failcnt", m, "KF")
  pser(f, "kmem_build_cgroup_hidden_bytes", m, "HID")
  pser(f, "kmem_build_cgroup_kmem_accounting_active", m, "ACT")
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
  m["kmem_build_cgroup_limit_bytes"] = "memory.limit_in_bytes (v2: memory.max) of a pod or container cgroup, when limited"
  pser(f, "kmem_build_cgroup_limit_bytes", m, "LIM")
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
function pser(f, name, m, what,   i, v, lb) {
  pm(f, name, "gauge", m[name])
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
