/**
 * verify-kmem.sh --cache-dir: binary verdicts kept between runs. Replaced and touched binaries are read
 * again; a forged cache entry never turns a FAIL into a PASS; an unwritable cache directory only costs
 * the full read.
 */
import { describe, it, expect, afterAll } from "vitest";
import {
  chmod,
  chown,
  lstat,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  utimes,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { tmp, removeTmp } from "./helpers.js";
import { fakeGoBinary } from "../verify/helpers/binaries.js";
import {
  SCRIPT,
  isRoot,
  Node,
  accountingOff,
  makeNode,
  AS_NOBODY,
  Report,
  report,
  check,
} from "./verify-node.js";

afterAll(removeTmp);

describe("binary verdicts kept between runs (--cache-dir)", () => {
  /** A fake kubelet of a fixed size: with or without runc's kmem-enabling code. */
  const kubeletBytes = (kmem: boolean) => {
    const b = fakeGoBinary(kmem ? { kmem: true } : { nokmem: true });
    return Buffer.concat([b, Buffer.alloc(16384 - b.length, 0x2e)]);
  };
  async function setup(kmem: boolean): Promise<{ node: Node; kubelet: string; cache: string }> {
    const node = await makeNode();
    await accountingOff(node);
    const d = await tmp("bins");
    await chmod(d, 0o755);
    const kubelet = join(d, "kubelet");
    await writeFile(kubelet, kubeletBytes(kmem), { mode: 0o755 });
    const cache = await tmp("cache");
    await chmod(cache, 0o777); // an emptyDir: anyone in the pod may write there
    return { node, kubelet, cache };
  }
  type BinReport = Report & { binaries: { role: string; verdict: string | null; reused?: boolean }[] };
  async function run(node: Node, kubelet: string, cache: string | null, nobody = false) {
    const args = [
      "sh",
      SCRIPT,
      "--cgroup-root",
      node.cg,
      "--proc-root",
      node.proc,
      "--kubelet",
      kubelet,
      "--runtime",
      kubelet,
      ...(cache ? ["--cache-dir", cache] : []),
      "--json",
    ];
    const cmd = nobody ? [...AS_NOBODY, ...args] : args;
    const r = await execa(cmd[0]!, cmd.slice(1), { reject: false, stdin: "ignore" });
    const rep = report({
      code: r.exitCode ?? -1,
      stdout: String(r.stdout),
      stderr: String(r.stderr),
    }) as BinReport;
    const kb = rep.binaries.find((b) => b.role === "kubelet")!;
    return {
      code: r.exitCode,
      rep,
      kb,
      seen: check(rep, "kubelet-binary").seen,
      status: check(rep, "kubelet-binary").status,
    };
  }

  it("an unchanged kubelet keeps its verdict; a replaced one (same size and mtime) is read again", async () => {
    const { node, kubelet, cache } = await setup(false);
    const first = await run(node, kubelet, cache);
    expect(first.kb).toMatchObject({ verdict: "nokmem-variant-linked", reused: false });
    const second = await run(node, kubelet, cache);
    expect(second.kb).toMatchObject({ verdict: "nokmem-variant-linked", reused: true });
    expect(second.seen).toContain(
      "verdict reused: identity (device, inode, size, mtime, ctime) unchanged since the last run",
    );
    expect(second.rep.binaries.every((b) => b.reused)).toBe(true);
    // replaced by rename with a kmem build of the same size, its mtime set to the old one's
    const old = await lstat(kubelet);
    const next = `${kubelet}.new`;
    await writeFile(next, kubeletBytes(true), { mode: 0o755 });
    await utimes(next, old.atime, old.mtime);
    await rename(next, kubelet);
    expect((await lstat(kubelet)).size).toBe(old.size);
    const third = await run(node, kubelet, cache);
    expect(third.kb).toMatchObject({ verdict: "kmem-code-linked", reused: false });
    expect(third.status).toBe("FAIL");
    expect(third.code).toBe(1);
  });

  it("a touched kubelet (mtime changed, content the same) is read again", async () => {
    const { node, kubelet, cache } = await setup(false);
    await run(node, kubelet, cache);
    const later = new Date(Date.now() + 5000);
    await utimes(kubelet, later, later);
    expect((await run(node, kubelet, cache)).kb.reused).toBe(false);
    expect((await run(node, kubelet, cache)).kb.reused).toBe(true);
  });

  it("content changed in place with size and mtime put back: the ctime still changes, read again", async () => {
    const { node, kubelet, cache } = await setup(false);
    await run(node, kubelet, cache);
    const old = await lstat(kubelet);
    await writeFile(kubelet, kubeletBytes(true));
    await utimes(kubelet, old.atime, old.mtime);
    const r = await run(node, kubelet, cache);
    expect(r.kb).toMatchObject({ verdict: "kmem-code-linked", reused: false });
    expect(r.status).toBe("FAIL");
  });

  it.skipIf(!isRoot)("a forged cache entry does not turn FAIL into PASS", async () => {
    const { node, kubelet, cache } = await setup(true);
    const first = await run(node, kubelet, cache);
    expect(first.status).toBe("FAIL");
    const dir = join(cache, "verify-kmem.0");
    const file = join(dir, "binaries");
    const genuine = await readFile(file, "utf8");
    // the forger rewrites the kmem count to 0 and a nokmem count of 1 for the same identity
    const forged = genuine
      .split("\n")
      .map((l) => l.replace(/^([^\t]*\t[^\t]*)\t\d+\t\d+\t/, "$1\t0\t1\t"))
      .join("\n");
    expect(forged).not.toBe(genuine);
    // (a) a file others may write (a forger's chmod, or one left group-writable): ignored
    await writeFile(file, forged);
    await chmod(file, 0o666);
    let r = await run(node, kubelet, cache);
    expect(r.status).toBe("FAIL");
    expect(r.kb).toMatchObject({ verdict: "kmem-code-linked", reused: false });
    expect(r.seen).toContain("verdict cache not used: ");
    expect(r.seen).toContain("binaries ignored: not a file of uid 0 that only it may write");
    // (b) a file owned by another user (nobody wrote it): ignored
    await rm(file, { force: true });
    await writeFile(file, forged, { mode: 0o600 });
    await chown(file, 65534, 65534);
    r = await run(node, kubelet, cache);
    expect(r.status).toBe("FAIL");
    expect(r.kb.reused).toBe(false);
    // (c) the directory planted by another user before root's first run: ignored
    const other = await setup(true);
    const planted = join(other.cache, "verify-kmem.0");
    await mkdir(planted, { mode: 0o700 });
    await writeFile(join(planted, "binaries"), forged.replaceAll(kubelet, other.kubelet), { mode: 0o600 });
    await chown(join(planted, "binaries"), 65534, 65534);
    await chown(planted, 65534, 65534);
    r = await run(other.node, other.kubelet, other.cache);
    expect(r.status).toBe("FAIL");
    expect(r.seen).toMatch(
      /verdict cache not used: .*verify-kmem\.0 is not a directory of uid 0 with mode 700 \(65534 700 directory\)/,
    );
    // (d) root's own file with an entry for another identity: not used for this one
    await run(node, kubelet, cache); // a fresh genuine cache again
    const bad = (await readFile(file, "utf8")).replace(
      /^([^\t]*)\t[^\t]*\t\d+\t\d+\t/gm,
      "$1\t1:2:3:x:y\t0\t1\t",
    );
    await writeFile(file, bad);
    r = await run(node, kubelet, cache);
    expect(r.status).toBe("FAIL");
    expect(r.kb.reused).toBe(false);
  });

  it.skipIf(!isRoot)(
    "a cache directory the checker may not write to: read in full, said so, same result",
    async () => {
      const { node, kubelet, cache } = await setup(false);
      await chmod(cache, 0o755); // root's, and nobody runs the check
      const without = await run(node, kubelet, null, true);
      const r1 = await run(node, kubelet, cache, true);
      const r2 = await run(node, kubelet, cache, true);
      for (const r of [r1, r2]) {
        expect(r.kb).toMatchObject({ verdict: "nokmem-variant-linked", reused: false });
        expect(r.seen).toContain(`verdict cache not used: cannot create ${cache}/verify-kmem.65534`);
        expect(r.code).toBe(without.code);
        expect(r.status).toBe(without.status);
      }
      expect(await readdir(cache)).toEqual([]);
    },
  );
});
