/** --duration/--interval: "stays at zero" samples repeatedly and FAILs on any non-zero sample. */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import type { NodeReport } from "../../src/verify/report.js";
import { SCRIPT, runJson } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-sampling-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a clean node stays at zero over every sample: PASS, exit 0", () => {
  const f = S.centos7Systemd(join(TMP, "clean"));
  const { code, report } = runJson([...f.args, "--duration", "2s", "--interval", "1s"]);
  expect(code).toBe(0);
  expect(report.samples).toEqual({
    count: 3,
    duration_seconds: 2,
    interval_seconds: 1,
    max_kmem_bytes: 0,
    max_at: null,
    max_path: null,
    nonzero_samples: 0,
  });
  expect(report.checks.find((c) => c.id === "kmem-stays-zero")!.status).toBe("PASS");
});

test("kmem that appears between samples and goes away is caught: FAIL with the maximum, when and where", async () => {
  const f = S.centos7Systemd(join(TMP, "blip"));
  const ctr = `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${S.UID.E.replace(/-/g, "_")}.slice/crio-${S.CTR.e1}.scope`;
  const counter = join(f.cg, ctr, "memory.kmem.usage_in_bytes");
  // The counter changes right after the script's own record of each sample (its $TMPDIR/verify-kmem.*/
  // samples file gains a line), not at fixed times: load on the machine cannot move a sample past it.
  const tmpdir = mkdtempSync(join(TMP, "tmpdir-"));
  const child = spawn("dash", [SCRIPT, ...f.args, "--duration", "3", "--interval", "1", "--json"], {
    env: { ...process.env, TMPDIR: tmpdir },
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((res) => child.on("close", res));
  const samplesTaken = () => {
    const work = readdirSync(tmpdir).find((d) => d.startsWith("verify-kmem."));
    const file = work && join(tmpdir, work, "samples");
    return file && existsSync(file) ? readFileSync(file, "utf8").split("\n").length - 1 : 0;
  };
  const afterSample = async (n: number) => {
    while (samplesTaken() < n) await sleep(10);
  };
  // samples 1..4 read 0, 4096, 12288, 0
  await afterSample(1);
  writeFileSync(counter, "4096\n");
  await afterSample(2);
  writeFileSync(counter, "12288\n");
  await afterSample(3);
  writeFileSync(counter, "0\n");
  const code = await done;
  const r = JSON.parse(out) as NodeReport;
  expect(code).toBe(1);
  expect(r.samples).toMatchObject({
    count: 4,
    duration_seconds: 3,
    interval_seconds: 1,
    max_kmem_bytes: 12288,
    max_path: `/${ctr}`,
    nonzero_samples: 2,
  });
  expect(r.samples.max_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const c = r.checks.find((x) => x.id === "kmem-stays-zero")!;
  expect(c.status).toBe("FAIL");
  expect(c.seen).toContain("4 samples over 3 s every 1 s: 2 samples non-zero, maximum 12.0 KiB at");
  // the last sample reads zero again: the point-in-time checks pass, the sampling check decides
  expect(r.checks.find((x) => x.id === "container-cgroups-kmem")!.status).toBe("PASS");
});
