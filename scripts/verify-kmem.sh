#!/bin/sh
# GENERATED from scripts/verify-kmem/ (main.sh, lib.awk, *.awk) by scripts/assemble-verify-kmem.mjs:
# edit the parts, then run `npm run assemble`.
# shellcheck shell=sh
# =============================================================================
# verify-kmem.sh: does this Kubernetes node charge kernel memory (kmem) to pod
# and container memory cgroups?  Part of kmem-build; shipped with every build as
# dist/<version>/verify-kmem.sh and installed by the RPM at
# /usr/libexec/kmem-build/verify-kmem.sh.  `kmem-build verify` runs this same file
# (locally, or over ssh as `sh -s -- ARGS` with the script on stdin).
#
# Runs on CentOS/RHEL 7 and anything newer: POSIX sh (dash, bash, busybox sh),
# awk (gawk, mawk, busybox awk), find, grep, tr, sort, date, sha256sum, mktemp.
# It is read-only: nothing is ever written under the cgroup filesystem.  The
# work is done by one `find` and one awk per sample, never a process per cgroup.
#
# USAGE
#   sudo sh verify-kmem.sh                        human report
#   sudo sh verify-kmem.sh --json                 JSON report
#   sudo sh verify-kmem.sh --brief                one line (node-problem-detector)
#   sudo sh verify-kmem.sh --duration 10m --interval 10s    sample repeatedly
#   sudo sh verify-kmem.sh --prometheus /var/lib/node_exporter/textfile/kmem.prom
#   sh verify-kmem.sh --help                      all options
#
# `sh verify-kmem.sh --help` describes every option.  Checks, what is scanned and read, fix states,
# exit codes (0 OK, 1 problem, 2 unknown), the JSON report and the Prometheus metrics: docs/verify.md
# of kmem-build, "What the node script scans and reads" (JSON Schema: schemas/verify-report.schema.json).
# =============================================================================
LC_ALL=C
export LC_ALL
SCRIPT_VERSION=1
# The RPM Release of the build that shipped this copy (e.g. 2.nokmem), so the next step can name the
# exact package: stamped by kmem-build into dist/<version>/verify-kmem.sh and the RPM's copy (the
# stage step, stampRelease in src/verify/script-args.ts); empty in the source.
BUILD_RELEASE=""
TAB=$(printf '\t')
NL='
'

usage() {
  cat <<'EOF'
usage: sh verify-kmem.sh [--json|--brief|--reboot-required] [--gate] [--verbose] [OPTION]...
Checks that pod and container memory cgroups charge no kernel memory (kmem), and says the node's
fix state (not-affected, kernel, install, restart, reboot, runtime, fixed, unknown) and the step left.
It only reads.  Exit: 0 OK, 1 problem found, 2 could not tell (node-problem-detector; an unknown
fix state is 2, except with --no-binaries).

--json | --brief       output format (default: --human, the human text)
--reboot-required      print nothing; exit 0 exactly when the fix state is "reboot", 1 when
                       it is another, 2 when it cannot tell (kured --reboot-sentinel-command)
--gate                 rollout gate: exit 0 only when the fix state is "fixed" or
                       "not-affected" and no check failed or could not tell; 1 when a step of
                       the fix is left (kernel, install, restart, reboot, runtime) or a check
                       failed; 2 when the state is unknown or a check could not tell
--verbose              human output lists every pod/container cgroup
--prometheus FILE      also write node_exporter textfile metrics: FILE is a regular file or a
                       new name (never a link, device or directory), outside the cgroup
                       filesystem (resolved path); written to a new O_EXCL temp file of an
                       unpredictable name in its directory, then renamed with mv -T after
                       checking again that the directory and FILE are what they were at the
                       start (a long --duration run); no temp file is left
--duration D           keep sampling for D (30, 30s, 10m, 1h); FAIL if any sample > 0
--interval D           time between samples (default 10s)
--kubelet PATH         kubelet binary (default: systemd unit, PATH, /usr/bin/kubelet)
--kubelet-pid PID      the running kubelet process (default: systemd MainPID, else the one
                       process named kubelet that is root's and runs the kubelet binary, same
                       device and inode or that path deleted; none or several: cannot tell);
                       its exe is compared with the kubelet binary
--running-version V    the version the API server reports for this node's kubelet
                       (status.nodeInfo.kubeletVersion: the running one), compared with the
                       version mark of the kubelet binary where no kubelet process can be
                       seen (a pod without the host's processes: the DaemonSet passes it)
--runtime PATH         runc binary of the container runtime (repeatable; default:
                       runc, docker-runc, docker-runc-current on PATH and usual places)
--no-binaries          skip the kubelet/runtime binary checks (the fix state is then unknown)
--cache-dir DIR        keep binary verdicts in DIR/verify-kmem.<euid>/ (mode 700, created):
                       a binary whose identity (device, inode, size, mtime, ctime) is
                       unchanged since the last run keeps its verdict (binaries[].reused);
                       anything else is read in full.  A directory or file not this user's
                       alone is ignored (said in kubelet-binary); DIR unwritable: no cache
--checksums FILE       SHA256SUMS (`<hex>  <name>`) the kubelet's sha256 must appear in
--expect-sha256 HEX[:NAME]  same, one checksum per option (repeatable)
--cgroup-root DIR      memory cgroup hierarchy to scan (default: from mountinfo)
--proc-root DIR        read self/mountinfo, cgroups, cmdline, stat, sys/kernel/{osrelease,
                       hostname} under DIR instead of /proc (test fixtures)
--kernel-log FILE      kernel log to read OOM kills from: /var/log/messages (EL7), a
                       `journalctl -k` export, a dmesg dump; a regular file (a fifo or
                       device is refused, also if swapped in later) (default: the output of
                       dmesg, else `journalctl -k`, else /var/log/messages, the first
                       with lines; not read with --proc-root unless given)
--no-kernel-log        do not read a kernel log (oom-kills-kmem is INFO)
--trust-kernel-log     take kills read from a plain file (--kernel-log FILE, or the
                       /var/log/messages fallback) as the kernel's: kmem-caused ones FAIL.
                       Without it they are a WARN: any local user can write syslog
                       (logger -t kernel); dmesg and journalctl -k are always trusted
--since TIME           OOM kills before TIME (and before the current boot, btime of
                       <proc>/stat) are history: listed, counted apart, never a FAIL
--runtime-endpoint unix:///PATH  container runtime socket to read pod and container
                       names from (as crictl's flag; repeatable, tried in order; default:
                       the usual containerd, k3s, CRI-O, cri-dockerd and docker sockets)
--runtime-timeout S    time limit for asking the runtime (default 10)
--human                the human text (the default)
--help | --version
EOF
}

die_usage() {
  printf 'verify-kmem: %s\n' "$1" >&2
  printf "run 'sh verify-kmem.sh --help' for usage\n" >&2
  exit 2
}

# Seconds from 30, 30s, 10m, 1h, 1d (decimal, leading zeros allowed; at most 366 days); fails on
# anything else.
to_seconds() {
  _n=${1%[smhd]}
  _u=${1#"$_n"}
  case $_n in '' | *[!0-9]*) return 1 ;; esac
  while :; do
    case $_n in 0?*) _n=${_n#0} ;; *) break ;; esac
  done
  [ ${#_n} -le 8 ] || return 1
  case $_u in '' | s) _m=1 ;; m) _m=60 ;; h) _m=3600 ;; d) _m=86400 ;; *) return 1 ;; esac
  SECS=$((_n * _m))
  [ "$SECS" -le 31622400 ]
}

# ---------------------------------------------------------------------------
# awk programs: scripts/verify-kmem/*.awk in the source tree, each embedded here with the helpers
# it uses from lib.awk (scripts/assemble-verify-kmem.mjs).  Records between them are tab-separated;
# fields that hold cgroup paths are encoded (backslash, tab and newline as \\ \t \n).
# ---------------------------------------------------------------------------

# <proc>/self/mountinfo -> layout, memory hierarchy version, mount point, mount root, unified mount
# shellcheck disable=SC2016 # awk program: no shell expansion wanted
MOUNT_AWK='
function unoct(s,   out, o) {
  out = ""
  while (match(s, /\\[0-7][0-7][0-7]/)) {
    o = substr(s, RSTART + 1, 1) * 64 + substr(s, RSTART + 2, 1) * 8 + substr(s, RSTART + 3, 1)
    out = out substr(s, 1, RSTART - 1) sprintf("%c", o)
    s = substr(s, RSTART + 4)
  }
  return out s
}
{
  for (i = 7; i <= NF; i++) if ($i == "-") break
  if (i + 1 > NF) next
  fs = $(i + 1); so = "," $(i + 3) ","; mp = unoct($5); mr = unoct($4)
  if (fs == "cgroup") {
    v1++
    if (so ~ /,memory,/ && (memmp == "" || (memroot != "/" && mr == "/"))) { memmp = mp; memroot = mr }
  } else if (fs == "cgroup2") {
    if (v2mp == "" || (v2root != "/" && mr == "/")) { v2mp = mp; v2root = mr }
  }
}
END {
  if (memmp != "") { print (v2mp != "" ? "hybrid" : "v1"); print "v1"; print memmp; print memroot }
  else if (v2mp != "") { print (v1 ? "hybrid" : "v2"); print "v2"; print v2mp; print v2root }
  else { print "unknown"; print ""; print ""; print "" }
  print v2mp
}'

