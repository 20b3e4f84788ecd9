/** The pure parts of `kmem-build verify`: quoting, ssh arguments, hosts files, verdicts, XML, durations. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, expect, test } from "vitest";
import { fleetReport, worstExitCode } from "../../src/verify/fleet.js";
import { xmlEscape } from "../../src/verify/junit.js";
import type { HostOutcome } from "../../src/verify/report.js";
import { parseNodeReport } from "../../src/verify/report.js";
import { durationSeconds, readChecksums, scriptArgs, stampRelease } from "../../src/verify/script-args.js";
import { remoteCommand, shellQuote, sshArgs } from "../../src/verify/ssh.js";
import { parseHostsFile } from "../../src/verify/targets.js";
import { REPO } from "./helpers/run-script.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-units-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

test("shellQuote survives a POSIX shell unchanged", () => {
  for (const w of [
    "plain",
    "with space",
    "it's",
    `"dq" $HOME \`id\``,
    "tab\there",
    "new\nline",
    "",
    "-x",
    "*",
  ]) {
    const r = spawnSync("sh", ["-c", `printf '%s' ${shellQuote(w)}`], { encoding: "utf8" });
    expect(r.stdout).toBe(w);
  }
});

test("ssh: batch mode, connect timeout, options, then the destination and sh -s", () => {
  const a = sshArgs("root@node1", ["--cgroup-root", "/a b", "--json"], {
    options: ["StrictHostKeyChecking=no"],
    identity: "/k",
    port: 2222,
    connectTimeout: 7,
    sudo: false,
  });
  expect(a.slice(0, 5)).toEqual(["-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=7"]);
  expect(a).toContain("StrictHostKeyChecking=no");
  expect(a.slice(a.indexOf("-p"), a.indexOf("-p") + 2)).toEqual(["-p", "2222"]);
  expect(a.slice(-3)).toEqual(["--", "root@node1", "sh -s -- --cgroup-root '/a b' --json"]);
  expect(remoteCommand(["--json"], true)).toBe("sudo -n sh -s -- --json");
});

test("hosts files: one destination per line, comments and blanks ignored", () => {
  expect(parseHostsFile("# fleet\nroot@a\n\n  root@b   # rack 2\nssh://c:2222\r\n")).toEqual([
    "root@a",
    "root@b",
    "ssh://c:2222",
  ]);
});

test("worst exit code over hosts: any problem 1, else any unknown 2, else 0", () => {
  const h = (exit_code: 0 | 1 | 2) => ({ exit_code }) as HostOutcome;
  expect(worstExitCode([h(0), h(2), h(1)])).toBe(1);
  expect(worstExitCode([h(0), h(2)])).toBe(2);
  expect(worstExitCode([h(0), h(0)])).toBe(0);
  expect(fleetReport([h(0), h(2)]).result).toBe("UNKNOWN");
});

test("xmlEscape: markup escaped, characters XML cannot hold replaced", () => {
  expect(xmlEscape(`<a & "b" 'c'>\u0001\ttab`)).toBe(
    "&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;\uFFFD\ttab",
  );
});

test("durations and script arguments", () => {
  expect([durationSeconds("30", "d"), durationSeconds("10m", "d"), durationSeconds("1h", "d")]).toEqual([
    30, 600, 3600,
  ]);
  expect(() => durationSeconds("1.5m", "--duration")).toThrow(/bad --duration/);
  expect(
    scriptArgs({ runtime: ["/r1", "/r2"], binaries: false, expectSha256: ["ab:k"], duration: "10m" }),
  ).toEqual([
    "--duration",
    "10m",
    "--runtime",
    "/r1",
    "--runtime",
    "/r2",
    "--no-binaries",
    "--expect-sha256",
    "ab:k",
  ]);
});

test("scriptArgs: every --runtime-endpoint in order, and --runtime-timeout", () => {
  expect(
    scriptArgs({
      runtime: [],
      binaries: true,
      expectSha256: [],
      runtimeEndpoint: ["unix:///run/k3s/containerd/containerd.sock", "unix:///var/run/docker.sock"],
      runtimeTimeout: "5",
    }),
  ).toEqual([
    "--runtime-endpoint",
    "unix:///run/k3s/containerd/containerd.sock",
    "--runtime-endpoint",
    "unix:///var/run/docker.sock",
    "--runtime-timeout",
    "5",
  ]);
});

test("checksums: sha256sum format, binary marker, lower-cased", async () => {
  const f = join(TMP, "SHA256SUMS");
  writeFileSync(f, `${"A".repeat(64)}  kubelet\n${"b".repeat(64)} *kubelet-1.20.15.rpm\nnot a line\n`);
  expect(await readChecksums(f)).toEqual([
    `${"a".repeat(64)}:kubelet`,
    `${"b".repeat(64)}:kubelet-1.20.15.rpm`,
  ]);
});

test("a garbled or partial report is no report", () => {
  expect(parseNodeReport("")).toBeNull();
  expect(parseNodeReport('{"schema_version": 1, "checks": [')).toBeNull();
  expect(parseNodeReport('{"schema_version": 2, "checks": [], "exit_code": 0}')).toBeNull();
});

test("stampRelease: the one BUILD_RELEASE line of the script, and only an RPM release", () => {
  const src = readFileSync(join(REPO, "scripts/verify-kmem.sh"), "utf8");
  const out = stampRelease(src, "3.nokmem");
  expect(out).toContain('\nBUILD_RELEASE="3.nokmem"\n');
  expect(out.split("\n").filter((l, i) => l !== src.split("\n")[i])).toEqual(['BUILD_RELEASE="3.nokmem"']);
  expect(() => stampRelease(src, '2"; rm -rf /; "')).toThrow(/cannot be stamped/);
  expect(() => stampRelease("#!/bin/sh\n", "2.nokmem")).toThrow(/0 "BUILD_RELEASE=""" lines/);
});
