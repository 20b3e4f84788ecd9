/**
 * Where the CLI writes, attacked without a container engine: output directories that hold someone
 * else's files, links planted where a report goes, and a cache that is a file or sits in the
 * source tree. Each is refused with a usage error (exit 2) and nothing there changes; an earlier
 * output of the same command (its marker) is still replaced.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { buildRpm } from "../../src/package/rpm.js";
import { writeSha256Sums } from "../../src/package/checksums.js";
import { SDE, standInKubelet } from "../package/helpers.js";
import * as S from "../verify/helpers/scenarios.js";
import { kb, tmp, removeTmp, listTree } from "./helpers.js";

afterAll(removeTmp);

/** No network: an unroutable base URL makes any download attempt fail loudly instead. */
const OFFLINE = { KMEM_BUILD_BASE_URL: "http://127.0.0.1:9" };

function expectUsage(r: { code: number; stderr: string }) {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/internal error| {4}at /);
}

/** A folder of someone's notes, and what it holds (names and contents). */
async function notes(dir: string): Promise<Map<string, string>> {
  await mkdir(join(dir, "sub"), { recursive: true });
  await writeFile(join(dir, "todo.txt"), "call the vendor\n");
  await writeFile(join(dir, "sub", "index.html"), "<p>another site</p>\n");
  return snapshot(dir);
}

async function snapshot(dir: string): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for (const p of await listTree(dir))
    m.set(p, p.endsWith("/") ? "" : await readFile(join(dir, p), "utf8").catch(() => "?"));
  return m;
}

describe("kmem-build repo --out", () => {
  let dist: string;

  beforeAll(async () => {
    dist = join(await tmp("dist"), "dist");
    const dir = join(dist, "1.20.15");
    const work = await tmp("rpm-work");
    const built = await buildRpm({
      version: "1.20.15",
      release: "2.nokmem",
      arch: "amd64",
      binary: await standInKubelet(work, "1.20.15"),
      sourceDateEpoch: SDE,
      workDir: work,
      outDir: dir,
    });
    await writeSha256Sums(dir, [built.file]);
  });

  it("a directory holding other files (a web root, a folder of notes) is refused and left whole", async () => {
    const web = await tmp("webroot");
    const before = await notes(web);
    const r = await kb(["repo", "--from", dist, "--out", web]);
    expectUsage(r);
    expect(r.stderr).toContain(`error: --out ${web} exists and holds files kmem-build repo did not write`);
    expect(r.stderr).toContain("nothing was deleted");
    expect(r.stderr).toMatch(/hint: give a new or empty directory/);
    expect(await snapshot(web)).toEqual(before);
  });

  it("--out naming a symbolic link to a directory is refused; the directory it points to is untouched", async () => {
    const web = await tmp("webroot");
    const before = await notes(web);
    const link = join(await tmp("links"), "repo");
    await symlink(web, link);
    const r = await kb(["repo", "--from", dist, "--out", link]);
    expectUsage(r);
    expect(r.stderr).toContain(`error: --out ${link} exists and is not a directory (a symbolic link)`);
    expect(await snapshot(web)).toEqual(before);
  });

  it("--out . in a folder of notes is refused the same way", async () => {
    const here = await tmp("cwd");
    const before = await notes(here);
    const r = await kb(["repo", "--from", dist, "--out", "."], { cwd: here });
    expectUsage(r);
    expect(r.stderr).toContain("error: --out . exists and holds files kmem-build repo did not write");
    expect(await snapshot(here)).toEqual(before);
  });

  it("its own earlier repository (it holds the marker) is replaced whole; an empty directory is taken", async () => {
    const parent = await tmp("repo-parent");
    const out = join(parent, "repo");
    await mkdir(out);
    expect((await kb(["repo", "--from", dist, "--out", out])).code).toBe(0);
    expect(await readFile(join(out, ".kmem-build-repo"), "utf8")).toMatch(
      /^written by kmem-build .*\(kmem-build repo\)/,
    );
    await writeFile(join(out, "stale.txt"), "left by the old repository\n");
    const again = await kb(["repo", "--from", dist, "--out", out]);
    expect(again.code, again.stderr).toBe(0);
    expect((await readdir(out)).sort()).toEqual([".kmem-build-repo", "1.20"]);
    expect(await readdir(parent)).toEqual(["repo"]); // no staging or old directory left
  });

  it("a marker that is a link, or has other text, does not make a directory ours", async () => {
    const out = await tmp("forged");
    await writeFile(join(out, "keep.txt"), "mine\n");
    await writeFile(join(out, "real-marker"), "written by kmem-build 1 (kmem-build repo)\n");
    await symlink("real-marker", join(out, ".kmem-build-repo"));
    expectUsage(await kb(["repo", "--from", dist, "--out", out]));
    expect(await readdir(out)).toContain("keep.txt");
    const out2 = await tmp("forged2");
    await writeFile(join(out2, ".kmem-build-repo"), "anything\n");
    await writeFile(join(out2, "keep.txt"), "mine\n");
    expectUsage(await kb(["repo", "--from", dist, "--out", out2]));
    expect(await readFile(join(out2, "keep.txt"), "utf8")).toBe("mine\n");
  });
});

