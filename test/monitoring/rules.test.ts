/**
 * The generated rules as Prometheus reads them: `promtool check rules` on the plain rules file and
 * on the PrometheusRule's groups, and `promtool test rules` (Debian's prometheus package) on the unit
 * tests beside this file (*.promtest.yaml), which feed input series and expect every alert to fire or
 * stay silent with the labels and annotations an on-call person reads. The windows are the production
 * ones for a DaemonSet interval of 5m (the `kmem-build manifests` default).
 */
import { execa } from "execa";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIX_STATES } from "../../src/verify/report.js";
import { plainRulesFile, prometheusRule, ruleGroups, timingsFor } from "../../src/monitoring/rules.js";
import { REPO } from "../helpers/cli.js";

const HERE = join(REPO, "test", "monitoring");
const UNIT_TESTS = readdirSync(HERE)
  .filter((f) => f.endsWith(".promtest.yaml"))
  .sort();
let dir: string;

interface PromTestFile {
  tests: {
    input_series: { series: string }[];
    alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
  }[];
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "kmem-rules-"));
  writeFileSync(join(dir, "kmem-build.rules.yaml"), plainRulesFile(timingsFor(300)));
  for (const f of UNIT_TESTS) copyFileSync(join(HERE, f), join(dir, f));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const promtool = (args: string[]) => execa("promtool", args, { cwd: dir, reject: false });

describe("Prometheus rules (promtool)", () => {
  it("promtool check rules accepts the plain rules file and the PrometheusRule's groups", async () => {
    const plain = await promtool(["check", "rules", "kmem-build.rules.yaml"]);
    expect(plain.exitCode, plain.stdout + plain.stderr).toBe(0);
    const rules = ruleGroups(timingsFor(300)).reduce((n, g) => n + g.rules.length, 0);
    expect(plain.stdout).toContain(`SUCCESS: ${rules} rules found`);
    const cr = parse(prometheusRule(timingsFor(300), "kmem-build", {})) as { spec: { groups: unknown } };
    writeFileSync(join(dir, "from-cr.yaml"), JSON.stringify({ groups: cr.spec.groups }));
    const fromCr = await promtool(["check", "rules", "from-cr.yaml"]);
    expect(fromCr.exitCode, fromCr.stdout + fromCr.stderr).toBe(0);
  });

  it("promtool check rules refuses a broken rule (the check can fail)", async () => {
    writeFileSync(
      join(dir, "broken.yaml"),
      "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: max by (\n",
    );
    const r = await promtool(["check", "rules", "broken.yaml"]);
    expect(r.exitCode).not.toBe(0);
  });

  it("every alert has a unit case where it fires and one where it stays silent; every fix state is fed", () => {
    const fired = new Set<string>();
    const silent = new Set<string>();
    let series = "";
    for (const f of UNIT_TESTS) {
      const doc = parse(readFileSync(join(HERE, f), "utf8")) as PromTestFile;
      for (const t of doc.tests) {
        series += t.input_series.map((s) => s.series).join("\n");
        for (const a of t.alert_rule_test ?? []) (a.exp_alerts?.length ? fired : silent).add(a.alertname);
      }
    }
    const alerts = ruleGroups(timingsFor(300)).flatMap((g) =>
      g.rules.flatMap((r) => ("alert" in r ? [r.alert] : [])),
    );
    expect(alerts.length).toBeGreaterThan(8);
    for (const a of alerts) {
      expect(fired.has(a), `${a} fires in no unit test`).toBe(true);
      expect(silent.has(a), `${a} is silent in no unit test`).toBe(true);
    }
    for (const s of FIX_STATES) expect(series, s).toContain(`state="${s}"`);
  });

  for (const f of UNIT_TESTS)
    it(`promtool test rules ${f}`, async () => {
      const r = await promtool(["test", "rules", f]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/SUCCESS/);
    });
});
