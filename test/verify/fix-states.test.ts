/**
 * The fix state of an EL7 node at each moment of the fix (issue 16): fixture nodes on RHEL 7.3, 7.6,
 * 7.8 and 7.9 kernel strings, cgroupfs and systemd, with and without cgroup.memory=nokmem, kmem at 0
 * and above; each state's text, JSON, brief, metric and exit code, and --reboot-required under three
 * shells. docs/verify.md must quote every wording the script prints.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, describe, expect, test } from "vitest";
import { FIX_STATES, type FixState } from "../../src/verify/report.js";
import { fleetReport } from "../../src/verify/fleet.js";
import { renderFleet } from "../../src/verify/render.js";
import { stampRelease } from "../../src/verify/script-args.js";
import { REPO, SCRIPT, SHELLS, runCli, runJson, runScript } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-fix-states-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const validate = new Ajv({ allErrors: true }).compile(
  JSON.parse(readFileSync(join(REPO, "schemas/verify-report.schema.json"), "utf8")),
);
const DOCS = readFileSync(join(REPO, "docs/verify.md"), "utf8");
/** docs/verify.md's table "| `state` | exit | exit with --gate |". */
const DOC_EXIT: Partial<Record<FixState, { plain: number; gate: number }>> = Object.fromEntries(
  [...DOCS.matchAll(/^\| `([a-z-]+)` \| (\d)[^|]*\| (\d)[^|]*\|$/gm)].map((m) => [
    m[1],
    { plain: Number(m[2]), gate: Number(m[3]) },
  ]),
);
let seq = 0;
const fresh = () => join(TMP, String(++seq));
const R = S.RHEL7;
const GB = 1_000_000_000;

interface Case {
  name: string;
  lay: (dir: string) => S.Laid;
  state: FixState;
  code: 0 | 1 | 2;
  /** --reboot-required exit code */
  reboot: 0 | 1 | 2;
  /** --gate exit code */
  gate: 0 | 1 | 2;
  /** texts the human report must contain */
  text?: string[];
  /** texts it must not */
  absent?: string[];
}

/**
 * A node as the DaemonSet's pod sees it: no host process under the proc root; the API server's
 * version for the node given with --running-version when `api` is; the kubelet on disk stamped `disk`.
 */
function inPod(spec: Omit<S.El7Spec, "running" | "version">, api?: string, disk = "v1.20.2+nokmem") {
  return (d: string): S.Laid => {
    const l = S.el7Node(d, { kubelet: "nokmem", ...spec, running: "hidden", version: disk });
    return api ? { ...l, args: [...l.args, "--running-version", api] } : l;
  };
}

