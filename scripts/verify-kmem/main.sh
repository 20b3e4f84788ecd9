#!/bin/sh
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
MOUNT_AWK='#include mount.awk'

# find output -> cgroup records of pod and container cgroups, the directory count, a sample line
# shellcheck disable=SC2016 # awk program: no shell expansion wanted
WALK_AWK='#include walk.awk'

# kernel log -> one record per memcg OOM kill of a pod or container cgroup, then a summary
# shellcheck disable=SC2016 # awk program: no shell expansion wanted
OOM_AWK='#include oom.awk'

# what a container runtime says -> name records (container id, pod uid, namespace, pod, container)
# shellcheck disable=SC2016 # awk program: no shell expansion wanted
NAMES_AWK='#include names.awk'

# ctr's container list + the scan records -> the container ids to ask ctr about
# shellcheck disable=SC2016 # awk program: no shell expansion wanted
CTRIDS_AWK='#include ctrids.awk'

# everything gathered -> checks, verdict and the report on stdout (human, json or brief), the
# Prometheus textfile; exit code 0/1/2
# shellcheck disable=SC2016 # awk program: no shell expansion wanted
REPORT_AWK='#include report.awk'

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
