# lib.awk: helpers the awk programs of verify-kmem.sh share.  Not a program of its own: the
# generator (scripts/assemble-verify-kmem.mjs) puts in front of each program the functions below it
# uses (and the ones those use), so each is defined once here and embedded where it is needed.
# Blocks are separated by blank lines; each holds one function and the comment above it.  No single
# quote anywhere (the programs are embedded in single-quoted shell strings).
#
# Records between the programs are tab-separated; fields that hold cgroup paths or names are encoded
# with enc() (backslash, tab and newline as \\ \t \n) and decoded with dec().
#
# `LC_ALL=C gawk --lint -f lib.awk -f X.awk </dev/null` (test/verify/parts.test.ts; X.awk with its parts,
# as `node scripts/assemble-verify-kmem.mjs --program-awk X.awk` prints it) warns only of
# three things, none a problem: a lib function X does not call ("defined but never called": X gets only
# the ones it calls); "parameter shadows global variable" (awk has no other local variables than extra
# parameters, and no function means the global); "reference to uninitialized variable/element/argument" when run
# on no input without the environment the script sets (counters and first-seen tests rely on awk's
# "" / 0 for an unset variable).  LC_ALL=C as in the script: byte ranges such as [\177-\377] are not
# valid ranges in a UTF-8 locale.

# s with every occurrence of from replaced by to (literal strings, no regular expressions)
function repl(s, from, to,   out, i) {
  out = ""
  while ((i = index(s, from)) > 0) { out = out substr(s, 1, i - 1) to; s = substr(s, i + length(from)) }
  return out s
}

# a decimal integer (matching ^-?[0-9]+$) without leading zeros: "00004096" -> "4096", "000" -> "0".
# A counter file may hold leading zeros; awk keeps the text as read, and JSON allows none.
function dnum(v,   s) {
  s = ""
  if (substr(v, 1, 1) == "-") { s = "-"; v = substr(v, 2) }
  sub(/^0+/, "", v)
  return v == "" ? "0" : s v
}

# a field of a tab-separated record: backslash, tab and newline as \\ \t \n
function enc(s) {
  if (index(s, "\\") == 0 && index(s, "\t") == 0 && index(s, "\n") == 0) return s
  return repl(repl(repl(s, "\\", "\\\\"), "\t", "\\t"), "\n", "\\n")
}

# the inverse of enc()
function dec(s,   out, i, c) {
  if (index(s, "\\") == 0) return s
  out = ""
  while ((i = index(s, "\\")) > 0) {
    c = substr(s, i + 1, 1)
    out = out substr(s, 1, i - 1) (c == "t" ? "\t" : (c == "n" ? "\n" : c))
    s = substr(s, i + 2)
  }
  return out s
}

# memcg path -> LV (pod|container|""), QOS, UID, CTR; KP = "kubepods" or "kubepods.slice" when the
# path is that directory itself, QP = "burstable" or "besteffort" when it is a QoS parent. Pod level: kubepods/[burstable|besteffort/]pod<uid> (cgroupfs) or
# kubepods.slice/[kubepods-<qos>.slice/]kubepods[-<qos>]-pod<uid_with_underscores>.slice (systemd);
# container level: their direct children.
function podof(p,   c, n, k, j) {
  LV = ""; QOS = ""; UID = ""; CTR = ""; KP = ""; QP = ""
  n = split(p, c, "/")
  for (k = 1; k <= n; k++) if (c[k] == "kubepods" || c[k] == "kubepods.slice") break
  if (k > n) return
  if (k == n) { KP = c[k]; return }
  j = k + 1; QOS = "guaranteed"
  if (c[k] == "kubepods") {
    if (c[j] == "burstable" || c[j] == "besteffort") { QOS = c[j]; j++ }
    if (j > n) { QP = QOS; return }
    if (c[j] !~ /^pod./) return
    UID = substr(c[j], 4)
  } else {
    if (c[j] == "kubepods-burstable.slice" || c[j] == "kubepods-besteffort.slice") {
      QOS = substr(c[j], 10); sub(/\.slice$/, "", QOS); j++
    }
    if (j > n) { QP = QOS; return }
    if (c[j] !~ /^kubepods-(burstable-|besteffort-)?pod.+\.slice$/) return
    UID = c[j]; sub(/^kubepods-(burstable-|besteffort-)?pod/, "", UID); sub(/\.slice$/, "", UID)
    gsub(/_/, "-", UID)
  }
  if (j == n) LV = "pod"
  else if (j + 1 == n) { LV = "container"; CTR = c[n] }
}

# container id of a container cgroup: <id>, cri-containerd-<id>.scope, docker-<id>.scope, crio-<id>.scope
function cid(s) { if (s ~ /\.scope$/) { sub(/\.scope$/, "", s); sub(/^.*-/, "", s) } return s }

# byte tables for the escaping functions: CTL[c] and HI[c] the code of a control character (1-31, 127)
# or of a byte >= 128; FFFD the UTF-8 bytes of U+FFFD, C2 the lead byte of U+0080-U+00BF
function bytetables(   i) {
  for (i = 1; i < 32; i++) CTL[sprintf("%c", i)] = i
  CTL[sprintf("%c", 127)] = 127
  for (i = 128; i < 256; i++) HI[sprintf("%c", i)] = i
  FFFD = sprintf("%c%c%c", 239, 191, 189); C2 = sprintf("%c", 194)
}

