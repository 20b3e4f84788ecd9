/** --duration/--interval: "stays at zero" samples repeatedly and FAILs on any non-zero sample. */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
  const child = spawn("dash", [SCRIPT, ...f.args, "--duration", "3", "--interval", "1", "--json"]);
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((res) => child.on("close", res));
  // samples at about 0, 1, 2 and 3 s: the counter is non-zero from 0.4 s to 2.5 s
  await sleep(400);
  writeFileSync(counter, "4096\n");
  await sleep(1100);
  writeFileSync(counter, "12288\n");
  await sleep(1000);
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
