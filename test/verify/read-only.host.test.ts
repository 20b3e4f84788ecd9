/**
 * The script is read-only: on a fixture tree bind-mounted read-only it gives the same report as on the
 * writable tree, and strace sees no write, create, rename or removal under the tree. (Mode bits would
 * prove nothing: the tests run as root.)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SCRIPT, runJson, stable } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";
import { HAVE_STRACE, straceRun } from "./helpers/strace.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-ro-"));
const f = S.centos7Cgroupfs(join(TMP, "node"));
const rw = runJson(f.args);
let mounted = false;

const sh = (cmd: string[]) => spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8" });

beforeAll(() => {
  // bind-mount the fixture onto itself, then make that mount read-only
  if (sh(["mount", "--bind", f.dir, f.dir]).status !== 0) return;
  mounted = true;
  if (sh(["mount", "-o", "remount,bind,ro", f.dir]).status !== 0)
    throw new Error("cannot remount the fixture read-only");
});
afterAll(() => {
  if (mounted) sh(["umount", f.dir]);
  rmSync(TMP, { recursive: true, force: true });
});

describe("fixture tree on a read-only bind mount", () => {
  test("the mount really is read-only", (ctx) => {
    if (!mounted) ctx.skip();
    expect(sh(["touch", join(f.cg, "probe")]).stderr).toMatch(/Read-only file system/);
  });

  test("same report as on the writable tree, nothing on stderr", (ctx) => {
    if (!mounted) ctx.skip();
    const ro = runJson(f.args);
    expect(ro.stderr).toBe("");
    expect(ro.code).toBe(rw.code);
    expect(stable(ro.report)).toEqual(stable(rw.report));
    const sampled = runJson([...f.args, "--duration", "1", "--interval", "1"]);
    expect(sampled.stderr).toBe("");
    expect(sampled.report.cgroups).toEqual(rw.report.cgroups);
  });
});

describe.skipIf(!HAVE_STRACE)("strace: no write attempted under the tree", () => {
  test("the detector sees a write when there is one", () => {
    const t = straceRun(
      ["sh", "-c", `echo 1 > '${join(f.cg, "kubepods", "memory.kmem.limit_in_bytes")}' 2>/dev/null; true`],
      f.cg,
    );
    expect(t.writes.length).toBeGreaterThan(0);
  });

  test("all modes: human, json, brief, sampling, prometheus elsewhere", () => {
    const prom = join(TMP, "kmem.prom");
    for (const extra of [
      [],
      ["--json"],
      ["--brief"],
      ["--duration", "1", "--interval", "1"],
      ["--prometheus", prom],
    ]) {
      const t = straceRun(["dash", SCRIPT, ...f.args, ...extra], f.dir);
      expect(t.code, extra.join(" ")).toBe(1);
      expect(t.lines.length).toBeGreaterThan(20);
      expect(t.writes, extra.join(" ")).toEqual([]);
    }
  });

  test("the textfile is written next to its target and renamed into place", () => {
    const prom = join(TMP, "kmem.prom");
    const t = straceRun(["dash", SCRIPT, ...f.args, "--prometheus", prom], TMP);
    const renames = t.lines.filter((l) => /^\d+ +rename(at2?)?\(.* = 0$/.test(l) && l.includes(`"${prom}"`));
    expect(renames.length, t.lines.join("\n")).toBe(1);
    // from a temp file of an unpredictable name beside it, created with O_EXCL, so a
    // link planted at that name is never followed
    const temp = /"([^"]*\/\.kmem\.prom\.[A-Za-z0-9]{8})"/.exec(renames[0]!)?.[1];
    expect(temp, renames[0]).toBeDefined();
    const opens = t.lines.filter(
      (l) => /open(at)?\(/.test(l) && l.includes(`"${temp}"`) && l.includes("O_CREAT"),
    );
    expect(opens.length, opens.join("\n")).toBe(1);
    expect(opens[0]).toContain("O_EXCL");
  });
});
