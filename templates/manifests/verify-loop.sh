#!/bin/sh
# The container command of the kmem-build-verify DaemonSet (written by `kmem-build manifests`).
# Runs verify-kmem.sh on this node every KMEM_INTERVAL seconds, with the arguments it is given
# (--kubelet, --runtime, ...), and:
#   - prints the report on stdout: `kubectl logs` shows the latest run of each node;
#   - writes node_exporter textfile metrics to KMEM_TEXTFILE (verify-kmem.sh writes a temporary
#     file beside it and renames it, so the collector never reads half a file).
# Needs only POSIX sh, awk and the usual utilities (busybox is enough); curl, where the image has it,
# to ask the API server for this node's running kubelet version (api_version below).
#
# Only the host /proc files verify-kmem.sh --proc-root reads are mounted, one by one, under
# /host/proc: 1/mountinfo (the host's pid 1 sees the memory cgroup mount as the host does; the
# file is world-readable, so no hostPID), cgroups, cmdline, sys/kernel/osrelease (and stat with
# --kernel-log). The pod has its own UTS namespace (no hostNetwork), so the hostname the script
# reports is the node's name from the downward API (KMEM_NODE_NAME = spec.nodeName).
#
# KMEM_ONCE=1: one run, then exit with verify-kmem.sh's exit code (a run by hand with kubectl exec,
# with its own TMPDIR beside the loop's; the tests).
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

# The running kubelet's version as the API server reports it for this node (status.nodeInfo.kubeletVersion,
# updated by the kubelet itself): the pod sees none of the host's processes, so a kubelet replaced on
# disk while the old process runs (fix state restart) shows only as a version other than the mark of the
# binary on disk (verify-kmem.sh --running-version). Asked with curl, which checks the API server's
# certificate against the service account's CA; busybox wget checks no certificate and is never used.
# Prints the version, or nothing with the reason on stderr (the report then says the running kubelet
# cannot be seen).
api_version() {
  sa=${KMEM_SERVICE_ACCOUNT:-/var/run/secrets/kubernetes.io/serviceaccount}
  if [ ! -r "$sa/token" ] || [ ! -r "$sa/ca.crt" ]; then
    echo "kmem-build-verify: no service account token in $sa (manifests written with --no-node-api): the running kubelet's version is not asked of the API server" >&2
    return 0
  fi
  if ! command -v curl >/dev/null 2>&1; then
    echo "kmem-build-verify: no curl in this image (needed to check the API server's certificate): the running kubelet's version is not asked of the API server; use an image with curl (kmem-build manifests --image)" >&2
    return 0
  fi
  host=${KUBERNETES_SERVICE_HOST:-}
  port=${KUBERNETES_SERVICE_PORT:-443}
  case $host in '' | *[!0-9A-Za-z.:-]*) echo "kmem-build-verify: KUBERNETES_SERVICE_HOST '$host' is not a host name or address" >&2; return 0 ;; esac
  case $port in '' | *[!0-9]*) echo "kmem-build-verify: KUBERNETES_SERVICE_PORT '$port' is not a port" >&2; return 0 ;; esac
  case $host in *:*) host="[$host]" ;; esac
  case $KMEM_NODE_NAME in *[!a-z0-9.-]*) echo "kmem-build-verify: node name '$KMEM_NODE_NAME' is not a Kubernetes node name" >&2; return 0 ;; esac
  # the token goes to curl in a file of this pod's own (never on a command line)
  ( umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$sa/token")" >"$api_dir/auth" ) || return 0
  if ! curl -sS --fail --proto =https --max-time 10 --max-filesize 4194304 --cacert "$sa/ca.crt" \
    -H @"$api_dir/auth" -H 'Accept: application/json' -o "$api_dir/node.json" \
    "https://$host:$port/api/v1/nodes/$KMEM_NODE_NAME" 2>"$api_dir/err"; then
    echo "kmem-build-verify: asking the API server for node $KMEM_NODE_NAME failed: $(head -c 300 "$api_dir/err")" >&2
    return 0
  fi
  # exactly one kubeletVersion, and shaped like a version: anything else is not taken
  v=$(grep -o '"kubeletVersion": *"[^"]*"' "$api_dir/node.json" | sed 's/.*: *"//; s/"$//')
  case $v in
    *"
"* | '') echo "kmem-build-verify: the API server's answer for node $KMEM_NODE_NAME has no single status.nodeInfo.kubeletVersion" >&2 ;;
    v[0-9]*.[0-9]*.[0-9]*)
      case $v in *[!0-9A-Za-z.+-]*) echo "kmem-build-verify: kubeletVersion '$v' is not a version" >&2 ;; *)
        if [ ${#v} -le 64 ]; then printf '%s\n' "$v"; else echo "kmem-build-verify: kubeletVersion '$v' is longer than 64 characters" >&2; fi ;;
      esac
      ;;
    *) echo "kmem-build-verify: kubeletVersion '$v' is not a version" >&2 ;;
  esac
}
api_dir=${TMPDIR:-/tmp}/kmem-build-api
mkdir -p "$api_dir" && chmod 700 "$api_dir" || exit 2

stop=0
trap 'stop=1' TERM INT
while [ "$stop" = 0 ]; do
  running=$(api_version)
  if [ -n "$running" ]; then
    sh "$script" --proc-root "$proc" --prometheus "$KMEM_TEXTFILE" --running-version "$running" "$@"
  else
    sh "$script" --proc-root "$proc" --prometheus "$KMEM_TEXTFILE" "$@"
  fi
  code=$?
  if [ "${KMEM_ONCE:-0}" = 1 ]; then
    echo "kmem-build-verify: verify-kmem.sh exited $code (0 OK, 1 problem, 2 could not tell)"
    exit "$code"
  fi
  echo "kmem-build-verify: verify-kmem.sh exited $code (0 OK, 1 problem, 2 could not tell); next run in ${KMEM_INTERVAL}s"
  [ "$stop" = 0 ] || break
  # sleep in the background so that SIGTERM (pod deletion) ends the wait at once
  sleep "$KMEM_INTERVAL" &
  wait $! 2>/dev/null
done
exit 0
