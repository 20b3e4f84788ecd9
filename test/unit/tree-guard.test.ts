/**
 * What the archive listing cannot promise, the tree on disk must show. The
 * tree checked with lstat after extraction (and a --source directory before it is read), host-side
 * steps that never go through a link, and archive paths normalised the way tar writes them.
 */
import { describe, it, expect } from "vitest";
import { mkdtemp, mkdir, writeFile, symlink, link, readFile, lstat, readdir } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkTree,
  ensureDirIn,
  writeFileIn,
  removeFileIn,
  isRegularFileIn,
} from "../../src/util/tree-guard.js";
import { scanArchive } from "../../src/pipeline/steps/check-source.js";
import { tarGz, MINIMAL_TREE } from "../helpers/tarball.js";

async function tree(): Promise<{ root: string; outside: string }> {
  const base = await mkdtemp(join(tmpdir(), "kmem-tree-guard-"));
  const root = join(base, "src");
  const outside = join(base, "outside");
  await mkdir(join(root, "cmd", "kubelet"), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, "precious"), "keep me\n");
  await writeFile(join(root, "cmd", "kubelet", "main.go"), "package main\n");
  return { root, outside };
}

describe("the tree on disk (checkTree)", () => {
  it("accepts links that stay inside and counts the entries", async () => {
    const { root } = await tree();
    await symlink("cmd/kubelet", join(root, "k"));
    await link(join(root, "cmd", "kubelet", "main.go"), join(root, "main-copy.go"));
    expect(await checkTree(root)).toBe(5);
  });
  it.each([
    [
      "an absolute link",
      (r: string, o: string) => symlink(o, join(r, ".kmem-build")),
      /\.kmem-build is a symbolic link to \//,
    ],
    [
      "a ../.. link",
      (r: string) => symlink("../outside", join(r, "_output")),
      /_output is a symbolic link to \.\.\/outside, outside the tree/,
    ],
    [
      "a link that leaves through another link",
      async (r: string) => {
        await symlink(".", join(r, "a"));
        await symlink("a/..", join(r, "b"));
      },
      /b is a symbolic link to a\/\.\. that resolves to .*, outside the tree/,
    ],
    [
      "a hard link to a file outside",
      (r: string, o: string) => link(join(o, "precious"), join(r, "h")),
      /h is a hard link to a file outside the tree/,
    ],
    [
      "a fifo",
      (r: string) => Promise.resolve(execFileSync("mkfifo", [join(r, "p")])),
      /p is a device, fifo or socket/,
    ],
  ])("refuses %s", async (_what, make, message) => {
    const { root, outside } = await tree();
    await make(root, outside);
    await expect(checkTree(root)).rejects.toThrow(message);
  });
});

describe("host-side steps never go through a link in the tree", () => {
  it("writing the version file through a planted .kmem-build link is refused; the target is untouched", async () => {
    const { root, outside } = await tree();
    await symlink(outside, join(root, ".kmem-build"));
    await expect(writeFileIn(root, ".kmem-build/version.env", "x")).rejects.toThrow(
      /\.kmem-build is a symbolic link/,
    );
    expect(await readdir(outside)).toEqual(["precious"]);
  });
  it("a planted file link is replaced, never written through", async () => {
    const { root, outside } = await tree();
    await mkdir(join(root, ".kmem-build"));
    await symlink(join(outside, "precious"), join(root, ".kmem-build", "version.env"));
    await writeFileIn(root, ".kmem-build/version.env", "KUBE_GIT_VERSION=v1.20.2\n");
    expect(await readFile(join(outside, "precious"), "utf8")).toBe("keep me\n");
    expect((await lstat(join(root, ".kmem-build", "version.env"))).isFile()).toBe(true);
  });
  it("the Go cache directory and the old kubelet: links refused, the link itself removed, never its target", async () => {
    const { root, outside } = await tree();
    await symlink(outside, join(root, "_output"));
    await expect(ensureDirIn(root, "_output/local/go/cache")).rejects.toThrow(/_output is a symbolic link/);
    await expect(removeFileIn(root, "_output/local/bin/linux/amd64/kubelet")).rejects.toThrow(
      /_output is a symbolic link/,
    );
    const { root: r2, outside: o2 } = await tree();
    await mkdir(join(r2, "_output", "local", "bin", "linux", "amd64"), { recursive: true });
    await symlink(join(o2, "precious"), join(r2, "_output/local/bin/linux/amd64/kubelet"));
    await expect(isRegularFileIn(r2, "_output/local/bin/linux/amd64/kubelet")).rejects.toThrow(
      /symbolic link/,
    );
    await removeFileIn(r2, "_output/local/bin/linux/amd64/kubelet");
    expect(await readFile(join(o2, "precious"), "utf8")).toBe("keep me\n");
  });
});

describe("archive paths as tar writes them", () => {
  async function archiveOf(entries: Parameters<typeof tarGz>[0]): Promise<string> {
    const f = join(await mkdtemp(join(tmpdir(), "kmem-tree-guard-tar-")), "src.tar.gz");
    await writeFile(f, tarGz(entries));
    return f;
  }
  it("`tar -czf x.tar.gz .` around kubernetes-1.20.2/: accepted, two components stripped for GNU tar", async () => {
    const f = await archiveOf([
      { path: "./", type: "dir" },
      { path: "./kubernetes-1.20.2/", type: "dir" },
      ...MINIMAL_TREE.map((e) => ({ ...e, path: `./kubernetes-1.20.2/${e.path}` })),
    ]);
    const scan = await scanArchive(f, []);
    expect(scan.hasKubelet).toBe(true);
    expect(scan.strip).toBe(2);
    const out = await mkdtemp(join(tmpdir(), "kmem-tree-guard-x-"));
    execFileSync("tar", ["-xzf", f, "-C", out, `--strip-components=${scan.strip}`]);
    expect((await lstat(join(out, "cmd", "kubelet", "main.go"))).isFile()).toBe(true);
  });
  it("a link named k/./l next to k/l/f is refused (the same path once normalised)", async () => {
    const f = await archiveOf([
      ...MINIMAL_TREE,
      { path: "k/", type: "dir" },
      { path: "k/./l", type: "symlink", linkpath: "../cmd" },
      { path: "k/l/f", body: "x" },
    ]);
    await expect(scanArchive(f, [])).rejects.toThrow(/lies beneath the symbolic link k\/l/);
  });
});