# find output -> cgroup records of pod and container cgroups, the directory count, a sample line
# shellcheck disable=SC2016 # awk program: no shell expansion wanted
WALK_AWK='
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
function rd(f,   l, r) {
  l = ""; r = (getline l < f); close(f)
  if (r <= 0 || l !~ /^[0-9]+$/) return ""
  return dnum(l)
}
function rdstat(f, k1, k2,   l, r, a) {
  S1 = ""; S2 = ""
  while ((r = (getline l < f)) > 0) {
    split(l, a, " ")
    if (a[1] == k1) S1 = a[2]; else if (a[1] == k2) S2 = a[2]
  }
  close(f)
  if (S1 ~ /^[0-9]+$/) S1 = dnum(S1)
  if (S2 ~ /^[0-9]+$/) S2 = dnum(S2)
}
# a cgroup whose memory.kmem.slabinfo the shell probes: its line number in SLABS, 0 when there is no
# probe or its path has a tab or newline.  SLABS is a list of lines `probe <PATH in single quotes>` that
# the shell sources (the read builtin of dash takes a byte per read(2): ~50,000 of them for 440 paths);
# every single quote (\047) of the path is written as quote, backslash, quote, quote, so nothing in a
# cgroup name is ever shell syntax.
function slab(p) {
  if (slabs != "" && index(p, "\n") == 0 && index(p, "\t") == 0) {
    print "probe \047" repl(p, "\047", "\047\\\047\047") "\047" > slabs
    return ++nslab
  }
  return 0
}
function handle(p,   rel, qos, uid, level, ctr, d, usage, kmem, kmax, kfail, si, lim) {
  ndirs++
  rel = substr(p, rl + 1)
  if (index(rel, "/kubepods") == 0) return
  podof(rel)
  si = 0
  if (KP != "" || QP != "") {
    si = slab(p)
    if (KP != "") print "kp\t" (KP == "kubepods" ? "cgroupfs" : "systemd") "\t" enc(rel) "\t" si
    else print "qp\t" QP "\t" enc(rel) "\t" si
    return
  }
  if (LV == "") return
  level = LV; qos = QOS; uid = UID; ctr = CTR
  d = p "/"
  if (ver == "v2") {
    usage = rd(d "memory.current"); rdstat(d "memory.stat", "anon", "file")
    kmem = ""; kmax = ""; kfail = ""; lim = rd(d "memory.max")
  } else {
    usage = rd(d "memory.usage_in_bytes"); rdstat(d "memory.stat", "total_rss", "total_cache")
    kmem = rd(d "memory.kmem.usage_in_bytes"); kmax = rd(d "memory.kmem.max_usage_in_bytes")
    kfail = rd(d "memory.kmem.failcnt"); lim = rd(d "memory.limit_in_bytes")
  }
  if (length(lim) > 18) lim = ""
  si = slab(p)
  REC[CG_LEVEL] = level; REC[CG_QOS] = qos; REC[CG_UID] = enc(uid); REC[CG_CTR] = enc(ctr); REC[CG_PATH] = enc(rel)
  REC[CG_USAGE] = usage; REC[CG_RSS] = S1; REC[CG_CACHE] = S2; REC[CG_KMEM] = kmem; REC[CG_KMAX] = kmax
  REC[CG_KFAIL] = kfail; REC[CG_SLAB] = si; REC[CG_LIMIT] = lim
  print record("cg", CG_N)
  ncg++
  if (kmem != "" && kmem + 0 > 0) { nz++; if (kmem + 0 > smax + 0) { smax = kmem; spath = rel } }
}
BEGIN {
  records()
  root = ENVIRON["ROOT"]; ver = ENVIRON["MEMVER"]; slabs = ENVIRON["SLABS"]
  rl = length(root); pre = (root == "/") ? "/" : root "/"; pl = length(pre); rl = (root == "/") ? 0 : rl
  have = 0; ndirs = 0; ncg = 0; nz = 0; smax = 0; spath = ""; nslab = 0
  if (slabs != "") printf "" > slabs
}
{
  if (!have) { cur = $0; have = 1 }
  else if (substr($0, 1, pl) == pre) { handle(cur); cur = $0 }
  else cur = cur "\n" $0
}
END {
  if (have) handle(cur)
  print "count\t" ndirs
  if (slabs != "") close(slabs)
  if (ENVIRON["SAMPLES"] != "")
    print "sample\t" ENVIRON["TS"] "\t" ncg "\t" nz "\t" smax "\t" enc(spath) >> ENVIRON["SAMPLES"]
}'

# kernel log -> one record per memcg OOM kill of a pod or container cgroup, then a summary
# shellcheck disable=SC2016 # awk program: no shell expansion wanted
OOM_AWK='
# s with every occurrence of from replaced by to (literal strings, no regular expressions)
function repl(s, from, to,   out, i) {
  out = ""
  while ((i = index(s, from)) > 0) { out = out substr(s, 1, i - 1) to; s = substr(s, i + length(from)) }
  return out s
}
# a field of a tab-separated record: backslash, tab and newline as \\ \t \n
function enc(s) {
  if (index(s, "\\") == 0 && index(s, "\t") == 0 && index(s, "\n") == 0) return s
  return repl(repl(repl(s, "\\", "\\\\"), "\t", "\\t"), "\n", "\\n")
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
}'

