/**
 * Which process is the running kubelet: another user's process named kubelet never counts (real
 * processes, as root).
 */
import { describe, it, expect, afterAll } from "vitest";
import { chmod, copyFile, readFile, symlink, writeFile } from "node:fs/promises";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { execa } from "execa";
import { tmp, removeTmp, waitFor } from "./helpers.js";
import { fakeGoBinary } from "../verify/helpers/binaries.js";
import {
  SCRIPT,
  isRoot,
  Ran,
  Node,
  POD_A,
  POD_B,
  makeNode,
  AS_NOBODY,
  Report,
  report,
} from "./verify-node.js";

afterAll(removeTmp);

describe.skipIf(!isRoot)(
  "which process is the running kubelet: another user's process named kubelet never counts",
  () => {
    const started: ChildProcess[] = [];
    afterAll(() => {
      for (const p of started) p.kill("SIGKILL");
    });

    /** 3.10, the nokmem kubelet installed and running, kubepods and its QoS parent still armed: reboot. */
    async function rebootNode() {
      const node = await makeNode();
      for (const p of [POD_A, POD_B])
        for (const d of [p, `${p}/c0ffee`])
          await symlink("/proc/self/mem", join(node.cg, d, "memory.kmem.slabinfo"));
      for (const d of ["kubepods", "kubepods/burstable"])
        await writeFile(join(node.cg, d, "memory.kmem.slabinfo"), "slabinfo - version: 2.1\n");
      const bin = await tmp("kubelet-bin");
      await chmod(bin, 0o755);
      const kubelet = join(bin, "kubelet");
      // a program that runs (sleep) and carries the nokmem variant's strings
      await writeFile(
        kubelet,
        Buffer.concat([await readFile("/bin/sleep"), fakeGoBinary({ nokmem: true, tags: "nokmem" })]),
        { mode: 0o755 },
      );
      const other = await tmp("attacker");
      await chmod(other, 0o755);
      await copyFile("/bin/sleep", join(other, "kubelet"));
      await chmod(join(other, "kubelet"), 0o755);
      return { node, kubelet, fake: join(other, "kubelet") };
    }
    function startProcess(file: string, nobody: boolean): ChildProcess {
      const p = nobody
        ? spawn(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), file, "600"], { stdio: "ignore" })
        : spawn(file, ["600"], { stdio: "ignore" });
      started.push(p);
      return p;
    }
    const comm = async (pid: number) => (await readFile(`/proc/${pid}/comm`, "utf8")).trim();
    /** The attacker's processes first, then root's kubelet: restarted until every attacker pid sorts first. */
    async function processes(fakes: { file: string }[], kubelet: string) {
      for (;;) {
        const att = fakes.map((f) => startProcess(f.file, true));
        const kub = startProcess(kubelet, false);
        await waitFor(
          "the processes to run as kubelet",
          async () => {
            for (const p of [...att, kub])
              if ((await comm(p.pid!).catch(() => "")) !== "kubelet") return undefined;
            return true;
          },
          10_000,
        );
        if (att.every((a) => String(a.pid) < String(kub.pid))) return { att, kub };
        for (const p of [...att, kub]) p.kill("SIGKILL");
      }
    }
    const link = (node: Node, pid: number) => symlink(`/proc/${pid}`, join(node.proc, String(pid)));
    async function ask(node: Node, kubelet: string, fmt: string): Promise<Ran> {
      const r = await execa(
        "sh",
        [
          SCRIPT,
          "--cgroup-root",
          node.cg,
          "--proc-root",
          node.proc,
          "--kubelet",
          kubelet,
          "--runtime",
          "/bin/true",
          fmt,
        ],
        { reject: false, stdin: "ignore", timeout: 60_000 },
      );
      return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    }
    type Fix = Report & {
      fix_state: string;
      fix_summary: string;
      running_kubelet: { pid: number; found_by: string; matches: string } | null;
    };

    it("a renamed sleep of nobody's at a lower pid (and nobody running the kubelet file itself) does not turn reboot into restart", async () => {
      const { node, kubelet, fake } = await rebootNode();
      const { att, kub } = await processes([{ file: fake }, { file: kubelet }], kubelet);
      await link(node, kub.pid!);
      const alone = report(await ask(node, kubelet, "--json")) as Fix;
      expect(alone.fix_state).toBe("reboot");
      expect(alone.running_kubelet).toMatchObject({ pid: kub.pid, found_by: "proc", matches: "same" });
      expect((await ask(node, kubelet, "--reboot-required")).code).toBe(0);

      for (const a of att) await link(node, a.pid!); // they sort first: the first process named kubelet
      const bent = report(await ask(node, kubelet, "--json")) as Fix;
      expect(bent.fix_state).toBe("reboot");
      expect(bent.running_kubelet).toEqual(alone.running_kubelet);
      const rr = await ask(node, kubelet, "--reboot-required");
      expect(rr.code).toBe(0);
      expect(rr.stdout).toBe("");
    });

    it("only processes that cannot be the kubelet, or two that could: cannot tell (--reboot-required exits 2)", async () => {
      const { node, kubelet, fake } = await rebootNode();
      const { att, kub } = await processes([{ file: fake }], kubelet);
      await link(node, att[0]!.pid!);
      let r = report(await ask(node, kubelet, "--json")) as Fix;
      expect(r.fix_state).toBe("unknown");
      expect(r.fix_summary).toContain(
        `cannot tell which process is the kubelet: processes named kubelet (pids ${att[0]!.pid}), none of them root's running ${kubelet} (pass --kubelet-pid PID)`,
      );
      expect(r.running_kubelet).toBeNull();
      expect((await ask(node, kubelet, "--reboot-required")).code).toBe(2);

      const second = startProcess(kubelet, false); // a second root kubelet of the same file
      await waitFor(
        "a second kubelet",
        async () => (await comm(second.pid!).catch(() => "")) === "kubelet",
        10_000,
      );
      await link(node, kub.pid!);
      await link(node, second.pid!);
      r = report(await ask(node, kubelet, "--json")) as Fix;
      expect(r.fix_state).toBe("unknown");
      expect(r.fix_summary).toMatch(
        /cannot tell which process is the kubelet: pids \d+ \d+ are all root's and run /,
      );
      expect((await ask(node, kubelet, "--reboot-required")).code).toBe(2);
      // the operator names it: that answers
      const named = await execa(
        "sh",
        [
          SCRIPT,
          "--cgroup-root",
          node.cg,
          "--proc-root",
          node.proc,
          "--kubelet",
          kubelet,
          "--runtime",
          "/bin/true",
        ].concat(["--kubelet-pid", String(kub.pid), "--reboot-required"]),
        { reject: false, stdin: "ignore" },
      );
      expect(named.exitCode).toBe(0);
    });
  },
);
