/**
 * schemas/verify-contract.json, what verify-kmem.sh reports as its parts declare it (written by
 * scripts/assemble-verify-kmem.mjs; parts.test.ts holds it current): the TypeScript side reads it or
 * holds its own literals equal to it, and the script does what it says.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { ruleGroups, timingsFor } from "../../src/monitoring/rules.js";
import { CONTRACT } from "../../src/verify/contract.js";
import { CHECK_IDS, FIX_STATES } from "../../src/verify/report.js";
import { REPO, runJson, runScript } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-contract-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const declared = Object.fromEntries(CONTRACT.checks.map((c) => [c.id, c]));

describe("the TypeScript side", () => {
  test("CHECK_IDS and FIX_STATES are the contract's checks and fix states, in its order", () => {
    expect([...CHECK_IDS]).toEqual(CONTRACT.checks.map((c) => c.id));
    expect([...FIX_STATES]).toEqual(CONTRACT.fix_states.map((s) => s.state));
  });

  test("the Prometheus rules alert on metrics the script writes, and the cAdvisor headroom alert uses the oom-headroom thresholds", () => {
    const rules = ruleGroups(timingsFor(120)).flatMap((g) => g.rules);
    const written = new Set(CONTRACT.metrics.map((m) => m.name));
    const used = rules.flatMap((r) => r.expr.match(/\bkmem_build_[a-z_]+\b/g) ?? []);
    expect(used.length).toBeGreaterThan(0);
    for (const m of used) expect(written.has(m), m).toBe(true);
    const headroom = rules.find((r) => "alert" in r && r.alert === "KmemHiddenMemoryNearOOM")!;
    const { HEADROOM_USAGE, HEADROOM_SEEN } = CONTRACT.thresholds;
    expect(headroom.expr).toContain(`> ${HEADROOM_USAGE} `);
    expect(headroom.expr).toMatch(new RegExp(`< ${HEADROOM_SEEN}$`));
    expect(declared["oom-headroom"]!.thresholds).toEqual(["HEADROOM_USAGE", "HEADROOM_SEEN"]);
  });
});

test("the fix-state alerts give the script's own next step and the kubelet fix, and the OOM alert its kmem share", () => {
  const alerts = Object.fromEntries(
    ruleGroups(timingsFor(120))
      .flatMap((g) => g.rules)
      .flatMap((r) => ("alert" in r ? [[r.alert, r.annotations.description] as const] : [])),
  );
  const step = (s: string) => CONTRACT.fix_states.find((f) => f.state === s)!.next_step!;
  expect(alerts.KmemFixRestartKubelet).toContain(`Next step: ${step("restart")}.`);
  expect(alerts.KmemFixReboot).toContain(`Next step: ${step("reboot")}.`);
  expect(alerts.KmemFixRuntime).toContain(`Next step: ${step("runtime")}.`);
  expect(alerts.KmemChargedByKernel).toContain(`Next step: ${step("kernel")}.`);
  expect(alerts.KmemFixInstallKubelet).toContain(`Next step: ${CONTRACT.fixes.kubelet}.`);
  expect(alerts.KubeletNotNokmem).toContain(`Next step: ${CONTRACT.fixes.kubelet}.`);
  expect(alerts.KmemCausedOOMKill).toContain(`>= ${CONTRACT.thresholds.KMEM_SHARE * 100}% of its usage`);
});

describe("the docs", () => {
  test("docs/verify.md's table of fix states has the contract's states in its order, with their summary and next step", () => {
    const docs = readFileSync(join(REPO, "docs/verify.md"), "utf8");
    const table = docs.slice(docs.indexOf("## The states"), docs.indexOf("\n\n", docs.indexOf("| state |")));
    const rows = [...table.matchAll(/^\| `([a-z-]+)` \| (.*) \| (.*) \|$/gm)].map((m) => ({
      state: m[1],
      summary: m[2],
      next_step: m[3],
    }));
    expect(rows.map((r) => r.state)).toEqual(CONTRACT.fix_states.map((s) => s.state));
    for (const s of CONTRACT.fix_states) {
      const row = rows.find((r) => r.state === s.state)!;
      expect(row.summary, s.state).toBe(s.summary);
      if (s.next_step !== null) expect(row.next_step, s.state).toBe(s.next_step);
    }
  });
});

describe("the script does what the contract says", () => {
  test("a check's cause is one its part declares, and a cause of checks.tsv gets that fix", () => {
    const runs = [
      S.centos7Cgroupfs(join(TMP, "el7")),
      S.hybridKernelCharges(join(TMP, "hybrid")),
      S.leakedMemcgs(join(TMP, "leak"), 65535),
    ].map((f) => runJson(f.args).report);
    const causes = new Set<string>();
    for (const report of runs)
      for (const c of report.checks) {
        if (c.cause === null) continue;
        causes.add(c.cause);
        expect(declared[c.id]!.causes, `${c.id}: ${c.cause}`).toContain(c.cause);
      }
    expect([...causes].sort()).toEqual(["kernel", "kubelet", "runtime"]);
    const pod = runs[0]!.checks.find((c) => c.id === "pod-cgroups-kmem")!;
    // the node's fix state (install) is about the kubelet: the remedy is its next step
    expect([runs[0]!.fix_state, pod.remedy]).toEqual(["install", runs[0]!.next_step]);
    const leaked = runs[2]!.checks.find((c) => c.id === "leaked-memcgs")!;
    expect([leaked.status, leaked.seen]).toEqual([
      "FAIL",
      expect.stringContaining(`limit of ${CONTRACT.thresholds.LIMIT}`),
    ]);
  });

  test("a fix state's summary and next step are the contract's", () => {
    const report = runJson(S.centos7Cgroupfs(join(TMP, "state")).args).report;
    const state = CONTRACT.fix_states.find((s) => s.state === report.fix_state)!;
    expect(report.fix_summary.startsWith(state.summary), report.fix_summary).toBe(true);
    if (state.next_step !== null) expect(report.next_step).toBe(state.next_step);
    const kernel = runJson(S.hybridKernelCharges(join(TMP, "state-kernel")).args).report;
    expect(kernel.fix_state).toBe("kernel");
    expect(kernel.next_step).toBe(CONTRACT.fix_states.find((s) => s.state === "kernel")!.next_step);
  });

  test("the Prometheus textfile has the contract's metrics with their types, and no other", () => {
    const f = S.centos7Cgroupfs(join(TMP, "prom"));
    mkdirSync(join(TMP, "textfile"));
    const out = join(TMP, "textfile", "kmem.prom");
    runScript([...f.args, "--prometheus", out, "--brief", "--duration", "1", "--interval", "1"]);
    const types = [...readFileSync(out, "utf8").matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => ({
      name: m[1],
      type: m[2],
    }));
    expect(types.length).toBeGreaterThan(10);
    const contract = new Map(CONTRACT.metrics.map((m) => [m.name, m.type]));
    for (const t of types) expect(contract.get(t.name!), t.name).toBe(t.type);
  });
});

describe("the generator", () => {
  test("--check finds a contract edited by hand; refuses a check part whose header names a cause without a fix, or a threshold the script does not set", () => {
    const copy = join(TMP, "gen");
    cpSync(join(REPO, "scripts/verify-kmem"), join(copy, "scripts/verify-kmem"), { recursive: true });
    cpSync(join(REPO, "scripts/assemble-verify-kmem.mjs"), join(copy, "scripts/assemble-verify-kmem.mjs"));
    mkdirSync(join(copy, "schemas"));
    const run = () =>
      spawnSync(process.execPath, [join(copy, "scripts/assemble-verify-kmem.mjs")], { encoding: "utf8" });
    expect(run().status).toBe(0);
    expect(JSON.parse(readFileSync(join(copy, "schemas/verify-contract.json"), "utf8"))).toEqual(CONTRACT);
    const file = join(copy, "schemas/verify-contract.json");
    writeFileSync(file, readFileSync(file, "utf8").replace('"LIMIT": 65535', '"LIMIT": 65536'));
    const check = spawnSync(process.execPath, [join(copy, "scripts/assemble-verify-kmem.mjs"), "--check"], {
      encoding: "utf8",
    });
    expect(check.status).toBe(1);
    expect(check.stderr).toContain("schemas/verify-contract.json is not what the parts make");
    const part = join(copy, "scripts/verify-kmem/checks/oom-headroom.awk");
    const text = readFileSync(part, "utf8");
    writeFileSync(part, text.replace("# causes: kernel, kubelet", "# causes: kernel, kubelet, firmware"));
    let r = run();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("checks/oom-headroom.awk: cause firmware has no fix in checks.tsv");
    writeFileSync(part, text.replace("# thresholds: HEADROOM_USAGE,", "# thresholds: HEADROOM_USE,"));
    r = run();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("threshold HEADROOM_USE is not set");
  });
});
