/**
 * One script for CentOS 7 (bash 4.2, gawk) and anything else: shellcheck clean as POSIX sh, and the same
 * JSON under dash, bash and busybox sh, and with other awk/find/grep implementations on PATH.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { SCRIPT, SHELLS, runJson, stable } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-portability-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

function which(cmd: string): string | null {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** A PATH whose first directory maps the given tools onto another implementation. */
function pathWith(name: string, tools: Record<string, string>): string {
  const dir = join(TMP, `path-${name}`);
  mkdirSync(dir, { recursive: true });
  for (const [tool, target] of Object.entries(tools)) symlinkSync(target, join(dir, tool));
  return `${dir}:${process.env.PATH}`;
}

test("shellcheck -s sh finds nothing", () => {
  const r = spawnSync("shellcheck", ["-s", "sh", SCRIPT], { encoding: "utf8" });
  expect(r.error, "shellcheck is installed (scripts/setup-system.sh)").toBeUndefined();
  expect(r.stdout + r.stderr).toBe("");
  expect(r.status).toBe(0);
});

test("no bash-isms a POSIX parser would reject: dash -n and busybox sh -n accept it", () => {
  for (const sh of [
    ["dash", "-n"],
    ["busybox", "sh", "-n"],
    ["bash", "--posix", "-n"],
  ]) {
    const r = spawnSync(sh[0]!, [...sh.slice(1), SCRIPT], { encoding: "utf8" });
    expect(r.status, `${sh.join(" ")}: ${r.stderr}`).toBe(0);
  }
});

const scenarios: Record<string, (dir: string) => S.Laid> = {
  "centos7-cgroupfs": S.centos7Cgroupfs,
  "centos7-systemd": S.centos7Systemd,
  "hybrid-kernel": (d) => S.hybridKernelCharges(d),
  "hybrid-nokmem": S.hybridNokmemParam,
  v2: S.v2Systemd,
  leaked: (d) => S.leakedMemcgs(d, 60000),
  "odd-names": S.oddNames,
  "no-kubepods": S.noKubepods,
};

const busybox = which("busybox")!;
const gawk = which("gawk");
const variants: Record<string, { shell: string[]; env?: NodeJS.ProcessEnv }> = {
  dash: { shell: SHELLS.dash! },
  bash: { shell: SHELLS.bash! },
  "busybox sh": { shell: SHELLS["busybox sh"]! },
  "bash --posix": { shell: ["bash", "--posix"] },
  "dash + busybox awk": {
    shell: SHELLS.dash!,
    env: { ...process.env, PATH: pathWith("bbawk", { awk: busybox }) },
  },
  "busybox sh + busybox userland": {
    shell: SHELLS["busybox sh"]!,
    env: {
      ...process.env,
      PATH: pathWith(
        "bbuser",
        Object.fromEntries(
          [
            "awk",
            "find",
            "grep",
            "sort",
            "tr",
            "date",
            "sha256sum",
            "mktemp",
            "rm",
            "mv",
            "cp",
            "uname",
            "sleep",
            "cat",
          ].map((t) => [t, busybox]),
        ),
      ),
    },
  },
};
// gawk is what CentOS 7 has; it is checked when installed (apt-get install gawk)
if (gawk)
  variants["bash + gawk"] = {
    shell: SHELLS.bash!,
    env: { ...process.env, PATH: pathWith("gawk", { awk: gawk }) },
  };

describe.each(Object.entries(scenarios))("%s: identical JSON everywhere", (name, build) => {
  const f = build(join(TMP, name));
  const ref = runJson(f.args, variants.dash!);
  test.each(Object.keys(variants).filter((v) => v !== "dash"))("%s", (v) => {
    const r = runJson(f.args, variants[v]!);
    expect(r.code).toBe(ref.code);
    expect(stable(r.report)).toEqual(stable(ref.report));
    expect(r.stderr).toBe(ref.stderr);
  });
});
