# names.awk: what a container runtime says -> "nm" records: container id, pod uid, namespace, pod
# name, container name.  KIND: pods (crictl pods -o json: sandboxes, named POD), ctrs (crictl ps -a -o
# json), ctr (ctr containers info, one JSON document per container) or docker (tab-separated docker
# ps lines).  The JSON is read by its structure, pretty or compact: a record is one element of
# "items"/"containers" (crictl) or one top-level document (ctr), and names come only from its own
# "id"/"ID" and the entries of its own "labels"/"Labels" object -- never from annotations or the
# OCI spec, which any pod author fills.

function unj(s,   out, i, c) {
  if (index(s, "\\") == 0) return s
  out = ""
  while ((i = index(s, "\\")) > 0) {
    c = substr(s, i + 1, 1)
    out = out substr(s, 1, i - 1) (c == "t" || c == "n" || c == "r" ? " " : c)
    s = substr(s, i + 2)
  }
  return out s
}
function clean(s) { gsub(/[\t\n\r]/, " ", s); return s }
function flush() {
  if (id != "" && id !~ /[\t\n]/) {
    cn = (("io.kubernetes.container.name" in lab) ? lab["io.kubernetes.container.name"] : "")
    if (cn == "" && sandbox) cn = "POD"
    print "nm\t" id "\t" clean(lab["io.kubernetes.pod.uid"]) "\t" clean(lab["io.kubernetes.pod.namespace"]) "\t" clean(lab["io.kubernetes.pod.name"]) "\t" clean(cn)
  }
  id = ""; sandbox = (kind == "pods"); split("", lab)
}
function label(k, v) {
  if (k ~ /^io\.kubernetes\.(pod\.(name|namespace|uid)|container\.name)$/) lab[k] = v
  else if (k == "io.cri-containerd.kind" && v == "sandbox") sandbox = 1
}
# JSON structure: depth D, TY[d] "o" (object) or "a" (array), K[d] the key whose value is being read
# at depth d, EK[d] 1 while a key is expected; a record is the object at depth RD.
function push(t) {
  if (t == "o" && D + 1 == RD && (RD == 1 || (TY[D] == "a" && K[D - 1] == LIST))) { INREC = 1; id = ""; sandbox = (kind == "pods"); split("", lab) }
  D++; TY[D] = t; K[D] = ""; EK[D] = (t == "o")
}
function pop() {
  if (D == RD && INREC) { flush(); INREC = 0 }
  if (D > 0) D--
}
function str(v) {
  if (TY[D] == "o" && EK[D]) { K[D] = v; EK[D] = 0; return }
  if (!INREC || TY[D] != "o") return
  if (D == RD && K[D] == IDK) id = v
  else if (D == RD + 1 && K[RD] == LABK) label(K[D], v)
}
BEGIN {
  kind = ENVIRON["KIND"]; id = ""; sandbox = (kind == "pods"); split("", lab)
  D = 0; INREC = 0
  if (kind == "ctr") { RD = 1; IDK = "ID"; LABK = "Labels"; LIST = "" }
  else { RD = 3; IDK = "id"; LABK = "labels"; LIST = (kind == "pods" ? "items" : "containers") }
}
kind == "docker" {
  n = split($0, f, "\t")
  if (n >= 5 && f[1] != "") {
    id = f[1]; split("", lab); sandbox = 0
    lab["io.kubernetes.pod.uid"] = f[2]; lab["io.kubernetes.pod.namespace"] = f[3]
    lab["io.kubernetes.pod.name"] = f[4]; lab["io.kubernetes.container.name"] = f[5]
    flush()
  }
  next
}
{
  s = $0
  while (s != "") {
    c = substr(s, 1, 1)
    if (c == "\"") {
      if (!match(s, /^"([^"\\]|\\.)*"/)) break
      str(unj(substr(s, 2, RLENGTH - 2))); s = substr(s, RLENGTH + 1)
    } else if (c == "{" || c == "[") { push(c == "{" ? "o" : "a"); s = substr(s, 2) }
    else if (c == "}" || c == "]") { pop(); s = substr(s, 2) }
    else if (c == ",") { if (TY[D] == "o") EK[D] = 1; s = substr(s, 2) }
    else if (match(s, /^[^"{}\[\],]+/)) s = substr(s, RLENGTH + 1)
    else s = substr(s, 2)
  }
}
