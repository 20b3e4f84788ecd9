/** --prometheus FILE: node_exporter textfile format, written to a temp file and renamed into place. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { runScript } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-prom-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict reader of the text exposition format: HELP/TYPE before samples, escapes \\ \" \n only. */
function parseProm(text: string): { samples: Sample[]; types: Record<string, string> } {
  const types: Record<string, string> = {};
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (m) {
      if (m[1] === "TYPE") {
        expect(["gauge", "counter"]).toContain(m[3]);
        types[m[2]!] = m[3]!;
      } else helps.add(m[2]!);
      continue;
    }
    if (line.startsWith("#")) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+]+)$/.exec(line);
    expect(m, `bad sample line: ${JSON.stringify(line)}`).not.toBeNull();
    const [, name, rawLabels = "", value] = m!;
    expect(types[name!], `TYPE before ${name}`).toBeDefined();
    expect(helps.has(name!), `HELP before ${name}`).toBe(true);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|$)/y;
    let at = 0;
    while (at < rawLabels.length) {
      re.lastIndex = at;
      const l = re.exec(rawLabels);
      expect(l, `bad labels: ${rawLabels}`).not.toBeNull();
      labels[l![1]!] = l![2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      at = re.lastIndex;
    }
    const key = `${name}${JSON.stringify(labels)}`;
    expect(seen.has(key), `duplicate series ${key}`).toBe(false);
    seen.add(key);
    samples.push({ name: name!, labels, value: Number(value) });
  }
  return { samples, types };
}

test("metrics with base units, pod uid/level labels, check status and memcg counts", () => {
  const f = S.centos7Cgroupfs(join(TMP, "a"));
  const dir = join(TMP, "textfile");
  mkdirSync(dir);
  const out = join(dir, "kmem.prom");
  const r = runScript([...f.args, "--prometheus", out, "--brief"]);
  expect(r.code).toBe(1);
  expect(readdirSync(dir)).toEqual(["kmem.prom"]); // the temp file was renamed, none left behind
  const { samples, types } = parseProm(readFileSync(out, "utf8"));
  for (const name of Object.keys(types)) expect(name).toMatch(/^kmem_build_[a-z_]+$/);
  const get = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  expect(get("kmem_build_verify_exit_code")[0]!.value).toBe(1);
  expect(get("kmem_build_check_status", { check: "pod-cgroups-kmem" })[0]!.labels.status).toBe("FAIL");
  expect(get("kmem_build_check_status")).toHaveLength(13);
  const pod = { level: "pod", pod_uid: S.UID.B, container: "" };
  expect(get("kmem_build_cgroup_kmem_usage_bytes", pod)[0]!.value).toBe(3_400_000_000);
  expect(get("kmem_build_cgroup_kmem_max_usage_bytes", pod)[0]!.value).toBe(3_500_000_000);
  expect(get("kmem_build_cgroup_kmem_failcnt", pod)[0]!.value).toBe(3);
  expect(get("kmem_build_cgroup_hidden_bytes", pod)[0]!.value).toBe(3.5 * S.GiB);
  expect(get("kmem_build_cgroup_kmem_accounting_active", pod)[0]!.value).toBe(1);
  expect(
    get("kmem_build_cgroup_kmem_usage_bytes", { level: "container", container: S.CTR.e1 })[0]!.value,
  ).toBe(8192);
  expect(get("kmem_build_cgroup_usage_bytes")).toHaveLength(7);
  expect(get("kmem_build_memcgs_leaked")[0]!.value).toBe(40);
  expect(get("kmem_build_memcgs")[0]!.value).toBe(f.dirs + 40);
  expect(get("kmem_build_kernel_charges_all_memcgs")[0]!.value).toBe(0);
  expect(get("kmem_build_verify_timestamp_seconds")[0]!.value).toBeGreaterThan(1.6e9);
});

test("odd container names become valid, correctly escaped label values", () => {
  const f = S.oddNames(join(TMP, "b"));
  const out = join(TMP, "odd.prom");
  expect(runScript([...f.args, "--prometheus", out]).code).toBe(1);
  const { samples } = parseProm(readFileSync(out, "utf8"));
  const names = samples
    .filter((s) => s.name === "kmem_build_cgroup_kmem_usage_bytes")
    .map((s) => s.labels.container);
  expect(names).toEqual(
    expect.arrayContaining([S.ODD.space, S.ODD.quote, S.ODD.tab, S.ODD.newline, S.ODD.utf8, "bad\ufffd-utf"]),
  );
  expect(Buffer.from(readFileSync(out, "utf8"), "utf8").equals(readFileSync(out))).toBe(true); // valid UTF-8
});

test("refuses a target in the cgroup filesystem or an unwritable directory (exit 2, nothing written)", () => {
  const f = S.centos7Systemd(join(TMP, "c"));
  const inCg = runScript([...f.args, "--prometheus", join(f.cg, "kmem.prom")]);
  expect(inCg.code).toBe(2);
  expect(inCg.stderr).toContain("must not point into the cgroup filesystem");
  expect(readdirSync(f.cg).filter((n) => n.includes("prom"))).toEqual([]);
  const nodir = runScript([...f.args, "--prometheus", join(TMP, "no-such-dir", "kmem.prom")]);
  expect(nodir.code).toBe(2);
});