# what a container runtime says -> name records (container id, pod uid, namespace, pod, container)
# shellcheck disable=SC2016 # awk program: no shell expansion wanted
NAMES_AWK='
function unj(s,   out, i, c) {
  if (index(s, "\\") == 0) return s
  out = ""
  while ((i = index(s, "\\")) > 0) {
    c = substr(s, i + 1, 1)
    out = out substr(s, 1, i - 1) (c == "t" || c == "n" || c == "r" ? " " : c)
    s = substr(s, i + 2)
  }
  return out s
}
function clean(s) { gsub(/[\t\n\r]/, " ", s); return s }
function flush() {
  if (id != "" && id !~ /[\t\n]/) {
    cn = (("io.kubernetes.container.name" in lab) ? lab["io.kubernetes.container.name"] : "")
    if (cn == "" && sandbox) cn = "POD"
    print "nm\t" id "\t" clean(lab["io.kubernetes.pod.uid"]) "\t" clean(lab["io.kubernetes.pod.namespace"]) "\t" clean(lab["io.kubernetes.pod.name"]) "\t" clean(cn)
  }
  id = ""; sandbox = (kind == "pods"); split("", lab)
}
function label(k, v) {
  if (k ~ /^io\.kubernetes\.(pod\.(name|namespace|uid)|container\.name)$/) lab[k] = v
  else if (k == "io.cri-containerd.kind" && v == "sandbox") sandbox = 1
}
# JSON structure: depth D, TY[d] "o" (object) or "a" (array), K[d] the key whose value is being read
# at depth d, EK[d] 1 while a key is expected; a record is the object at depth RD.
function push(t) {
  if (t == "o" && D + 1 == RD && (RD == 1 || (TY[D] == "a" && K[D - 1] == LIST))) { INREC = 1; id = ""; sandbox = (kind == "pods"); split("", lab) }
  D++; TY[D] = t; K[D] = ""; EK[D] = (t == "o")
}
function pop() {
  if (D == RD && INREC) { flush(); INREC = 0 }
  if (D > 0) D--
}
function str(v) {
  if (TY[D] == "o" && EK[D]) { K[D] = v; EK[D] = 0; return }
  if (!INREC || TY[D] != "o") return
  if (D == RD && K[D] == IDK) id = v
  else if (D == RD + 1 && K[RD] == LABK) label(K[D], v)
}
BEGIN {
  kind = ENVIRON["KIND"]; id = ""; sandbox = (kind == "pods"); split("", lab)
  D = 0; INREC = 0
  if (kind == "ctr") { RD = 1; IDK = "ID"; LABK = "Labels"; LIST = "" }
  else { RD = 3; IDK = "id"; LABK = "labels"; LIST = (kind == "pods" ? "items" : "containers") }
}
kind == "docker" {
  n = split($0, f, "\t")
  if (n >= 5 && f[1] != "") {
    id = f[1]; split("", lab); sandbox = 0
    lab["io.kubernetes.pod.uid"] = f[2]; lab["io.kubernetes.pod.namespace"] = f[3]
    lab["io.kubernetes.pod.name"] = f[4]; lab["io.kubernetes.container.name"] = f[5]
    flush()
  }
  next
}
{
  s = $0
  while (s != "") {
    c = substr(s, 1, 1)
    if (c == "\"") {
      if (!match(s, /^"([^"\\]|\\.)*"/)) break
      str(unj(substr(s, 2, RLENGTH - 2))); s = substr(s, RLENGTH + 1)
    } else if (c == "{" || c == "[") { push(c == "{" ? "o" : "a"); s = substr(s, 2) }
    else if (c == "}" || c == "]") { pop(); s = substr(s, 2) }
    else if (c == ",") { if (TY[D] == "o") EK[D] = 1; s = substr(s, 2) }
    else if (match(s, /^[^"{}\[\],]+/)) s = substr(s, RLENGTH + 1)
    else s = substr(s, 2)
  }
}'

# ctr's container list + the scan records -> the container ids to ask ctr about
# shellcheck disable=SC2016 # awk program: no shell expansion wanted
CTRIDS_AWK='
# container id of a container cgroup: <id>, cri-containerd-<id>.scope, docker-<id>.scope, crio-<id>.scope
function cid(s) { if (s ~ /\.scope$/) { sub(/\.scope$/, "", s); sub(/^.*-/, "", s) } return s }
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
BEGIN { records() }
FNR == NR { have[$0] = 1; next }
$1 == "cg" && $CG_LEVEL == "container" {
  id = cid($CG_CTR)
  if ((id in have) && id ~ /^[0-9A-Za-z_.-]+$/ && !(id in seen)) { seen[id] = 1; print id }
}'

# everything gathered -> checks, verdict and the report on stdout (human, json or brief), the
# Prometheus textfile; exit code 0/1/2
# shellcheck disable=SC2016 # awk program: no shell expansion wanted
REPORT_AWK='
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
# from checks.tsv (scripts/assemble-verify-kmem.mjs): CORD[id] the place of a check in the report,
# CTT[id] its title, FIXW[cause] the fix when the kernel, the kubelet or the runtime is the cause
function checktable() {
  CORD["cgroup-layout"] = 1; CTT["cgroup-layout"] = "cgroup layout and memory controller"
  CORD["kernel-kmem-policy"] = 2; CTT["kernel-kmem-policy"] = "kernel kmem accounting policy"
  CORD["pod-cgroups-kmem"] = 3; CTT["pod-cgroups-kmem"] = "pod-level cgroups have zero kernel memory"
  CORD["container-cgroups-kmem"] = 4; CTT["container-cgroups-kmem"] = "container-level cgroups have zero kernel memory"
  CORD["kmem-accounting-active"] = 5; CTT["kmem-accounting-active"] = "kmem accounting switched on per cgroup"
  CORD["kubelet-binary"] = 6; CTT["kubelet-binary"] = "kubelet built without kmem-enabling code"
  CORD["kubelet-checksum"] = 7; CTT["kubelet-checksum"] = "kubelet is the one that was built"
  CORD["runtime-binaries"] = 8; CTT["runtime-binaries"] = "container runtime runc without kmem-enabling code"
  CORD["leaked-memcgs"] = 9; CTT["leaked-memcgs"] = "memory cgroup IDs not running out (65535)"
  CORD["kmem-stays-zero"] = 10; CTT["kmem-stays-zero"] = "kernel memory stays at zero over time"
  CORD["oom-headroom"] = 11; CTT["oom-headroom"] = "pods keep headroom below their limit as the OOM killer counts it"
  CORD["oom-kills-kmem"] = 12; CTT["oom-kills-kmem"] = "no OOM kill of a pod was caused by kernel memory"
  CORD["pod-names"] = 13; CTT["pod-names"] = "pods and containers by name"
  FIXW["kernel"] = "boot with cgroup.memory=nokmem (grubby --update-kernel=ALL --args=cgroup.memory=nokmem; reboot)"
  FIXW["kubelet"] = "install the nokmem kubelet built by kmem-build, then drain and reboot the node (existing cgroups keep accounting, and 3.10 kernels never free their memcg IDs)"
  FIXW["runtime"] = "upgrade runc of the container runtime to 1.0.0-rc94 or later (or a nokmem build), then drain and reboot the node"
}
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
function pct(x) { return sprintf("%.2f%%", x * 100) }
# a threshold as people write it: 0.9 -> 90%
function share(x) { return sprintf("%.0f%%", x * 100) }
function ratio(x) { return x == "" ? "null" : sprintf("%.4f", x) }
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
# from checks.tsv (scripts/assemble-verify-kmem.mjs): every check, in report order
function judge() {
  check_cgroup_layout()
  check_kernel_kmem_policy()
  check_pod_cgroups_kmem()
  check_container_cgroups_kmem()
  check_kmem_accounting_active()
  check_kubelet_binary()
  check_kubelet_checksum()
  check_runtime_binaries()
  check_leaked_memcgs()
  check_kmem_stays_zero()
  check_oom_headroom()
  check_oom_kills_kmem()
  check_pod_names()
}
function check_cgroup_layout(   s) {
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
}
function check_kernel_kmem_policy() {
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
    fixfor("kernel", "add cgroup.memory=nokmem to the kernel command line and reboot (EL: grubby --update-kernel=ALL --args=cgroup.memory=nokmem)"), "kernel", 1)
  else check("kernel-kmem-policy", "INFO", \
    "kernel " kernel " accounts kernel memory only in cgroups where a finite memory.kmem.limit_in_bytes was written (runc code in the kubelet or the runtime writes 1, then -1; -1 alone switches nothing on) and in cgroups created under them (memory.use_hierarchy=1)", "", "", 1)
}
function check_pod_cgroups_kmem(   s) {
  if (unjudged("pod-cgroups-kmem", np " pod cgroups; cgroup v2 has no separate kmem counter (kernel memory is in memory.current, see hidden_bytes)", \
    "run on a Kubernetes node, or pass --cgroup-root DIR")) return
  if (pnz > 0) {
    s = pnz " of " np " pod cgroups have kernel memory charged (largest: " hb(pmax) " in pod " podref(pmi) ", kmem failcnt " (num(KF[pmi]) ? KF[pmi] : "?") ")"
    if (kmemcause == "kernel") check("pod-cgroups-kmem", "FAIL", s "; " kerneltxt, fixfor("kernel", FIXW["kernel"]), "kernel", 1)
    else if (pkub > 0) check("pod-cgroups-kmem", "FAIL", s "; " pkub " of them account kmem at pod level: the kubelet switched it on (its vendored runc writes memory.kmem.limit_in_bytes)" \
      (prt > 0 ? "; " prt " only through containers the runtime set up (see container-cgroups-kmem)" : ""), fixfor("kubelet", FIXW["kubelet"]), "kubelet", 1)
    else check("pod-cgroups-kmem", "FAIL", s "; pod-level accounting is off: the charge comes from containers whose runtime (runc) switched kmem on", fixfor("runtime", FIXW["runtime"]), "runtime", 1)
  } else if (pmiss == np && !kmemfile) {
    check("pod-cgroups-kmem", "PASS", "the kernel has no memory.kmem.usage_in_bytes: no kmem accounting (" np " pod cgroups)", "", "", 1)
  } else if (pmiss > 0) {
    check("pod-cgroups-kmem", "WARN", "could not read memory.kmem.usage_in_bytes of " pmiss " of " np " pod cgroups (missing, unreadable or not a byte count); the others read 0", "", "", 0)
  } else {
    s = "all " np " pod cgroups read 0 bytes of kernel memory"
    if (kall == 1) s = s " (the kernel would charge kmem: see kernel-kmem-policy)"
    check("pod-cgroups-kmem", "PASS", s, "", "", 1)
  }
}
function check_container_cgroups_kmem(   s) {
  if (unjudged("container-cgroups-kmem", nc " container cgroups; cgroup v2 has no separate kmem counter", "")) return
  if (nc == 0) check("container-cgroups-kmem", "INFO", "no container cgroups under the " np " pod cgroups", "", "", 1)
  else if (cnz > 0) {
    s = cnz " of " nc " container cgroups have kernel memory charged (largest: " hb(cmax) " in container " ctrref(cmi) " of pod " podref(cmi) ")"
    if (kmemcause == "kernel") check("container-cgroups-kmem", "FAIL", s "; " kerneltxt, fixfor("kernel", FIXW["kernel"]), "kernel", 1)
    else if (crt > 0) check("container-cgroups-kmem", "FAIL", s "; " crt " of them switched on by the runtime (runc) under pod cgroups that do not account kmem" \
      (ckub > 0 ? "; " ckub " inherit it from pod cgroups the kubelet set up" : ""), fixfor("runtime", FIXW["runtime"]), "runtime", 1)
    else check("container-cgroups-kmem", "FAIL", s "; their pod cgroups account kmem too (containers inherit it from the pod cgroup the kubelet set up)", fixfor("kubelet", FIXW["kubelet"]), "kubelet", 1)
  } else if (cmiss == nc && !kmemfile) check("container-cgroups-kmem", "PASS", "the kernel has no memory.kmem.usage_in_bytes: no kmem accounting (" nc " container cgroups)", "", "", 1)
  else if (cmiss > 0) check("container-cgroups-kmem", "WARN", "could not read memory.kmem.usage_in_bytes of " cmiss " of " nc " container cgroups (missing, unreadable or not a byte count); the others read 0", "", "", 0)
  else check("container-cgroups-kmem", "PASS", "all " nc " container cgroups read 0 bytes of kernel memory", "", "", 1)
}
function check_kmem_accounting_active(   armed, s) {
  armed = "armed: on 3.10 accounting once on stays on for the life of the cgroup (and, with memory.use_hierarchy=1 as systemd sets it, is inherited by every cgroup created under it), so slab memory, leaked memcg IDs and hidden OOM kills follow even at 0 bytes now (a 6 GB pod was OOM-killed at 2.5 GB rss + cache, 3.4 GB of it kmem)"
  if (memver != "v1" || (NCG == 0 && NPA == 0)) check("kmem-accounting-active", "INFO", (memver == "v2" ? "cgroup v2: not applicable" : "no pod or container cgroups to look at"), "", "", 1)
  else if (kge == 1 && nokmem) check("kmem-accounting-active", "PASS", "off in every memory cgroup (kernel " kernel " >= 4.6 with cgroup.memory=nokmem)", "", "", 1)
  else if (kge == 1) check("kmem-accounting-active", "INFO", "on in every memory cgroup: kernel " kernel " >= 4.6 accounts kmem unless booted with cgroup.memory=nokmem", "", "kernel", 1)
  else if (anyact + anyin == 0) check("kmem-accounting-active", "WARN", "memory.kmem.slabinfo not readable as a signal here: cannot tell per cgroup", "", "", 0)
  else if (paract + pact + cact > 0) {
    s = "accounting on (memory.kmem.slabinfo readable) in " (paract > 0 ? pars " (" paract " of " NPA " kubepods/QoS parents), " : "") pact " of " np " pod cgroups and " cact " of " nc " container cgroups"
    if (paract > 0) check("kmem-accounting-active", "FAIL", s ": every pod created under " (paract == 1 ? "it" : "them") " inherits accounting until the node reboots; " armed, fixfor("kubelet", "drain and reboot the node (after the nokmem kubelet is installed and running)"), "kubelet", 1)
    else if (pact > 0) check("kmem-accounting-active", "FAIL", s ": pod level is the kubelet (containers inherit it); " armed, fixfor("kubelet", FIXW["kubelet"]), "kubelet", 1)
    else check("kmem-accounting-active", "FAIL", s ": only at container level, so the runc of the container runtime switches it on; " armed, fixfor("runtime", FIXW["runtime"]), "runtime", 1)
  } else check("kmem-accounting-active", "PASS", "off in all " NPA " kubepods/QoS parents, " np " pod and " nc " container cgroups (memory.kmem.slabinfo fails to read)" (aunk + parunk > 0 ? "; " (aunk + parunk) " not probed" : ""), "", "", 1)
}
function check_kubelet_binary(   tg) {
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
        fixfor("kubelet", "install the nokmem kubelet built by kmem-build (GOFLAGS=-tags=nokmem)"), "kubelet", 1)
    else if (BV[kb] == "nokmem-variant-linked") check("kubelet-binary", "PASS", BP[kb] " is a nokmem build (\"kernel memory accounting disabled in this runc build\")" (BMK[kb] != "" ? "; version " BMK[kb] : "") tg, "", "", 1)
    else check("kubelet-binary", "PASS", BP[kb] " has no kmem-enabling code linked" (BMK[kb] != "" ? "; version " BMK[kb] : "") tg, "", "", 1)
  }
}
function check_kubelet_checksum() {
  if (fact("checksums_wanted") != 1) check("kubelet-checksum", "INFO", "not requested (--checksums SHA256SUMS)", "", "", 1)
  else if (!kb || BS[kb] != "ok" || BH[kb] == "") check("kubelet-checksum", "WARN", "no readable kubelet to checksum", "pass --kubelet PATH", "", 0)
  else if (BH[kb] in SUMS) check("kubelet-checksum", "PASS", "sha256 " BH[kb] " of " BP[kb] " matches " SUMS[BH[kb]], "", "", 1)
  else check("kubelet-checksum", "FAIL", "sha256 " BH[kb] " of " BP[kb] " matches none of the " NSUMS " expected checksums", "install the kubelet package from the same kmem-build build as the checksums", "kubelet", 1)
}
function check_runtime_binaries(   i, nr, rk, rbad, rs) {
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
  else if (rk > 0) check("runtime-binaries", binstatus, rs binnote, fixfor("runtime", FIXW["runtime"]), "runtime", 1)
  else if (rbad > 0) check("runtime-binaries", "WARN", rs, "run as root", "", 0)
  else check("runtime-binaries", "PASS", rs, "", "", 1)
}
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
function check_kmem_stays_zero(   s) {
  if (dur == "") check("kmem-stays-zero", "INFO", "one sample taken; pass --duration 10m --interval 10s to watch", "", "", 1)
  else if (memver != "v1" || NCG == 0) check("kmem-stays-zero", "INFO", NS " samples over " dur " s: no kmem counters to watch", "", "", 1)
  else {
    s = NS " samples over " dur " s every " itv " s"
    if (SMAX + 0 > 0) check("kmem-stays-zero", "FAIL", s ": " SNZ " samples non-zero, maximum " hb(SMAX) " at " SMAXAT " in " jesc(SMAXP), \
      (kmemcause == "kernel" ? fixfor("kernel", FIXW["kernel"]) : "see pod-cgroups-kmem and container-cgroups-kmem"), (kmemcause == "kernel" ? "kernel" : ""), 1)
    else check("kmem-stays-zero", "PASS", s ": every pod and container cgroup read 0 in every sample", "", "", 1)
  }
}
function check_oom_headroom(   i, n, hws) {
  hws = ""; n = 0
  for (i = 1; i <= NCG; i++)
    if (HW[i] && ++n <= 5) hws = hws "; " who(U[i], C[i]) " at " pct(UR[i]) " of its " hb(LIM[i]) " limit (usage " hb(US[i]) ") while rss + cache is " pct(DR[i]) " (" hb(sprintf("%.0f", RSSV[i] + CA[i])) "): HIDDEN " hb(hidden(i))
  if (nhw > 5) hws = hws "; " (nhw - 5) " more"
  if (nlim == 0) check("oom-headroom", "INFO", "no pod or container cgroup has a memory limit", "", "", 1)
  else if (nhw > 0) check("oom-headroom", "WARN", nhw " of " nlim " memory-limited pod/container cgroups are above " share(HEADROOM_USAGE) " of their limit as the OOM killer counts it (usage) while rss + cache, what dashboards show, stays below " share(HEADROOM_SEEN) hws, fixfor(kmemwho, kmemfix), kmemwho, 1)
  else check("oom-headroom", "PASS", nlim " memory-limited pod/container cgroups; highest usage / limit " pct(hmax) " (" who(U[hmi], C[hmi]) ", rss + cache " (DR[hmi] == "" ? "?" : pct(DR[hmi])) ")", "", "", 1)
}
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
function check_pod_names(   i, npn, ncn, src) {
  npn = 0; ncn = 0
  for (i = 1; i <= NCG; i++) { if (L[i] == "pod") { if (RP[i] != "") npn++ } else if (RC[i] != "") ncn++ }
  src = fact("names_source")
  if (fact("names_skipped") == 1) check("pod-names", "INFO", "not asked: --proc-root reads a fixture, not this node (pass --runtime-endpoint unix:///PATH to ask its runtime)", "", "", 1)
  else if (src != "") check("pod-names", "INFO", "names from " src ": " npn " of " np " pod cgroups and " ncn " of " nc " container cgroups named" \
    (fact("names_timeout") == 1 ? " (stopped after " fact("names_limit") " s: the rest by ID)" : ""), "", "", 1)
  else check("pod-names", "INFO", "no container runtime answered (" fact("names_why") "): pods are shown by UID", \
    (fact("euid") == "0" ? "" : "run as root, or ") "pass --runtime-endpoint unix:///PATH (the containerd, CRI-O or docker socket of the node)", "", 1)
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
  SUMT["restart"] = "the nokmem kubelet is installed but not running: the running kubelet is the old binary (its file deleted or another file, or another version by the API server)"
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
# The remedy of a check whose cause is CAUSE, as the node stands: where that cause is what the fix state
# of the node is about (kubelet: install, restart, reboot; kernel; runtime), the next step of the node, so
# a node that needs only its reboot is never told to install again; else the OWN wording of the check.
function fixfor(cause, own) {
  if (cause == "kubelet" && (FIX == "install" || FIX == "restart" || FIX == "reboot")) return FIXNEXT
  if (cause != "" && cause == FIX) return FIXNEXT
  return own
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
# code (the exit code), result (OK, PROBLEM, UNKNOWN), GATED (the fix state --gate decided on, or "")
function noderesult(   gcode) {
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
function brief(   i) {
  if (code == 0) { printf "OK [%s]: %d pod and %d container cgroups charge no kernel memory; next: %s\n", FIX, np, nc, FIXNEXT; return }
  for (i = 1; i <= NCK; i++) if ((code == 1 && CST[i] == "FAIL") || (code == 2 && !CCO[i])) break
  # no check to name: the fix state decided (unknown, or a step left under --gate)
  if (i > NCK) printf "%s [%s]: fix state %s: %s; next: %s\n", result, FIX, FIX, jesc(FIXSUM), FIXNEXT
  else printf "%s [%s]: %s: %s; next: %s\n", result, FIX, CID[i], tesc(CSE[i]), FIXNEXT
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
}'

# ---------------------------------------------------------------------------
# the phases, in the order main() at the end runs them, each after the helpers it uses
# ---------------------------------------------------------------------------

parse_args() { # the options
  fmt=human
  gate=0
  verbose=0
  prom=""
  duration=""
  interval=""
  cgroot=""
  procroot=/proc
  procroot_set=0
  kubelet=""
  kubeletpid=""
  runver=""
  since=""
  runtimes=""
  checksums=""
  expects=""
  nobinaries=0
  kernellog=""
  kernellog_off=0
  kltrust=0
  cachedir=""
  rtendpoints=""
  rtlimit=10

  while [ $# -gt 0 ]; do
    opt=$1
    val=""
    case $opt in
      --*=*)
        val=${opt#*=}
        opt=${opt%%=*}
        shift
        set -- "$opt" "$val" "$@"
        ;;
    esac
    case $opt in
      --prometheus | --duration | --interval | --since | --kubelet | --kubelet-pid | --running-version | --runtime | --checksums | --expect-sha256 | --cgroup-root | --proc-root | --runtime-endpoint | --runtime-timeout | --kernel-log | --cache-dir)
        [ $# -ge 2 ] || die_usage "$opt needs a value"
        val=$2
        shift 2
        ;;
      *) shift ;;
    esac
    case $opt in
      --json) fmt=json ;;
      --brief) fmt=brief ;;
      --reboot-required) fmt=reboot ;;
      --gate) gate=1 ;;
      --human) fmt=human ;;
      --verbose | -v) verbose=1 ;;
      --prometheus) prom=$val ;;
      --duration)
        to_seconds "$val" || die_usage "bad --duration '$val' (use 30, 30s, 10m, 1h; at most 366d)"
        duration=$SECS
        ;;
      --interval)
        to_seconds "$val" || die_usage "bad --interval '$val' (use 10, 10s, 1m; at most 366d)"
        [ "$SECS" -ge 1 ] || die_usage "--interval must be at least 1s"
        interval=$SECS
        ;;
      --kubelet) kubelet=$val ;;
      --since)
        since=$(date -u -d "$val" +%s 2>/dev/null </dev/null)
        case $since in '' | *[!0-9]*) die_usage "bad --since '$val' (a time date -d reads, e.g. 2026-12-01T10:00:00Z)" ;; esac
        ;;
      --kubelet-pid)
        case $val in '' | *[!0-9]*) die_usage "bad --kubelet-pid '$val' (a process id)" ;; esac
        kubeletpid=$val
        ;;
      --running-version)
        # a Kubernetes version as the API reports it (v1.20.2, v1.20.2+nokmem, v1.21.0-rc.0+abc)
        case $val in v[0-9]*.[0-9]*.[0-9]*) ;; *) die_usage "bad --running-version '$val' (a kubelet version as the API reports it, e.g. v1.20.2+nokmem)" ;; esac
        case $val in *[!0-9A-Za-z.+-]*) die_usage "bad --running-version '$val' (a kubelet version as the API reports it, e.g. v1.20.2+nokmem)" ;; esac
        [ ${#val} -le 64 ] || die_usage "bad --running-version '$val' (longer than 64 characters)"
        runver=$val
        ;;
      --runtime) runtimes="$runtimes$val$NL" ;;
      --no-binaries) nobinaries=1 ;;
      --checksums)
        if [ ! -r "$val" ] || [ ! -f "$val" ]; then die_usage "cannot read --checksums file '$val'"; fi
        checksums=$val
        ;;
      --expect-sha256)
        case ${val%%:*} in
          *[!0-9a-fA-F]* | '') die_usage "bad --expect-sha256 '$val' (64 hex digits, optionally :NAME)" ;;
        esac
        [ ${#val} -ge 64 ] || die_usage "bad --expect-sha256 '$val' (64 hex digits, optionally :NAME)"
        expects="$expects$val$NL"
        ;;
      --cgroup-root)
        [ -n "$val" ] || die_usage "--cgroup-root needs a directory"
        cgroot=$val
        ;;
      --proc-root)
        procroot=$val
        procroot_set=1
        ;;
      --kernel-log)
        if [ ! -r "$val" ] || [ -d "$val" ]; then die_usage "cannot read --kernel-log file '$val'"; fi
        # a fifo, socket or device would be read without end (or block the open): only a file
        [ -f "$val" ] || die_usage "--kernel-log '$val' is not a regular file (a fifo or device is never read; save the log to a file first)"
        kernellog=$val
        ;;
      --no-kernel-log) kernellog=/dev/null kernellog_off=1 ;;
      --trust-kernel-log) kltrust=1 ;;
      --cache-dir)
        [ -n "$val" ] || die_usage "--cache-dir needs a directory"
        cachedir=$val
        ;;
      --runtime-endpoint)
        case $val in
          unix:///*) rtendpoints="$rtendpoints${val#unix://}$NL" ;;
          /*) rtendpoints="$rtendpoints$val$NL" ;;
          *) die_usage "bad --runtime-endpoint '$val' (use unix:///PATH)" ;;
        esac
        ;;
      --runtime-timeout)
        to_seconds "$val" || die_usage "bad --runtime-timeout '$val' (use 10, 10s, 1m; at most 366d)"
        [ "$SECS" -ge 1 ] || die_usage "--runtime-timeout must be at least 1s"
        rtlimit=$SECS
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      --version)
        echo "verify-kmem.sh $SCRIPT_VERSION"
        exit 0
        ;;
      *) die_usage "unknown argument '$opt'" ;;
    esac
  done
  if [ -n "$interval" ] && [ -z "$duration" ]; then die_usage "--interval needs --duration"; fi
  if [ "$gate" = 1 ] && [ "$fmt" = reboot ]; then die_usage "choose one of --gate and --reboot-required"; fi
  if [ -n "$duration" ] && [ -z "$interval" ]; then interval=10; fi
  if [ -n "$duration" ] && [ "$interval" -gt "$duration" ] && [ "$duration" -gt 0 ]; then interval=$duration; fi
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  rm -rf "$tmp"
  if [ -n "$promtmp" ] && [ -f "$promtmp" ] && [ ! -L "$promtmp" ]; then rm -f "$promtmp"; fi
}

fact() { printf 'F\t%s\t%s\n' "$1" "$2" >>"$facts"; }

# $1 with links, ".", ".." and repeated slashes resolved (a directory that exists), else nothing
realdir() { (cd -P -- "$1" 2>/dev/null && pwd -P); }

first_line() { # $1 = file; prints its first line or nothing (no process)
  _l=""
  if [ -r "$1" ]; then { IFS= read -r _l <"$1"; } 2>/dev/null; fi
  printf '%s' "$_l"
}

start() { # the temp directory, its cleanup and the facts file
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/verify-kmem.XXXXXX") || {
    echo "verify-kmem: cannot create a temporary directory" >&2
    exit 2
  }
  promtmp=""
  trap cleanup EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  facts=$tmp/facts
  : >"$facts"
}

find_memory_cgroups() { # layout, memory hierarchy and the scanned root
  mountinfo=$procroot/self/mountinfo
  layout=unknown memver="" memmount="" memmountroot="" unified=""
  if [ -r "$mountinfo" ]; then
    awk "$MOUNT_AWK" "$mountinfo" >"$tmp/mounts" 2>/dev/null
    {
      IFS= read -r layout
      IFS= read -r memver
      IFS= read -r memmount
      IFS= read -r memmountroot
      IFS= read -r unified
    } <"$tmp/mounts"
  fi
  memroot=$memmount
  if [ -n "$cgroot" ]; then
    memroot=$cgroot
    if [ "$layout" = unknown ]; then
      if [ -e "$cgroot/memory.usage_in_bytes" ]; then
        layout=v1 memver=v1
      elif [ -e "$cgroot/cgroup.controllers" ]; then
        layout=v2 memver=v2
      fi
    fi
  fi
  case $memroot in
    / | "") ;;
    */) memroot=${memroot%/} ;;
  esac
  case $memroot in
    /* | "") ;;
    *) memroot=./$memroot ;;
  esac
  rootok=0
  if [ -n "$memroot" ] && [ -d "$memroot" ] && [ -r "$memroot" ] && [ -x "$memroot" ]; then rootok=1; fi
  rootkmem=0
  if [ -e "$memroot/memory.kmem.usage_in_bytes" ]; then rootkmem=1; fi
  # The scanned root's path inside the memory hierarchy, as the kernel log names memcgs: kills of
  # memcgs outside it are not its pods.  A root that is not below the mount point (a fixture
  # directory) is taken as the whole hierarchy.
  oomscope=/
  if [ "$rootok" = 1 ] && [ -n "$memmount" ]; then
    _r=$(realdir "$memroot") _m=$(realdir "$memmount")
    case $_r in
      "$_m") oomscope=$memmountroot ;;
      "$_m"/*) oomscope=${memmountroot%/}${_r#"$_m"} ;;
    esac
  fi
  [ -n "$oomscope" ] || oomscope=/
  # /proc/cgroups counts the whole hierarchy: compare only when we scan all of it.
  compare=0
  if [ "$memmountroot" = / ] || [ -z "$memmount" ]; then
    if [ -z "$cgroot" ] || [ "$procroot_set" = 1 ] || [ "$cgroot" = "$memmount" ]; then compare=1; fi
  fi
  [ -n "$memmount" ] || [ "$procroot_set" = 1 ] || compare=0
}

node_facts() { # kernel, hostname, command line, memcg count
  kernel=$(first_line "$procroot/sys/kernel/osrelease")
  hostname=$(first_line "$procroot/sys/kernel/hostname")
  [ -n "$hostname" ] || hostname=$(uname -n 2>/dev/null)
  cmdline=$(first_line "$procroot/cmdline")
  num_cgroups=""
  if [ -r "$procroot/cgroups" ]; then
    while read -r _name _hier _num _en; do
      if [ "$_name" = memory ]; then num_cgroups=$_num; fi
    done <"$procroot/cgroups"
  fi
  : "${_hier:=}" "${_en:=}"
}

# --prometheus FILE: a regular file or a new name, in a directory outside the cgroup filesystem
# (checked on the resolved path: no //, /./, .. or link gets round it).  Written at the end through a
# new temp file in the same directory, then renamed over FILE.
check_prometheus_target() { # where --prometheus may write
  if [ -n "$prom" ]; then
    _b=${prom##*/}
    case $prom in
      */*) _d=${prom%/*} ;;
      *) _d=. ;;
    esac
    case $_b in "" | . | ..) die_usage "--prometheus '$prom' is not a file name" ;; esac
    _dr=$(realdir "${_d:-/}")
    [ -n "$_dr" ] || die_usage "--prometheus '$prom': no directory '${_d:-/}'"
    _in=""
    case ${_dr%/}/ in /sys/fs/cgroup/*) _in=1 ;; esac
    [ -e "$_dr/cgroup.procs" ] && _in=1
    case $(stat -f -c %T "$_dr" 2>/dev/null </dev/null) in cgroup*) _in=1 ;; esac
    for _x in "$memroot" "$memmount"; do
      [ -n "$_x" ] || continue
      _x=$(realdir "$_x")
      case ${_dr%/}/ in "${_x%/}"/*) [ -z "$_x" ] || _in=1 ;; esac
    done
    [ -z "$_in" ] || die_usage "--prometheus must not point into the cgroup filesystem"
    if [ -L "$prom" ]; then
      die_usage "--prometheus '$prom' is a symbolic link: not followed (name the file itself)"
    elif [ -e "$prom" ] && [ ! -f "$prom" ]; then
      die_usage "--prometheus '$prom' is not a regular file (a directory, device or fifo is never replaced)"
    fi
    [ -w "$_dr" ] || die_usage "cannot write --prometheus file next to '$prom'"
    prom=${_dr%/}/$_b
  fi
}

write_facts() { # the facts so far, for the report
  fact version "$SCRIPT_VERSION"
  fact build_release "$BUILD_RELEASE"
  fact format "$fmt"
  fact gate "$gate"
  fact verbose "$verbose"
  fact layout "$layout"
  fact memver "$memver"
  fact memroot "$memroot"
  fact unified "$unified"
  fact rootok "$rootok"
  fact rootkmem "$rootkmem"
  fact compare "$compare"
  fact mountinfo "$mountinfo"
  fact proc "$procroot"
  fact kernel "$kernel"
  fact hostname "$hostname"
  fact cmdline "$cmdline"
  fact num_cgroups "$num_cgroups"
  fact duration "$duration"
  fact interval "$interval"
  fact nobinaries "$nobinaries"
  fact euid "$(id -u 2>/dev/null)"
  if [ -n "$prom" ]; then fact promtmp "$tmp/prom"; fi
}

# The verdict cache (--cache-dir DIR): DIR/verify-kmem.<euid>/binaries, lines "path, identity, kmem
# count, nokmem count, tags, sha256" (tab-separated).  It is used only when that directory is a real
# directory of this user with mode 700 and the file is this user's and writable by no one else: a
# forged entry needs this user's rights (root's, in the DaemonSet).  An entry is reused only for the
# same path with the same identity (device, inode, size, mtime, ctime: any write, touch, chmod,
# rename or replacement changes the ctime, which no one can set back).
cache_open() {
  cache_d="" cache_why=""
  : >"$tmp/cache.old"
  : >"$tmp/cache.new"
  [ -n "$cachedir" ] || return 0
  _u=$(id -u 2>/dev/null)
  _d=${cachedir%/}/verify-kmem.$_u
  if [ ! -e "$_d" ] && [ ! -L "$_d" ] && ! mkdir -m 700 "$_d" 2>/dev/null; then
    cache_why="cannot create $_d"
    return 0
  fi
  _st=$(stat -c '%u %a %F' "$_d" 2>/dev/null </dev/null)
  if [ -L "$_d" ] || [ "$_st" != "$_u 700 directory" ]; then
    cache_why="$_d is not a directory of uid $_u with mode 700 ($_st)"
    return 0
  fi
  cache_d=$_d
  [ -e "$_d/binaries" ] || return 0
  _st=$(stat -c '%u %a %F' "$_d/binaries" 2>/dev/null </dev/null)
  case $_st in
    "$_u "?[0145][0145]" regular file" | "$_u "?[0145][0145]" regular empty file")
      if [ ! -L "$_d/binaries" ]; then cat "$_d/binaries" >"$tmp/cache.old" 2>/dev/null || : >"$tmp/cache.old"; fi
      ;;
    *) cache_why="$_d/binaries ignored: not a file of uid $_u that only it may write ($_st)" ;;
  esac
}

# A new cache file through a temp file in the private directory, renamed over the old one.
cache_close() {
  [ -n "$cache_d" ] || return 0
  _t=$(mktemp "$cache_d/.binaries.XXXXXX" 2>/dev/null </dev/null) || {
    cache_why="cannot write in $cache_d"
    return 0
  }
  if cat "$tmp/cache.new" >"$_t" 2>/dev/null && mv -f "$_t" "$cache_d/binaries" 2>/dev/null; then :; else
    rm -f "$_t"
    cache_why="cannot write $cache_d/binaries"
  fi
}

binary_identity() { # path -> device:inode:size:mtime:ctime (with nanoseconds where stat has them)
  stat -L -c '%d:%i:%s:%y:%z' "$1" 2>/dev/null </dev/null
}

inspect_binary() { # role path found_by
  _k=0 _n=0 _tags="" _sha="" _id="" _mk=""
  if [ ! -e "$2" ]; then
    printf 'bin\t%s\t%s\t%s\tmissing\t0\t0\t\t\n' "$1" "$2" "$3" >>"$facts"
    return
  fi
  if [ ! -f "$2" ] || [ ! -r "$2" ]; then
    printf 'bin\t%s\t%s\t%s\tunreadable\t0\t0\t\t\n' "$1" "$2" "$3" >>"$facts"
    return
  fi
  if [ -n "$cache_d" ]; then
    case $2 in *"$TAB"* | *"$NL"*) ;; *) _id=$(binary_identity "$2") ;; esac
  fi
  if [ -n "$_id" ]; then
    while IFS="$TAB" read -r _cp _ci _ck _cn _ct _cs _cm; do
      if [ "$_cp" != "$2" ] || [ "$_ci" != "$_id" ]; then continue; fi
      case $_ck$_cn in '' | *[!0-9]*) break ;; esac
      case $_cs in *[!0-9a-f]*) break ;; esac
      [ ${#_cs} -eq 64 ] || break
      case $_cm in . | v*+nokmem) ;; *) break ;; esac # no mark field: an older cache, read again
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$2" "$_id" "$_ck" "$_cn" "$_ct" "$_cs" "$_cm" >>"$tmp/cache.new"
      if [ "$_ct" = . ]; then _ct=""; fi
      if [ "$_cm" = . ]; then _cm=""; fi
      printf 'bin\t%s\t%s\t%s\tok\t%s\t%s\t%s\t%s\t1\t%s\n' "$1" "$2" "$3" "$_ck" "$_cn" "$_ct" "$_cs" "$_cm" >>"$facts"
      return
    done <"$tmp/cache.old"
  fi
  # NULs become newlines so every grep (GNU, busybox) sees short text lines.
  tr '\000' '\n' <"$2" 2>/dev/null | grep -a -o -e "$S_KMEM" -e "$S_NOKMEM" -e "${S_TAGS}[!-~]*" -e "$S_MARK" >"$tmp/grep" 2>/dev/null
  while IFS= read -r _l; do
    case $_l in
      "$S_KMEM") _k=$((_k + 1)) ;;
      "$S_NOKMEM") _n=$((_n + 1)) ;;
      "$S_TAGS"*) _tags=${_l#"$S_TAGS"} ;;
      v*+nokmem) _mk=$_l ;;
    esac
  done <"$tmp/grep"
  _sha=$(sha256sum "$2" 2>/dev/null </dev/null)
  _sha=${_sha%% *}
  printf 'bin\t%s\t%s\t%s\tok\t%s\t%s\t%s\t%s\t0\t%s\n' "$1" "$2" "$3" "$_k" "$_n" "$_tags" "$_sha" "$_mk" >>"$facts"
  # cached only when the file did not change while it was read
  if [ -n "$_id" ] && [ ${#_sha} -eq 64 ] && [ "$(binary_identity "$2")" = "$_id" ]; then
    # "." for no tags: read splits on tabs as white space, so an empty field would vanish
    case $_tags in *"$TAB"*) ;; *) printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$2" "$_id" "$_k" "$_n" "${_tags:-.}" "$_sha" "${_mk:-.}" >>"$tmp/cache.new" ;; esac
  fi
}

# The running kubelet: --kubelet-pid, else systemd's MainPID (not with --proc-root: that is a fixture,
# not this node), else the one process that can be the kubelet (kubelet_candidate).  Any user can
# start a process named "kubelet", so a name alone never counts: when none or more than one qualifies
# it is "cannot tell" (run_why), never a guess.  Its exe is compared with the checked file by device
# and inode (stat -L: read-only), and an exe that links to a deleted file is an old binary still running.
running_kubelet() {
  _pid="" _by="" _why=""
  if [ -n "$kubeletpid" ]; then _pid=$kubeletpid _by=option; fi
  if [ -z "$_pid" ] && [ "$procroot_set" = 0 ] && command -v systemctl >/dev/null 2>&1; then
    _x=$(systemctl show -p MainPID kubelet 2>/dev/null </dev/null)
    _x=${_x#MainPID=}
    case $_x in '' | 0 | *[!0-9]*) ;; *) _pid=$_x _by=systemd ;; esac
  fi
  if [ -z "$_pid" ]; then
    _named="" _fit="" _nfit=0 _nproc=0
    _kid=""
    if [ -n "$kubelet" ]; then _kid=$(stat -L -c %d:%i "$kubelet" 2>/dev/null </dev/null); fi
    for _d in "$procroot"/[0-9]*; do
      [ -r "$_d/comm" ] || continue
      _nproc=$((_nproc + 1))
      _c=$(first_line "$_d/comm")
      [ "$_c" = kubelet ] || continue
      _named="$_named ${_d##*/}"
      if kubelet_candidate "$_d" "$_kid"; then
        _fit="$_fit ${_d##*/}"
        _nfit=$((_nfit + 1))
      fi
    done
    if [ "$_nfit" = 1 ]; then
      _pid=${_fit# } _by=proc
    elif [ "$_nfit" -gt 1 ]; then
      _why="cannot tell which process is the kubelet: pids$_fit are all root's and run ${kubelet:-the kubelet} (pass --kubelet-pid PID)"
    elif [ -n "$_named" ]; then
      _why="cannot tell which process is the kubelet: processes named kubelet (pids$_named), none of them root's running ${kubelet:-a checked kubelet file} (pass --kubelet-pid PID)"
    fi
  fi
  # no process at all under --proc-root (the DaemonSet's pod sees none of the host's): the running
  # kubelet is then told only by the version the API server reports (--running-version)
  fact run_procs "${_nproc:-}"
  fact procroot "$procroot"
  fact api_version "$runver"
  fact run_pid "$_pid"
  fact run_by "$_by"
  fact run_why "$_why"
  [ -n "$_pid" ] || return 0
  _exe=$(readlink "$procroot/$_pid/exe" 2>/dev/null </dev/null)
  fact run_exe "$_exe"
  _m=unknown
  case $_exe in
    *" (deleted)") _m=deleted ;;
    "") ;;
    *)
      _a=$(stat -L -c %d:%i "$procroot/$_pid/exe" 2>/dev/null </dev/null)
      _b=$(stat -L -c %d:%i "$kubelet" 2>/dev/null </dev/null)
      if [ -n "$_a" ] && [ -n "$_b" ]; then
        if [ "$_a" = "$_b" ]; then _m=same; else _m=other; fi
      fi
      ;;
  esac
  fact run_match "$_m"
}

