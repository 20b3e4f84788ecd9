/**
 * The script against fixture nodes (a fake /proc and a memory cgroup tree per scenario): the
 * deterministic parts of the JSON are compared exactly, with the exit code.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import type { CgroupRow, Check, NodeReport } from "../../src/verify/report.js";
import { fakeGoBinary } from "./helpers/binaries.js";
import { runJson, runScript } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-fixtures-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(TMP, String(++n));

type Acct = CgroupRow["kmem_accounting"];
/** A cgroup row as the script must report it; hidden = usage - (rss + cache). */
function row(
  level: "pod" | "container",
  qos: string,
  uid: string,
  container: string | null,
  path: string,
  c: {
    usage?: number;
    rss?: number;
    cache?: number;
    kmem?: number | null;
    kmax?: number | null;
    failcnt?: number | null;
  },
  acct: Acct,
): CgroupRow {
  const rss = c.rss ?? 0;
  const cache = c.cache ?? 0;
  const kmem = c.kmem === undefined ? 0 : c.kmem;
  const usage = c.usage ?? rss + cache + (kmem ?? 0);
  return {
    level,
    qos,
    pod_uid: uid,
    container,
    pod_namespace: null,
    pod_name: null,
    container_name: null,
    path,
    usage_bytes: usage,
    total_rss_bytes: rss,
    total_cache_bytes: cache,
    kmem_usage_bytes: kmem,
    kmem_max_usage_bytes: c.kmax === undefined ? kmem : c.kmax,
    kmem_failcnt: c.failcnt === undefined ? (kmem === null ? null : 0) : c.failcnt,
    hidden_bytes: usage - (rss + cache),
    kmem_accounting: acct,
    limit_bytes: null,
    usage_limit_ratio: null,
    rss_cache_limit_ratio: null,
  };
}

/** [id, status, cause, conclusive] of every check, in order. */
const statuses = (r: NodeReport) => r.checks.map((c: Check) => [c.id, c.status, c.cause, c.conclusive]);
const seen = (r: NodeReport, id: string) => r.checks.find((c) => c.id === id)!.seen;
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
const { G, B, E } = S.UID;
const { GiB, MiB } = S;

