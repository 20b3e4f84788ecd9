/**
 * What a node sends (hostnames, cgroup paths, check texts, ssh's stderr) reaches the operator's
 * terminal only through here: control characters, escape sequences and bidi/line-separator code
 * points become visible escapes (ESC → "\x1b", newline → "\n"), so a node can neither move the
 * cursor, recolour or retitle the terminal, nor print a line of its own ("Result: OK").
 * JSON output does not need this: JSON.stringify escapes control characters itself.
 */
// C0, DEL, C1; line/paragraph separators; bidi embeddings, overrides and isolates
const UNSAFE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function terminalText(s: string): string {
  return s.replace(UNSAFE, (ch) => {
    const cp = ch.codePointAt(0)!;
    return (
      NAMED[ch] ??
      (cp <= 0xff ? `\\x${cp.toString(16).padStart(2, "0")}` : `\\u${cp.toString(16).padStart(4, "0")}`)
    );
  });
}

/** A copy of `v` with every string in it made safe for a terminal. */
export function terminalSafe<T>(v: T): T {
  if (typeof v === "string") return terminalText(v) as T;
  if (Array.isArray(v)) return v.map((x) => terminalSafe(x)) as T;
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [terminalText(k), terminalSafe(x)])) as T;
  return v;
}
