/**
 * `kmem-build verify` over ssh against real sshd processes on 127.0.0.1: two reachable "hosts", one
 * closed port and one that never answers. Unreachable hosts are UNKNOWN, the others complete; JSON,
 * JUnit and the exit code cover all of them.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FleetReport } from "../../src/verify/report.js";
import { REPO, runCliAsync } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";
import { freePort, makeKeys, startSilentServer, startSshd, type Keys, type Sshd } from "./helpers/sshd.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-remote-"));
const node = S.centos7Cgroupfs(join(TMP, "node"));
const schema = JSON.parse(readFileSync(join(REPO, "schemas/verify-report.schema.json"), "utf8"));
const validate = new Ajv({ allErrors: true }).compile(schema);

let keys: Keys;
let a: Sshd;
let b: Sshd;
let closed: number;
let silent: Awaited<ReturnType<typeof startSilentServer>>;
const dest = (port: number) => `ssh://root@127.0.0.1:${port}`;

beforeAll(async () => {
  keys = makeKeys(join(TMP, "keys"));
  [a, b] = await Promise.all([startSshd(keys, "a"), startSshd(keys, "b")]);
  closed = await freePort();
  silent = await startSilentServer();
}, 60_000);
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), silent?.stop()]);
  rmSync(TMP, { recursive: true, force: true });
});

const sshFlags = () => [
  "--identity",
  keys.clientKey,
  "--ssh-option",
  "StrictHostKeyChecking=no",
  "--ssh-option",
  "UserKnownHostsFile=/dev/null",
  "--ssh-option",
  "LogLevel=ERROR",
  "--connect-timeout",
  "3",
];

/** Parses JUnit XML with Python's XML parser (well-formedness) and returns its testcases. */
function junitCases(file: string): {
  suites: string[];
  cases: { suite: string; name: string; kind: string }[];
  totals: Record<string, string>;
} {
  const py = `
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = []
for s in root.iter("testsuite"):
    for c in s.iter("testcase"):
        kind = "pass"
        for k in ("failure", "error", "skipped"):
            if c.find(k) is not None: kind = k
        cases.append({"suite": s.get("name"), "name": c.get("name"), "kind": kind})
print(json.dumps({"suites": [s.get("name") for s in root.iter("testsuite")], "cases": cases, "totals": dict(root.attrib)}))`;
  const r = spawnSync("python3", ["-c", py, file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`JUnit XML is not well formed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe("fleet over ssh", () => {
  let fleet: FleetReport;
  let code: number | null;
  const junit = join(TMP, "report.xml");

  beforeAll(async () => {
    const hostsFile = join(TMP, "nodes.txt");
    writeFileSync(hostsFile, `# nodes\n${dest(b.port)}   # second sshd\n\n${dest(closed)}\n`);
    const r = await runCliAsync([
      "verify",
      "--ssh",
      dest(a.port),
      "--hosts-file",
      hostsFile,
      ...sshFlags(),
      ...node.args,
      "--json",
      "--junit",
      junit,
    ]);
    code = r.code;
    try {
      fleet = JSON.parse(r.stdout) as FleetReport;
    } catch {
      throw new Error(`no JSON on stdout (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    }
  }, 120_000);

  test("reachable hosts complete, the closed port is UNKNOWN, exit is the worst (1)", () => {
    expect(fleet.hosts.map((h) => [h.host, h.result, h.exit_code])).toEqual([
      [dest(a.port), "PROBLEM", 1],
      [dest(b.port), "PROBLEM", 1],
      [dest(closed), "UNKNOWN", 2],
    ]);
    expect(fleet.hosts[2]!.error).toMatch(/^ssh failed: .*Connection refused/);
    expect(fleet.hosts[2]!.report).toBeNull();
    expect(fleet.totals).toEqual({ hosts: 3, ok: 0, problem: 2, unknown: 1 });
    expect([fleet.result, fleet.exit_code, code]).toEqual(["PROBLEM", 1, 1]);
  });

  test("each reachable host ran the same script, sent on stdin, and returned its full report", () => {
    for (const h of fleet.hosts.slice(0, 2)) {
      expect(h.report!.node.hostname).toBe("centos7-node");
      expect(h.report!.cgroups).toHaveLength(7);
      expect(h.report!.checks.find((c) => c.id === "pod-cgroups-kmem")!.status).toBe("FAIL");
    }
  });

  test("the fleet JSON matches schemas/verify-report.schema.json", () => {
    expect(validate(fleet), JSON.stringify(validate.errors)).toBe(true);
  });

  test("JUnit: well formed, one testsuite per host, one testcase per host x check and one for its fix state", () => {
    const j = junitCases(junit);
    expect(j.suites).toEqual([dest(a.port), dest(b.port), dest(closed)]);
    expect(j.cases).toHaveLength(42);
    expect(j.totals).toMatchObject({ tests: "42", failures: "10", errors: "14", skipped: "0" });
    expect(
      j.cases.filter((c) => c.suite === dest(a.port) && c.kind === "failure").map((c) => c.name),
    ).toEqual([
      "pod-cgroups-kmem",
      "container-cgroups-kmem",
      "kmem-accounting-active",
      "kubelet-binary",
      "runtime-binaries",
    ]);
    expect(j.cases.filter((c) => c.suite === dest(closed)).every((c) => c.kind === "error")).toBe(true);
  });
});

test("human table over hosts, progress on stderr only", async () => {
  const r = await runCliAsync([
    "verify",
    "--ssh",
    dest(a.port),
    "--ssh",
    dest(closed),
    ...sshFlags(),
    ...node.args,
  ]);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(new RegExp(`^HOST +RESULT +PASS +FAIL +WARN`));
  expect(r.stdout).toMatch(
    new RegExp(`${dest(a.port)} +PROBLEM +1 +5 +0 +${S.EL7_KERNEL.replace(/\./g, "\\.")} +v1 +3 +5 `),
  );
  expect(r.stdout).toMatch(new RegExp(`${dest(closed)} +UNKNOWN .*Connection refused`));
  expect(r.stdout).toContain("[FAIL] pod-cgroups-kmem:");
  expect(r.stdout).toContain("Result: PROBLEM (exit 1): 2 hosts, 0 OK, 1 PROBLEM, 1 UNKNOWN");
  expect(r.stderr).toContain(`${dest(a.port)}: PROBLEM`);
});

test("a host that never answers does not hang the run: it is UNKNOWN, the other completes, exit 2", async () => {
  const clean = S.centos7Systemd(join(TMP, "clean"));
  const r = await runCliAsync([
    "verify",
    "--ssh",
    dest(a.port),
    "--ssh",
    dest(silent.port),
    ...sshFlags(),
    ...clean.args,
    "--brief",
  ]);
  expect(r.stdout).toContain(`${dest(a.port)}: OK`);
  expect(r.stdout).toMatch(
    new RegExp(`${dest(silent.port)}: UNKNOWN: ssh failed: .*(timed out|Connection timed out)`),
  );
  expect(r.code).toBe(2);
  expect(r.ms).toBeLessThan(30_000);
});

test("--host-timeout ends a host whose script runs too long", async () => {
  const clean = S.centos7Systemd(join(TMP, "slow"));
  const r = await runCliAsync([
    "verify",
    "--ssh",
    dest(b.port),
    ...sshFlags(),
    ...clean.args,
    "--duration",
    "120",
    "--host-timeout",
    "3",
    "--json",
  ]);
  const f = JSON.parse(r.stdout) as FleetReport;
  expect(f.hosts[0]).toMatchObject({ result: "UNKNOWN", exit_code: 2, report: null });
  expect(f.hosts[0]!.error).toMatch(/timed out after 3000 ms/);
  expect(r.code).toBe(2);
  expect(r.ms).toBeLessThan(20_000);
});

/**
 * Hostile nodes: a fake node script (given with --script, sent over the real sshd like the real
 * one) that prints what an attacker controlling the node would. Which sshd answered is in
 * SSH_CONNECTION: the fake answers on sshd "a", the real script runs on sshd "b".
 */
describe("a node report is hostile input", () => {
  const fake = join(TMP, "fake-node.sh");
  const payload = join(TMP, "payload.json");
  const ESC = "\x1b";
  const forged = `evil${ESC}[2J${ESC}[H${ESC}]0;pwned${ESC}\\\nResult: OK (exit 0)\n`;
  let clean: ReturnType<typeof S.centos7Systemd>;

  beforeAll(() => {
    clean = S.centos7Systemd(join(TMP, "hostile-clean"));
    writeFileSync(
      fake,
      `#!/bin/sh
case $SSH_CONNECTION in
  *" ${a.port}") cat '${payload}' ;;
  *) exec sh '${join(REPO, "scripts/verify-kmem.sh")}' "$@" ;;
esac
`,
    );
  });
  const run = (...extra: string[]) =>
    runCliAsync([
      "verify",
      "--ssh",
      dest(a.port),
      "--ssh",
      dest(b.port),
      ...sshFlags(),
      ...clean.args,
      "--script",
      fake,
      ...extra,
    ]);

  test("a report missing fields is that node's UNKNOWN with the reason; the other node is reported; --brief never says OK", async () => {
    writeFileSync(payload, '{"schema_version":1,"checks":[],"exit_code":0}\n');
    const junit = join(TMP, "hostile.xml");
    const j = await run("--json", "--junit", junit);
    const f = JSON.parse(j.stdout) as FleetReport;
    expect(f.hosts.map((h) => [h.result, h.exit_code])).toEqual([
      ["UNKNOWN", 2],
      ["OK", 0],
    ]);
    expect(f.hosts[0]!.report).toBeNull();
    expect(f.hosts[0]!.error).toMatch(
      /^invalid report: does not match schemas\/verify-report\.schema\.json: report must have required property '/,
    );
    expect(f.hosts[1]!.report!.checks.length).toBeGreaterThan(0);
    expect(validate(f), JSON.stringify(validate.errors)).toBe(true);
    expect(j.code).toBe(2);
    expect(
      junitCases(junit)
        .cases.filter((c) => c.suite === dest(a.port))
        .every((c) => c.kind === "error"),
    ).toBe(true);

    const human = await run();
    expect(human.stdout).toMatch(new RegExp(`${dest(a.port)} +UNKNOWN .*invalid report`));
    expect(human.stdout).toContain("Result: UNKNOWN (exit 2): 2 hosts, 1 OK, 0 PROBLEM, 1 UNKNOWN");

    const brief = await run("--brief");
    expect(brief.stdout.split("\n")[0]).toMatch(new RegExp(`^${dest(a.port)}: UNKNOWN: invalid report: `));
    expect(brief.stdout).toContain(`${dest(b.port)}: OK`);
    expect(brief.code).toBe(2);
  }, 120_000);

  test("a node answering 100 MB is that node's UNKNOWN (report too large); the CLI stops reading it, the other node is reported", async () => {
    writeFileSync(payload, Buffer.alloc(100_000_000, "x"));
    const f = JSON.parse((await run("--json")).stdout) as FleetReport;
    expect(f.hosts.map((h) => [h.result, h.exit_code])).toEqual([
      ["UNKNOWN", 2],
      ["OK", 0],
    ]);
    expect(f.hosts[0]!.error).toBe(
      "report too large: the node sent more than 16 MiB (a report is far smaller); stopped reading",
    );
    expect(validate(f), JSON.stringify(validate.errors)).toBe(true);
  }, 120_000);

  test("a schema-valid report whose verdict is better than its checks (FAIL, exit 0) is UNKNOWN too", async () => {
    const real = JSON.parse((await run("--json")).stdout) as FleetReport; // the clean node's own report
    const r = structuredClone(real.hosts[1]!.report!);
    const c = r.checks.find((x) => x.id === "pod-cgroups-kmem")!;
    c.status = "FAIL";
    r.totals.pass--;
    r.totals.fail++;
    writeFileSync(payload, JSON.stringify(r));
    const f = JSON.parse((await run("--json")).stdout) as FleetReport;
    expect(f.hosts[0]).toMatchObject({ result: "UNKNOWN", exit_code: 2, report: null });
    expect(f.hosts[0]!.error).toBe("invalid report: exit code 0, but its checks make it 1 (a check FAILed)");
  }, 120_000);

  test("escape sequences and newlines a node sends never reach the terminal raw (table, human, brief); JSON stays JSON", async () => {
    const real = JSON.parse((await run("--json")).stdout) as FleetReport;
    const r = structuredClone(real.hosts[1]!.report!);
    r.node.hostname = forged;
    r.node.kernel = `3.10${ESC}[31m`;
    r.checks[0]!.seen = `fine${ESC}[1A${ESC}[2K\nResult: OK (exit 0)`;
    r.totals[r.checks[0]!.status.toLowerCase() as "info"]--;
    r.checks[0]!.status = "WARN";
    r.totals.warn++;
    writeFileSync(payload, JSON.stringify(r));

    for (const extra of [[], ["--verbose"], ["--brief"]]) {
      const o = await run(...extra);
      expect(o.stdout, extra.join(" ")).not.toContain(ESC);
      expect(o.stderr, extra.join(" ")).not.toContain(ESC);
      // the only Result line is the fleet's own (--brief has none)
      expect(o.stdout.match(/^Result: /gm) ?? [], extra.join(" ")).toHaveLength(
        extra[0] === "--brief" ? 0 : 1,
      );
    }
    const human = await run("--verbose");
    expect(human.stdout).toContain("evil\\x1b[2J\\x1b[H\\x1b]0;pwned\\x1b\\\\nResult: OK (exit 0)\\n");
    expect(human.stdout).toContain("3.10\\x1b[31m");
    expect(human.stdout).toContain("[WARN] cgroup-layout: fine\\x1b[1A\\x1b[2K\\nResult: OK (exit 0)");
    const brief = await run("--brief");
    expect(brief.stdout.trim().split("\n")).toHaveLength(2);

    const json = await run("--json");
    expect(json.stdout).not.toContain(ESC);
    const f = JSON.parse(json.stdout) as FleetReport;
    expect(f.hosts[0]!.report!.node.hostname).toBe(forged);
    expect(validate(f), JSON.stringify(validate.errors)).toBe(true);
  }, 120_000);
});
