/** `kmem-build verify` on this host: the script's own report and exit code, JUnit, usage errors, schema. */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, describe, expect, test } from "vitest";
import type { NodeReport } from "../../src/verify/report.js";
import { CLI, REPO, runCli, runJson, runScript, stable } from "./helpers/run-script.js";
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
  expect(xml.match(/<testcase /g)).toHaveLength(14);
  expect(xml).toContain('<testsuite name="local" tests="14" failures="5" errors="0" skipped="0"');
  const py = spawnSync("python3", ["-c", "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])", out]);
  expect(py.status, py.stderr?.toString()).toBe(0);
});

describe("usage errors exit 2", () => {
  test.each([
    [["--interval", "5s"], "--interval needs --duration"],
    [["--json", "--brief"], "choose one of --json, --brief and --reboot-required"],
    [["--gate", "--reboot-required"], "choose one of --gate and --reboot-required"],
    [["--ssh", "h", "--reboot-required"], "--reboot-required answers for this host only"],
    [["--kubelet-pid", "12x"], 'bad --kubelet-pid "12x" (a process id)'],
    [
      ["--running-version", "1.20.2"],
      'bad --running-version "1.20.2" (a kubelet version as the API reports it',
    ],
    [["--running-version", "v1.20.2;reboot"], 'bad --running-version "v1.20.2;reboot"'],
    [["--expect-sha256", "abc"], 'bad --expect-sha256 "abc" (64 hex digits, optionally :NAME)'],
    [["--duration", "10", "--interval", "0"], "--interval must be at least 1s"],
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

describe("outputs are checked before any node is asked", () => {
  const file = join(TMP, "a-file");
  writeFileSync(file, "x");
  test.each([
    [
      ["--junit", join(TMP, "no-such-dir", "r.xml")],
      `--junit ${join(TMP, "no-such-dir", "r.xml")}: no directory`,
    ],
    [["--html", join(file, "r.html")], `: ${file} is not a directory`],
    [["--junit", TMP], ` is a directory`],
    [
      ["--junit", join(TMP, "same"), "--html", join(TMP, ".", "same")],
      "--junit and --html name the same file",
    ],
  ])("%j: usage error at once, even with a long --duration", (args, msg) => {
    const started = Date.now();
    // a 1 h sampling run would come first if the output were checked after it
    const r = runCli(["verify", ...node.args, "--duration", "1h", ...args], { timeoutMs: 20_000 });
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toContain(msg);
    expect(r.stderr).not.toMatch(/ENOENT|internal error|\n\s+at /);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
  test("a directory this user may not write (run as another user)", () => {
    const ro = join(TMP, "open", "read-only");
    mkdirSync(ro, { recursive: true, mode: 0o555 });
    for (const d of [TMP, join(TMP, "open"), ro]) chmodSync(d, d === ro ? 0o555 : 0o711);
    const nobody = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "true"]);
    if (nobody.status !== 0) return; // not root: this user's own directories are writable
    const r = spawnSync(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        process.execPath,
        CLI,
        "verify",
        "--junit",
        join(ro, "r.xml"),
      ],
      { encoding: "utf8" },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--junit ${join(ro, "r.xml")}: cannot write in ${ro}`);
  });
});

describe("--duration on a terminal shows progress on stderr", () => {
  /** The CLI under a pseudo-terminal (util-linux script): stdout and stderr both reach it. */
  const onTty = (args: string[]) => {
    // a terminal of 0 columns would wrap the live task list after every character
    const cmd =
      "stty cols 200 rows 40; " +
      [process.execPath, CLI, "verify", ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    const env = { ...process.env };
    delete env.CI; // listr2 draws its live list only outside CI
    return spawnSync("script", ["-qfec", cmd, "/dev/null"], { encoding: "utf8", timeout: 60_000, env });
  };
  test("sample k/N and the time left, then the report", () => {
    const r = onTty([...node.args, "--no-binaries", "--duration", "3", "--interval", "1"]);
    expect(r.stdout).toMatch(/verify: sample 1\/4, about [23]s left/);
    expect(r.stdout).toMatch(/verify: sample [234]\/4, about 1s left/);
    expect(r.stdout).toContain("Result: PROBLEM (exit 1)");
  });
  test("with a task list (--junit), in the host's line", () => {
    const junit = join(TMP, "progress.xml");
    const r = onTty([...node.args, "--no-binaries", "--duration", "3", "--interval", "1", "--junit", junit]);
    expect(r.stdout).toMatch(/local: sample [1-4]\/4, about [1-3]s left/);
    expect(r.stdout).toMatch(/HOST +RESULT/);
  });
  test("never with --json, nor when stderr is not a terminal", () => {
    const j = onTty([...node.args, "--no-binaries", "--duration", "2", "--interval", "1", "--json"]);
    expect(j.stdout).not.toContain("sample 1/");
    expect(j.stdout).toContain('"exit_code": 1');
    const piped = runCli(["verify", ...node.args, "--no-binaries", "--duration", "2", "--interval", "1"]);
    expect(piped.stderr).toBe("");
  });
});
