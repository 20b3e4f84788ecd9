/**
 * scripts/verify-kmem.sh is assembled from scripts/verify-kmem/ (main.sh, lib.awk, one .awk per
 * program) by scripts/assemble-verify-kmem.mjs, and committed: the committed file is what the parts
 * make, and every awk part passes `gawk --lint` with the shared library.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { CHECK_IDS } from "../../src/verify/report.js";
import { REPO, runJson } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const PARTS = join(REPO, "scripts/verify-kmem");
const ASSEMBLE = join(REPO, "scripts/assemble-verify-kmem.mjs");
const TMP = mkdtempSync(join(tmpdir(), "verify-parts-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const awkParts = readdirSync(PARTS).filter((f) => f.endsWith(".awk") && f !== "lib.awk");

/** checks.tsv, as the generator reads it. */
const table = readFileSync(join(PARTS, "checks.tsv"), "utf8")
  .split("\n")
  .filter((l) => l !== "" && !l.startsWith("#"))
  .map((l) => l.split("\t"));
const checks = table.filter((f) => f[0] === "check").map((f) => ({ id: f[1]!, title: f[2]! }));
const fixes = Object.fromEntries(table.filter((f) => f[0] === "fix").map((f) => [f[1]!, f[2]!]));

describe("one table of checks and fixes (scripts/verify-kmem/checks.tsv)", () => {
  test("CHECK_IDS, the schema's id enum and docs/verify.md list the table's ids in its order", () => {
    expect(checks.map((c) => c.id)).toHaveLength(13);
    expect([...CHECK_IDS]).toEqual(checks.map((c) => c.id));
    const schema = JSON.parse(readFileSync(join(REPO, "schemas/verify-report.schema.json"), "utf8")) as {
      definitions: { check: { properties: { id: { enum: string[] } } } };
    };
    expect(schema.definitions.check.properties.id.enum).toEqual(checks.map((c) => c.id));
    const docs = readFileSync(join(REPO, "docs/verify.md"), "utf8");
    const section = docs.slice(docs.indexOf("### Checks and fixes"), docs.indexOf("### Checks (id: what)"));
    const rows = [...section.matchAll(/^\| (\d+) \| `([a-z-]+)` \| (.*) \|$/gm)].map((m) => ({
      id: m[2],
      title: m[3],
    }));
    expect(rows).toEqual(checks);
    const fixRows = Object.fromEntries(
      [...section.matchAll(/^\| (kernel|kubelet|runtime) \| (.*) \|$/gm)].map((m) => [m[1], m[2]]),
    );
    expect(fixRows).toEqual(fixes);
  });

  test("the script reports the table's checks in its order with its titles, and its fix for a cause", () => {
    const { report } = runJson(S.centos7Cgroupfs(join(TMP, "el7")).args);
    expect(report.checks.map((c) => ({ id: c.id, title: c.title }))).toEqual(checks);
    const pod = report.checks.find((c) => c.id === "pod-cgroups-kmem")!;
    // a cause the node's fix state is about gets the node's next step (install, kernel); the table's
    // fix is the wording where it is not (test/verify/remedies.test.ts)
    expect([report.fix_state, pod.cause, pod.remedy]).toEqual(["install", "kubelet", report.next_step]);
    expect(pod.remedy).toContain("install the nokmem kubelet built by kmem-build");
    const kernel = runJson(S.hybridKernelCharges(join(TMP, "hybrid")).args).report;
    const k = kernel.checks.find((c) => c.id === "pod-cgroups-kmem")!;
    expect([kernel.fix_state, k.cause, k.remedy]).toEqual(["kernel", "kernel", kernel.next_step]);
    expect(fixes.kernel).toContain("cgroup.memory=nokmem");
  });
});