# $1: a /proc/PID directory of a process named kubelet, $2: device:inode of the checked kubelet file.
# It can be the kubelet only when it is root's (real and effective uid 0 in its status: no other
# user can start such a process) and runs the checked file: the same device and inode, or that path
# deleted (the file was replaced after it started: the old kubelet, still running). On 3.10 a rename
# over a running file gives the old one the new file's temporary name: rpm's PATH;HEX (seen on the
# real 7.9 kernel), so the deleted name may carry that suffix.
kubelet_candidate() {
  [ -n "$2" ] && [ -r "$1/status" ] || return 1
  _u=""
  {
    while read -r _k _r _e _rest; do
      if [ "$_k" = Uid: ]; then
        _u="$_r:$_e"
        break
      fi
    done <"$1/status"
  } 2>/dev/null
  : "${_rest:=}"
  [ "$_u" = 0:0 ] || return 1
  _x=$(readlink "$1/exe" 2>/dev/null </dev/null)
  case $_x in
    "") return 1 ;;
    *" (deleted)")
      _x=${_x%" (deleted)"}
      case $_x in "$kubelet;"* | "$(realdir "${kubelet%/*}")/${kubelet##*/};"*) _x=${_x%;*} ;; esac
      [ "$_x" = "$kubelet" ] || [ "$_x" = "$(realdir "${kubelet%/*}")/${kubelet##*/}" ]
      return
      ;;
  esac
  [ "$(stat -L -c %d:%i "$1/exe" 2>/dev/null </dev/null)" = "$2" ]
}