describe("CentOS 7, cgroupfs driver, kmem switched on by kubelet and runtime", () => {
  const f = S.centos7Cgroupfs(fresh());
  const { code, report: r } = runJson(f.args);

  test("exit 1 with kubelet and runtime named as causes, not the kernel", () => {
    expect(code).toBe(1);
    expect(r.result).toBe("PROBLEM");
    expect(r.exit_code).toBe(1);
    expect(statuses(r)).toEqual([
      ["cgroup-layout", "INFO", null, true],
      ["kernel-kmem-policy", "INFO", null, true],
      ["pod-cgroups-kmem", "FAIL", "kubelet", true],
      ["container-cgroups-kmem", "FAIL", "runtime", true],
      ["kmem-accounting-active", "FAIL", "kubelet", true],
      ["kubelet-binary", "FAIL", "kubelet", true],
      ["kubelet-checksum", "INFO", null, true],
      ["runtime-binaries", "FAIL", "runtime", true],
      ["leaked-memcgs", "PASS", null, true],
      ["kmem-stays-zero", "INFO", null, true],
      ["oom-headroom", "INFO", null, true],
      ["oom-kills-kmem", "INFO", null, true],
      ["pod-names", "INFO", null, true],
    ]);
    expect(r.totals).toEqual({ pass: 1, fail: 5, warn: 0, info: 7 });
  });

  test("node facts", () => {
    expect(r.node).toEqual({
      hostname: "centos7-node",
      kernel: S.EL7_KERNEL,
      kernel_nokmem_param: false,
      kernel_charges_all_memcgs: false,
      cgroup_layout: "v1",
      memory_controller: "v1",
      memory_root: f.cg,
      cgroup_driver: "cgroupfs",
      kubepods: ["/kubepods"],
    });
  });

  test("every pod and container cgroup with its counters, hidden share and accounting state", () => {
    const { g1, b1, b2, e1 } = S.CTR;
    expect(r.cgroups).toEqual([
      row(
        "pod",
        "besteffort",
        E,
        null,
        `/kubepods/besteffort/pod${E}`,
        { rss: 8 * MiB, kmem: 8192 },
        "inactive",
      ),
      row(
        "container",
        "besteffort",
        E,
        e1,
        `/kubepods/besteffort/pod${E}/${e1}`,
        { rss: 8 * MiB, kmem: 8192 },
        "active",
      ),
      row(
        "pod",
        "burstable",
        B,
        null,
        `/kubepods/burstable/pod${B}`,
        { usage: 6 * GiB, rss: 1.5 * GiB, cache: GiB, kmem: 3_400_000_000, kmax: 3_500_000_000, failcnt: 3 },
        "active",
      ),
      row(
        "container",
        "burstable",
        B,
        b1,
        `/kubepods/burstable/pod${B}/${b1}`,
        { usage: 6 * GiB - MiB, rss: 1.5 * GiB, cache: GiB, kmem: 3_399_000_000 },
        "active",
      ),
      row(
        "container",
        "burstable",
        B,
        b2,
        `/kubepods/burstable/pod${B}/${b2}`,
        { rss: MiB, kmem: 1_000_000 },
        "active",
      ),
      row("pod", "guaranteed", G, null, `/kubepods/pod${G}`, { rss: 40 * MiB, cache: 10 * MiB }, "inactive"),
      row(
        "container",
        "guaranteed",
        G,
        g1,
        `/kubepods/pod${G}/${g1}`,
        { rss: 40 * MiB, cache: 10 * MiB },
        "inactive",
      ),
    ]);
    // sorted by path; the real case: 2.5 GiB rss + cache on dashboards, 3.5 GiB more that the OOM killer counts
    expect(r.cgroups[2]!.hidden_bytes).toBe(3.5 * GiB);
  });

  test("what was seen names pod level (kubelet) and container level (runtime) apart", () => {
    expect(seen(r, "pod-cgroups-kmem")).toBe(
      `2 of 3 pod cgroups have kernel memory charged (largest: 3.17 GiB in pod ${B}, kmem failcnt 3); ` +
        "1 of them account kmem at pod level: the kubelet switched it on (its vendored runc writes memory.kmem.limit_in_bytes); " +
        "1 only through containers the runtime set up (see container-cgroups-kmem)",
    );
    expect(seen(r, "container-cgroups-kmem")).toBe(
      `3 of 4 container cgroups have kernel memory charged (largest: 3.17 GiB in container b1b1b1b1b1b1 of pod ${B}); ` +
        "1 of them switched on by the runtime (runc) under pod cgroups that do not account kmem; 2 inherit it from pod cgroups the kubelet set up",
    );
    expect(r.checks.find((c) => c.id === "kubelet-binary")!.remedy).toMatch(
      /nokmem kubelet built by kmem-build/,
    );
  });

  test("binaries by the byte rules, memcg count, one sample", () => {
    expect(r.binaries).toEqual([
      {
        role: "kubelet",
        path: join(f.dir, "kubelet"),
        found_by: "option",
        readable: true,
        verdict: "kmem-code-linked",
        build_tags: null,
        sha256: sha(join(f.dir, "kubelet")),
        checksum_match: null,
        reused: false,
        version_mark: null,
      },
      {
        role: "runtime",
        path: join(f.dir, "docker-runc-current"),
        found_by: "option",
        readable: true,
        verdict: "kmem-code-linked",
        build_tags: null,
        sha256: sha(join(f.dir, "docker-runc-current")),
        checksum_match: null,
        reused: false,
        version_mark: null,
      },
    ]);
    expect(r.memcgs).toEqual({
      num_cgroups: f.dirs + 40,
      directories: f.dirs,
      leaked: 40,
      limit: 65535,
      compared: true,
    });
    expect(r.samples).toMatchObject({
      count: 1,
      duration_seconds: null,
      interval_seconds: null,
      max_kmem_bytes: 3_400_000_000,
      nonzero_samples: 1,
    });
  });
});

