/** `kmem-build verify` on this host: the script's own report and exit code, JUnit, usage errors, schema. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, describe, expect, test } from "vitest";
import type { NodeReport } from "../../src/verify/report.js";
import { REPO, runCli, runJson, runScript, stable } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-cli-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const node = S.centos7Cgroupfs(join(TMP, "node"));
const validate = new Ajv({ allErrors: true }).compile(
  JSON.parse(readFileSync(join(REPO, "schemas/verify-report.schema.json"), "utf8")),
);

test("--json: the node report the script prints, and its exit code", () => {
  const cli = runCli(["verify", ...node.args, "--json"]);
  const script = runJson(node.args);
  expect(cli.code).toBe(1);
  expect(stable(JSON.parse(cli.stdout) as NodeReport)).toEqual(stable(script.report));
});

test("human text is the script's own", () => {
  const drop = (s: string) => s.replace(/ at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /, " ");
  const cli = runCli(["verify", ...node.args]);
  expect(cli.code).toBe(1);
  expect(drop(cli.stdout)).toBe(drop(runScript(node.args).stdout));
});

test("--brief and exit 0 on a clean node, 2 when it cannot tell", () => {
  const clean = runCli(["verify", ...S.centos7Systemd(join(TMP, "clean")).args, "--brief"]);
  expect([clean.code, clean.stdout]).toEqual([
    0,
    "OK [fixed]: 3 pod and 4 container cgroups charge no kernel memory; next: nothing to do\n",
  ]);
  expect(runCli(["verify", ...S.noKubepods(join(TMP, "nokp")).args, "--brief"]).code).toBe(2);
});

test("--junit on this host: one testsuite 'local' with a testcase per check, the table on stdout", () => {
  const out = join(TMP, "local.xml");
  const r = runCli(["verify", ...node.args, "--junit", out, "--quiet"]);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/^HOST +RESULT/);
  expect(r.stderr).toBe("");
  const xml = readFileSync(out, "utf8");
  expect(xml.match(/<testcase /g)).toHaveLength(13);
  expect(xml).toContain('<testsuite name="local" tests="13" failures="5" errors="0" skipped="0"');
  const py = spawnSync("python3", ["-c", "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])", out]);
  expect(py.status, py.stderr?.toString()).toBe(0);
});

describe("usage errors exit 2", () => {
  test.each([
    [["--interval", "5s"], "--interval needs --duration"],
    [["--json", "--brief"], "choose one of --json and --brief"],
    [["--duration", "soon"], 'bad --duration "soon"'],
    [["--ssh", "h", "--port", "x"], "--port must be a positive integer"],
    [["--hosts-file", "/nonexistent/nodes.txt"], "cannot read --hosts-file"],
    [["--ssh", "-oProxyCommand=x"], "not an ssh destination"],
  ])("%j", (args, msg) => {
    const r = runCli(["verify", ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(msg);
  });
});

describe("every fixture report matches schemas/verify-report.schema.json", () => {
  const all: Record<string, (d: string) => S.Laid> = {
    centos7: S.centos7Cgroupfs,
    systemd: S.centos7Systemd,
    hybrid: (d) => S.hybridKernelCharges(d),
    nokmem: S.hybridNokmemParam,
    v2: S.v2Systemd,
    leaked: (d) => S.leakedMemcgs(d, 65535),
    odd: S.oddNames,
    nokubepods: S.noKubepods,
    nomemory: S.noMemoryController,
  };
  test.each(Object.entries(all))("%s", (name, build) => {
    const { report } = runJson([
      ...build(join(TMP, `schema-${name}`)).args,
      "--duration",
      "1",
      "--interval",
      "1",
    ]);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
  });
  test("this machine, as it is", () => {
    const { report } = runJson([]);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
  });
});

test("a large --json report survives a slow pipe whole (stdout is flushed before exit)", () => {
  const big = S.manyPods(join(TMP, "big"), 110);
  const cliPath = join(REPO, "lib/cli.js");
  const args = ["verify", ...big.args, "--no-binaries", "--json"]
    .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
    .join(" ");
  // The reader starts late, so the report must wait in the pipe past its 64 KiB buffer.
  const r = spawnSync("sh", ["-c", `node ${cliPath} ${args} | (sleep 0.5; cat)`], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  expect(r.stdout.length).toBeGreaterThan(128 * 1024);
  expect(() => JSON.parse(r.stdout)).not.toThrow();
});
