# text.awk (part of report.awk): how values are written: JSON strings and numbers, text for a terminal,
# Prometheus label values, bytes, percentages and shares.

# JSON string body: escapes quote, backslash and control characters; bytes that are
# not valid UTF-8 become U+FFFD so the document stays valid UTF-8.
function jesc(s,   out, i, n, c, need) {
  if (s !~ /[\\"\001-\037\177-\377]/) return s
  out = ""; n = length(s)
  for (i = 1; i <= n; i++) {
    c = substr(s, i, 1)
    if (c == "\\") out = out "\\\\"
    else if (c == "\"") out = out "\\\""
    else if (c == "\n") out = out "\\n"
    else if (c == "\t") out = out "\\t"
    else if (c == "\r") out = out "\\r"
    else if (c in CTL) out = out sprintf("\\u%04x", CTL[c])
    else if (c in HI) {
      need = u8len(s, i)
      if (need < 0) out = out "\\ufffd"
      else { out = out substr(s, i, need + 1); i += need }
    } else out = out c
  }
  return out
}
function js(s) { return "\"" jesc(s) "\"" }
# Text for a terminal (human and --brief output): control characters (C0, DEL and C1) become visible
# escapes, so a cgroup name, a log line or a runtime label can neither start a line nor send an
# escape sequence.
function tesc(s,   out, i, n, c, d) {
  if (s !~ /[\001-\037\177]/ && index(s, C2) == 0) return s
  out = ""; n = length(s)
  for (i = 1; i <= n; i++) {
    c = substr(s, i, 1)
    if (c == "\n") out = out "\\n"
    else if (c == "\t") out = out "\\t"
    else if (c in CTL) out = out sprintf("\\x%02x", CTL[c])
    else if (c == C2 && (d = substr(s, i + 1, 1)) in HI && HI[d] <= 159) { out = out sprintf("\\u%04x", HI[d]); i++ }
    else out = out c
  }
  return out
}
function jn(v) { return (v ~ /^-?[0-9]+$/) ? dnum(v) : "null" }
function jb(v) { return v == "" ? "null" : (v ? "true" : "false") }
function jsn(s) { return s == "" ? "null" : js(s) }
# Prometheus label value: valid UTF-8 (bad bytes become U+FFFD); backslash, quote, newline escaped.
function pesc(s,   out, i, n, c, need) {
  if (s ~ /[\177-\377]/) {
    out = ""; n = length(s)
    for (i = 1; i <= n; i++) {
      c = substr(s, i, 1)
      if (!(c in HI)) { out = out c; continue }
      need = u8len(s, i)
      if (need < 0) out = out FFFD
      else { out = out substr(s, i, need + 1); i += need }
    }
    s = out
  }
  return repl(repl(repl(s, "\\", "\\\\"), "\"", "\\\""), "\n", "\\n")
}
function hb(v,   x) {
  if (v !~ /^-?[0-9]+$/) return "-"
  x = v + 0; if (x < 0) return "-" hb(substr(v, 2))
  if (x < 1024) return sprintf("%d B", x)
  if (x < 1048576) return sprintf("%.1f KiB", x / 1024)
  if (x < 1073741824) return sprintf("%.1f MiB", x / 1048576)
  return sprintf("%.2f GiB", x / 1073741824)
}
function pct(x) { return sprintf("%.2f%%", x * 100) }
# a threshold as people write it: 0.9 -> 90%
function share(x) { return sprintf("%.0f%%", x * 100) }
function ratio(x) { return x == "" ? "null" : sprintf("%.4f", x) }
