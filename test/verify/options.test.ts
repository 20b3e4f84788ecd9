/**
 * One set of options on both sides: every option verify-kmem.sh parses is described by its --help,
 * listed in SCRIPT_OPTIONS, and reachable from `kmem-build verify` (or documented as not); the options
 * the CLI forwards do reach the script on a fixture node.
 */
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { MAX_DURATION_SECONDS, SCRIPT_OPTIONS, durationSeconds } from "../../src/verify/script-args.js";
import type { NodeReport } from "../../src/verify/report.js";
import { REPO, SHELLS, runCli, runScript } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-options-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const DOCS = readFileSync(join(REPO, "docs/verify.md"), "utf8");
const MAIN = readFileSync(join(REPO, "scripts/verify-kmem/main.sh"), "utf8");
const flags = (text: string) =>
  new Set(
    [...text.matchAll(/^(--[a-z0-9-]+)(?: [^ |]+)?(?: \| (--[a-z0-9-]+))?/gm)].flatMap((m) => [
      m[1]!,
      ...(m[2] ? [m[2]] : []),
    ]),
  );

test("verify-kmem.sh --help describes every option it parses, the same under dash, bash and busybox sh", () => {
  const help = runScript(["--help"]);
  expect(help.code).toBe(0);
  for (const shell of Object.values(SHELLS))
    expect(runScript(["--help"], { shell }).stdout).toBe(help.stdout);
  const parse = MAIN.slice(
    MAIN.indexOf("parse_args() {"),
    MAIN.indexOf("\n}\n", MAIN.indexOf("parse_args() {")),
  );
  const parsed = new Set([...parse.matchAll(/^ {6}(-[^)]*)\)/gm)].flatMap((m) => m[1]!.split(/\s*\|\s*/)));
  expect(parsed.size).toBeGreaterThan(20);
  const described = flags(help.stdout);
  for (const f of parsed) if (f.startsWith("--") && f !== "--*=*") expect(described, f).toContain(f);
  expect([...described].sort()).toEqual(SCRIPT_OPTIONS.map((o) => o.flag).sort());
  // docs/verify.md quotes it whole: a node without the docs has the same text
  expect(DOCS).toContain("```text\n" + help.stdout + "```");
  expect(help.stdout).not.toContain("header of this file");
});

test("kmem-build verify offers every script option, except those docs/verify.md says why not", () => {
  const help = runCli(["verify", "--help"]).stdout;
  for (const o of SCRIPT_OPTIONS) {
    if (o.reach === "none") {
      expect(o.why, o.flag).toBeTruthy();
      expect(DOCS).toContain(`| \`${o.flag}\` | not`);
      expect(DOCS).toContain(o.why!);
    } else expect(help, o.flag).toMatch(new RegExp(`^\\s+${o.flag}\\b`, "m"));
  }
});

test("--kubelet-pid, --cache-dir, --expect-sha256, --since and --gate reach the script from kmem-build verify", () => {
  const n = S.el7Node(join(TMP, "n"), { kernel: S.RHEL7["7.3"], driver: "cgroupfs", kubelet: "nokmem" });
  const kubelet = n.args[n.args.indexOf("--kubelet") + 1]!;
  const sha = createHash("sha256").update(readFileSync(kubelet)).digest("hex");
  const args = [
    "verify",
    ...n.args,
    "--kubelet-pid",
    "4242",
    "--cache-dir",
    TMP,
    "--expect-sha256",
    `${sha}:kubelet-linux-amd64`,
    "--since",
    "2020-01-01T00:00:00Z",
    "--gate",
    "--json",
  ];
  const first = runCli(args);
  const r = JSON.parse(first.stdout) as NodeReport;
  expect(first.code).toBe(0);
  expect(r.running_kubelet).toMatchObject({ pid: 4242, found_by: "option", matches: "same" });
  expect(r.binaries.find((b) => b.role === "kubelet")).toMatchObject({
    checksum_match: "kubelet-linux-amd64",
    reused: false,
  });
  const again = JSON.parse(runCli(args).stdout) as NodeReport;
  expect(again.binaries.find((b) => b.role === "kubelet")!.reused).toBe(true);
  // --since reached the node: a bad time is the script's usage error
  const bad = runCli(["verify", ...n.args, "--since", "not a time"]);
  expect([bad.code, bad.stderr]).toEqual([
    2,
    expect.stringContaining("verify-kmem: bad --since 'not a time'"),
  ]);
});

test("kmem-build verify --reboot-required: the script's answer for this host, nothing printed", () => {
  const reboot = S.el7Node(join(TMP, "r"), {
    kernel: S.RHEL7["7.9"],
    driver: "systemd",
    parents: true,
    kubelet: "nokmem",
  });
  const fixed = S.el7Node(join(TMP, "f"), { kernel: S.RHEL7["7.3"], driver: "cgroupfs", kubelet: "nokmem" });
  const r = runCli(["verify", ...reboot.args, "--reboot-required"]);
  expect([r.code, r.stdout]).toEqual([0, ""]);
  const f = runCli(["verify", ...fixed.args, "--reboot-required"]);
  expect([f.code, f.stdout]).toEqual([1, ""]);
});

test("one duration grammar: the script and the CLI take and refuse the same --duration values", () => {
  const values = [
    "30",
    "30s",
    "0010m",
    "1h",
    "366d",
    "367d",
    "8784h",
    "8785h",
    String(MAX_DURATION_SECONDS),
    String(MAX_DURATION_SECONDS + 1),
    "99999999",
    "000000000000045s",
    "123456789",
    "0",
    "00",
    "1.5m",
    "",
    "-1",
    "10M",
    "1w",
    "s",
    "1 h",
    "0x10",
    "1e3",
    "+5",
  ];
  const script = values.map((v) => runScript(["--duration", v, "--help"]).code === 0);
  const cli = values.map((v) => {
    try {
      durationSeconds(v, "--duration");
      return true;
    } catch {
      return false;
    }
  });
  expect(Object.fromEntries(values.map((v, i) => [v, cli[i]]))).toEqual(
    Object.fromEntries(values.map((v, i) => [v, script[i]])),
  );
  expect(cli.filter(Boolean).length).toBe(10);
  expect(durationSeconds("0010m", "--duration")).toBe(600);
  expect(durationSeconds("366d", "--duration")).toBe(MAX_DURATION_SECONDS);
});