describe("CentOS 7, systemd driver, all clean with a nokmem kubelet", () => {
  const f = S.centos7Systemd(fresh());
  const { code, report: r } = runJson([
    ...f.args,
    "--expect-sha256",
    `${sha(join(f.dir, "kubelet"))}:kubelet-1.20.15-1.1.nokmem`,
  ]);
  const u = (s: string) => s.replace(/-/g, "_");
  const { g1, b1, e1 } = S.CTR;

  test("exit 0, everything PASS or INFO", () => {
    expect(code).toBe(0);
    expect(statuses(r)).toEqual([
      ["cgroup-layout", "INFO", null, true],
      ["kernel-kmem-policy", "INFO", null, true],
      ["pod-cgroups-kmem", "PASS", null, true],
      ["container-cgroups-kmem", "PASS", null, true],
      ["kmem-accounting-active", "PASS", null, true],
      ["kubelet-binary", "PASS", null, true],
      ["kubelet-checksum", "PASS", null, true],
      ["runtime-binaries", "PASS", null, true],
      ["leaked-memcgs", "PASS", null, true],
      ["kmem-stays-zero", "INFO", null, true],
      ["oom-headroom", "INFO", null, true],
      ["oom-kills-kmem", "INFO", null, true],
      ["pod-names", "INFO", null, true],
    ]);
    expect(r.node.cgroup_driver).toBe("systemd");
    expect(r.node.kubepods).toEqual(["/kubepods.slice"]);
  });

  test("systemd slice names give pod uids (underscores back to dashes), QoS and containers", () => {
    const K = "/kubepods.slice";
    const bp = `${K}/kubepods-besteffort.slice/kubepods-besteffort-pod${u(E)}.slice`;
    const bu = `${K}/kubepods-burstable.slice/kubepods-burstable-pod${u(B)}.slice`;
    const gp = `${K}/kubepods-pod${u(G)}.slice`;
    expect(r.cgroups).toEqual([
      row("pod", "besteffort", E, null, bp, {}, "inactive"),
      row(
        "container",
        "besteffort",
        E,
        `crio-conmon-${e1}.scope`,
        `${bp}/crio-conmon-${e1}.scope`,
        {},
        "inactive",
      ),
      row("container", "besteffort", E, `crio-${e1}.scope`, `${bp}/crio-${e1}.scope`, {}, "inactive"),
      row("pod", "burstable", B, null, bu, { rss: 30 * MiB, cache: 5 * MiB }, "inactive"),
      row(
        "container",
        "burstable",
        B,
        `cri-containerd-${b1}.scope`,
        `${bu}/cri-containerd-${b1}.scope`,
        { rss: 30 * MiB, cache: 5 * MiB },
        "inactive",
      ),
      row("pod", "guaranteed", G, null, gp, { rss: 20 * MiB }, "inactive"),
      row(
        "container",
        "guaranteed",
        G,
        `docker-${g1}.scope`,
        `${gp}/docker-${g1}.scope`,
        { rss: 20 * MiB },
        "inactive",
      ),
    ]);
  });

  test("nokmem marker, Go build tags and the checksum match are reported", () => {
    expect(r.binaries.map((b) => [b.role, b.verdict, b.build_tags, b.checksum_match])).toEqual([
      ["kubelet", "nokmem-variant-linked", ["nokmem"], "kubelet-1.20.15-1.1.nokmem"],
      ["runtime", "no-kmem-code", ["seccomp", "apparmor"], null],
    ]);
    expect(seen(r, "kubelet-checksum")).toContain("matches kubelet-1.20.15-1.1.nokmem");
  });
});

