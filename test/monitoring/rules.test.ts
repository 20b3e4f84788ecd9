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
import { apiFixState, kernelClass, kubeletClass } from "../../src/verify/cluster-classify.js";

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

  it("the kube_node_info rules classify every node as verify --cluster classifies its Node object", async () => {
    const kernels = [
      "3.10.0-514.el7.x86_64",
      "3.10.0-1062.4.1.el7.x86_64",
      "3.10.0-1126.el7.x86_64",
      "3.10.0-1127.el7.x86_64",
      "3.10.0-1160.119.1.el7.x86_64",
      "4.4.0-210-generic",
      "4.5.7",
      "4.6.0",
      "4.18.0-477.10.1.el8_8.x86_64",
      "5.4.270-1.el7.elrepo.x86_64",
      "6.18.0+",
      "weird",
    ];
    const kubelets = [
      "v1.10.13",
      "v1.20.2",
      "v1.20.2+nokmem",
      "v1.21.0-rc.1+nokmem",
      "v1.21.1",
      "v1.21.2",
      "v1.21.10",
      "v1.20.4+k3s1",
      "v1.27.4+rke2r1",
      "v1.20.2+nokmemx",
      "unknown",
    ];
    const series: string[] = [];
    const states: string[] = [];
    const kc: string[] = [];
    const bc: string[] = [];
    kernels.forEach((k, i) =>
      kubelets.forEach((b, j) => {
        const node = `n-${i}-${j}`;
        series.push(
          `      - series: 'kube_node_info{container_runtime_version="containerd://1.4.3",internal_ip="10.0.${i}.${j}",job="kube-state-metrics",kernel_version="${k}",kubelet_version="${b}",kubeproxy_version="${b}",node="${node}",os_image="CentOS Linux 7 (Core)",pod_cidr="",provider_id="",system_uuid=""}'\n        values: "1x5"`,
        );
        const sample = (name: string, label: string, value: string) =>
          `          - { labels: '${name}{node="${node}",${label}="${value}"}', value: 1 }`;
        states.push(
          sample(
            "kmem_build:node_api_fix_state",
            "state",
            apiFixState(kernelClass(k), kubeletClass(b)).state,
          ),
        );
        kc.push(sample("kmem_build:node_kernel_class", "kernel_class", kernelClass(k)));
        bc.push(sample("kmem_build:node_kubelet_class", "kubelet_class", kubeletClass(b)));
      }),
    );
    const expr = (e: string, samples: string[]) =>
      `      - expr: ${e}\n        eval_time: 1m\n        exp_samples:\n${samples.join("\n")}`;
    writeFileSync(
      join(dir, "matrix.yaml"),
      [
        "rule_files: [kmem-build.rules.yaml]",
        "evaluation_interval: 1m",
        "tests:",
        "  - interval: 1m",
        "    input_series:",
        ...series,
        "    promql_expr_test:",
        expr("kmem_build:node_api_fix_state", states),
        expr("kmem_build:node_kernel_class", kc),
        expr("kmem_build:node_kubelet_class", bc),
        "",
      ].join("\n"),
    );
    expect(new Set(states.map((s) => /state="([a-z-]+)"/.exec(s)![1]))).toEqual(
      new Set(["install", "ask-node", "unknown"]),
    );
    const r = await promtool(["test", "rules", "matrix.yaml"]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  });
});
