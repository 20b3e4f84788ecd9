# check runtime-binaries: whether the runc of the container runtime links the kmem-enabling code
# reads: nokbin, binstatus, binnote; NB, BR, BS, BP, BV, BT, BRU
# thresholds: none
# causes: runtime
# remedies: through fixfor() (report/fixstate.awk): the node next step where its fix state is about the cause
# (its place and title: checks.tsv; the facts: report/facts.awk; helpers: report.awk, lib.awk)

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
