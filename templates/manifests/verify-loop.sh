#!/bin/sh
# The container command of the kmem-build-verify DaemonSet (written by `kmem-build manifests`).
# Runs verify-kmem.sh on this node every KMEM_INTERVAL seconds, with the arguments it is given
# (--kubelet, --runtime, ...), and:
#   - prints the report on stdout: `kubectl logs` shows the latest run of each node;
#   - writes node_exporter textfile metrics to KMEM_TEXTFILE (verify-kmem.sh writes a temporary
#     file beside it and renames it, so the collector never reads half a file).
# Needs only POSIX sh, awk and the usual utilities (busybox is enough).
#
# Only the host /proc files verify-kmem.sh --proc-root reads are mounted, one by one, under
# /host/proc: 1/mountinfo (the host's pid 1 sees the memory cgroup mount as the host does; the
# file is world-readable, so no hostPID), cgroups, cmdline, sys/kernel/osrelease (and stat with
# --kernel-log). The pod has its own UTS namespace (no hostNetwork), so the hostname the script
# reports is the node's name from the downward API (KMEM_NODE_NAME = spec.nodeName).
set -u
: "${KMEM_INTERVAL:?KMEM_INTERVAL (seconds between runs) is not set}"
: "${KMEM_TEXTFILE:?KMEM_TEXTFILE (node_exporter textfile) is not set}"
: "${KMEM_NODE_NAME:?KMEM_NODE_NAME (the node name, from the downward API) is not set}"
script=${KMEM_SCRIPT:-/etc/kmem-build/verify-kmem.sh}
host_proc=${KMEM_HOST_PROC:-/host/proc}
proc=${TMPDIR:-/tmp}/kmem-build-proc

mkdir -p "$proc/sys/kernel" || exit 2
ln -sfn "$host_proc/1" "$proc/self"
for f in cgroups cmdline stat sys/kernel/osrelease; do
  if [ -e "$host_proc/$f" ]; then ln -sfn "$host_proc/$f" "$proc/$f"; fi
done
printf '%s\n' "$KMEM_NODE_NAME" >"$proc/sys/kernel/hostname" || exit 2

stop=0
trap 'stop=1' TERM INT
while [ "$stop" = 0 ]; do
  sh "$script" --proc-root "$proc" --prometheus "$KMEM_TEXTFILE" "$@"
  code=$?
  echo "kmem-build-verify: verify-kmem.sh exited $code (0 OK, 1 problem, 2 could not tell); next run in ${KMEM_INTERVAL}s"
  [ "$stop" = 0 ] || break
  # sleep in the background so that SIGTERM (pod deletion) ends the wait at once
  sleep "$KMEM_INTERVAL" &
  wait $! 2>/dev/null
done
exit 0
