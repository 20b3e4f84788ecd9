# brief.awk (part of report.awk): the one line of --brief.

function brief(   i) {
  if (code == 0) { printf "OK [%s]: %d pod and %d container cgroups charge no kernel memory; next: %s\n", FIX, np, nc, FIXNEXT; return }
  for (i = 1; i <= NCK; i++) if ((code == 1 && CST[i] == "FAIL") || (code == 2 && !CCO[i])) break
  # no check to name: the fix state decided (unknown, or a step left under --gate)
  if (i > NCK) printf "%s [%s]: fix state %s: %s; next: %s\n", result, FIX, FIX, jesc(FIXSUM), FIXNEXT
  else printf "%s [%s]: %s: %s; next: %s\n", result, FIX, CID[i], tesc(CSE[i]), FIXNEXT
}
