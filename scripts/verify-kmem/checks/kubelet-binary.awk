# check kubelet-binary: whether the kubelet on disk links the kmem-enabling code of runc, and whether a nokmem version mark on it is true
# reads: nokbin, kb, binstatus, binnote; BS, BP, BT, BV, BRU, BMK; fact(cache_why)
# thresholds: none
# causes: kubelet
# remedies: through fixfor() (report/fixstate.awk): the node next step where its fix state is about the cause
# (its place and title: checks.tsv; the facts: report/facts.awk; helpers: report.awk, lib.awk)

function check_kubelet_binary(   tg) {
  if (nokbin) check("kubelet-binary", "INFO", "skipped (--no-binaries)", "", "", 1)
  else if (!kb || BS[kb] == "missing") check("kubelet-binary", "INFO", (kb ? "no kubelet at " BP[kb] : "no kubelet binary found (systemd unit, PATH, /usr/bin/kubelet)"), "pass --kubelet PATH to check one", "", 1)
  else if (BS[kb] != "ok") check("kubelet-binary", "WARN", "cannot read " BP[kb], "run as root", "", 0)
  else {
    tg = (BT[kb] != "" ? "; build tags: " BT[kb] : "") (BRU[kb] ? "; verdict reused: identity (device, inode, size, mtime, ctime) unchanged since the last run" : "") \
      (fact("cache_why") != "" ? "; verdict cache not used: " fact("cache_why") : "")
    if (BMK[kb] != "" && (BV[kb] == "kmem-code-linked" || (BT[kb] != "" && index("," BT[kb] ",", ",nokmem,") == 0)))
      check("kubelet-binary", "FAIL", BP[kb] " reports version " BMK[kb] " (the kmem-build nokmem mark) but " (BV[kb] == "kmem-code-linked" ? "contains the kmem-enabling code of runc" : "its Go build tags are " BT[kb] ", without nokmem") ": not a binary kmem-build built (mislabelled or altered)" tg, \
        "reinstall the kubelet package of a kmem-build build (verify --checksums SHA256SUMS) and find out where this binary came from", "kubelet", 1)
    else if (BV[kb] == "kmem-code-linked")
      check("kubelet-binary", binstatus, BP[kb] " contains the kmem-enabling code of runc (\"failed to set %s, because either tasks have already joined this cgroup or it has children\"): it switches kmem accounting on for every pod cgroup it creates" binnote tg, \
        fixfor("kubelet", "install the nokmem kubelet built by kmem-build (GOFLAGS=-tags=nokmem)"), "kubelet", 1)
    else if (BV[kb] == "nokmem-variant-linked") check("kubelet-binary", "PASS", BP[kb] " is a nokmem build (\"kernel memory accounting disabled in this runc build\")" (BMK[kb] != "" ? "; version " BMK[kb] : "") tg, "", "", 1)
    else check("kubelet-binary", "PASS", BP[kb] " has no kmem-enabling code linked" (BMK[kb] != "" ? "; version " BMK[kb] : "") tg, "", "", 1)
  }
}
