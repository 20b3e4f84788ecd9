# ctrids.awk: which containers to ask ctr about.  Reads two files: the ids `ctr containers list -q`
# printed (one per line), then the scan records; prints each listed id that has a container cgroup,
# once, when it is safe to put on a command line.

BEGIN { records() }
FNR == NR { have[$0] = 1; next }
$1 == "cg" && $CG_LEVEL == "container" {
  id = cid($CG_CTR)
  if ((id in have) && id ~ /^[0-9A-Za-z_.-]+$/ && !(id in seen)) { seen[id] = 1; print id }
}
