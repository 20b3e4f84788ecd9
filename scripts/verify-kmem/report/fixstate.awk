# fixstate.awk (part of report.awk): the fix state of the node (FIX, with its summary and next step) from
# the facts, and the verdict: the exit code from the checks and the fix state (--gate, --reboot-required).

# The fix states: one wording each (summary, next step), used by every output and by docs/verify.md.
function states(   kv, kr, pkg, inst) {
  NST = split("not-affected kernel install restart reboot runtime fixed unknown", STN, " ")
  SUMT["not-affected"] = "no memory cgroup accounts kernel memory (cgroup v2, or a kernel that honours cgroup.memory=nokmem)"
  NEXT["not-affected"] = "nothing to do"
  SUMT["kernel"] = "the kernel charges kernel memory to every memory cgroup (v1, kernel >= 4.6, no cgroup.memory=nokmem): no kubelet can change that"
  NEXT["kernel"] = "boot with cgroup.memory=nokmem (grubby --update-kernel=ALL --args=cgroup.memory=nokmem), then drain and reboot the node"
  SUMT["install"] = "the kubelet on disk links the kmem-enabling code of runc: every pod cgroup it creates accounts kernel memory"
  # the package of the version this node runs (never a newer one), and held there; the release is the
  # one the build of this copy packages (stamped), else any of ours; docs/verify.md, docs/installing.md
  kv = fact("kubelet_version"); kr = fact("build_release")
  pkg = kv == "" ? "kubelet-<version>-<release>" : (kr != "" ? "kubelet-" kv "-" kr : "\"kubelet-" kv "-*.nokmem\"")
  inst = "install the nokmem kubelet built by kmem-build for the kubelet version this node runs, and hold it there (yum install " pkg "; yum versionlock add kubelet), restart the kubelet, then drain and reboot the node"
  NEXT["install"] = inst
  NEXT["install-param"] = "either boot with cgroup.memory=nokmem (grubby --update-kernel=ALL --args=cgroup.memory=nokmem; this kernel knows it), then drain and reboot the node; or " inst
  SUMT["restart"] = "the nokmem kubelet is installed but not running: the running kubelet is the old binary (its file deleted or another file, or another version by the API server)"
  NEXT["restart"] = "restart the kubelet (systemctl restart kubelet), then drain and reboot the node"
  SUMT["reboot"] = "the nokmem kubelet is running, but kubepods (or a QoS parent, or a pod) still accounts kernel memory: every pod created under it inherits accounting until the node reboots"
  NEXT["reboot"] = "drain and reboot the node (kured: --reboot-sentinel-command with verify-kmem.sh --reboot-required)"
  SUMT["runtime"] = "container cgroups account kernel memory under clean pods: the runc of the container runtime switches it on"
  NEXT["runtime"] = "upgrade the package of the container runtime (runc 1.0.0-rc94 or later, or a nokmem build), then drain and reboot the node"
  SUMT["fixed"] = "the kubelet is a nokmem build and no kubepods, QoS, pod or container cgroup accounts kernel memory"
  NEXT["fixed"] = "nothing to do"
  SUMT["unknown"] = "cannot tell the fix state of this node"
  NEXT["unknown"] = "see the checks that could not tell (run as root on the node, or pass --cgroup-root / --kubelet)"
}
# The running kubelet: RM (same, other, deleted, unknown, "" none seen), RBY (how it was found), RSAID
# (what it is, for the summary).  A process on this node first; where none can be seen (a pod without
# the host processes), the version the API server reports for this node (--running-version) against
# the version mark of the kubelet on disk: a marked nokmem kubelet on disk while the API reports another
# version means the old process still runs.  Without a mark on disk equal versions cannot be told apart.
function running(   av) {
  RM = fact("run_match"); RBY = fact("run_by"); RSAID = ""; RAV = ""
  if (fact("run_pid") != "") { RSAID = "running kubelet pid " fact("run_pid"); return }
  av = fact("api_version")
  if (av == "" || fact("run_why") != "") return
  RBY = "api"; RAV = av
  RSAID = "the API server reports the running kubelet as " av
  if (kb && BMK[kb] != "") RM = (av == BMK[kb]) ? "same" : "other"
  else RM = (av ~ /\+nokmem$/) ? "other" : "unknown"
}
# The remedy of a check whose cause is CAUSE, as the node stands: where that cause is what the fix state
# of the node is about (kubelet: install, restart, reboot; kernel; runtime), the next step of the node, so
# a node that needs only its reboot is never told to install again; else the OWN wording of the check.
function fixfor(cause, own) {
  if (cause == "kubelet" && (FIX == "install" || FIX == "restart" || FIX == "reboot")) return FIXNEXT
  if (cause != "" && cause == FIX) return FIXNEXT
  return own
}
# FIX (state), FIXWHY (what decided it), FIXNEXT (the one next step)
function fixstate(   kv, rm) {
  states()
  kv = (!kb || BS[kb] != "ok") ? "" : BV[kb]
  running()
  rm = RM
  FIXWHY = ""
  if (memver == "v2") FIX = "not-affected"
  else if (layout == "unknown" || !rootok || memver != "v1") { FIX = "unknown"; FIXWHY = "no memory cgroup hierarchy" }
  else if (kge < 0) { FIX = "unknown"; FIXWHY = "kernel version not understood" }
  else if (nkeff) FIX = "not-affected"
  # the operator just installed the nokmem kubelet: the restart comes first, whatever the kernel
  # a process named kubelet that cannot be told to be the kubelet (another user may have named it so)
  else if (kv != "" && kv != "kmem-code-linked" && fact("run_why") != "") { FIX = "unknown"; FIXWHY = fact("run_why") }
  else if (kv != "" && kv != "kmem-code-linked" && RBY == "api" && rm == "other") { FIX = "restart"; FIXWHY = RSAID ", the kubelet on disk (" BP[kb] ") is " (BMK[kb] != "" ? BMK[kb] : "not marked") }
  else if (kv != "" && kv != "kmem-code-linked" && (rm == "deleted" || rm == "other")) { FIX = "restart"; FIXWHY = "running kubelet pid " fact("run_pid") " is " (rm == "deleted" ? "a deleted file (" fact("run_exe") ")" : "another file (" fact("run_exe") ") than " BP[kb]) }
  else if (kge == 1) FIX = "kernel"
  else if (!havekp) { FIX = "unknown"; FIXWHY = "no kubepods cgroup" }
  else if (kv == "kmem-code-linked") FIX = "install"
  else if (kv == "") { FIX = "unknown"; FIXWHY = (nokbin ? "kubelet not checked (--no-binaries)" : "no readable kubelet binary") }
  else if (paract + pact > 0) FIX = "reboot"
  else if (cact > 0) FIX = "runtime"
  else if (anyact + anyin == 0) { FIX = "unknown"; FIXWHY = "no memory.kmem.slabinfo could be probed" }
  else FIX = "fixed"
  FIXSUM = SUMT[FIX] (FIXWHY != "" ? " (" FIXWHY ")" : "")
  FIXNEXT = (FIX == "install" && kparam) ? NEXT["install-param"] : NEXT[FIX]
  if (FIX == "fixed" || FIX == "reboot") {
    if (RBY == "api" && rm == "same") FIXSUM = FIXSUM "; " RSAID ", the version of " BP[kb]
    else if (RBY == "api") FIXSUM = FIXSUM "; " RSAID ", which cannot be told from " BP[kb] " (no version mark on disk)"
    else if (fact("run_pid") == "" && fact("run_procs") == "0") FIXSUM = FIXSUM "; the running kubelet cannot be seen here (no processes under " fact("procroot") "; the DaemonSet gives the version the API server reports)"
    else if (fact("run_pid") == "") FIXSUM = FIXSUM "; no kubelet process is running"
    else if (rm == "same") FIXSUM = FIXSUM "; running kubelet pid " fact("run_pid") " is " BP[kb]
  }
}
# code (the exit code), result (OK, PROBLEM, UNKNOWN), GATED (the fix state --gate decided on, or "")
function noderesult(   gcode) {
  # an unknown fix state is "could not tell" (exit 2), unless the kubelet was left out on purpose
  code = FAILS > 0 ? 1 : ((UNKNOWNS > 0 || (FIX == "unknown" && !nokbin)) ? 2 : 0)
  # --gate (rollouts): 0 only when nothing of the fix is left and the checks agree; docs/verify.md
  GATED = ""
  if (fact("gate") == 1) {
    gcode = FIX == "unknown" ? 2 : ((FIX == "fixed" || FIX == "not-affected") ? 0 : 1)
    # the worse of the two, as over a fleet: 1 (a step is left) over 2 (cannot tell) over 0
    if (gcode == 1 || (gcode == 2 && code == 0)) { if (gcode != code) GATED = FIX; code = gcode }
  }
  result = code == 1 ? "PROBLEM" : (code == 2 ? "UNKNOWN" : "OK")
}
