/**
 * The 3.10 fixture nodes held to the real kernel: every EL7 fixture scenario the verify suites use
 * (test/verify/helpers/scenarios.ts; the el7Node specs of fix-states.test.ts) is made for real in the VM
 * under its own directory of the memory hierarchy — each cgroup created, switched on with runc's 1/-1
 * only where the fixture says accounting is on and its parent does not already hand it down, a process
 * charging slab memory where the fixture has kmem and no child carries it — and verify-kmem.sh's report
 * there is compared with its report on the fixture (the fixture laid with the booted kernel's version).
 * A fixture state the kernel cannot produce fails here with the cgroup named.
 */
import { readdirSync, readFileSync, lstatSync, mkdtempSync, rmSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import type { NodeReport } from "../../src/verify/report.js";
import { runJson } from "../verify/helpers/run-script.js";
import * as S from "../verify/helpers/scenarios.js";
import { K73, K79, kubeletBinaries, runVm, said, unavailable, verdicts } from "./helpers/vm.js";

const WHY = unavailable();
const TMP = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "el7-fixtures-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const R = S.RHEL7;
const GB = 1_000_000_000;
const K = { "3.10.0-1160.el7.x86_64": K79, "3.10.0-514.el7.x86_64": K73 } as const;
type Booted = keyof typeof K;

interface Scenario {
  name: string;
  /** the fixture, laid with the kernel it is compared on */
  lay: (dir: string, kernel: Booted) => S.Laid;
  kernel: Booted;
  param?: boolean;
  /** el7Node's kubelet process: its exe is the checked file, a deleted one, another file, or none runs */
  running?: S.El7Spec["running"];
  kubelet?: "kmem" | "nokmem";
}

/** el7Node on the booted kernel: 7.6's and 7.3's (no cgroup.memory=) on 7.3's, 7.8's and 7.9's on 7.9's. */
function node(name: string, spec: S.El7Spec): Scenario {
  const kernel: Booted = spec.kernel === R["7.3"] || spec.kernel === R["7.6"] ? R["7.3"] : R["7.9"];
  return {
    name,
    lay: (d, k) => S.el7Node(d, { ...spec, kernel: k }),
    kernel,
    param: spec.param,
    running: spec.running ?? "same",
    kubelet: spec.kubelet,
  };
}

const SCENARIOS: Scenario[] = [
  { name: "centos7Cgroupfs", lay: (d) => S.centos7Cgroupfs(d), kernel: R["7.9"] },
  { name: "centos7Systemd", lay: (d) => S.centos7Systemd(d), kernel: R["7.9"] },
  { name: "leakedMemcgs", lay: (d) => S.leakedMemcgs(d, 10), kernel: R["7.9"] },
  { name: "oddNames", lay: (d) => S.oddNames(d), kernel: R["7.9"] },
  { name: "noKubepods", lay: (d) => S.noKubepods(d), kernel: R["7.9"] },
  { name: "emptyKubepods", lay: (d) => S.emptyKubepods(d), kernel: R["7.9"] },
  { name: "manyPods", lay: (d) => S.manyPods(d, 3), kernel: R["7.9"] },
  node("7.9 cgroupfs param, old kubelet", {
    kernel: R["7.9"],
    driver: "cgroupfs",
    param: true,
    kubelet: "kmem",
  }),
  node("7.8 systemd param", { kernel: R["7.8"], driver: "systemd", param: true, kubelet: "nokmem" }),
  node("7.3 param ignored, old kubelet", {
    kernel: R["7.3"],
    driver: "cgroupfs",
    param: true,
    parents: true,
    pod: true,
    kubelet: "kmem",
  }),
  node("7.6 systemd old kubelet kmem", {
    kernel: R["7.6"],
    driver: "systemd",
    parents: true,
    pod: true,
    container: true,
    kmem: 3.4 * GB,
    kubelet: "kmem",
  }),
  node("7.9 cgroupfs old kubelet", {
    kernel: R["7.9"],
    driver: "cgroupfs",
    parents: true,
    pod: true,
    kubelet: "kmem",
  }),
  node("7.6 restart deleted", {
    kernel: R["7.6"],
    driver: "cgroupfs",
    parents: true,
    pod: true,
    kubelet: "nokmem",
    running: "deleted",
  }),
  node("7.9 restart other", {
    kernel: R["7.9"],
    driver: "systemd",
    parents: true,
    kubelet: "nokmem",
    running: "other",
  }),
  node("7.9 reboot", { kernel: R["7.9"], driver: "systemd", parents: true, kubelet: "nokmem" }),
  node("7.3 reboot pod", { kernel: R["7.3"], driver: "cgroupfs", pod: true, kmem: 4096, kubelet: "nokmem" }),
  node("7.6 runtime", {
    kernel: R["7.6"],
    driver: "cgroupfs",
    container: true,
    kmem: 8192,
    kubelet: "nokmem",
  }),
  node("7.3 fixed", { kernel: R["7.3"], driver: "cgroupfs", kubelet: "nokmem" }),
  node("7.8 fixed, no kubelet running", {
    kernel: R["7.8"],
    driver: "systemd",
    kubelet: "nokmem",
    running: "none",
  }),
];

/** Each byte as \ooo, for node.sh's unescape (printf). */
function esc(p: Buffer): string {
  return [...p].map((b) => `\\${b.toString(8).padStart(3, "0")}`).join("");
}

interface Cg {
  path: Buffer;
  slab: "active" | "inactive" | "missing";
  kmem: number;
  children: Cg[];
}

/** The fixture's memory cgroups as the script reads them: slabinfo readable or not, kmem above 0. */
function readTree(dir: Buffer, rel: Buffer): Cg {
  const at = (n: string) => Buffer.concat([dir, Buffer.from(`/${n}`)]);
  let slab: Cg["slab"] = "missing";
  try {
    slab = lstatSync(at("memory.kmem.slabinfo")).isSymbolicLink() ? "inactive" : "active";
  } catch {
    slab = "missing";
  }
  const kmem = Number(readFileSync(at("memory.kmem.usage_in_bytes"), "utf8"));
  const children: Cg[] = [];
  for (const e of readdirSync(dir, { encoding: "buffer", withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const name = e.name as unknown as Buffer;
    children.push(
      readTree(Buffer.concat([dir, Buffer.from("/"), name]), Buffer.concat([rel, Buffer.from("/"), name])),
    );
  }
  return { path: rel, slab, kmem, children };
}

/**
 * The shell lines that make the tree for real under $M/<root>: a cgroup is armed when the fixture has
 * it on and its parent is off (under an "on" parent the kernel hands it down with use_hierarchy=1);
 * with the boot parameter, kubepods and the pods are armed as an old kubelet would, whatever the fixture
 * says, so the kernel shows it ignores that. A process charges slab where the fixture has kmem and no
 * child has. Returns the lines, or the contradictions (states the kernel cannot produce: off under an on parent, kmem without accounting, a kmem counter below
 * the sum of its children's).
 */
function plan(root: string, t: Cg, param: boolean): { lines: string[]; impossible: string[] } {
  const lines: string[] = [];
  const impossible: string[] = [];
  const name = (c: Cg) => c.path.toString("latin1");
  const walk = (c: Cg, parentOn: boolean, top: boolean) => {
    const on = c.slab === "active";
    const base = c.path.toString("latin1").split("/").pop() ?? "";
    const kubeletArms = /^(kubepods|kubepods\.slice)$/.test(base) || /pod[0-9a-f_-]{36}/.test(base);
    if (!top) {
      if (parentOn && c.slab === "inactive") impossible.push(`${name(c)}: off under a parent that is on`);
      const arm = (on && !parentOn) || (param && kubeletArms);
      lines.push(`mkcg '${esc(Buffer.concat([Buffer.from(`${root}`), c.path]))}' ${arm ? 1 : 0}`);
    }
    for (const ch of c.children) walk(ch, top ? false : on || parentOn, false);
    const below = c.children.reduce((n, ch) => n + ch.kmem, 0);
    if (!top && c.kmem < below) impossible.push(`${name(c)}: kmem ${c.kmem} below its children's ${below}`);
    if (!top && c.kmem > 0 && below === 0) {
      if (!on)
        impossible.push(`${name(c)}: kmem charged while its accounting is off and no child carries it`);
      lines.push(`loadcg '${esc(Buffer.concat([Buffer.from(`${root}`), c.path]))}' 50`);
    }
  };
  lines.push(`mkdir $M/${root}`);
  walk(t, false, true);
  return { lines, impossible };
}

/**
 * What must agree: the verdict, the kmem checks (status and whom they blame), every cgroup's accounting
 * and whether it holds kmem, the binaries' verdicts and the running kubelet.
 */
const COMPARED = [
  "kernel-kmem-policy",
  "pod-cgroups-kmem",
  "container-cgroups-kmem",
  "kmem-accounting-active",
  "kubelet-binary",
  "runtime-binaries",
];
function projection(r: NodeReport) {
  return {
    fix_state: r.fix_state,
    checks: Object.fromEntries(
      r.checks.filter((c) => COMPARED.includes(c.id)).map((c) => [c.id, `${c.status} ${c.cause ?? "-"}`]),
    ),
    driver: r.node.cgroup_driver,
    kubepods: r.node.kubepods,
    cgroups: r.cgroups.map((g) => ({
      path: g.path,
      level: g.level,
      qos: g.qos,
      accounting: g.kmem_accounting,
      kmem: (g.kmem_usage_bytes ?? 0) > 0,
    })),
    binaries: r.binaries.map((b) => [b.role, b.verdict, b.build_tags]),
    running: r.running_kubelet?.matches ?? null,
  };
}

if (WHY) {
  test.skip(`real EL7 kernel tier skipped: ${WHY}`, () => {});
} else {
  const boots = new Map<string, Scenario[]>();
  for (const s of SCENARIOS) {
    const key = `${s.kernel}${s.param ? " cgroup.memory=nokmem" : ""}`;
    boots.set(key, [...(boots.get(key) ?? []), s]);
  }
  const bins = kubeletBinaries(TMP);
  describe.each([...boots.keys()])("fixtures on %s", (key) => {
    const list = boots.get(key)!;
    const kernel = list[0]!.kernel;
    const host = new Map<string, NodeReport>();
    let vm: Map<string, NodeReport>;
    const impossible: string[] = [];
    let errors: string | undefined;

    test("each fixture made for real in one boot", async () => {
      const files: string[] = [];
      const script: string[] = ["gnu_setup >/dev/null"];
      list.forEach((s, i) => {
        const id = `fx${i}`;
        const dir = join(TMP, `${key.replace(/\W/g, "_")}-${id}`);
        const f = s.lay(dir, kernel);
        host.set(s.name, runJson(f.args).report);
        const p = plan(id, readTree(Buffer.from(f.cg), Buffer.alloc(0)), !!s.param);
        impossible.push(...p.impossible.map((x) => `${s.name}: ${x}`));
        script.push(`# ${s.name}`, ...p.lines);
        // the binaries the fixture checks, under their own names in the VM
        const args = ["--cgroup-root", `$M/${id}`];
        const a = f.args;
        for (let j = 0; j < a.length; j++) {
          if (a[j] !== "--kubelet" && a[j] !== "--runtime") continue;
          const base = `${id}-${a[j + 1]!.split("/").pop()}`;
          const copy = join(TMP, base);
          // a kubelet that runs: busybox with the fixture's strings (helpers/vm.ts)
          if (a[j] === "--kubelet" && s.running && s.running !== "none")
            copyFileSync(s.kubelet === "kmem" ? bins.kmem : bins.nokmem, copy);
          else copyFileSync(a[j + 1]!, copy);
          files.push(copy);
          script.push(
            `mkdir -p /opt/${id} && cp /root/${base} /opt/${id}/${a[j] === "--kubelet" ? "kubelet" : base}`,
          );
          args.push(a[j]!, `/opt/${id}/${a[j] === "--kubelet" ? "kubelet" : base}`);
        }
        if (a.includes("--no-binaries")) args.push("--no-binaries");
        if (s.running === "same") script.push(`start_kubelet /opt/${id}/kubelet`);
        if (s.running === "deleted")
          script.push(
            `start_kubelet /opt/${id}/kubelet`,
            `cp /opt/${id}/kubelet '/opt/${id}/kubelet;5f3c9a1e' && mv -f '/opt/${id}/kubelet;5f3c9a1e' /opt/${id}/kubelet`,
          );
        if (s.running === "other") {
          files.push(bins.kmem);
          script.push(
            `mkdir -p /opt/${id}/old && cp /root/kubelet-kmem /opt/${id}/old/kubelet`,
            `start_kubelet /opt/${id}/old/kubelet`,
          );
          // as the fixture does: a process running another file counts only when something names it
          args.push('--kubelet-pid "$KUBELET_PID"');
        }
        script.push(
          `echo '@@VERIFY ${id} busybox'`,
          `verify_json sh /var/cache/verify-busybox ${args.join(" ")} --no-kernel-log`,
        );
        if (s.running && s.running !== "none") script.push("stop_kubelet");
      });
      script.splice(1, 0, "mkdir -p /var/cache/verify-busybox");
      const r = await runVm({
        kernel: K[kernel],
        cmdline: key.includes("nokmem") ? "cgroup.memory=nokmem" : "",
        files: [...new Set(files)],
        script: script.join("\n"),
      });
      expect(r.rc, r.console).toBe(0);
      errors = said(r).error;
      vm = new Map(verdicts(r).map((v) => [list[Number(v.label.slice(2))]!.name, v.report]));
      expect(vm.size).toBe(list.length);
      expect(errors).toBeUndefined();
    });

    test("no fixture holds a state the kernel cannot make", () => {
      expect(impossible).toEqual([]);
    });

    test.each(list.map((s) => s.name))("%s: the same report on the kernel as on the fixture", (name) => {
      expect(projection(vm.get(name)!)).toEqual(projection(host.get(name)!));
    });
  });
}
