#!/usr/bin/env node
/**
 * Assembles scripts/verify-kmem.sh, the one file shipped to nodes (RPM, ssh stdin, the DaemonSet's
 * ConfigMap), from its parts in scripts/verify-kmem/:
 *
 *   main.sh    the shell part; each line `NAME_AWK='#include X.awk'` becomes that awk program,
 *              embedded in the single-quoted string as before (so the file runs standalone with dash,
 *              bash or busybox sh and gawk, mawk or busybox awk);
 *   X.awk      one awk program each; its file header (the comment lines before the first blank line)
 *              stays in the part, the rest is embedded;
 *   lib.awk    shared helpers: blocks separated by blank lines, one function each (with the comment
 *              above it).  A program gets the blocks whose functions it calls, directly or through
 *              another helper, in lib.awk's order, in front of its own text;
 *   checks.tsv the checks in report order with their titles, and the fix for each cause: made into
 *              the function checktable(), a helper like those of lib.awk.
 *   report/*.awk, checks/<id>.awk
 *              parts of one program: a line `#include report/X.awk` in it becomes that part (without
 *              its file header); the line `#include checks` becomes every checks/<id>.awk in the order
 *              of checks.tsv (one file per check id, each defining only check_<id>() with - as _)
 *              and the function judge() that calls them in that order.
 *
 *   node scripts/assemble-verify-kmem.mjs           write scripts/verify-kmem.sh
 *   node scripts/assemble-verify-kmem.mjs --check   exit 1 when the committed file differs
 *   node scripts/assemble-verify-kmem.mjs --table-awk   print checktable() (for gawk --lint)
 *   node scripts/assemble-verify-kmem.mjs --program-awk X.awk   print X.awk with its parts, without the
 *                                                   lib.awk helpers (for gawk --lint -f lib.awk)
 *   (npm run assemble / npm run assemble -- --check)
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SCRIPTS = dirname(fileURLToPath(import.meta.url));
const PARTS = join(SCRIPTS, "verify-kmem");
const OUT = join(SCRIPTS, "verify-kmem.sh");
const NOTICE =
  "# GENERATED from scripts/verify-kmem/ (main.sh, lib.awk, *.awk) by scripts/assemble-verify-kmem.mjs:\n" +
  "# edit the parts, then run `npm run assemble`.\n";

const read = (name) => readFileSync(join(PARTS, name), "utf8");

/** Text without its file header: the leading comment lines up to the first blank line. */
function body(text) {
  const lines = text.split("\n");
  let i = 0;
  while (i < lines.length && lines[i].startsWith("#")) i++;
  if (i > 0 && lines[i] === "") return lines.slice(i + 1).join("\n");
  return text;
}

