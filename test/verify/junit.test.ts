/**
 * `kmem-build verify --junit` on fixture nodes of every fix state, with and without --gate, and for a
 * host that cannot be reached: the file fails (a <failure> or an <error>) exactly where verify's exit
 * code is not 0, nothing is <skipped>, and the document has the shape Jenkins' junit step and GitLab's
 * junit report read.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { runCli } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-junit-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
let seq = 0;
const fresh = () => join(TMP, String(++seq));
const R = S.RHEL7;

interface Case {
  kind: "pass" | "failure" | "error";
  type?: string;
  message?: string;
  out?: string;
  classname: string;
}
interface Parsed {
  /** Shape problems as a JUnit reader sees them (empty: none). */
  problems: string[];
  totals: Record<string, string>;
  suites: { name: string; props: Record<string, string>; cases: Record<string, Case> }[];
}

/**
 * Python's XML parser, and the rules both readers rely on: <testsuites> of <testsuite name tests
 * failures errors skipped time timestamp>, <properties> first, <testcase classname name time> with at
 * most one of <failure>/<error>/<skipped> (message and type set), counts that add up.
 */
function parse(file: string): Parsed {
  const py = String.raw`
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
p = []
if root.tag != "testsuites": p.append("root is " + root.tag)
tot = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
suites = []
for s in root:
    if s.tag != "testsuite": p.append("child of testsuites: " + s.tag); continue
    for a in ("name", "tests", "failures", "errors", "skipped", "time", "timestamp"):
        if s.get(a) is None: p.append("testsuite without " + a)
    kids = list(s)
    props = {}
    if kids and kids[0].tag == "properties":
        props = {q.get("name"): q.get("value") for q in kids[0]}
        kids = kids[1:]
    n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    cases = {}
    for c in kids:
        if c.tag != "testcase": p.append("child of testsuite: " + c.tag); continue
        for a in ("classname", "name", "time"):
            if c.get(a) is None: p.append("testcase without " + a)
        n["tests"] += 1
        res = [x for x in c if x.tag in ("failure", "error", "skipped")]
        if len(res) > 1: p.append("testcase with several results: " + c.get("name"))
        case = {"kind": "pass", "classname": c.get("classname")}
        for x in res:
            if x.tag == "skipped": n["skipped"] += 1; case["kind"] = "skipped"; continue
            n[{"failure": "failures", "error": "errors"}[x.tag]] += 1
            if not x.get("message") or not x.get("type"): p.append(x.tag + " without message or type")
            case.update(kind=x.tag, type=x.get("type"), message=x.get("message"))
        out = c.find("system-out")
        if out is not None: case["out"] = out.text or ""
        if c.get("name") in cases: p.append("testcase twice: " + c.get("name"))
        cases[c.get("name")] = case
    for k in n:
        if str(n[k]) != s.get(k): p.append("testsuite %s says %s=%s, holds %d" % (s.get("name"), k, s.get(k), n[k]))
        tot[k] += n[k]
    suites.append({"name": s.get("name"), "props": props, "cases": cases})
for k in tot:
    if str(tot[k]) != root.get(k): p.append("testsuites says %s=%s, holds %d" % (k, root.get(k), tot[k]))
print(json.dumps({"problems": p, "totals": dict(root.attrib), "suites": suites}))`;
  const r = spawnSync("python3", ["-c", py, file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`JUnit XML is not well formed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Parsed;
}

const NODES: [string, (d: string) => S.Laid][] = [
  [
    "not-affected",
    (d) => S.el7Node(d, { kernel: R["7.9"], driver: "cgroupfs", param: true, kubelet: "kmem" }),
  ],
  ["kernel", (d) => S.hybridKernelCharges(d, false)],
  ["install", (d) => S.el7Node(d, { kernel: R["7.6"], driver: "systemd", parents: true, kubelet: "kmem" })],
  ["reboot", (d) => S.el7Node(d, { kernel: R["7.9"], driver: "systemd", parents: true, kubelet: "nokmem" })],
  ["fixed", (d) => S.el7Node(d, { kernel: R["7.3"], driver: "cgroupfs", kubelet: "nokmem" })],
  [
    "unknown",
    (d) => {
      const l = S.el7Node(d, { kernel: R["7.6"], driver: "cgroupfs", kubelet: "nokmem" });
      return { ...l, args: l.args.map((a) => (a === join(d, "kubelet") ? join(d, "kubelte") : a)) };
    },
  ],
  ["unknown", S.noKubepods],
];

describe.each(NODES)("a %s node", (state, lay) => {
  const node = lay(fresh());
  describe.each([false, true])("--gate %s", (gate) => {
    const file = join(TMP, `${++seq}.xml`);
    const r = runCli(["verify", ...node.args, "--junit", file, "--quiet", ...(gate ? ["--gate"] : [])]);
    const j = parse(file);
    const suite = j.suites[0]!;
    const fix = suite.cases["fix-state"]!;

    test("shape as Jenkins and GitLab read it; nothing skipped", () => {
      expect(j.problems).toEqual([]);
      expect(j.suites.map((s) => s.name)).toEqual(["local"]);
      expect(j.totals.skipped).toBe("0");
      expect(Object.keys(suite.cases)).toHaveLength(14);
      expect(suite.props).toMatchObject({ fix_state: state, exit_code: String(r.code), gate: String(gate) });
    });

    test("the file fails exactly where the exit code is not 0", () => {
      const bad = Number(j.totals.failures) + Number(j.totals.errors);
      expect([r.code !== 0, bad > 0]).toEqual([r.code !== 0, r.code !== 0]);
      if (r.code === 2) expect(Number(j.totals.errors)).toBeGreaterThan(0);
    });

    test("fix-state: error when unknown, failure under --gate when a step is left, else it passes", () => {
      const expected =
        state === "unknown"
          ? { kind: "error", type: "UNKNOWN" }
          : gate && !["fixed", "not-affected"].includes(state)
            ? { kind: "failure", type: "GATE" }
            : { kind: "pass" };
      expect(fix).toMatchObject(expected);
      if (fix.kind === "pass") expect(fix.out).toMatch(new RegExp(`^fix state ${state}: .*\nnext step: `));
      if (fix.kind === "failure") expect(fix.message).toMatch(new RegExp(`^fix state ${state}: next step: `));
    });

    test("FAIL is a failure, could-not-tell an error, WARN passes with its text in system-out", () => {
      const report = JSON.parse(runCli(["verify", ...node.args, "--json"]).stdout) as {
        checks: { id: string; status: string; conclusive: boolean }[];
      };
      for (const c of report.checks) {
        const k = suite.cases[c.id]!;
        if (c.status === "FAIL") expect(k).toMatchObject({ kind: "failure", type: "FAIL" });
        else if (!c.conclusive) expect(k).toMatchObject({ kind: "error", type: "UNKNOWN" });
        else expect(k.kind, c.id).toBe("pass");
        if (c.status === "WARN" && c.conclusive) expect(k.out).toMatch(/^WARN: /);
      }
    });
  });
});

test("an unreachable host: every testcase, fix-state included, is an error", async () => {
  const port = await new Promise<number>((res) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => res(p));
    });
  });
  const file = join(TMP, "unreachable.xml");
  const r = runCli([
    "verify",
    "--ssh",
    `root@127.0.0.1`,
    "--port",
    String(port),
    "--connect-timeout",
    "3",
    "--ssh-option",
    "StrictHostKeyChecking=no",
    "--junit",
    file,
    "--quiet",
  ]);
  expect(r.code).toBe(2);
  const j = parse(file);
  expect(j.problems).toEqual([]);
  const cases = Object.values(j.suites[0]!.cases);
  expect(cases).toHaveLength(14);
  expect(cases.every((c) => c.kind === "error" && c.type === "UNREACHABLE")).toBe(true);
  expect(j.totals).toMatchObject({ tests: "14", errors: "14", failures: "0", skipped: "0" });
});
