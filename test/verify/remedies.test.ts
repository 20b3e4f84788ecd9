/**
 * A check's remedy follows the node's fix state: where the state is about the check's cause (kubelet:
 * install, restart, reboot; kernel; runtime) the remedy is the node's own next step, so a node that
 * needs only its reboot is never told to install the nokmem kubelet again next to kubelet-binary PASS.
 * Held on every kind of fixture node, at every moment of the EL7 fix.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import type { FixState } from "../../src/verify/report.js";
import { runJson } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-remedies-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const R = S.RHEL7;

/** The causes each fix state is about. */
const ABOUT: Partial<Record<FixState, string>> = {
  install: "kubelet",
  restart: "kubelet",
  reboot: "kubelet",
  kernel: "kernel",
  runtime: "runtime",
};
/** Remedies about something other than the step left: a binary that is not the one built. */
const OWN_REMEDY = new Set(["kubelet-checksum"]);

const armed = { parents: true, pod: true, kmem: 4096 } as const;
const NODES: [string, FixState, (d: string) => S.Laid][] = [
  [
    "7.9, old kubelet, pods armed",
    "install",
    (d) => S.el7Node(d, { kernel: R["7.9"], driver: "cgroupfs", kubelet: "kmem", ...armed }),
  ],
  [
    "7.6, old kubelet (no parameter known)",
    "install",
    (d) => S.el7Node(d, { kernel: R["7.6"], driver: "systemd", kubelet: "kmem", ...armed }),
  ],
  [
    "7.9, nokmem installed, old process running",
    "restart",
    (d) =>
      S.el7Node(d, { kernel: R["7.9"], driver: "cgroupfs", kubelet: "nokmem", running: "deleted", ...armed }),
  ],
  [
    "7.6, nokmem installed, another file running",
    "restart",
    (d) =>
      S.el7Node(d, {
        kernel: R["7.6"],
        driver: "systemd",
        kubelet: "nokmem",
        running: "other",
        ...armed,
        container: true,
      }),
  ],
  [
    "7.9, nokmem running, kubepods still armed",
    "reboot",
    (d) =>
      S.el7Node(d, { kernel: R["7.9"], driver: "systemd", kubelet: "nokmem", ...armed, container: true }),
  ],
  [
    "7.3, nokmem running, a pod still armed",
    "reboot",
    (d) => S.el7Node(d, { kernel: R["7.3"], driver: "cgroupfs", kubelet: "nokmem", pod: true, kmem: 8192 }),
  ],
  [
    "7.6, nokmem running, the runtime arms containers",
    "runtime",
    (d) =>
      S.el7Node(d, { kernel: R["7.6"], driver: "cgroupfs", kubelet: "nokmem", container: true, kmem: 8192 }),
  ],
  [
    "7.9 after the reboot",
    "fixed",
    (d) => S.el7Node(d, { kernel: R["7.9"], driver: "cgroupfs", kubelet: "nokmem" }),
  ],
  [
    "7.9 with cgroup.memory=nokmem honoured",
    "not-affected",
    (d) => S.el7Node(d, { kernel: R["7.9"], driver: "cgroupfs", kubelet: "kmem", param: true }),
  ],
  ["CentOS 7, cgroupfs", "install", (d) => S.centos7Cgroupfs(d)],
  ["CentOS 7, systemd", "fixed", (d) => S.centos7Systemd(d)],
  ["a kernel that charges every memcg", "kernel", (d) => S.hybridKernelCharges(d)],
  ["leaked memcg ids (no kubelet on disk)", "unknown", (d) => S.leakedMemcgs(d, 65535)],
  ["40 pods (no kubelet on disk)", "unknown", (d) => S.manyPods(d, 40)],
];

describe.each(NODES)("%s", (name, state, lay) => {
  const { report } = runJson(lay(join(TMP, name.replace(/[^a-z0-9]+/gi, "-"))).args);
  test(`fix state ${state}; each remedy of a cause it is about is its next step`, () => {
    expect(report.fix_state).toBe(state);
    const about = ABOUT[state];
    const caused = report.checks.filter(
      (c) => c.cause !== null && (c.status === "FAIL" || c.status === "WARN") && !OWN_REMEDY.has(c.id),
    );
    for (const c of caused.filter((c) => c.cause === about))
      expect(c.remedy, `${c.id} (${c.status}, cause ${c.cause})`).toBe(report.next_step);
    // never a step the node has done already
    if (state === "restart" || state === "reboot" || state === "fixed")
      for (const c of report.checks)
        expect(c.remedy, `${c.id} on a node at ${state}`).not.toMatch(/^install the nokmem kubelet/);
    if (state === "reboot")
      for (const c of caused.filter((c) => c.cause === "kubelet"))
        expect(c.remedy).not.toMatch(/restart the kubelet/);
  });
});

test("the fixture nodes above cover every cause a fix state is about, with a FAIL or WARN that names it", () => {
  const seen = new Set<string>();
  for (const [name, state, lay] of NODES) {
    const { report } = runJson(lay(join(TMP, `cover-${name.replace(/[^a-z0-9]+/gi, "-")}`)).args);
    for (const c of report.checks)
      if ((c.status === "FAIL" || c.status === "WARN") && c.cause === ABOUT[state])
        seen.add(`${state}:${c.cause}`);
  }
  expect([...seen].sort()).toEqual([
    "install:kubelet",
    "kernel:kernel",
    "reboot:kubelet",
    "restart:kubelet",
    "runtime:runtime",
  ]);
});
