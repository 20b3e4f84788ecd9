# report.awk: everything gathered (facts, scan, slab probe, samples, names, OOM kills: files in that
# order) -> checks, verdict and the report (human, json or brief on stdout, Prometheus textfile to
# the fact promtmp).  Exit code 0/1/2 (--reboot-required: 0/1/2 for reboot/other/unknown).
# The program is assembled from parts (scripts/assemble-verify-kmem.mjs): report/text.awk (how values
# are written), report/facts.awk (what is derived from the records, once), checks/<id>.awk (one function
# per check, called in the order of checks.tsv by the generated judge()), report/fixstate.awk (fix state
# and exit code), report/{human,brief,json,prom}.awk (the renderers).

#include report/text.awk
function num(v) { return v ~ /^-?[0-9]+$/ }
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
# pod-cgroups-kmem and container-cgroups-kmem where there is nothing to count: check id judged (1)
# when there is no memory cgroup hierarchy, no kubepods cgroup (with kpfix), cgroup v2 (v2seen) or no pod
# cgroup; else 0
function unjudged(id, v2seen, kpfix) {
  if (layout == "unknown" || !rootok) check(id, "WARN", "not checked: no memory cgroup hierarchy", "", "", 0)
  else if (!havekp) check(id, "WARN", "no kubepods cgroup (cgroupfs: kubepods/, systemd: kubepods.slice/) under " root, kpfix, "", 0)
  else if (memver == "v2") check(id, "INFO", v2seen, "", "", 1)
  else if (np == 0) check(id, "WARN", "no pod cgroups under " KPP[1] ": nothing to check", "", "", 0)
  else return 0
  return 1
}
function hidden(i) {
  if (!num(US[i]) || !num(RSSV[i]) || !num(CA[i])) return ""
  return sprintf("%.0f", US[i] - (RSSV[i] + CA[i]))
}

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
  facts()
  fixstate()
  judge()
  noderesult()
  fmt = fact("format")
  if (fmt == "json") json()
  else if (fmt == "brief") brief()
  else if (fmt != "reboot") human()
  if (fact("promtmp") != "") prom(fact("promtmp"))
  # --reboot-required (kured --reboot-sentinel-command): 0 exactly when a reboot is the step left
  if (fmt == "reboot") exit (FIX == "reboot" ? 0 : (FIX == "unknown" ? 2 : 1))
  exit code
}

#include report/facts.awk
#include checks
#include report/fixstate.awk
#include report/human.awk
#include report/brief.awk
#include report/json.awk
#include report/prom.awk
