# walk.awk: find output (one directory per line) -> cgroup records for pod- and container-level
# cgroups under kubepods (cgroupfs) or kubepods.slice (systemd), plus the directory count.
# Reads the counters itself with getline: no process per cgroup or per file.
# Environment: ROOT (the scanned directory), MEMVER (v1|v2), SLABS (file for the slabinfo probe
# list, or ""), SAMPLES and TS (append one sample line to SAMPLES, stamped TS).

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
}