describe("hybrid layout on EL8 (4.18) without cgroup.memory=nokmem", () => {
  test("kmem in pods: FAIL with the kernel as the cause, never the kubelet", () => {
    const { code, report: r } = runJson(S.hybridKernelCharges(fresh()).args);
    expect(code).toBe(1);
    expect(r.node).toMatchObject({
      cgroup_layout: "hybrid",
      memory_controller: "v1",
      kernel_charges_all_memcgs: true,
    });
    expect(statuses(r)).toEqual([
      ["cgroup-layout", "INFO", null, true],
      ["kernel-kmem-policy", "WARN", "kernel", true],
      ["pod-cgroups-kmem", "FAIL", "kernel", true],
      ["container-cgroups-kmem", "FAIL", "kernel", true],
      ["kmem-accounting-active", "INFO", "kernel", true],
      ["kubelet-binary", "PASS", null, true],
      ["kubelet-checksum", "INFO", null, true],
      ["runtime-binaries", "PASS", null, true],
      ["leaked-memcgs", "PASS", null, true],
      ["kmem-stays-zero", "INFO", null, true],
      ["oom-headroom", "INFO", null, true],
      ["oom-kills-kmem", "INFO", null, true],
      ["pod-names", "INFO", null, true],
    ]);
    expect(seen(r, "pod-cgroups-kmem")).toContain("the kubelet is not to blame");
    expect(r.checks.find((c) => c.id === "pod-cgroups-kmem")!.remedy).toContain("cgroup.memory=nokmem");
    expect(r.cgroups.map((c) => [c.level, c.kmem_usage_bytes, c.kmem_accounting])).toEqual([
      ["pod", 5 * MiB, "active"],
      ["container", 5 * MiB, "active"],
    ]);
    expect(r.binaries.map((b) => b.verdict)).toEqual(["no-kmem-code", "nokmem-variant-linked"]);
  });

  test("all pod cgroups at zero: exit 0, the kernel policy only a warning", () => {
    const { code, report: r } = runJson(S.hybridKernelCharges(fresh(), false).args);
    expect(code).toBe(0);
    expect(r.result).toBe("OK");
    expect(statuses(r).filter((s) => s[1] !== "PASS" && s[1] !== "INFO")).toEqual([
      ["kernel-kmem-policy", "WARN", "kernel", true],
    ]);
  });

  test("booted with cgroup.memory=nosocket,nokmem: PASS, accounting off everywhere", () => {
    const { code, report: r } = runJson(S.hybridNokmemParam(fresh()).args);
    expect(code).toBe(0);
    expect(r.node).toMatchObject({ kernel_nokmem_param: true, kernel_charges_all_memcgs: false });
    expect(statuses(r).slice(1, 5)).toEqual([
      ["kernel-kmem-policy", "PASS", null, true],
      ["pod-cgroups-kmem", "PASS", null, true],
      ["container-cgroups-kmem", "PASS", null, true],
      ["kmem-accounting-active", "PASS", null, true],
    ]);
    expect(r.cgroups.map((c) => c.kmem_accounting)).toEqual(["inactive", "inactive"]);
  });
});