describe("one part per check (scripts/verify-kmem/checks/<id>.awk)", () => {
  const checkFiles = readdirSync(join(PARTS, "checks")).sort();

  test("each check of checks.tsv has its file, defining check_<id>() and nothing else, and judge() calls them in the table's order", () => {
    expect(checkFiles).toEqual(checks.map((c) => `${c.id}.awk`).sort());
    for (const { id } of checks) {
      const text = readFileSync(join(PARTS, "checks", `${id}.awk`), "utf8");
      expect(text.split("\n")[0], id).toMatch(new RegExp(`^# check ${id}: `));
      expect(
        [...text.matchAll(/^function (\w+)\(/gm)].map((m) => m[1]),
        id,
      ).toEqual([`check_${id.replace(/-/g, "_")}`]);
      // the check is judged here and nowhere else
      const elsewhere = [...awkParts, ...readdirSync(join(PARTS, "report")).map((f) => `report/${f}`)]
        .map((f) => readFileSync(join(PARTS, f), "utf8"))
        .filter((t) => t.includes(`check("${id}"`));
      expect(elsewhere, id).toEqual([]);
    }
    const script = readFileSync(join(REPO, "scripts/verify-kmem.sh"), "utf8");
    const judge = script.slice(script.indexOf("function judge() {"));
    const called = [...judge.slice(0, judge.indexOf("\n}")).matchAll(/^ {2}(check_\w+)\(\)$/gm)].map(
      (m) => m[1],
    );
    expect(called).toEqual(checks.map((c) => `check_${c.id.replace(/-/g, "_")}`));
  });

  test("the generator refuses a check without its file, and a file without its check", () => {
    const copy = join(TMP, "refuse");
    cpSync(join(REPO, "scripts/verify-kmem"), join(copy, "verify-kmem"), { recursive: true });
    cpSync(ASSEMBLE, join(copy, "assemble-verify-kmem.mjs"));
    const run = () =>
      spawnSync(process.execPath, [join(copy, "assemble-verify-kmem.mjs"), "--check"], { encoding: "utf8" });
    const moved = join(copy, "verify-kmem/checks/pod-names.awk");
    const text = readFileSync(moved, "utf8");
    rmSync(moved);
    let r = run();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("missing: pod-names.awk");
    writeFileSync(join(copy, "verify-kmem/checks/pod-name.awk"), text);
    r = run();
    expect(r.stderr).toContain("not in checks.tsv: pod-name.awk");
    rmSync(join(copy, "verify-kmem/checks/pod-name.awk"));
    writeFileSync(moved, text.replace("function check_pod_names(", "function check_podnames("));
    r = run();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("it must define check_pod_names() only");
  });
});

describe("assembled from its parts", () => {
  test("the committed scripts/verify-kmem.sh and schemas/verify-contract.json are what the parts make (npm run assemble -- --check)", () => {
    const r = spawnSync(process.execPath, [ASSEMBLE, "--check"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  test("--check fails when a part changed and the script was not assembled again", () => {
    const copy = join(TMP, "scripts");
    cpSync(join(REPO, "scripts/verify-kmem"), join(copy, "verify-kmem"), { recursive: true });
    cpSync(ASSEMBLE, join(copy, "assemble-verify-kmem.mjs"));
    cpSync(join(REPO, "scripts/verify-kmem.sh"), join(copy, "verify-kmem.sh"));
    cpSync(join(REPO, "schemas/verify-contract.json"), join(TMP, "schemas/verify-contract.json"));
    const check = () =>
      spawnSync(process.execPath, [join(copy, "assemble-verify-kmem.mjs"), "--check"], { encoding: "utf8" });
    expect(check().status).toBe(0);
    const lib = join(copy, "verify-kmem/lib.awk");
    writeFileSync(lib, readFileSync(lib, "utf8").replace('out = ""', 'out = "x"'));
    const r = check();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("npm run assemble");
  });

  test("main.sh, the shell part, is shellcheck-clean as POSIX sh on its own", () => {
    const r = spawnSync("shellcheck", ["-s", "sh", join(PARTS, "main.sh")], { encoding: "utf8" });
    expect(r.error, "shellcheck is installed (scripts/setup-system.sh)").toBeUndefined();
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  test("every awk part is embedded, and carries its own shared helpers only", () => {
    const main = readFileSync(join(PARTS, "main.sh"), "utf8");
    const included = [...main.matchAll(/^[A-Z_]+_AWK='#include ([a-z0-9-]+\.awk)'$/gm)].map((m) => m[1]);
    expect(included.sort()).toEqual([...awkParts].sort());
    const script = readFileSync(join(REPO, "scripts/verify-kmem.sh"), "utf8");
    expect(script.split("\n")[1]).toMatch(
      /^# GENERATED from scripts\/verify-kmem\/ .* by scripts\/assemble-verify-kmem\.mjs/,
    );
    // lib.awk's functions are defined once in the parts, and repl() (used by scan and report) twice
    // in the shipped file: once in each program that calls it
    const defs = (text: string, name: string) => text.split(`\nfunction ${name}(`).length - 1;
    for (const part of awkParts) expect(defs(readFileSync(join(PARTS, part), "utf8"), "repl"), part).toBe(0);
    expect(defs(script, "repl")).toBe(3); // scan, oom (through enc) and report
    expect(defs(script, "unoct")).toBe(1);
  });
});

const HAVE_GAWK = spawnSync("gawk", ["--version"]).status === 0;
/**
 * What `gawk --lint` says that is not a problem (documented in lib.awk): a library function the
 * program does not call, locals (extra parameters) named like a global, and unset variables (or locals
 * given one) read when the program runs on no input without the environment the script gives it.
 */
const NOT_A_PROBLEM = [
  /warning: function `[a-z0-9_]+' defined but never called directly$/,
  /warning: function `[a-z0-9_]+': parameter `[A-Za-z0-9_]+' shadows global variable$/,
  /warning: reference to uninitialized (variable|element|argument) `[^']*'$/,
];

describe.skipIf(!HAVE_GAWK)(
  "gawk --lint -f lib.awk -f PART.awk (with its parts, and checktable() from checks.tsv)",
  () => {
    test.each(awkParts)("%s", (part) => {
      const tableAwk = join(TMP, "checktable.awk");
      const made = spawnSync(process.execPath, [ASSEMBLE, "--table-awk"], { encoding: "utf8" });
      writeFileSync(tableAwk, made.stdout);
      const partAwk = join(TMP, `program-${part}`);
      const program = spawnSync(process.execPath, [ASSEMBLE, "--program-awk", part], { encoding: "utf8" });
      expect(program.status, program.stderr).toBe(0);
      writeFileSync(partAwk, program.stdout);
      const r = spawnSync("gawk", ["--lint", "-f", join(PARTS, "lib.awk"), "-f", tableAwk, "-f", partAwk], {
        encoding: "utf8",
        input: "",
        env: { ...process.env, LC_ALL: "C" },
      });
      expect(r.error).toBeUndefined();
      const said = r.stderr.split("\n").filter((l) => l !== "");
      const rest = said.filter((l) => !NOT_A_PROBLEM.some((re) => re.test(l)));
      expect(rest, r.stderr).toEqual([]);
      // on no input: the kernel-log program says "no lines" (3), the report "could not tell" (2)
      expect(r.status, r.stderr).toBe(part === "oom.awk" ? 3 : part === "report.awk" ? 2 : 0);
    });

    test("the lint finds a real problem when there is one", () => {
      const bad = join(TMP, "bad.awk");
      writeFileSync(bad, 'BEGIN { x = substr("", 1) ; print length() ; y = 1 + "a" }\n');
      const r = spawnSync("gawk", ["--lint", "-f", join(PARTS, "lib.awk"), "-f", bad], {
        encoding: "utf8",
        input: "",
        env: { ...process.env, LC_ALL: "C" },
      });
      const rest = r.stderr
        .split("\n")
        .filter((l) => l !== "")
        .filter((l) => !NOT_A_PROBLEM.some((re) => re.test(l)));
      expect(rest.length).toBeGreaterThan(0);
    });
  },
);