const CASES: Case[] = [
  {
    name: "7.9, cgroupfs, parameter honoured (slabinfo EIO everywhere), old kubelet: not-affected",
    lay: (d) => S.el7Node(d, { kernel: R["7.9"], driver: "cgroupfs", param: true, kubelet: "kmem" }),
    state: "not-affected",
    code: 0,
    gate: 0,
    reboot: 1,
    text: [
      "[PASS] kernel-kmem-policy: kernel 3.10.0-1160.el7.x86_64 booted with cgroup.memory=nokmem and memory.kmem.slabinfo fails to read in all 5 probed cgroups",
    ],
  },
  {
    name: "7.8, systemd, parameter honoured: not-affected",
    lay: (d) => S.el7Node(d, { kernel: R["7.8"], driver: "systemd", param: true, kubelet: "nokmem" }),
    state: "not-affected",
    code: 0,
    gate: 0,
    reboot: 1,
  },
  {
    name: "EL8 4.18 without the parameter, kmem 0: kernel",
    lay: (d) => S.hybridKernelCharges(d, false),
    state: "kernel",
    code: 0,
    gate: 1,
    reboot: 1,
  },
  {
    name: "7.3 booted with cgroup.memory=nokmem (unknown to it), pod armed at 0 bytes, old kubelet: install, not OK",
    lay: (d) =>
      S.el7Node(d, {
        kernel: R["7.3"],
        driver: "cgroupfs",
        param: true,
        parents: true,
        pod: true,
        kubelet: "kmem",
      }),
    state: "install",
    code: 1,
    gate: 1,
    reboot: 1,
    text: [
      "[WARN] kernel-kmem-policy: kernel 3.10.0-514.el7.x86_64 ignores cgroup.memory=nokmem",
      "the parameter needs RHEL 7.8 (3.10.0-1127) or later, and kernel build 3.10.0-514.el7.x86_64 predates it",
      "[FAIL] kmem-accounting-active: accounting on (memory.kmem.slabinfo readable) in /kubepods, /kubepods/besteffort, /kubepods/burstable (3 of 3 kubepods/QoS parents), 1 of 1 pod cgroups and 1 of 1 container cgroups",
      "armed: on 3.10 accounting once on stays on",
      "(a 6 GB pod was OOM-killed at 2.5 GB rss + cache, 3.4 GB of it kmem)",
    ],
  },
  {
    name: "7.6, systemd, old kubelet, kmem 3.4 GB: install (no parameter offered)",
    lay: (d) =>
      S.el7Node(d, {
        kernel: R["7.6"],
        driver: "systemd",
        parents: true,
        pod: true,
        container: true,
        kmem: 3.4 * GB,
        kubelet: "kmem",
      }),
    state: "install",
    code: 1,
    gate: 1,
    reboot: 1,
  },
  {
    name: "7.9, cgroupfs, old kubelet: install offers the boot parameter and the kubelet",
    lay: (d) =>
      S.el7Node(d, { kernel: R["7.9"], driver: "cgroupfs", parents: true, pod: true, kubelet: "kmem" }),
    state: "install",
    code: 1,
    gate: 1,
    reboot: 1,
    text: ["Next step: either boot with cgroup.memory=nokmem"],
  },
  {
    name: "7.6, cgroupfs, nokmem kubelet installed, old one still running (deleted exe): restart",
    lay: (d) =>
      S.el7Node(d, {
        kernel: R["7.6"],
        driver: "cgroupfs",
        parents: true,
        pod: true,
        kubelet: "nokmem",
        running: "deleted",
      }),
    state: "restart",
    code: 1,
    gate: 1,
    reboot: 1,
    text: ["(running kubelet pid 4242 is a deleted file ("],
  },
  {
    name: "7.9, systemd, nokmem on disk, the running kubelet is another file: restart",
    lay: (d) =>
      S.el7Node(d, {
        kernel: R["7.9"],
        driver: "systemd",
        parents: true,
        kubelet: "nokmem",
        running: "other",
      }),
    state: "restart",
    code: 1,
    gate: 1,
    reboot: 1,
  },
  {
    name: "7.9, systemd, nokmem kubelet running, kubepods and QoS parents still armed (and the pods under them), kmem 0: reboot",
    lay: (d) => S.el7Node(d, { kernel: R["7.9"], driver: "systemd", parents: true, kubelet: "nokmem" }),
    state: "reboot",
    code: 1,
    gate: 1,
    reboot: 0,
    text: [
      "running kubelet pid 4242 is ",
      "every pod created under them inherits accounting until the node reboots",
    ],
  },
  {
    name: "7.3, cgroupfs, nokmem kubelet running, a pod created before still armed with kmem: reboot",
    lay: (d) =>
      S.el7Node(d, { kernel: R["7.3"], driver: "cgroupfs", pod: true, kmem: 4096, kubelet: "nokmem" }),
    state: "reboot",
    code: 1,
    gate: 1,
    reboot: 0,
  },
  {
    name: "7.6, cgroupfs, nokmem kubelet running, the runtime's runc armed a container: runtime",
    lay: (d) =>
      S.el7Node(d, { kernel: R["7.6"], driver: "cgroupfs", container: true, kmem: 8192, kubelet: "nokmem" }),
    state: "runtime",
    code: 1,
    gate: 1,
    reboot: 1,
  },
  {
    name: "7.3, cgroupfs, after the reboot: fixed",
    lay: (d) => S.el7Node(d, { kernel: R["7.3"], driver: "cgroupfs", kubelet: "nokmem" }),
    state: "fixed",
    code: 0,
    gate: 0,
    reboot: 1,
  },
  {
    name: "7.8, systemd, without the parameter, after the reboot: fixed (no kubelet running is said)",
    lay: (d) => S.el7Node(d, { kernel: R["7.8"], driver: "systemd", kubelet: "nokmem", running: "none" }),
    state: "fixed",
    code: 0,
    gate: 0,
    reboot: 1,
    text: ["; no kubelet process is running"],
  },
  // The DaemonSet's pod sees none of the host's processes: the API server's version for the node
  // (--running-version) against the version mark of the kubelet on disk.
  {
    name: "in a pod, 7.9: the marked nokmem kubelet on disk, the API reports the old v1.20.2 running: restart",
    lay: inPod({ kernel: R["7.9"], driver: "cgroupfs", parents: true, pod: true, kmem: 4096 }, "v1.20.2"),
    state: "restart",
    code: 1,
    gate: 1,
    reboot: 1,
    text: [
      "(the API server reports the running kubelet as v1.20.2, the kubelet on disk (",
      ") is v1.20.2+nokmem)",
    ],
  },
  {
    name: "in a pod, 7.9: a newer marked release on disk than the API reports running: restart",
    lay: inPod(
      { kernel: R["7.9"], driver: "systemd", parents: true, pod: true },
      "v1.20.2+nokmem",
      "v1.20.15+nokmem",
    ),
    state: "restart",
    code: 1,
    gate: 1,
    reboot: 1,
    text: ["reports the running kubelet as v1.20.2+nokmem, the kubelet on disk ("],
  },
  {
    name: "in a pod, 7.9: the API reports the marked kubelet running, pods still armed: reboot",
    lay: inPod(
      { kernel: R["7.9"], driver: "cgroupfs", parents: true, pod: true, kmem: 4096 },
      "v1.20.2+nokmem",
    ),
    state: "reboot",
    code: 1,
    gate: 1,
    reboot: 0,
    text: ["; the API server reports the running kubelet as v1.20.2+nokmem, the version of "],
  },
  {
    name: "in a pod, 7.9, after the reboot: fixed, the running kubelet named by the API",
    lay: inPod({ kernel: R["7.9"], driver: "systemd" }, "v1.20.2+nokmem"),
    state: "fixed",
    code: 0,
    gate: 0,
    reboot: 1,
    text: ["; the API server reports the running kubelet as v1.20.2+nokmem, the version of "],
  },
  {
    name: "in a pod without the API's version: fixed, and never 'no kubelet process is running'",
    lay: inPod({ kernel: R["7.9"], driver: "cgroupfs" }),
    state: "fixed",
    code: 0,
    gate: 0,
    reboot: 1,
    text: ["; the running kubelet cannot be seen here (no processes under "],
    absent: ["no kubelet process is running"],
  },
  {
    name: "in a pod, an unmarked nokmem kubelet on disk and the same version running: fixed, cannot be told apart",
    lay: inPod({ kernel: R["7.9"], driver: "cgroupfs" }, "v1.20.2", "v1.20.2"),
    state: "fixed",
    code: 0,
    gate: 0,
    reboot: 1,
    text: ["; the API server reports the running kubelet as v1.20.2, which cannot be told from "],
  },
  {
    name: "in a pod, the old kubelet on disk: install, whatever the API reports",
    lay: inPod(
      { kernel: R["7.9"], driver: "cgroupfs", parents: true, pod: true, kubelet: "kmem" },
      "v1.20.2+nokmem",
      "v1.20.2",
    ),
    state: "install",
    code: 1,
    gate: 1,
    reboot: 1,
  },
  {
    name: "no kubepods: unknown",
    lay: (d) => S.noKubepods(d),
    state: "unknown",
    code: 2,
    gate: 2,
    reboot: 2,
  },
  {
    name: "a typo in --kubelet (nothing to read), pods clean: unknown, exit 2 (not OK)",
    lay: (d) => {
      const l = S.el7Node(d, { kernel: R["7.6"], driver: "cgroupfs", kubelet: "nokmem" });
      return { ...l, args: l.args.map((a) => (a === join(d, "kubelet") ? join(d, "kubelte") : a)) };
    },
    state: "unknown",
    code: 2,
    gate: 2,
    reboot: 2,
    text: ["Result: UNKNOWN (exit 2: fix state unknown)"],
  },
  {
    name: "--no-binaries on a clean node: unknown by request, the exit follows the checks; --gate 2",
    lay: (d) => {
      const l = S.el7Node(d, { kernel: R["7.6"], driver: "cgroupfs", kubelet: "nokmem" });
      return { ...l, args: ["--proc-root", l.proc, "--cgroup-root", l.cg, "--no-binaries"] };
    },
    state: "unknown",
    code: 0,
    gate: 2,
    reboot: 2,
  },
];

