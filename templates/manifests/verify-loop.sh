#!/bin/sh
# The container command of the kmem-build-verify DaemonSet (written by `kmem-build manifests`).
# Runs verify-kmem.sh on this node every KMEM_INTERVAL seconds, with the arguments it is given
# (--kubelet, --runtime, ...), and:
#   - prints the report on stdout: `kubectl logs` shows the latest run of each node;
#   - writes node_exporter textfile metrics to KMEM_TEXTFILE (verify-kmem.sh writes a temporary
#     file beside it and renames it, so the collector never reads half a file).
# Needs only POSIX sh, awk and the usual utilities (busybox is enough).
#
# The host's /proc is mounted at /host/proc. verify-kmem.sh --proc-root reads self/mountinfo,
# cgroups, cmdline and sys/kernel/* under a directory: here self is the host's pid 1, so the
# memory cgroup mount is found as the host sees it (the host's /sys/fs/cgroup is mounted at the
# same path in this container). /proc/1/mountinfo is world-readable: no hostPID, no capability.
set -u
: "${KMEM_INTERVAL:?KMEM_INTERVAL (seconds between runs) is not set}"
: "${KMEM_TEXTFILE:?KMEM_TEXTFILE (node_exporter textfile) is not set}"
script=${KMEM_SCRIPT:-/etc/kmem-build/verify-kmem.sh}
host_proc=${KMEM_HOST_PROC:-/host/proc}
proc=${TMPDIR:-/tmp}/kmem-build-proc

mkdir -p "$proc" || exit 2
ln -sfn "$host_proc/1" "$proc/self"
for f in cgroups cmdline sys; do ln -sfn "$host_proc/$f" "$proc/$f"; done

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