# The version of a kubelet that links runc's kmem code, for the next step's package name
# (kubelet-1.20.2-2.nokmem): `kubelet --version` ("Kubernetes v1.20.2"), asked only of such a kubelet
# on a v1 kernel before 4.6 (a fixed or a newer node starts nothing), only of a regular file of root
# or this user that no one else may write, under the runtime time limit; anything but a plain X.Y.Z
# names no version.
kubelet_version() {
  _kk=""
  while IFS="$TAB" read -r _t _r _p _f _s _k _rest; do
    if [ "$_t" = bin ] && [ "$_r" = kubelet ] && [ "$_p" = "$kubelet" ] && [ "$_s" = ok ]; then _kk=$_k; fi
  done <"$facts"
  : "${_f:=}" "${_rest:=}"
  case $_kk in '' | 0 | *[!0-9]*) return 0 ;; esac
  # install is a state of cgroup v1 kernels before 4.6 only: elsewhere the version names nothing
  [ "$memver" = v1 ] || return 0
  case $kernel in [4-9].[6-9]* | [4-9].[1-9][0-9]* | [5-9].* | [1-9][0-9]*) return 0 ;; esac
  [ -f "$kubelet" ] && [ -x "$kubelet" ] || return 0
  case $(stat -L -c '%u %a' "$kubelet" 2>/dev/null </dev/null) in
    "0 "*[0145][0145] | "$(id -u 2>/dev/null) "*[0145][0145]) ;;
    *) return 0 ;;
  esac
  limited "$kubelet" --version || return 0
  _l=$(first_line "$tmp/rt.out")
  _v=${_l#Kubernetes v}
  case $_l in "Kubernetes v"*) ;; *) return 0 ;; esac
  case $_v in *[!0-9.]* | *..* | .* | *. | *.*.*.*) return 0 ;; *.*.*) ;; *) return 0 ;; esac
  fact kubelet_version "$_v"
}