describe.each(CASES)("$name", (c) => {
  const f = c.lay(fresh());
  test("JSON, human text, brief, metric and exit code", () => {
    const j = runJson(f.args);
    expect(validate(j.report), JSON.stringify(validate.errors)).toBe(true);
    expect([j.report.fix_state, j.code, j.report.exit_code]).toEqual([c.state, c.code, c.code]);
    // the wordings are the documented ones
    expect(DOCS).toContain(j.report.next_step.replace(/^either /, ""));
    expect(DOCS).toContain(j.report.fix_summary.replace(/ \(.*$|; .*$/, ""));

    const prom = join(f.dir, "kmem.prom");
    const h = runScript([...f.args, "--prometheus", prom]);
    expect(h.code).toBe(c.code);
    expect(h.stdout).toContain(
      `\nFix state: ${c.state}: ${j.report.fix_summary}\nNext step: ${j.report.next_step}\n`,
    );
    for (const t of c.text ?? []) expect(h.stdout).toContain(t);
    for (const t of c.absent ?? []) expect(h.stdout).not.toContain(t);
    expect(h.stdout).not.toMatch(/ACCOUNTING[\s\S]* unknown\n/);
    const metrics = readFileSync(prom, "utf8");
    for (const s of FIX_STATES)
      expect(metrics).toContain(`kmem_build_fix_state{state="${s}"} ${s === c.state ? 1 : 0}\n`);

    const b = runScript([...f.args, "--brief"]);
    expect(b.code).toBe(c.code);
    expect(b.stdout).toMatch(new RegExp(`^[A-Z]+ \\[${c.state}\\]: .*; next: `));
    expect(b.stdout.endsWith(`; next: ${j.report.next_step}\n`)).toBe(true);
  });
  test("--gate: 0 only for fixed and not-affected, the same exit as docs/verify.md's table, script and CLI", () => {
    expect(DOC_EXIT[c.state], `docs/verify.md has no exit code row for ${c.state}`).toBeDefined();
    const doc = DOC_EXIT[c.state]!;
    if (c.state !== "unknown" && c.code !== 1) expect(c.code).toBe(doc.plain);
    expect(c.gate).toBe(c.code === 1 ? 1 : doc.gate);
    const g = runJson([...f.args, "--gate"]);
    expect([g.code, g.report.exit_code, g.report.fix_state]).toEqual([c.gate, c.gate, c.state]);
    expect(runScript([...f.args, "--gate", "--brief"]).code).toBe(c.gate);
    const h = runScript([...f.args, "--gate"]);
    expect(h.code).toBe(c.gate);
    if (c.gate !== c.code) expect(h.stdout).toContain(`(exit ${c.gate}, --gate: fix state ${c.state})`);
    expect(runCli(["verify", ...f.args, "--gate", "--brief"]).code).toBe(c.gate);
  });
  test("--reboot-required is quiet and exits 0 only for reboot, under dash, bash and busybox sh", () => {
    for (const shell of Object.values(SHELLS)) {
      const r = runScript([...f.args, "--reboot-required"], { shell });
      expect([r.code, r.stdout, r.stderr]).toEqual([c.reboot, "", ""]);
    }
  });
});

test.each([["1.20.2"], ["v1.20.2 x"], ["v1.20.2;reboot"], ["v1.20"], ["v1.20.2+" + "x".repeat(60)]])(
  "verify-kmem.sh --running-version %j is a usage error (exit 2), under dash, bash and busybox sh",
  (v) => {
    const f = inPod({ kernel: R["7.9"], driver: "cgroupfs" })(fresh());
    for (const shell of Object.values(SHELLS)) {
      const r = runScript([...f.args, "--running-version", v], { shell });
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toContain("bad --running-version '");
    }
  },
);

test("unprobed cgroups are never inactive: a slabinfo that is missing reads as unknown", () => {
  const f = S.el7Node(fresh(), { kernel: R["7.3"], driver: "cgroupfs", kubelet: "nokmem" });
  rmSync(join(f.cg, "kubepods/burstable", `pod${S.UID.B}`, "memory.kmem.slabinfo"));
  const j = runJson(f.args).report;
  expect(j.cgroups.map((g) => [g.level, g.kmem_accounting])).toEqual([
    ["pod", "unknown"],
    ["container", "inactive"],
  ]);
});

test("the fleet table has a FIX STATE column and each host's next step", () => {
  const hosts = (["reboot", "fixed"] as const).map((state) => {
    const f =
      state === "reboot"
        ? S.el7Node(fresh(), { kernel: R["7.9"], driver: "systemd", parents: true, kubelet: "nokmem" })
        : S.el7Node(fresh(), { kernel: R["7.3"], driver: "cgroupfs", kubelet: "nokmem" });
    const r = runJson(f.args);
    return {
      host: state,
      result: r.report.result,
      exit_code: r.report.exit_code,
      error: null,
      seconds: 0,
      report: r.report,
    };
  });
  const out = renderFleet(fleetReport(hosts));
  const [head, reboot, fixed] = out.split("\n");
  expect(head).toMatch(/ MAX KMEM +FIX STATE +NODE \/ ERROR$/);
  expect(reboot).toMatch(/^reboot .* reboot +el7-node$/);
  expect(fixed).toMatch(/^fixed .* fixed +el7-node$/);
  expect(out).toContain(
    "\nreboot:\n  fix state reboot: next step: drain and reboot the node (kured: --reboot-sentinel-command with verify-kmem.sh --reboot-required)\n",
  );
});

describe("install names the package of the kubelet version the node runs, and holds it", () => {
  const KMEM = "failed to set %s, because either tasks have already joined this cgroup or it has children";
  /** An install-state node whose kubelet answers --version (a shell script carrying runc's kmem string). */
  const node = (
    version: string,
    o: { mode?: number; hang?: boolean; kubelet?: "kmem" | "nokmem"; kernel?: string } = {},
  ) => {
    const f = S.el7Node(fresh(), {
      kernel: o.kernel ?? R["7.6"],
      driver: "cgroupfs",
      pod: true,
      kubelet: o.kubelet ?? "kmem",
    });
    const kubelet = join(f.dir, "kubelet");
    const marker = join(f.dir, "ran");
    const body =
      `#!/bin/sh\n# ${o.kubelet === "nokmem" ? "kernel memory accounting disabled in this runc build" : KMEM}\n` +
      `: > '${marker}'\n${o.hang ? "sleep 30\n" : ""}echo 'Kubernetes v${version}'\n`;
    writeFileSync(kubelet, body);
    chmodSync(kubelet, o.mode ?? 0o755);
    return { ...f, marker };
  };
  const stamped = join(TMP, "stamped-verify-kmem.sh");
  writeFileSync(stamped, stampRelease(readFileSync(SCRIPT, "utf8"), "2.nokmem"));

  test("the build's copy (release stamped): yum install kubelet-1.20.2-2.nokmem, under dash, bash and busybox sh", () => {
    const f = node("1.20.2");
    for (const shell of Object.values(SHELLS)) {
      const r = spawnSync(shell[0]!, [...shell.slice(1), stamped, ...f.args, "--json"], { encoding: "utf8" });
      const j = JSON.parse(r.stdout) as { fix_state: string; next_step: string };
      expect([r.status, j.fix_state]).toEqual([1, "install"]);
      expect(j.next_step).toBe(
        "install the nokmem kubelet built by kmem-build for the kubelet version this node runs, and hold it there (yum install kubelet-1.20.2-2.nokmem; yum versionlock add kubelet), restart the kubelet, then drain and reboot the node",
      );
    }
    expect(existsSync(f.marker)).toBe(true);
  });
  test("the source's copy (no release stamped): any of our releases of that version", () => {
    const j = runJson(node("1.13.12").args).report;
    expect(j.next_step).toContain('(yum install "kubelet-1.13.12-*.nokmem"; yum versionlock add kubelet)');
    // the template docs/verify.md shows
    expect(DOCS).toContain(j.next_step.replace(/"kubelet-[^"]+"/, "kubelet-<version>-<release>"));
  });
  test.each([
    ["a version that is not X.Y.Z", node("1.20.2-rc.0"), true],
    ["a kubelet others may write (not run)", node("1.20.2", { mode: 0o775 }), false],
    ["a kubelet that does not answer in --runtime-timeout", node("1.20.2", { hang: true }), true],
  ])("%s: the generic package name", (_, f, ran) => {
    const started = Date.now();
    const j = runJson([...f.args, "--runtime-timeout", "1"]).report;
    expect(j.fix_state).toBe("install");
    expect(j.next_step).toContain("(yum install kubelet-<version>-<release>; yum versionlock add kubelet)");
    expect(existsSync(f.marker)).toBe(ran);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
  test("on a kernel that charges kmem itself (4.18) the kubelet is never run", () => {
    const f = node("1.20.2", { kernel: S.EL8_KERNEL });
    expect(runJson(f.args).report.fix_state).toBe("kernel");
    expect(existsSync(f.marker)).toBe(false);
  });
  test("a nokmem kubelet is never run", () => {
    const f = node("1.20.2", { kubelet: "nokmem" });
    expect(runJson(f.args).report.fix_state).not.toBe("install");
    expect(existsSync(f.marker)).toBe(false);
  });
});
