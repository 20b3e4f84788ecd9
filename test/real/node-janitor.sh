#!/bin/sh
# Removes everything a test node (test/real/node-harness.ts) leaves behind: its processes (kubelet,
# strace, containerd, shims, containers), mounts under its temp dir, its cgroup trees in every
# hierarchy, the shims' sockets, its pods' /var/log/pods directories and /var/log/containers links,
# and the kernel settings the kubelet changed (put back); then the temp dir.
#
#   node-janitor.sh DIR CGROUP_NAME                 clean up now (forcefully)
#   node-janitor.sh DIR CGROUP_NAME --watch PID     wait until PID (the test process) is gone, then
#                                                   clean up: covers a test run that was SIGKILLed
#
# The one cleanup implementation: the harness runs it synchronously (stop(), exit and signal
# handlers) and as a detached watchdog. Exit 0 clean, 1 something is left (listed on stderr).
set -u
dir=$1
cg=$2
case $dir in /*/kmem-build-node-*) ;; *) echo "node-janitor: refusing '$dir'" >&2; exit 2 ;; esac
case $cg in kmem-build-test-*) ;; *) echo "node-janitor: refusing cgroup '$cg'" >&2; exit 2 ;; esac

if [ "${3:-}" = --watch ]; then
  owner=$4
  trap '' INT TERM HUP # the signals that end the run must not end the watchdog
  while kill -0 "$owner" 2>/dev/null; do sleep 1; done
  [ -d "$dir" ] || exit 0
fi

problems=0
problem() {
  echo "node-janitor: $*" >&2
  problems=1
}

trees=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { fs = $(i + 1); break }
  if (fs == "cgroup" || fs == "cgroup2") print $5 }' /proc/self/mountinfo | while read -r m; do
  [ -d "$m/$cg" ] && echo "$m/$cg"
done)

pat=$(mktemp)
printf '%s/\n' "$dir" >"$pat" # a pattern file: the pattern then appears in no process's command line
node_pids() {
  for t in $trees; do find "$t" -name cgroup.procs -exec cat {} + 2>/dev/null; done
  grep -alsF -f "$pat" /proc/[0-9]*/cmdline 2>/dev/null | sed 's#^/proc/##; s#/cmdline$##'
}

# the shims' sockets, computed while they still run (a killed shim leaves its socket behind):
#    /run/containerd/s/sha256(<address>/<namespace>/<id>)
sockets=""
pids=$(grep -alsF -f "$pat" /proc/[0-9]*/cmdline 2>/dev/null | sed 's#^/proc/##; s#/cmdline$##')
for p in $pids; do
  s=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | awk '
    NR == 1 && $0 !~ /containerd-shim/ { exit }
    prev == "-namespace" { ns = $0 } prev == "-id" { id = $0 } prev == "-address" { a = $0 } { prev = $0 }
    END { if (ns != "" && id != "" && a != "") print a "/" ns "/" id }')
  [ -n "$s" ] && sockets="$sockets /run/containerd/s/$(printf '%s' "$s" | sha256sum | cut -c1-64)"
done
# 1. the kubelet (with strace) and containerd: the process groups the harness started
for f in kubelet.pgid containerd.pgid; do
  [ -s "$dir/$f" ] && kill -KILL -- "-$(cat "$dir/$f")" 2>/dev/null
done

# 2. what is left: shims (their command line names the temp dir) and containers (in the node's cgroups)
i=0
while :; do
  pids=$(node_pids | sort -u)
  [ -z "$pids" ] && break
  # shellcheck disable=SC2086 # a list of pids
  kill -KILL $pids 2>/dev/null
  i=$((i + 1))
  if [ $i -gt 100 ]; then
    problem "processes still running: $(echo "$pids" | tr "\n" " ")"
    break
  fi
  sleep 0.1
done
rm -f "$pat"
for s in $sockets; do rm -f "$s"; done

# 3. mounts under the temp dir, deepest first (rootfs overlays, sandbox shm, the kubelet's rshared root-dir)
under() {
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print length($5), $5 }' /proc/self/mountinfo | sort -rn | cut -d' ' -f2-
}
for m in $(under); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
left=$(under)
[ -n "$left" ] && problem "mounts left: $(echo "$left" | tr "\n" " ")"

# 4. the pods' logs (kubelet 1.20 hard-codes /var/log/pods) and their /var/log/containers links
for t in $trees; do find "$t" -type d -name 'pod*' 2>/dev/null; done | sed -n 's#.*/pod\([0-9a-f-]\{32,36\}\)$#\1#p' | sort -u |
  while read -r uid; do
    for d in /var/log/pods/*_"$uid"; do
      [ -d "$d" ] || continue
      for l in /var/log/containers/*; do
        case $(readlink "$l" 2>/dev/null) in "$d"/*) rm -f "$l" ;; esac
      done
      rm -rf "$d"
    done
  done

# 5. cgroups, bottom-up, in every hierarchy (a dying process can hold one for a moment)
for t in $trees; do
  i=0
  while [ -d "$t" ] && [ $i -lt 50 ]; do
    find "$t" -depth -type d -exec rmdir {} + 2>/dev/null
    i=$((i + 1))
    [ -d "$t" ] && sleep 0.1
  done
  [ -d "$t" ] && problem "cgroup left: $t"
done

# 6. kernel settings the kubelet changes (vm.overcommit_memory, kernel.panic …). Nodes can overlap,
#    so the values from before any node started are kept machine-wide in $SYSCTLS (written by the
#    first node) and put back by the last node to go; $dir/sysctls.saved: nodes of older harnesses.
SYSCTLS=/run/kmem-build-node.sysctls
restore() {
  while read -r k v; do
    [ "$(cat "/proc/sys/$k")" = "$v" ] || echo "$v" >"/proc/sys/$k" || problem "could not restore $k=$v"
  done <"$1"
}
others=""
for d in "$(dirname "$dir")"/kmem-build-node-*; do
  [ -d "$d" ] && [ "$d" != "$dir" ] && others="$others $d"
done
if [ -s "$SYSCTLS" ]; then
  if [ -z "$others" ]; then restore "$SYSCTLS" && rm -f "$SYSCTLS"; fi
elif [ -s "$dir/sysctls.saved" ]; then
  restore "$dir/sysctls.saved"
fi

# 7. the temp dir, once nothing is mounted below it
if [ $problems -eq 0 ]; then rm -rf "$dir"; fi
exit $problems
