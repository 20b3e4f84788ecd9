# check kubelet-checksum: whether the sha256 of the kubelet on disk is one of the expected checksums (--checksums)
# reads: kb; BS, BH, BP, SUMS, NSUMS; fact(checksums_wanted)
# thresholds: none
# causes: kubelet
# (its place and title: checks.tsv; the facts: report/facts.awk; helpers: report.awk, lib.awk)

function check_kubelet_checksum() {
  if (fact("checksums_wanted") != 1) check("kubelet-checksum", "INFO", "not requested (--checksums SHA256SUMS)", "", "", 1)
  else if (!kb || BS[kb] != "ok" || BH[kb] == "") check("kubelet-checksum", "WARN", "no readable kubelet to checksum", "pass --kubelet PATH", "", 0)
  else if (BH[kb] in SUMS) check("kubelet-checksum", "PASS", "sha256 " BH[kb] " of " BP[kb] " matches " SUMS[BH[kb]], "", "", 1)
  else check("kubelet-checksum", "FAIL", "sha256 " BH[kb] " of " BP[kb] " matches none of the " NSUMS " expected checksums", "install the kubelet package from the same kmem-build build as the checksums", "kubelet", 1)
}