# kubelet and runc binaries, the running kubelet: the same byte rules as the build's inspection
# (docs/domain.md, "Telling a nokmem binary from its bytes")
inspect_binaries() {
  S_KMEM='failed to set %s, because either tasks have already joined this cgroup or it has children'
  S_NOKMEM='kernel memory accounting disabled in this runc build'
  S_TAGS="build${TAB}-tags="
  S_MARK='v[0-9][0-9.]*[-.0-9A-Za-z]*+nokmem' # kmem-build's version mark (src/inspect/evidence.ts)




  if [ "$nobinaries" = 0 ]; then
    cache_open
    kfound=""
    if [ -n "$kubelet" ]; then
      kfound=option
    else
      if command -v systemctl >/dev/null 2>&1; then
        _x=$(systemctl show -p ExecStart kubelet 2>/dev/null </dev/null)
        case $_x in
          *path=/*)
            _x=${_x#*path=}
            kubelet=${_x%% *}
            kfound=systemd
            ;;
        esac
      fi
      if [ -z "$kubelet" ] && _x=$(command -v kubelet 2>/dev/null) && [ -n "$_x" ]; then
        kubelet=$_x
        kfound=path
      fi
      for _x in /usr/bin/kubelet /usr/local/bin/kubelet; do
        if [ -z "$kubelet" ] && [ -e "$_x" ]; then
          kubelet=$_x
          kfound=default-path
        fi
      done
    fi
    if [ -n "$kubelet" ]; then inspect_binary kubelet "$kubelet" "$kfound"; fi
    kubelet_version
    running_kubelet

    if [ -n "$runtimes" ]; then
      _found=option
      _list=$runtimes
    else
      _found=search
      _list=""
      for _x in runc docker-runc docker-runc-current; do
        if _p=$(command -v "$_x" 2>/dev/null) && [ -n "$_p" ]; then _list="$_list$_p$NL"; fi
      done
      for _x in /usr/bin/runc /usr/sbin/runc /usr/local/bin/runc /usr/local/sbin/runc \
        /usr/bin/docker-runc /usr/local/bin/docker-runc /usr/libexec/docker/docker-runc-current \
        /var/lib/rancher/k3s/data/current/bin/runc; do
        if [ -e "$_x" ]; then _list="$_list$_x$NL"; fi
      done
    fi
    _seen="$NL"
    while IFS= read -r _x; do
      [ -n "$_x" ] || continue
      case $_seen in *"$NL$_x$NL"*) continue ;; esac
      _seen="$_seen$_x$NL"
      inspect_binary runtime "$_x" "$_found"
    done <<EOF
$_list
EOF
    cache_close
    fact cache_dir "$cache_d"
    fact cache_why "$cache_why"
  fi
}

# expected checksums: --checksums FILE lines `<hex>  [*]<name>` and --expect-sha256 HEX[:NAME]
read_checksums() { # expected kubelet checksums
  if [ -n "$checksums" ] || [ -n "$expects" ]; then
    fact checksums_wanted 1
    if [ -n "$checksums" ]; then
      while read -r _h _name; do
        case $_h in *[!0-9a-fA-F]* | '') continue ;; esac
        [ ${#_h} -eq 64 ] || continue
        printf 'sum\t%s\t%s\n' "$_h" "${_name#\*}" >>"$facts"
      done <"$checksums"
    fi
    while IFS= read -r _x; do
      [ -n "$_x" ] || continue
      _h=${_x%%:*}
      _name=${_x#"$_h"}
      _name=${_name#:}
      printf 'sum\t%s\t%s\n' "$_h" "${_name:-expected sha256 $_h}" >>"$facts"
    done <<EOF
$expects
EOF
  fi
}

# samples: one find and one awk each; the last one is the report's cgroup table
scan() { # $1: output file; $2: slab candidate file or ""
  _ts=$(date -u +%Y-%m-%dT%H:%M:%SZ </dev/null)
  if [ "$rootok" = 1 ]; then
    find "$memroot" -type d 2>/dev/null </dev/null |
      ROOT=$memroot MEMVER=$memver SLABS=$2 SAMPLES=$tmp/samples TS=$_ts awk "$WALK_AWK" >"$1.raw"
    _rc=$?
    sort -t "$TAB" -k6,6 "$1.raw" >"$1" 2>/dev/null || cp "$1.raw" "$1"
  else
    : >"$1"
    _rc=0
  fi
  return $_rc
}

sample_cgroups() { # one or more scans of the cgroup tree
  : >"$tmp/samples"
  slabwanted=""
  if [ "$memver" = v1 ]; then
    slabwanted=1
    case $kernel in
      [4-9].[6-9]* | [4-9].[1-9][0-9]* | [5-9].* | [1-9][0-9]*) slabwanted="" ;;
    esac
  fi
  n=1
  if [ -n "$duration" ]; then n=$((duration / interval + 1)); fi
  i=1
  while :; do
    if [ "$i" -ge "$n" ] && [ -n "$slabwanted" ]; then _slabs=$tmp/slabcands; else _slabs=""; fi
    scan "$tmp/scan" "$_slabs" || scan "$tmp/scan" "$_slabs" || {
      printf 'verify-kmem: reading the cgroup counters failed\n' >&2
      fact rootok 0
    }
    [ "$i" -lt "$n" ] || break
    sleep "$interval"
    i=$((i + 1))
  done
}

# memory.kmem.slabinfo of 3.10 kernels: readable = accounting on, read error = off.
# Read with the shell builtin (mawk aborts on read errors; no process per file).
# shellcheck disable=SC2317 # called by the sourced list of slab candidates
probe() { # $1: a cgroup directory, in the order of walk.awk's slab candidates
  _i=$((_i + 1))
  _f=$1/memory.kmem.slabinfo
  if [ ! -e "$_f" ]; then
    _s=missing
  elif { IFS= read -r _l <"$_f"; } 2>/dev/null; then
    _s=active
  else
    _s=inactive
  fi
  printf 'slab\t%s\t%s\n' "$_i" "$_s"
}

probe_slabinfo() { # memory.kmem.slabinfo where the kernel needs it
  : >"$tmp/slab"
  if [ -n "$slabwanted" ] && [ -r "$tmp/slabcands" ]; then
    _i=0
    # written by walk.awk in our own mktemp directory: one `probe 'PATH'` line per candidate
    # shellcheck source=/dev/null
    . "$tmp/slabcands" >"$tmp/slab"
  fi
}

# Runs "$@" with stdout to $tmp/rt.out and stderr to $tmp/rt.err for at most $rtlimit
# seconds (coreutils timeout -k: KILL 2 s after TERM; busybox timeout [-t]; else a
# watchdog); returns 124 when it had to be stopped.
limited() {
  if [ -z "$limiter" ]; then
    if timeout -k 2 5 true >/dev/null 2>&1 </dev/null; then
      limiter=timeout-k
    elif timeout 5 true >/dev/null 2>&1 </dev/null; then
      limiter=timeout
    elif timeout -t 5 true >/dev/null 2>&1 </dev/null; then
      limiter=timeout-t
    else
      limiter=watchdog
    fi
  fi
  case $limiter in
    timeout-k) timeout -k 2 "$rtlimit" "$@" >"$tmp/rt.out" 2>"$tmp/rt.err" </dev/null ;;
    timeout) timeout "$rtlimit" "$@" >"$tmp/rt.out" 2>"$tmp/rt.err" </dev/null ;;
    timeout-t) timeout -t "$rtlimit" "$@" >"$tmp/rt.out" 2>"$tmp/rt.err" </dev/null ;;
    *)
      "$@" >"$tmp/rt.out" 2>"$tmp/rt.err" </dev/null &
      _pid=$!
      (
        sleep "$rtlimit"
        kill "$_pid"
      ) >/dev/null 2>&1 </dev/null &
      _wd=$!
      wait "$_pid"
      _rc=$?
      kill "$_wd" 2>/dev/null
      if [ "$_rc" -eq 143 ]; then return 124; fi
      return "$_rc"
      ;;
  esac
  _rc=$?
  if [ "$_rc" -eq 143 ] || [ "$_rc" -eq 137 ]; then return 124; fi
  return "$_rc"
}

rt_note() { # $1: tool, $2: socket, $3: exit code of the attempt
  if [ "$3" -eq 124 ]; then
    _m="no answer within $rtlimit s"
  else
    _m=$(first_line "$tmp/rt.err")
    [ -n "$_m" ] || _m="exit $3"
  fi
  rt_why="$rt_why; $1 at unix://$2: $_m"
}

rt_parse() { # $1: KIND for NAMES_AWK
  tr '\000' '?' <"$tmp/rt.out" | KIND=$1 awk "$NAMES_AWK" >>"$tmp/names" 2>/dev/null
}

# One runtime CLI on one socket; 0 when it answered, 124 when it hung (give up on the socket).
rt_ask() { # $1: crictl|ctr|docker, $2: socket path
  command -v "$1" >/dev/null 2>&1 || return 1
  case $1 in
    crictl)
      limited crictl --runtime-endpoint "unix://$2" pods -o json
      _r=$?
      if [ "$_r" -ne 0 ]; then
        rt_note crictl "$2" "$_r"
        return "$_r"
      fi
      rt_parse pods
      limited crictl --runtime-endpoint "unix://$2" ps -a -o json
      _r=$?
      if [ "$_r" -ne 0 ]; then
        rt_note crictl "$2" "$_r"
        return "$_r"
      fi
      rt_parse ctrs
      ;;
    ctr)
      limited ctr --address "$2" -n k8s.io containers list -q
      _r=$?
      if [ "$_r" -ne 0 ]; then
        rt_note ctr "$2" "$_r"
        return "$_r"
      fi
      # containers that have a cgroup here: ctr prints labels one container at a time
      _ids=$(awk -F "$TAB" "$CTRIDS_AWK" "$tmp/rt.out" "$tmp/scan" 2>/dev/null)
      if [ -n "$_ids" ]; then
        # shellcheck disable=SC2086,SC2016 # ids split on purpose (no blanks); $1/$@ are sh -c's
        limited sh -c 'a=$1; shift; for i in "$@"; do ctr --address "$a" -n k8s.io containers info "$i"; done' sh "$2" $_ids
        _r=$?
        if [ "$_r" -eq 124 ]; then rt_timeout=1; fi
        rt_parse ctr
      fi
      ;;
    docker)
      limited docker -H "unix://$2" ps -a --no-trunc --format "{{.ID}}$TAB{{.Label \"io.kubernetes.pod.uid\"}}$TAB{{.Label \"io.kubernetes.pod.namespace\"}}$TAB{{.Label \"io.kubernetes.pod.name\"}}$TAB{{.Label \"io.kubernetes.container.name\"}}"
      _r=$?
      if [ "$_r" -ne 0 ]; then
        rt_note docker "$2" "$_r"
        return "$_r"
      fi
      rt_parse docker
      ;;
  esac
  case $1 in
    ctr) rt_source="containerd (ctr)" ;;
    crictl) rt_source="CRI (crictl)" ;;
    *) rt_source=$1 ;;
  esac
  rt_source="$rt_source at unix://$2"
  return 0
}

# pod and container names from the container runtime: read-only, once, time-limited
read_pod_names() {
  : >"$tmp/names"
  limiter=""
  rt_why=""
  rt_source=""
  rt_timeout=""
  rt_empty=""
  rt_given=""
  if [ -n "$rtendpoints" ]; then
    _list=$rtendpoints
    rt_given=1
  elif [ "$procroot_set" = 1 ]; then
    _list=""
    fact names_skipped 1
  else
    _list="/run/containerd/containerd.sock$NL/run/k3s/containerd/containerd.sock$NL/var/run/crio/crio.sock$NL/var/run/cri-dockerd.sock$NL/var/run/docker.sock"
  fi
  # Sockets in order; the first runtime that names a pod ends the search.  One that answers
  # but knows no pod (docker's own containerd on a dockershim node) is kept as a last resort.
  _any=""
  while IFS= read -r _s; do
    [ -n "$_s" ] || continue
    if [ ! -S "$_s" ]; then
      if [ -n "$rt_given" ]; then rt_why="$rt_why; no socket at unix://$_s"; fi
      continue
    fi
    _any=1
    case $_s in
      *docker.sock) _tools="docker crictl" ;;
      */containerd.sock) _tools="crictl ctr" ;;
      */crio.sock | */cri-dockerd.sock) _tools=crictl ;;
      *) _tools="crictl ctr docker" ;;
    esac
    _asked=""
    for _t in $_tools; do
      command -v "$_t" >/dev/null 2>&1 || continue
      _asked=1
      rt_ask "$_t" "$_s"
      case $? in 0 | 124) break ;; esac
    done
    if [ -z "$_asked" ]; then rt_why="$rt_why; none of $_tools on PATH to ask unix://$_s"; fi
    if [ -n "$rt_source" ]; then
      if grep -q "^nm${TAB}[^${TAB}]*${TAB}[^${TAB}]" "$tmp/names" 2>/dev/null; then break; fi
      rt_empty=${rt_empty:-$rt_source}
      rt_source=""
    fi
  done <<EOF