describe("kmem-build build --out: the release directory <out>/<version>/", () => {
  it("a <version> directory it did not write (no kmem-build manifest.json) is refused before anything runs", async () => {
    const out = await tmp("out");
    const before = await notes(join(out, "1.20.15"));
    await writeFile(join(out, "1.20.15", "manifest.json"), '{"name":"a web app"}\n');
    before.set("manifest.json", '{"name":"a web app"}\n');
    const r = await kb(
      ["build", "--kubernetes", "1.20.15", "--out", out, "--cache-dir", await tmp("cache")],
      {
        env: OFFLINE,
      },
    );
    expectUsage(r);
    expect(r.stderr).toContain(
      `error: --out ${join(out, "1.20.15")} exists and holds files kmem-build build did not write`,
    );
    expect(await snapshot(join(out, "1.20.15"))).toEqual(before);
    expect(await readdir(out)).toEqual(["1.20.15"]); // no lock, no staging, no failed log
  });

  it("a planted .<version>.rejected directory is refused too (it would be emptied for refused binaries)", async () => {
    const out = await tmp("out");
    const rejected = join(out, ".1.20.15.rejected");
    const before = await notes(rejected);
    const r = await kb(
      ["build", "--kubernetes", "1.20.15", "--out", out, "--cache-dir", await tmp("cache")],
      {
        env: OFFLINE,
      },
    );
    expectUsage(r);
    expect(r.stderr).toContain("kmem-build build (refused binaries) did not write");
    expect(await snapshot(rejected)).toEqual(before);
  });

  it("a symbolic link planted at .<version>.rejected (or at <version>) is refused, never followed", async () => {
    for (const name of [".1.20.15.rejected", "1.20.15"]) {
      const out = await tmp("out");
      const elsewhere = await tmp("elsewhere");
      const before = await notes(elsewhere);
      await symlink(elsewhere, join(out, name));
      const r = await kb(
        ["build", "--kubernetes", "1.20.15", "--out", out, "--cache-dir", await tmp("cache")],
        {
          env: OFFLINE,
        },
      );
      expectUsage(r);
      expect(r.stderr).toContain(
        `error: --out ${join(out, name)} exists and is not a directory (a symbolic link)`,
      );
      expect(await snapshot(elsewhere)).toEqual(before);
      expect(await readlink(join(out, name))).toBe(elsewhere);
    }
  });
});

