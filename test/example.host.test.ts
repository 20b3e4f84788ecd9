/**
 * scripts/make-example.sh: the bundled example trees, packed like the official source tarball
 * (no top directory, deterministic) or like GitHub's archive (kubernetes-<version>/ top directory).
 * No compiling here: the pipeline tests build these trees in podman.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execa } from "execa";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = join(REPO, "scripts", "make-example.sh");
const PATCH = join(REPO, "patches", "runc-pre-rc6-nokmem.patch");
const FS = "vendor/github.com/opencontainers/runc/libcontainer/cgroups/fs";
const FAILED_TO_SET =
  "failed to set %s, because either tasks have already joined this cgroup or it has children";
const DISABLED = "kernel memory accounting disabled in this runc build";

const made: string[] = [];
const tmp = async (p: string) => {
  const dir = await mkdtemp(join(tmpdir(), p));
  made.push(dir);
  return dir;
};
afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));
const make = (args: string[]) => execa("sh", [SCRIPT, ...args], { reject: false });

/** `tar -tv` of a .tar.gz: name, mode string, owner, mtime of every entry, in archive order. */
async function listing(tarball: string) {
  const r = await execa("tar", ["--numeric-owner", "--full-time", "-tvzf", tarball], { env: { TZ: "UTC" } });
  return r.stdout.split("\n").map((line) => {
    const [mode, owner, , date, time, ...name] = line.split(/\s+/);
    return { mode: mode!, owner: owner!, mtime: `${date} ${time}`, name: name.join(" ") };
  });
}

describe("make-example.sh: official source tarball layout", () => {
  let a: string;
  let b: string;
  beforeAll(async () => {
    a = await tmp("kmem-ex-a-");
    b = await tmp("kmem-ex-b-");
    const ra = await make(["--stable", "tag-era", "1.20.15", a]);
    const rb = await make(["--stable", "tag-era", "-", b]); // "-" = the era's default version
    expect(ra.exitCode, ra.stderr).toBe(0);
    expect(rb.exitCode, rb.stderr).toBe(0);
    expect(ra.stdout.split("\n")).toEqual([
      join(a, "v1.20.15", "kubernetes-src.tar.gz"),
      join(a, "v1.20.15", "kubernetes-src.tar.gz.sha512"),
      join(a, "release", "stable-1.20.txt"),
    ]);
  });

  it("is byte-identical when made twice", async () => {
    const [x, y] = await Promise.all([
      readFile(join(a, "v1.20.15", "kubernetes-src.tar.gz")),
      readFile(join(b, "v1.20.15", "kubernetes-src.tar.gz")),
    ]);
    expect(x.length).toBeGreaterThan(1000);
    expect(x.equals(y)).toBe(true);
    // gzip -n: no file name, no timestamp in the gzip header
    expect(x.readUInt32LE(4)).toBe(0);
    expect(x[3]! & 0x08).toBe(0);
  });

  it("has no top directory, sorted names, owner 0/0, one fixed mtime, normalised modes", async () => {
    const entries = await listing(join(a, "v1.20.15", "kubernetes-src.tar.gz"));
    const names = entries.map((e) => e.name);
    expect(names).toContain("Makefile");
    expect(names).toContain("cmd/kubelet/main.go");
    expect(names).toContain("build/build-image/cross/VERSION");
    expect(names).toContain(`${FS}/kmem.go`);
    expect(names).toContain(`${FS}/kmem_disabled.go`);
    expect(names.some((n) => n.startsWith("kubernetes") || n.startsWith("./") || n.startsWith("/"))).toBe(
      false,
    );
    expect(names.some((n) => n.includes("_output") || n.includes("eras/"))).toBe(false);
    expect(names).toEqual([...names].sort((p, q) => Buffer.compare(Buffer.from(p), Buffer.from(q))));
    expect(new Set(entries.map((e) => e.owner))).toEqual(new Set(["0/0"]));
    expect(new Set(entries.map((e) => e.mtime))).toEqual(new Set(["2020-01-01 00:00:00"]));
    for (const e of entries) {
      const want = e.name.endsWith("/")
        ? "drwxr-xr-x"
        : e.name.endsWith("build.sh")
          ? "-rwxr-xr-x"
          : "-rw-r--r--";
      expect(`${e.name} ${e.mode}`).toBe(`${e.name} ${want}`);
    }
  });

  it("writes the sha512 as a bare hex digest and the stable marker as v<version>", async () => {
    const tarball = join(a, "v1.20.15", "kubernetes-src.tar.gz");
    const digest = createHash("sha512")
      .update(await readFile(tarball))
      .digest("hex");
    expect(await readFile(`${tarball}.sha512`, "utf8")).toBe(digest);
    expect(await readFile(join(a, "release", "stable-1.20.txt"), "utf8")).toBe("v1.20.15");
  });

  it("names the builder image of the era", async () => {
    const r = await execa("tar", [
      "-xzOf",
      join(a, "v1.20.15", "kubernetes-src.tar.gz"),
      "build/build-image/cross/VERSION",
    ]);
    expect(r.stdout).toBe("v1.15.15-legacy-1");
  });

  it("honours --epoch / SOURCE_DATE_EPOCH for the entry mtimes", async () => {
    const c = await tmp("kmem-ex-c-");
    const r = await execa("sh", [SCRIPT, "tag-era", "1.20.15", c], {
      env: { SOURCE_DATE_EPOCH: "1647388800" },
    });
    expect(r.exitCode).toBe(0);
    const entries = await listing(join(c, "v1.20.15", "kubernetes-src.tar.gz"));
    expect(new Set(entries.map((e) => e.mtime))).toEqual(new Set(["2022-03-16 00:00:00"]));
  });
});

