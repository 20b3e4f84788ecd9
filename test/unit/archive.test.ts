import { describe, it, expect } from "vitest";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scanArchive } from "../../src/pipeline/steps/check-source.js";
import { UsageError } from "../../src/errors.js";
import { tarGz, MINIMAL_TREE, type RawEntry } from "../helpers/tarball.js";

async function archive(entries: RawEntry[] | Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kmem-tar-"));
  const file = join(dir, "kubernetes-src.tar.gz");
  await writeFile(file, Buffer.isBuffer(entries) ? entries : tarGz(entries));
  return file;
}

describe("archive scan", () => {
  it("accepts the official layout (no top-level directory) and reads recorded files", async () => {
    const f = await archive([...MINIMAL_TREE, { path: ".go-version", body: "1.16.15\n", mtime: 1700000000 }]);
    const scan = await scanArchive(f, [".go-version"]);
    expect(scan).toMatchObject({
      strip: 0,
      hasKubelet: true,
      maxMtime: 1700000000,
      files: { ".go-version": "1.16.15\n" },
    });
  });

  it("strips the single top-level directory of GitHub archives", async () => {
    const f = await archive([
      { path: "kubernetes-1.20.15/", type: "dir" },
      ...MINIMAL_TREE.map((e) => ({ ...e, path: `kubernetes-1.20.15/${e.path}` })),
      { path: "kubernetes-1.20.15/build/build-image/cross/VERSION", body: "v1.15.15-1\n" },
    ]);
    const scan = await scanArchive(f, ["build/build-image/cross/VERSION"]);
    expect(scan).toMatchObject({
      strip: 1,
      hasKubelet: true,
      files: { "build/build-image/cross/VERSION": "v1.15.15-1\n" },
    });
  });

  it("allows relative symlinks that stay inside the tree (staging/ in real trees)", async () => {
    const f = await archive([
      ...MINIMAL_TREE,
      { path: "vendor/k8s.io/api", type: "symlink", linkpath: "../../staging/src/k8s.io/api" },
    ]);
    await expect(scanArchive(f, [])).resolves.toMatchObject({ hasKubelet: true });
  });

  it.each<[string, RawEntry, RegExp]>([
    ["a ../ path", { path: "../evil", body: "x" }, /"\.\.\/evil" points outside/],
    ["a nested ../ path", { path: "cmd/../../evil", body: "x" }, /points outside/],
    ["an absolute path", { path: "/etc/evil", body: "x" }, /"\/etc\/evil" points outside/],
    [
      "a symlink to an absolute path",
      { path: "link", type: "symlink", linkpath: "/etc/passwd" },
      /symbolic link to \/etc\/passwd, outside/,
    ],
    [
      "a symlink climbing out",
      { path: "cmd/link", type: "symlink", linkpath: "../../outside" },
      /symbolic link to \.\.\/\.\.\/outside, outside/,
    ],
    [
      "a hard link to outside",
      { path: "hl", type: "hardlink", linkpath: "../outside" },
      /hard link to \.\.\/outside/,
    ],
    ["a device file", { path: "dev", type: "chardev" }, /is a CharacterDevice/],
    ["a fifo", { path: "fifo", type: "fifo" }, /is a FIFO/],
  ])("refuses %s", async (_what, bad, message) => {
    const f = await archive([...MINIMAL_TREE, bad]);
    const err = await scanArchive(f, []).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(message);
  });

  it("refuses an empty archive", async () => {
    await expect(scanArchive(await archive([]), [])).rejects.toThrow(/the archive is empty/);
  });

  it("refuses a file that is not gzip", async () => {
    await expect(scanArchive(await archive(Buffer.from("<html>not found</html>")), [])).rejects.toThrow(
      /cannot read .* as a gzip-compressed tar archive/,
    );
  });

  it("refuses a truncated archive", async () => {
    const whole = tarGz([...MINIMAL_TREE, { path: "big", body: "x".repeat(200_000) }]);
    await expect(
      scanArchive(await archive(whole.subarray(0, Math.floor(whole.length / 2))), []),
    ).rejects.toThrow(UsageError);
  });

  it("notices a tree without cmd/kubelet", async () => {
    const scan = await scanArchive(await archive([{ path: "README.md", body: "hi" }]), []);
    expect(scan.hasKubelet).toBe(false);
  });
});

describe("a decompression bomb", () => {
  it("a ~260 KB gzip of a huge tar is refused within seconds, before it is all read", async () => {
    const zero = Buffer.alloc(1 << 20);
    const parts: Buffer[] = [];
    const { gzipSync, gunzipSync } = await import("node:zlib");
    const head = gunzipSync(tarGz(MINIMAL_TREE)).subarray(0, -1024);
    const big = Buffer.alloc(512);
    big.write("bomb", 0);
    big.write("0000644\0", 100);
    big.write("77777777777\0", 124); // 8 GiB of file contents
    big.write("        ", 148);
    big.write("0", 156);
    big.write("ustar\u000000", 257, "latin1");
    let sum = 0;
    for (const b of big) sum += b;
    big.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
    parts.push(head, big, ...Array.from({ length: 256 }, () => zero));
    const bomb = gzipSync(Buffer.concat(parts), { level: 9 });
    expect(bomb.length).toBeLessThan(400_000);
    const f = await archive(bomb);
    const t = Date.now();
    await expect(scanArchive(f, [])).rejects.toThrow(
      /looks like a decompression bomb: it inflates more than 100 times/,
    );
    expect(Date.now() - t).toBeLessThan(5000);
  });
});
