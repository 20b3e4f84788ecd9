/**
 * No process per cgroup or per file: the number of programs the script starts does not grow with the
 * number of pods (one find and one awk read every counter; slabinfo is probed with the shell's read).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { SCRIPT } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";
import { HAVE_STRACE } from "./helpers/strace.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-procs-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** Programs exec'd by the script (its own shell excluded). */
function programs(args: string[]): string[] {
  const log = join(TMP, "execve.log");
  spawnSync("strace", [
    "-f",
    "-qq",
    "-z",
    "-e",
    "trace=execve",
    "-o",
    log,
    "dash",
    SCRIPT,
    ...args,
    "--json",
  ]);
  return readFileSync(log, "utf8")
    .split("\n")
    .filter((l) => /^\d+ +execve\("/.test(l))
    .map((l) => /execve\("([^"]*)"/.exec(l)![1]!.replace(/.*\//, ""))
    .slice(1);
}

test.skipIf(!HAVE_STRACE)("5 pods or 150 pods: the same programs, started once per run", () => {
  const few = programs(S.manyPods(join(TMP, "few"), 5).args);
  const many = programs(S.manyPods(join(TMP, "many"), 150).args);
  expect(many.sort()).toEqual(few.sort());
  expect(few.length).toBeLessThanOrEqual(12);
  expect(few.filter((p) => p === "find")).toHaveLength(1);
  expect(few.filter((p) => p === "cat" || p === "head")).toEqual([]);
});

test.skipIf(!HAVE_STRACE)("with --duration: one find and one awk more per sample, not per cgroup", () => {
  const one = programs(S.manyPods(join(TMP, "s1"), 40).args);
  const three = programs([...S.manyPods(join(TMP, "s3"), 40).args, "--duration", "2", "--interval", "1"]);
  const count = (xs: string[], p: string) => xs.filter((x) => x === p).length;
  expect(count(three, "find")).toBe(3);
  expect(count(three, "awk") - count(one, "awk")).toBe(2);
  expect(three.length - one.length).toBeLessThanOrEqual(2 * 5); // find, awk, sort, date, sleep per extra sample
});