describe("make-example.sh --top-dir: GitHub archive layout", () => {
  it("puts everything below kubernetes-<version>/ at the github.com archive path", async () => {
    const out = await tmp("kmem-ex-gh-");
    const r = await make(["--top-dir", "post-fix", "v1.21.14", out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const tarball = join(out, "kubernetes", "kubernetes", "archive", "refs", "tags", "v1.21.14.tar.gz");
    expect(r.stdout).toBe(tarball);
    const names = (await listing(tarball)).map((e) => e.name);
    expect(names[0]).toBe("kubernetes-1.21.14/");
    expect(names.every((n) => n.startsWith("kubernetes-1.21.14/"))).toBe(true);
    expect(names).toContain("kubernetes-1.21.14/cmd/kubelet/main.go");
    expect(await readdir(out)).toEqual(["kubernetes"]); // no dl.k8s.io files, no .sha512
  });
});

describe("make-example.sh: the era trees", () => {
  const tree = async (era: string, version = "-") => {
    const dir = join(await tmp(`kmem-ex-${era}-`), "tree");
    const r = await make(["--tree", dir, era, version, await tmp("kmem-ex-out-")]);
    expect(r.exitCode, r.stderr).toBe(0);
    return dir;
  };
  const read = (dir: string, p: string) => readFile(join(dir, p), "utf8");
  const exists = (dir: string, p: string) =>
    stat(join(dir, p)).then(
      () => true,
      () => false,
    );

  it("tag era: kmem.go (linux,!nokmem) and kmem_disabled.go (linux,nokmem), module mode", async () => {
    const dir = await tree("tag-era");
    const kmem = await read(dir, `${FS}/kmem.go`);
    expect(kmem).toContain("//go:build linux && !nokmem\n// +build linux,!nokmem\n");
    expect(kmem).toContain(FAILED_TO_SET);
    const disabled = await read(dir, `${FS}/kmem_disabled.go`);
    expect(disabled).toContain("// +build linux,nokmem\n");
    expect(disabled).toContain(DISABLED);
    expect(await exists(dir, "go.mod")).toBe(true);
    expect(await read(dir, "Makefile")).toContain("hack/make-rules/build.sh $(WHAT)");
    expect((await stat(join(dir, "hack/make-rules/build.sh"))).mode & 0o111).toBe(0o111);
  });

  it("patch era: kernel memory code in memory.go with only // +build linux; the patch applies once", async () => {
    const dir = await tree("patch-era");
    const memory = await read(dir, `${FS}/memory.go`);
    expect(memory.startsWith("// +build linux\n\npackage fs\n")).toBe(true);
    expect(memory).toContain(FAILED_TO_SET);
    expect(await exists(dir, `${FS}/kmem.go`)).toBe(false);
    expect(await exists(dir, "go.mod")).toBe(false);
    expect(await exists(dir, "Godeps/Godeps.json")).toBe(true);
    const apply = await execa("patch", ["-p1", "--forward", "-i", PATCH], { cwd: dir, reject: false });
    expect(apply.exitCode, apply.stdout).toBe(0);
    expect(await read(dir, `${FS}/kmem_disabled.go`)).toContain(DISABLED);
    expect(await read(dir, `${FS}/memory.go`)).not.toMatch(
      /^func (EnableKernelMemoryAccounting|setKernelMemory)\(/m,
    );
    const again = await execa("patch", ["-p1", "--forward", "--dry-run", "-i", PATCH], {
      cwd: dir,
      reject: false,
    });
    expect(again.exitCode).not.toBe(0);
  });

  it("the patch does not apply to the tag-era tree", async () => {
    const dir = await tree("tag-era");
    const r = await execa("patch", ["-p1", "--forward", "--dry-run", "-i", PATCH], {
      cwd: dir,
      reject: false,
    });
    expect(r.exitCode).not.toBe(0);
  });

  it("post-fix: no kernel memory code at all", async () => {
    const dir = await tree("post-fix");
    expect(await exists(dir, `${FS}/kmem.go`)).toBe(false);
    expect(await exists(dir, `${FS}/kmem_disabled.go`)).toBe(false);
    const memory = await read(dir, `${FS}/memory.go`);
    expect(memory).not.toContain(FAILED_TO_SET);
    expect(memory).not.toContain("KernelMemoryAccounting");
    expect(await exists(dir, ".go-version")).toBe(false); // 1.21.14 predates .go-version
  });

  it("newer trees also carry .go-version", async () => {
    const dir = await tree("post-fix", "1.27.3");
    expect(await read(dir, ".go-version")).toMatch(/^1\.\d+\.\d+\n$/);
  });

  it("broken-tag: the tag-era sources with a Makefile that drops GOFLAGS", async () => {
    const dir = await tree("broken-tag");
    expect(await read(dir, "Makefile")).toContain("GOFLAGS= hack/make-rules/build.sh $(WHAT)");
    expect(await read(dir, `${FS}/kmem.go`)).toContain(FAILED_TO_SET);
  });
});

describe("make-example.sh: usage errors", () => {
  it.each([
    [["tag-era", "1.20.15"]],
    [["nope", "1.20.15", "/tmp/x"]],
    [["tag-era", "1.20", "/tmp/x"]],
    [["--bogus", "tag-era", "1.20.15", "/tmp/x"]],
  ])("exits 2 for %j", async (args) => {
    const r = await make(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).not.toBe("");
  });
});