test("cgroup v2: kmem not separately accountable is INFO, not FAIL; exit 0", () => {
  const { code, report: r } = runJson(S.v2Systemd(fresh()).args);
  expect(code).toBe(0);
  expect(r.node).toMatchObject({
    cgroup_layout: "v2",
    memory_controller: "v2",
    cgroup_driver: "systemd",
    kernel_charges_all_memcgs: null,
  });
  expect(statuses(r).map((s) => s[1])).toEqual([
    "INFO",
    "INFO",
    "INFO",
    "INFO",
    "INFO",
    "INFO",
    "INFO",
    "INFO",
    "PASS",
    "INFO",
    "INFO",
    "INFO",
    "INFO",
  ]);
  const pod = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${B.replace(/-/g, "_")}.slice`;
  const c = { rss: 50 * MiB, cache: 10 * MiB, usage: 63 * MiB, kmem: null, kmax: null, failcnt: null };
  expect(r.cgroups).toEqual([
    row("pod", "burstable", B, null, pod, c, "not-applicable"),
    row(
      "container",
      "burstable",
      B,
      `cri-containerd-${S.CTR.b1}.scope`,
      `${pod}/cri-containerd-${S.CTR.b1}.scope`,
      c,
      "not-applicable",
    ),
  ]);
  expect(r.cgroups[0]!.hidden_bytes).toBe(3 * MiB);
});

describe("leaked memcgs", () => {
  test("60000 memcgs held by the kernel, 5 directories: WARN, exit 0", () => {
    const { code, report: r } = runJson(S.leakedMemcgs(fresh(), 60000).args);
    expect(code).toBe(0);
    expect(r.memcgs).toEqual({
      num_cgroups: 60000,
      directories: 5,
      leaked: 59995,
      limit: 65535,
      compared: true,
    });
    expect(statuses(r)[8]).toEqual(["leaked-memcgs", "WARN", null, true]);
  });
  test("at 65535 new cgroups cannot be created: FAIL, exit 1", () => {
    const { code, report: r } = runJson(S.leakedMemcgs(fresh(), 65535).args);
    expect(code).toBe(1);
    expect(statuses(r)[8]).toEqual(["leaked-memcgs", "FAIL", null, true]);
    expect(seen(r, "leaked-memcgs")).toContain("new cgroups cannot be created");
  });
});

test("names with spaces, quotes, backslashes, tabs, newlines and non-UTF-8 bytes are escaped correctly", () => {
  const f = S.oddNames(fresh());
  const { code, stdout, report: r } = runJson(f.args);
  expect(code).toBe(1);
  const P = `/kubepods/burstable/pod${B}`;
  expect(r.cgroups.map((c) => [c.container, c.path])).toEqual([
    [null, P],
    ["bad\ufffd-utf", `${P}/bad\ufffd-utf`],
    [S.ODD.utf8, `${P}/${S.ODD.utf8}`],
    [S.ODD.space, `${P}/${S.ODD.space}`],
    [S.ODD.newline, `${P}/${S.ODD.newline}`],
    [S.ODD.quote, `${P}/${S.ODD.quote}`],
    [S.ODD.tab, `${P}/${S.ODD.tab}`],
  ]);
  // the raw text: JSON escapes, valid UTF-8, no raw control characters
  expect(stdout).toContain(String.raw`"container": "q\"uote\\back"`);
  expect(stdout).toContain(String.raw`"container": "tab\there"`);
  expect(stdout).toContain(String.raw`"container": "new\nline"`);
  expect(stdout).toContain(String.raw`"container": "bad\ufffd-utf"`);
  expect(Buffer.from(stdout, "utf8").toString("utf8")).toBe(stdout);
  // a directory outside kubepods with a space is counted, not reported
  expect(r.memcgs).toMatchObject({ directories: f.dirs, compared: true });
  // a name with a tab or newline cannot be handed to the shell's slabinfo probe: "unknown", not wrong
  expect(r.cgroups.map((c) => c.kmem_accounting)).toEqual([
    "inactive",
    "inactive",
    "inactive",
    "active",
    "unknown",
    "inactive",
    "unknown",
  ]);
  expect(statuses(r).slice(2, 4)).toEqual([
    ["pod-cgroups-kmem", "FAIL", "runtime", true],
    ["container-cgroups-kmem", "FAIL", "runtime", true],
  ]);
});

describe("could not tell: exit 2", () => {
  test("no kubepods cgroup", () => {
    const { code, report: r } = runJson(S.noKubepods(fresh()).args);
    expect(code).toBe(2);
    expect(r.result).toBe("UNKNOWN");
    expect(statuses(r).slice(2, 4)).toEqual([
      ["pod-cgroups-kmem", "WARN", null, false],
      ["container-cgroups-kmem", "WARN", null, false],
    ]);
    expect(r.node.cgroup_driver).toBeNull();
  });
  test("kubepods without pods", () => {
    const { code, report: r } = runJson(S.emptyKubepods(fresh()).args);
    expect(code).toBe(2);
    expect(seen(r, "pod-cgroups-kmem")).toBe("no pod cgroups under /kubepods: nothing to check");
  });
  test("no memory cgroup controller mounted", () => {
    const { code, report: r } = runJson(S.noMemoryController(fresh()).args);
    expect(code).toBe(2);
    expect(r.node).toMatchObject({ cgroup_layout: "unknown", memory_controller: null, memory_root: null });
    expect(statuses(r)[0]).toEqual(["cgroup-layout", "WARN", null, false]);
    expect(r.memcgs.compared).toBe(false);
  });
  test("bad usage", () => {
    for (const args of [
      ["--bogus"],
      ["--duration", "ten"],
      ["--interval", "5s"],
      ["--duration", "5s", "--interval", "0"],
      ["--expect-sha256", "xyz"],
      ["--checksums", "/nonexistent"],
    ]) {
      const r = runScript(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^verify-kmem: /);
    }
  });
});

test("--brief prints one node-problem-detector line; --help documents the exit codes", () => {
  const f = S.centos7Cgroupfs(fresh());
  const r = runScript([...f.args, "--brief"]);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(
    /^PROBLEM \[install\]: pod-cgroups-kmem: 2 of 3 pod cgroups have kernel memory charged .*; next: either boot with cgroup.memory=nokmem .*\n$/,
  );
  const ok = runScript([...S.centos7Systemd(fresh()).args, "--brief"]);
  expect(ok.stdout).toBe(
    "OK [fixed]: 3 pod and 4 container cgroups charge no kernel memory; next: nothing to do\n",
  );
  expect(runScript(["--help"]).stdout).toContain("Exit: 0 OK, 1 problem found, 2 could not tell");
});

test("human output: checks with cause and fix, and the table of charged cgroups", () => {
  const f = S.centos7Cgroupfs(fresh());
  const r = runScript(f.args);
  expect(r.code).toBe(1);
  expect(r.stdout).toContain("kmem check of centos7-node at ");
  expect(r.stdout).toContain(`[FAIL] pod-cgroups-kmem: 2 of 3 pod cgroups`);
  // the fix of a kubelet-caused FAIL is the node's next step (install, here with the kernel parameter as the other way)
  const next = /\nNext step: (.*)\n/.exec(r.stdout)![1]!;
  expect(next).toMatch(/^either boot with cgroup.memory=nokmem .*; or install the nokmem kubelet/);
  expect(r.stdout).toContain(`       cause: kubelet\n       fix: ${next}\n`);
  expect(r.stdout).toMatch(
    /pod +burstable +2c5dab1f-1e70-4d9f-8e3b-6c8f4a2b3d02 +- +6\.00 GiB +1\.50 GiB +1\.00 GiB +3\.17 GiB +3\.26 GiB +3 +3\.50 GiB +- +- +- +active/,
  );
  expect(r.stdout).toContain("Result: PROBLEM (exit 1): 1 PASS, 5 FAIL, 0 WARN, 7 INFO");
  const verbose = runScript([...f.args, "--verbose"]);
  expect(verbose.stdout).toContain("Pod and container cgroups (7 of 7):");
});

describe("kmem-enabling code in the kubelet decides only where the kernel switches kmem on per cgroup", () => {
  const withKmemKubelet = (l: S.Laid) => {
    const p = join(l.dir, "kubelet-kmem");
    writeFileSync(p, fakeGoBinary({ kmem: true }));
    const i = l.args.indexOf("--no-binaries");
    const args = i >= 0 ? [...l.args.slice(0, i), ...l.args.slice(i + 1)] : [...l.args];
    return [...args, "--kubelet", p, "--runtime", p];
  };
  test.each([
    ["3.10 kernel: FAIL", () => S.leakedMemcgs(fresh(), 10), "FAIL", 1],
    ["EL8 kernel charging every memcg anyway: WARN", () => S.hybridKernelCharges(fresh(), false), "WARN", 0],
    ["booted with cgroup.memory=nokmem: WARN", () => S.hybridNokmemParam(fresh()), "WARN", 0],
    ["cgroup v2: INFO", () => S.v2Systemd(fresh()), "INFO", 0],
  ] as const)("%s", (_name, build, status, exit) => {
    const { code, report: r } = runJson(withKmemKubelet(build()));
    expect(r.checks.find((c) => c.id === "kubelet-binary")!.status).toBe(status);
    expect(r.checks.find((c) => c.id === "runtime-binaries")!.status).toBe(status);
    expect(code).toBe(exit);
  });
});