/** lib.awk -> [{ name, text, calls }] in file order. */
function library() {
  const blocks = body(read("lib.awk"))
    .split(/\n\s*\n/)
    .map((b) => b.replace(/^\n+|\n+$/g, ""))
    .filter((b) => b !== "");
  return blocks.map((text) => {
    const defs = [...text.matchAll(/^function ([A-Za-z_][A-Za-z0-9_]*)\(/gm)].map((m) => m[1]);
    if (defs.length !== 1)
      throw new Error(`lib.awk: a block must define one function, found ${defs.length}:\n${text}`);
    return { name: defs[0], text };
  });
}

/** checks.tsv -> { checks: [{ id, title }], fixes: { cause: text } } (the one table of check ids, order, titles, fixes). */
export function checkTable() {
  const checks = [];
  const fixes = {};
  for (const line of read("checks.tsv").split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const f = line.split("\t");
    if (f.length !== 3 || /["'\\]/.test(line))
      throw new Error(`checks.tsv: bad line ${JSON.stringify(line)}`);
    if (f[0] === "check") checks.push({ id: f[1], title: f[2] });
    else if (f[0] === "fix") fixes[f[1]] = f[2];
    else throw new Error(`checks.tsv: unknown kind ${f[0]}`);
  }
  return { checks, fixes };
}

/** The awk function checktable(), made from checks.tsv: CORD[id] (position), CTT[id] (title), FIXW[cause]. */
export function checkTableAwk() {
  const { checks, fixes } = checkTable();
  return [
    "# from checks.tsv (scripts/assemble-verify-kmem.mjs): CORD[id] the place of a check in the report,",
    "# CTT[id] its title, FIXW[cause] the fix when the kernel, the kubelet or the runtime is the cause",
    "function checktable() {",
    ...checks.map((c, i) => `  CORD["${c.id}"] = ${i + 1}; CTT["${c.id}"] = "${c.title}"`),
    ...Object.entries(fixes).map(([k, v]) => `  FIXW["${k}"] = "${v}"`),
    "}",
  ].join("\n");
}

const calls = (text, name) => new RegExp(`(^|[^A-Za-z0-9_])${name}\\(`).test(text);

/** The awk name of a check's function: check_<id> with - as _. */
export const checkFunction = (id) => `check_${id.replace(/-/g, "_")}`;

/** checks/<id>.awk of every check of checks.tsv, in its order, and judge() calling them in that order. */
function checkParts() {
  const { checks } = checkTable();
  const ids = checks.map((c) => c.id);
  const files = readdirSync(join(PARTS, "checks")).sort();
  const want = ids.map((id) => `${id}.awk`).sort();
  if (files.join("\n") !== want.join("\n"))
    throw new Error(
      `checks/: one file <id>.awk for each check of checks.tsv and no other; ` +
        `missing: ${want.filter((f) => !files.includes(f)).join(" ") || "-"}, ` +
        `not in checks.tsv: ${files.filter((f) => !want.includes(f)).join(" ") || "-"}`,
    );
  const parts = ids.map((id) => {
    const text = body(read(`checks/${id}.awk`)).replace(/\n+$/, "");
    const defs = [...text.matchAll(/^function ([A-Za-z_][A-Za-z0-9_]*)\(/gm)].map((m) => m[1]);
    if (defs.length !== 1 || defs[0] !== checkFunction(id))
      throw new Error(
        `checks/${id}.awk: defines ${defs.join(", ") || "nothing"}; it must define ${checkFunction(id)}() only`,
      );
    return text;
  });
  const judge = [
    "# from checks.tsv (scripts/assemble-verify-kmem.mjs): every check, in report order",
    "function judge() {",
    ...ids.map((id) => `  ${checkFunction(id)}()`),
    "}",
  ].join("\n");
  return [judge, ...parts].join("\n");
}

/** A program's own text with its `#include` lines replaced by the parts they name. */
function expand(part) {
  return body(read(part)).replace(/^#include (\S+)$/gm, (_m, name) => {
    if (name === "checks") return checkParts();
    if (!/^report\/[a-z0-9-]+\.awk$/.test(name)) throw new Error(`${part}: cannot include ${name}`);
    return body(read(name)).replace(/\n+$/, "");
  });
}

/** The lib blocks a program needs (transitively), in lib order, then the program. */
function program(part, lib) {
  const own = expand(part);
  const need = new Set();
  let grew = true;
  while (grew) {
    grew = false;
    const text = [own, ...lib.filter((b) => need.has(b.name)).map((b) => b.text)].join("\n");
    for (const b of lib)
      if (!need.has(b.name) && calls(text.replace(/#.*$/gm, ""), b.name)) {
        need.add(b.name);
        grew = true;
      }
  }
  const text = [...lib.filter((b) => need.has(b.name)).map((b) => b.text), own.replace(/\n+$/, "")].join(
    "\n",
  );
  if (text.includes("'"))
    throw new Error(`${part}: a single quote cannot be embedded in a single-quoted shell string`);
  return text;
}

export function assemble() {
  const lib = [...library(), { name: "checktable", text: checkTableAwk() }];
  const main = read("main.sh");
  const out = main.replace(
    /^([A-Z_]+_AWK)='#include ([a-z0-9-]+\.awk)'$/gm,
    (_m, v, part) => `${v}='\n${program(part, lib)}'`,
  );
  if (out.includes("#include "))
    throw new Error("main.sh: an #include line not of the form NAME_AWK='#include X.awk'");
  const nl = out.indexOf("\n");
  return out.slice(0, nl + 1) + NOTICE + out.slice(nl + 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--table-awk")) {
    console.log(checkTableAwk());
    process.exit(0);
  }
  const only = process.argv.indexOf("--program-awk");
  if (only > 0) {
    console.log(expand(process.argv[only + 1]));
    process.exit(0);
  }
  const text = assemble();
  if (process.argv.includes("--check")) {
    let committed = "";
    try {
      committed = readFileSync(OUT, "utf8");
    } catch {
      /* missing: differs */
    }
    if (committed !== text) {
      console.error(
        "scripts/verify-kmem.sh is not what its parts make: run `npm run assemble` and commit it",
      );
      process.exit(1);
    }
    console.log("scripts/verify-kmem.sh is up to date with scripts/verify-kmem/");
  } else {
    writeFileSync(OUT, text, { mode: 0o755 });
    console.log("wrote scripts/verify-kmem.sh");
  }
}