describe("build --work-dir and --cache-dir that would mix with what they are not", () => {
  let base: string;
  let before: Map<string, string>;

  beforeAll(async () => {
    base = await tmp("places");
    await mkdir(join(base, "src", "cmd", "kubelet"), { recursive: true });
    await mkdir(join(base, "out", "1.19.16"), { recursive: true });
    await writeFile(join(base, "out", "1.19.16", "kubelet-linux-amd64"), "an earlier release\n");
    await mkdir(join(base, "cache", "sources"), { recursive: true });
    await writeFile(join(base, "cache", "sources", "kept"), "downloads\n");
    await writeFile(join(base, "a-file"), "not a directory\n");
    before = await snapshot(base);
  });

  const build = (...args: string[]) =>
    kb(["build", "--kubernetes", "1.20.15", "--no-rpm", "--out", "out", "--cache-dir", "cache", ...args], {
      cwd: base,
      env: OFFLINE,
    });

  it.each([
    [["--work-dir", "out"], "--work-dir", "is the --out directory"],
    [["--work-dir", "out/1.19.16"], "--work-dir", "is inside the --out directory"],
    [["--work-dir", "."], "--work-dir", "contains the --out directory"],
    [["--work-dir", "src", "--source", "src"], "--work-dir", "is the --source directory"],
    [["--work-dir", "src/tmp", "--source", "src"], "--work-dir", "is inside the --source directory"],
    [["--work-dir", "cache"], "--work-dir", "is the cache directory"],
    [["--work-dir", "cache/sources"], "--work-dir", "is inside the cache directory"],
  ])("%j: usage error, nothing deleted or made", async (args, flag, how) => {
    for (const dry of [[], ["--dry-run"]]) {
      const r = await build(...args, ...dry);
      expectUsage(r);
      expect(r.stderr).toMatch(new RegExp(`error: ${flag} \\S+ ${how} `));
      expect(r.stderr).toContain(
        "hint: give --work-dir a scratch directory apart from --source, --out and the cache",
      );
      expect(await snapshot(base)).toEqual(before);
    }
  });

  it("--work-dir naming a regular file: usage error, the file untouched", async () => {
    const r = await build("--work-dir", "a-file");
    expectUsage(r);
    expect(r.stderr).toContain(`error: --work-dir ${join(base, "a-file")} exists and is not a directory`);
    expect(await snapshot(base)).toEqual(before);
  });

  it("--cache-dir naming a regular file: usage error (not an internal error), the file untouched", async () => {
    const r = await build("--cache-dir", "a-file");
    expectUsage(r);
    expect(r.stderr).toContain(
      `error: the cache directory ${join(base, "a-file")} (--cache-dir) exists and is not a directory`,
    );
    expect(r.stderr).toContain("hint: give --cache-dir a directory of its own");
    expect(await snapshot(base)).toEqual(before);
  });

  it("--cache-dir inside the --source tree: usage error, nothing made in the tree", async () => {
    const r = await build("--cache-dir", "src/.cache", "--source", "src");
    expectUsage(r);
    expect(r.stderr).toContain(
      `error: the cache directory ${join(base, "src", ".cache")} is inside the --source tree src`,
    );
    expect(r.stderr).toContain("hint: keep the cache out of the source tree");
    expect(await snapshot(base)).toEqual(before);
  });
});

describe("kmem-build verify --html / --junit FILE", () => {
  let node: S.Laid;

  beforeAll(async () => {
    node = S.centos7Cgroupfs(join(await tmp("node"), "node"));
  });

  it.each(["--html", "--junit"])(
    "%s at a planted symbolic link: refused, the link's target untouched",
    async (flag) => {
      const dir = await tmp("report");
      const target = join(dir, "authorized_keys");
      await writeFile(target, "ssh-ed25519 AAAA the admin's key\n");
      const file = join(dir, "report.out");
      await symlink(target, file);
      const r = await kb(["verify", ...node.args, flag, file, "--quiet"]);
      expectUsage(r);
      expect(r.stderr).toContain(`error: ${flag} ${file} is a symbolic link: not written through`);
      expect(await readFile(target, "utf8")).toBe("ssh-ed25519 AAAA the admin's key\n");
      expect(await readlink(file)).toBe(target);
      expect((await readdir(dir)).sort()).toEqual(["authorized_keys", "report.out"]); // no temp file left
    },
  );

  it.each(["--html", "--junit"])(
    "%s in a directory that does not exist: a usage error naming the directory, before any node is asked",
    async (flag) => {
      const file = join(await tmp("report"), "missing", "report.out");
      const r = await kb(["verify", ...node.args, flag, file, "--quiet"]);
      expectUsage(r);
      expect(r.stderr).toContain(`error: ${flag} ${file}: no directory ${dirname(file)}`);
      expect(r.stderr).not.toMatch(/internal error/);
    },
  );

  it.each(["--html", "--junit"])("%s at a directory: refused", async (flag) => {
    const dir = await tmp("report");
    await mkdir(join(dir, "d"));
    const r = await kb(["verify", ...node.args, flag, join(dir, "d"), "--quiet"]);
    expectUsage(r);
    expect(r.stderr).toContain(`${flag} ${join(dir, "d")} is a directory`);
  });

  it.each(["--html", "--junit"])(
    "%s at a regular file: replaced by a new file (a hard link to it is not written through)",
    async (flag) => {
      const dir = await tmp("report");
      const file = join(dir, "report.out");
      await writeFile(file, "old\n");
      const { link } = await import("node:fs/promises");
      await link(file, join(dir, "hardlink"));
      const r = await kb(["verify", ...node.args, flag, file, "--quiet"]);
      expect(r.code, r.stderr).toBe(1); // the fixture node has a problem: the verdict's exit code
      expect(await readFile(file, "utf8")).toMatch(flag === "--html" ? /^<!DOCTYPE html>/ : /^<\?xml/);
      expect(await readFile(join(dir, "hardlink"), "utf8")).toBe("old\n");
      expect((await lstat(file)).mode & 0o777).toBe(0o644);
      expect((await readdir(dir)).sort()).toEqual(["hardlink", "report.out"]);
    },
  );
});
