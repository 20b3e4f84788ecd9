# mount.awk: <proc>/self/mountinfo -> layout, memory hierarchy version, mount point, mount root,
# unified mount point (one per line).

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
}
