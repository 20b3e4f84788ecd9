/**
 * The real code that arms kmem, on the real kernel: test/el7/cgroup-manager/main.go (ours) compiled
 * inside the genuine Kubernetes 1.20.2 tree (Debian's source package; its vendored runc v1.0.0-rc92
 * libcontainer) with Go 1.15 in the builder image, statically (CGO_ENABLED=0), once as upstream builds
 * it and once with -tags nokmem. Each runs in its own boot of the CentOS/RHEL 7.9 kernel as the node's
 * kubelet process (the file is /usr/bin/kubelet) and creates kubepods, the QoS parents and a pod the way
 * the kubelet's cgroup manager does; verify-kmem.sh inside tells the two nodes apart.
 */
import { execa } from "execa";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { GO_CACHE, REAL_IMAGE, RUN_DIR, once, realSource } from "../real/shared.js";
import { UID, CTR } from "../verify/helpers/scenarios.js";
import { REPO } from "../verify/helpers/run-script.js";
import { K79, gnuPair, printRecord, record, runVm, said, unavailable, verdicts } from "./helpers/vm.js";

const MAIN = join(REPO, "test/el7/cgroup-manager/main.go");
const WHY = unavailable();
afterAll(() =>
  printRecord("the real tree's cgroup code on the EL7 kernel (node, kernel, fix state, exits, shells):"),
);

interface Built {
  upstream: string;
  nokmem: string;
  go: string;
  seconds: number;
}