$_list
EOF
  if [ -z "$rt_source" ]; then rt_source=$rt_empty; fi
  if [ -z "$rt_source" ] && [ -z "$_any" ] && [ -z "$rt_given" ] && [ "$procroot_set" != 1 ]; then
    rt_why="; no socket at /run/containerd/containerd.sock, /run/k3s/containerd/containerd.sock, /var/run/crio/crio.sock, /var/run/cri-dockerd.sock or /var/run/docker.sock"
  fi
  fact names_source "$rt_source"
  fact names_why "${rt_why#; }"
  fact names_timeout "$rt_timeout"
  fact names_limit "$rtlimit"
}

oomlog() { # stdin: the log; NUL bytes become "?" (awks differ on them: invalid JSON, cut strings)
  tr '\000' '?' | BTIME=$btime YEAR=${_ym% *} MONTH=${_ym#* } SCOPE=$oomscope CUT=$oomcut TZOFF=$tzoff \
    awk "$OOM_AWK" >"$tmp/oom"
}

# kernel log: memcg OOM kill reports, one streaming awk over the first source with lines
read_kernel_log() {
  btime=""
  if [ -r "$procroot/stat" ]; then
    while read -r _k _v; do
      if [ "$_k" = btime ]; then btime=$_v; fi
    done <"$procroot/stat"
  fi
  _ym=$(date +'%Y %m %z' </dev/null)
  tzoff=${_ym##* }
  _ym=${_ym% *}
  # kills before the current boot, or before --since when that is later, are history
  case $btime in '' | *[!0-9]*) oomcut="" ;; *) oomcut=$btime ;; esac
  if [ -n "$since" ] && { [ -z "$oomcut" ] || [ "$since" -gt "$oomcut" ]; }; then oomcut=$since; fi
  klsrc="" klpath="" klwhy=""
  if [ "$kernellog_off" = 1 ]; then
    klwhy="--no-kernel-log"
  elif [ -n "$kernellog" ]; then
    # checked again right before the open: a fifo put in its place meanwhile would block the open
    # (only who may write the log's directory can swap it, in the instant between test and open)
    if [ -f "$kernellog" ]; then
      oomlog <"$kernellog"
      klsrc=file klpath=$kernellog
    else
      klwhy="--kernel-log $kernellog is no longer a regular file"
    fi
  elif [ "$procroot_set" = 1 ]; then
    klwhy="--proc-root names another /proc, so this machine's log would be the wrong one"
  else
    if command -v dmesg >/dev/null 2>&1 && dmesg 2>/dev/null </dev/null | oomlog; then
      klsrc=dmesg
    elif command -v journalctl >/dev/null 2>&1 && journalctl -k -q -o short-iso --no-pager 2>/dev/null </dev/null | oomlog; then
      klsrc="journalctl -k"
    elif [ -r /var/log/messages ] && [ -f /var/log/messages ] && oomlog </var/log/messages; then
      klsrc=file klpath=/var/log/messages
    else
      klwhy="none readable (dmesg, journalctl -k, /var/log/messages); run as root"
    fi
  fi
  [ -n "$klsrc" ] || : >"$tmp/oom"
  fact klsrc "$klsrc"
  fact kltrust "$kltrust"
  fact oomscope "$oomscope"
  fact btime "$btime"
  fact since "$since"
  fact tzoff "$tzoff"
  fact klpath "$klpath"
  fact klwhy "$klwhy"
}

