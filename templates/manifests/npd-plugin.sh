#!/bin/sh
# node-problem-detector custom plugin of kmem-build (written by `kmem-build manifests`).
#
#   npd-plugin.sh TEXTFILE MAX_AGE_SECONDS
#
# Reports the last result the kmem-build-verify DaemonSet wrote on this node, from its
# node_exporter textfile (kmem_build_verify_exit_code, kmem_build_verify_timestamp_seconds,
# kmem_build_check_status): NPD mounts the same host directory read-only, so this plugin reads
# a file and never touches cgroups itself. One short line on stdout; exit codes as NPD expects:
#   0  OK: no kernel memory charged to pod or container cgroups
#   1  problem: a check FAILed (its ids are named)
#   2  unknown: no result, a result older than MAX_AGE_SECONDS, or the check could not tell
set -u
f=${1:-/var/lib/node_exporter/textfile/kmem-build.prom}
max_age=${2:-600}
if [ ! -r "$f" ]; then
  echo "no kmem-build-verify result at $f"
  exit 2
fi
now=$(date +%s)
awk -v now="$now" -v max_age="$max_age" '
  $1 == "kmem_build_verify_exit_code" { code = $2 }
  $1 == "kmem_build_verify_timestamp_seconds" { ts = $2 }
  index($1, "kmem_build_check_status{") == 1 && index($1, "status=\"FAIL\"") > 0 && $2 == 1 {
    id = $1
    sub(/^.*check="/, "", id)
    sub(/".*$/, "", id)
    failed = failed (failed == "" ? "" : ",") id
  }
  END {
    if (code == "" || ts == "") { print "kmem-build-verify result incomplete"; exit 2 }
    age = now - ts
    if (age > max_age) { printf "kmem-build-verify result is %ds old (stale)\n", age; exit 2 }
    if (code == 0) { print "no kernel memory charged to pod or container cgroups"; exit 0 }
    if (code == 1) { print "kmem check FAIL: " failed; exit 1 }
    print "kmem check could not tell (see kubectl logs of kmem-build-verify)"
    exit 2
  }' "$f"