/** Both builds, once per run (keyed by our program's bytes). */
function build(): Promise<Built> {
  const key = createHash("sha256").update(readFileSync(MAIN)).digest("hex").slice(0, 12);
  return once(`el7-cgroup-manager-${key}`, async () => {
    const src = await realSource();
    const out = join(RUN_DIR, `el7-cgroup-manager-${key}`);
    mkdirSync(out, { recursive: true });
    const tree = mkdtempSync(join(RUN_DIR, "el7-tree-"));
    try {
      // go.mod, go.sum and vendor/ are all a package of the module k8s.io/kubernetes needs here
      await execa("tar", [
        "-xzf",
        src.tarball,
        "-C",
        tree,
        "--strip-components=1",
        "kubernetes-1.20.2/go.mod",
        "kubernetes-1.20.2/go.sum",
        "kubernetes-1.20.2/vendor",
      ]);
      mkdirSync(join(tree, "kmem-build-el7/cgroup-manager"), { recursive: true });
      copyFileSync(MAIN, join(tree, "kmem-build-el7/cgroup-manager/main.go"));
      mkdirSync(GO_CACHE, { recursive: true });
      const started = Date.now();
      const r = await execa("podman", [
        "run",
        "--rm",
        "--network=none",
        "-v",
        `${tree}:/src`,
        "-v",
        `${GO_CACHE}:/gocache`,
        "-w",
        "/src",
        "-e",
        "GOCACHE=/gocache",
        "-e",
        "CGO_ENABLED=0",
        "-e",
        "GOFLAGS=-mod=vendor",
        REAL_IMAGE,
        "sh",
        "-c",
        "go version && go build -o out/kubelet-upstream ./kmem-build-el7/cgroup-manager && go build -tags nokmem -o out/kubelet-nokmem ./kmem-build-el7/cgroup-manager",
      ]);
      const seconds = (Date.now() - started) / 1000;
      copyFileSync(join(tree, "out/kubelet-upstream"), join(out, "kubelet-upstream"));
      copyFileSync(join(tree, "out/kubelet-nokmem"), join(out, "kubelet-nokmem"));
      return {
        upstream: join(out, "kubelet-upstream"),
        nokmem: join(out, "kubelet-nokmem"),
        go: r.stdout.trim(),
        seconds,
      };
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
  });
}

const OFF_POD = "6a91ef53-52b4-4bd3-8c7f-a0c38f6f7006";

/** One node: the program as its kubelet, a container under its pod, verify. */
function node(kind: "upstream" | "nokmem") {
  return `
gnu_setup
cp /root/kubelet-${kind} $KUBELET && chmod 755 $KUBELET
$KUBELET $POD_UID >/tmp/kubelet.log 2>&1 &
KUBELET_PID=$!
while ! grep -q -e ready -e 'cgroup-manager: .*: ' /tmp/kubelet.log; do sleep 0.1; done
sed 's/^/@@SAY log /' /tmp/kubelet.log | tail -n 1
grep -q ready /tmp/kubelet.log || say error $(cat /tmp/kubelet.log)
P=kubepods/burstable/pod$POD_UID
container $P/$CTR_ID 200 || say error creating the container
say states $(for d in kubepods kubepods/burstable kubepods/besteffort $P $P/$CTR_ID; do state $d; done)
say kmem $(cat $M/$P/memory.kmem.usage_in_bytes) $(cat $M/kubepods/memory.kmem.usage_in_bytes)
say limits $(cat $M/kubepods/memory.limit_in_bytes $M/$P/memory.limit_in_bytes)
# the same code for a pod whose parent is off: what it switches on itself, not by inheritance
mkdir $M/offparent
/root/kubelet-${kind} $OFF_POD /offparent/pod$OFF_POD=67108864 >/tmp/one.log 2>&1 &
ONE=$!
while ! grep -q -e ready -e 'cgroup-manager: .*: ' /tmp/one.log; do sleep 0.1; done
kill $ONE
say own $(state offparent) $(state offparent/pod$OFF_POD)
wait $ONE 2>/dev/null
rmdir $M/offparent/pod$OFF_POD $M/offparent
verify ${kind}
`;
}

if (WHY) {
  test.skip(`real EL7 kernel tier skipped: ${WHY}`, () => {});
} else {
  describe("kubepods and a pod created by the real tree's runc libcontainer (fs manager Apply(-1), Set)", () => {
    let built: Built;
    test("builds with Go 1.15 from the 1.20.2 tree: upstream links runc's kmem code, nokmem its disabled variant", async () => {
      built = await build();
      expect(built.go).toMatch(/^go version go1\.15\.\d+ linux\/amd64$/);
      const up = readFileSync(built.upstream);
      const no = readFileSync(built.nokmem);
      const KMEM =
        "failed to set %s, because either tasks have already joined this cgroup or it has children";
      const NOKMEM = "kernel memory accounting disabled in this runc build";
      expect([up.includes(KMEM), up.includes(NOKMEM)]).toEqual([true, false]);
      expect([no.includes(KMEM), no.includes(NOKMEM)]).toEqual([false, true]);
      // static: no program interpreter
      for (const b of [up, no]) expect(b.includes("/lib64/ld-linux-x86-64.so.2")).toBe(false);
    });

    const env = () => ({ POD_UID: UID.B, CTR_ID: CTR.b1, OFF_POD });
    const files = () => [built.upstream, built.nokmem, ...gnuPair()];

    test("upstream build: switches accounting on for kubepods/ and the pod; verify: install, exit 1", async () => {
      const r = await runVm({ kernel: K79, files: files(), env: env(), script: node("upstream") });
      expect(r.rc, r.console).toBe(0);
      const s = said(r);
      expect(s.error).toBeUndefined();
      expect(s.log).toBe("cgroup-manager: ready");
      // kubepods armed by the code, the QoS parents and the pod inherit it, the pod armed again by the code,
      // the container (created by a runtime without kmem code) inherits it
      expect(s.states).toBe("on on on on on");
      expect(s.limits).toBe("536870912 67108864");
      expect(s.own).toBe("off on");
      const [pod, kubepods] = s.kmem!.split(" ").map(Number);
      expect(pod).toBeGreaterThan(0);
      expect(kubepods).toBeGreaterThanOrEqual(pod!);
      const v = verdicts(r);
      record("upstream build of the 1.20.2 tree's cgroup code", v, "3.10.0-1160 (7.9)");
      const x = v[0]!;
      expect([x.report.fix_state, x.code, x.reboot]).toEqual(["install", 1, 1]);
      expect(x.report.binaries.find((b) => b.role === "kubelet")).toMatchObject({
        path: "/usr/bin/kubelet",
        verdict: "kmem-code-linked",
      });
      expect(x.report.running_kubelet).toMatchObject({ exe: "/usr/bin/kubelet", matches: "same" });
      expect(x.report.cgroups.map((g) => g.kmem_accounting)).toEqual(["active", "active"]);
      expect(x.report.checks.find((c) => c.id === "kmem-accounting-active")!.seen).toContain(
        "/kubepods, /kubepods/besteffort, /kubepods/burstable (3 of 3 kubepods/QoS parents)",
      );
      for (const y of v.slice(1)) expect([y.report.fix_state, y.code, y.reboot]).toEqual(["install", 1, 1]);
    });

    test("nokmem build: switches nothing on; verify: fixed, exit 0", async () => {
      const r = await runVm({ kernel: K79, files: files(), env: env(), script: node("nokmem") });
      expect(r.rc, r.console).toBe(0);
      const s = said(r);
      expect(s.error).toBeUndefined();
      expect(s.log).toBe("cgroup-manager: ready");
      expect(s.states).toBe("off off off off off");
      expect(s.limits).toBe("536870912 67108864");
      expect(s.own).toBe("off off");
      expect(s.kmem).toBe("0 0");
      const v = verdicts(r);
      record("nokmem build of the 1.20.2 tree's cgroup code", v, "3.10.0-1160 (7.9)");
      const x = v[0]!;
      expect([x.report.fix_state, x.code, x.reboot]).toEqual(["fixed", 0, 1]);
      expect(x.report.binaries.find((b) => b.role === "kubelet")).toMatchObject({
        path: "/usr/bin/kubelet",
        verdict: "nokmem-variant-linked",
      });
      expect(x.report.cgroups.map((g) => g.kmem_accounting)).toEqual(["inactive", "inactive"]);
      for (const y of v.slice(1)) expect([y.report.fix_state, y.code, y.reboot]).toEqual(["fixed", 0, 1]);
    });
  });
}