report() { # the report and the exit code
  fact timestamp "$(date -u +%Y-%m-%dT%H:%M:%SZ </dev/null)"
  fact epoch "$(date +%s </dev/null)"
  awk "$REPORT_AWK" "$facts" "$tmp/scan" "$tmp/slab" "$tmp/samples" "$tmp/names" "$tmp/oom"
  code=$?
  case $code in 0 | 1 | 2) ;; *) code=2 ;; esac
  # The metrics go to a new file of an unpredictable name next to FILE, created and written through one
  # O_EXCL open (noclobber), so a link planted there is never followed; then renamed over FILE.
  if [ -n "$prom" ]; then
    promwhy=""
    if prom_dir_same && promtmp=$(mktemp -u "${prom%/*}/.${prom##*/}.XXXXXXXX" 2>/dev/null </dev/null) &&
      [ -n "$promtmp" ] && (set -C && cat "$tmp/prom" >"$promtmp") 2>/dev/null && prom_place; then
      promtmp=""
    elif [ -n "$promwhy" ]; then
      printf "verify-kmem: --prometheus '%s' %s: metrics not written\n" "$prom" "$promwhy" >&2
      code=2
    else
      printf "verify-kmem: cannot write --prometheus file '%s'\n" "$prom" >&2
      code=2
    fi
  fi
  exit $code
}

# The temp file and the rename of the metrics over FILE, as safe as the start-time check although a long run
# (--duration) leaves time to plant something: FILE's directory must still resolve to the one checked
# then (no component swapped for a link), FILE must still be a regular file or absent, and mv -T
# (GNU, busybox) renames onto the name itself, so a link planted in the instant between this check
# and the rename is replaced or refused, never followed into a directory.  An mv without -T leaves
# that instant open (docs/trust-model.md).
prom_dir_same() {
  _pd=${prom%/*}
  if [ "$(realdir "${_pd:-/}")" != "${_pd:-/}" ]; then
    promwhy="is in a directory that was moved or replaced by a link during the run"
    return 1
  fi
}
prom_place() {
  prom_dir_same || return 1
  if [ -L "$prom" ]; then
    promwhy="became a symbolic link during the run: not followed"
    return 1
  elif [ -e "$prom" ] && [ ! -f "$prom" ]; then
    promwhy="became a directory or other non-regular file during the run: not replaced"
    return 1
  fi
  : >"$tmp/mv.a"
  if mv -f -T "$tmp/mv.a" "$tmp/mv.b" 2>/dev/null; then
    mv -f -T "$promtmp" "$prom" 2>/dev/null
  else
    mv -f "$promtmp" "$prom" 2>/dev/null
  fi
}

# ---------------------------------------------------------------------------
# main: the phases in order (each writes facts or records for the report, or exits)
# ---------------------------------------------------------------------------
main() {
  parse_args "$@"
  start
  find_memory_cgroups
  node_facts
  check_prometheus_target
  write_facts
  inspect_binaries
  read_checksums
  sample_cgroups
  probe_slabinfo
  read_pod_names
  read_kernel_log
  report
}
main "$@"