# UTF-8 at byte i of s (a byte >= 128, bytetables() called): the number of continuation bytes of a
# valid sequence (1-3), or -1 when it is not valid UTF-8.  A following byte is tested with `in` before
# HI[] is read: reading HI[] for a byte < 128 would add it to HI, and every later use of that ASCII
# character in the run would be taken for a bad byte.
function u8len(s, i,   b, c, need, k) {
  b = HI[substr(s, i, 1)]
  need = (b >= 194 && b <= 223) ? 1 : ((b >= 224 && b <= 239) ? 2 : ((b >= 240 && b <= 244) ? 3 : -1))
  for (k = 1; k <= need; k++) {
    c = substr(s, i + k, 1)
    if (!(c in HI) || HI[c] > 191) { need = -1; break }
  }
  return need
}

# ISO 8601 time of a kill -> seconds since the epoch ("" when there is none); no offset: the node local
# time, tz its offset (+hhmm)
function epoch(t, tz,   y, m, d, e, o, era, yoe, doy, doe) {
  if (t !~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]/) return ""
  y = substr(t, 1, 4) + 0; m = substr(t, 6, 2) + 0; d = substr(t, 9, 2) + 0
  y -= (m <= 2); era = int(y / 400); yoe = y - era * 400
  doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
  e = (era * 146097 + doe - 719468) * 86400 + substr(t, 12, 2) * 3600 + substr(t, 15, 2) * 60 + substr(t, 18, 2)
  o = substr(t, 20)
  if (o == "Z") return e
  if (o == "") o = tz
  sub(/:/, "", o)
  if (o ~ /^[+-][0-9][0-9][0-9][0-9]$/) e -= (substr(o, 1, 1) == "-" ? -1 : 1) * (substr(o, 2, 2) * 3600 + substr(o, 4, 2) * 60)
  return e
}

# 1 when a kill at time t (ISO 8601) is before cut (epoch seconds: the current boot or --since)
function history(t, cut, tz,   e) {
  e = epoch(t, tz)
  return (e != "" && cut ~ /^[0-9]+$/ && e < cut + 0) ? 1 : 0
}

# kmem / usage of a kill ("" when not both are byte counts)
function kmemshare(km, us) { return (km ~ /^[0-9]+$/ && us ~ /^[0-9]+$/ && us + 0 > 0) ? km / us : "" }

# the OOM kill thresholds, named once (oom.awk counts with them, report.awk judges with them):
# KMEM_SHARE, a kill with kmem / usage at least this was made by kmem; OOM_KEEP, the most recent kills
# kept in full (a log anyone can append to must not grow memory or the outputs), earlier ones counted
function ooms() { KMEM_SHARE = 0.10; OOM_KEEP = 50 }

# The records passed between the programs (tab-separated, $1 the kind; fields marked enc are enc()oded):
#   cg      walk.awk -> report.awk, ctrids.awk: a pod or container cgroup, fields CG_* below
#   oom     oom.awk -> report.awk: a memcg OOM kill of a pod or container cgroup, fields OOM_* below
#   kp, qp  walk.awk: kubepods (driver cgroupfs|systemd) or a QoS parent (burstable|besteffort), path
#           (enc), line of the path in the slabinfo probe list (0: not probed)
#   count   walk.awk: directories under the scanned root
#   sample  walk.awk (to the samples file): time, cgroups, cgroups with kmem > 0, largest kmem, its path (enc)
#   oomlog  oom.awk: log lines, memcg kills, kills of other memcgs, pod kills outside the scope, pod kills
#           in scope, of those kmem-caused (not history) and history (the oom records: the last OOM_KEEP)
#   nm      names.awk: container id, pod uid, namespace, pod name, container name
#   F       main.sh (facts): key, value (the rest of the line)
#   bin     main.sh: role, path, found_by, state (ok|missing|unreadable), kmem string count, nokmem
#           string count, build tags, sha256, reused (1|0)
#   sum     main.sh: sha256, name;  slab  main.sh: probe list line, active|inactive|missing
# records() names the fields of the two long ones; record() writes one from REC[].
function records() {
  CG_LEVEL = 2; CG_QOS = 3; CG_UID = 4; CG_CTR = 5; CG_PATH = 6     # pod|container, qos, uid (enc), container dir (enc), path below the root (enc)
  CG_USAGE = 7; CG_RSS = 8; CG_CACHE = 9                             # usage (v2 memory.current), total_rss (anon), total_cache (file)
  CG_KMEM = 10; CG_KMAX = 11; CG_KFAIL = 12                          # memory.kmem.{usage_in_bytes,max_usage_in_bytes,failcnt}
  CG_SLAB = 13; CG_LIMIT = 14; CG_N = 14                             # line in the slabinfo probe list (0: none), limit ("" unlimited)
  OOM_TIME = 2; OOM_MEMCG = 3; OOM_TASK = 4                          # time ("" none), memcg whose limit was hit (enc), task memcg (enc)
  OOM_LEVEL = 5; OOM_QOS = 6; OOM_UID = 7; OOM_CTR = 8               # level, qos, pod uid (enc), container (enc)
  OOM_USAGE = 9; OOM_LIMIT = 10; OOM_KMEM = 11; OOM_RSS = 12; OOM_CACHE = 13  # bytes ("" not in the report)
  OOM_PID = 14; OOM_COMM = 15; OOM_N = 15                            # killed process pid and name (enc)
}

# a record of kind k from REC[2..n] (tab-separated; REC is emptied)
function record(k, n,   s, i) {
  s = k
  for (i = 2; i <= n; i++) s = s "\t" REC[i]
  split("", REC)
  return s
}
