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
 * and writes schemas/verify-contract.json, what the script reports in a form the TypeScript side reads
 * (src/verify/contract.ts; test/verify/contract.test.ts): the checks in order with their titles, part,
 * causes and thresholds (from each check's header), the fix wording per cause, the fix states with
 * their summary and next step, the thresholds' values and the Prometheus metrics with their types.
 *
 *   node scripts/assemble-verify-kmem.mjs           write scripts/verify-kmem.sh and the contract
 *   node scripts/assemble-verify-kmem.mjs --check   exit 1 when a committed file differs
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
const CONTRACT = join(SCRIPTS, "..", "schemas", "verify-contract.json");
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

/** The header of checks/<id>.awk: `# check <id>: what`, `# causes: a, b` (or none), `# thresholds: A, B (why)` (or none). */
function checkHeader(id, causes, thresholds) {
  const text = read(`checks/${id}.awk`);
  const line = (key) => text.match(new RegExp(`^# ${key}: (.*)$`, "m"))?.[1];
  if (!text.startsWith(`# check ${id}: `))
    throw new Error(`checks/${id}.awk: the first line must be "# check ${id}: <what it judges>"`);
  const c = line("causes");
  const t = line("thresholds");
  if (c === undefined || !/^(none|[a-z]+(, [a-z]+)*)$/.test(c))
    throw new Error(`checks/${id}.awk: needs a line "# causes: none" or "# causes: kernel, kubelet, ..."`);
  const tm = t === undefined ? null : t.match(/^(none|[A-Z][A-Z_]*(, [A-Z][A-Z_]*)*)\b/);
  if (!tm)
    throw new Error(
      `checks/${id}.awk: needs a line "# thresholds: none" or "# thresholds: NAME, NAME (why)"`,
    );
  const out = {
    causes: c === "none" ? [] : c.split(", "),
    thresholds: tm[1] === "none" ? [] : tm[1].split(", "),
  };
  for (const x of out.causes)
    if (!(x in causes)) throw new Error(`checks/${id}.awk: cause ${x} has no fix in checks.tsv`);
  for (const x of out.thresholds)
    if (!(x in thresholds))
      throw new Error(`checks/${id}.awk: threshold ${x} is not set in report.awk BEGIN or lib.awk ooms()`);
  return out;
}

/** An awk string literal's text. */
const awkString = (s) => s.replace(/\\(.)/g, (_m, c) => (c === "n" ? "\n" : c));

/** The contract: what the script reports, from its parts (see the top of this file). */
export function contract() {
  const { checks, fixes } = checkTable();
  const report = read("report.awk");
  const begin = report.slice(report.indexOf("\nBEGIN {"), report.indexOf("\n}", report.indexOf("\nBEGIN {")));
  const ooms = read("lib.awk").match(/^function ooms\(\) \{.*\}$/m)?.[0] ?? "";
  const thresholds = Object.fromEntries(
    [...(begin + "\n" + ooms).matchAll(/\b([A-Z][A-Z_]+) = ([0-9]+(?:\.[0-9]+)?)\b/g)].map((m) => [
      m[1],
      Number(m[2]),
    ]),
  );
  const fix = read("report/fixstate.awk");
  const order = fix.match(/NST = split\("([a-z -]+)", STN, " "\)/)?.[1].split(" ");
  if (!order) throw new Error("report/fixstate.awk: no NST = split(...) of the fix states");
  const said = (kind, state) => {
    const m = fix.match(new RegExp(`^ *${kind}\\["${state}"\\] = "((?:[^"\\\\]|\\\\.)*)"$`, "m"));
    return m ? awkString(m[1]) : null;
  };
  const prom = read("report/prom.awk");
  const metrics = [...prom.matchAll(/\b(pm|pser)\(f, "(kmem_build_[a-z_]+)", "([A-Za-z]+)"/g)].map((m) => ({
    name: m[2],
    type: m[1] === "pser" ? "gauge" : m[3],
  }));
  return {
    $comment:
      "GENERATED from scripts/verify-kmem/ by scripts/assemble-verify-kmem.mjs (npm run assemble): what verify-kmem.sh reports. Edit the parts, not this file.",
    report_schema: "schemas/verify-report.schema.json",
    checks: checks.map((c) => ({
      id: c.id,
      title: c.title,
      part: `scripts/verify-kmem/checks/${c.id}.awk`,
      ...checkHeader(c.id, fixes, thresholds),
    })),
    fixes,
    fix_states: order.map((state) => ({
      state,
      summary: said("SUMT", state),
      // null: made at run time (the package of the kubelet version the node runs)
      next_step: said("NEXT", state),
    })),
    thresholds,
    metrics,
  };
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
  const json = JSON.stringify(contract(), null, 2) + "\n";
  if (process.argv.includes("--check")) {
    const committed = (file) => {
      try {
        return readFileSync(file, "utf8");
      } catch {
        return ""; // missing: differs
      }
    };
    if (committed(OUT) !== text) {
      console.error(
        "scripts/verify-kmem.sh is not what its parts make: run `npm run assemble` and commit it",
      );
      process.exit(1);
    }
    if (committed(CONTRACT) !== json) {
      console.error(
        "schemas/verify-contract.json is not what the parts make: run `npm run assemble` and commit it",
      );
      process.exit(1);
    }
    console.log(
      "scripts/verify-kmem.sh and schemas/verify-contract.json are up to date with scripts/verify-kmem/",
    );
  } else {
    writeFileSync(OUT, text, { mode: 0o755 });
    writeFileSync(CONTRACT, json);
    console.log("wrote scripts/verify-kmem.sh and schemas/verify-contract.json");
  }
}
