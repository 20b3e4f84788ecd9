/**
 * Every release's source archive is called kubernetes-src.tar.gz: with the user's own --sha512 the
 * bytes are proven, not that they are the release asked. The tree's own statements of its version
 * are checked in check source, before any container runs; a mismatch is refused (exit 2) and
 * nothing is built or published. The example trees state their version as the genuine ones do.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execa } from "execa";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { makeExample, type ExampleRelease } from "../helpers/example.js";
import { kb, tmp, removeTmp, buildArgs, REPO } from "./helpers.js";

let example: ExampleRelease;

beforeAll(async () => {
  example = await makeExample("tag-era", "1.20.15", await tmp("served"));
});
afterAll(removeTmp);

const build = async (version: string, source: string, sha512: string) => {
  const out = await tmp("out");
  const r = await kb(
    buildArgs(
      await tmp("cache"),
      out,
      "--kubernetes",
      version,
      "--arch",
      "amd64",
      "--no-rpm",
      "--source",
      source,
      "--sha512",
      sha512,
    ),
  );
  return { ...r, out };
};

describe("the asked version is checked against what the tree states", () => {
  it("the example tree of 1.20.15 asked as 1.20.2 (its own --sha512): refused by its CHANGELOG, nothing built", async () => {
    const r = await build("1.20.2", example.tarball, example.sha512);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /error: .*kubernetes-src\.tar\.gz is not Kubernetes 1\.20\.2: the newest entry of its CHANGELOG\/CHANGELOG-1\.20\.md is v1\.20\.14 \(the tree of 1\.20\.2 has v1\.20\.1 or its own\)/,
    );
    expect(r.stderr).toContain("hint: pass the --kubernetes version this tree is");
    expect(r.stderr).not.toMatch(/compile|builder image/);
    expect(await readdir(r.out)).toEqual([]);
  });

  it("the example tree of 1.20.15 asked as 1.19.16: refused (a 1.20 tree)", async () => {
    const r = await build("1.19.16", example.tarball, example.sha512);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /is not Kubernetes 1\.19\.16: its newest changelog is CHANGELOG-1\.20\.md \(a 1\.20 tree\)/,
    );
  });

  it("a GitHub archive (git archive) of v1.20.15 asked as 1.20.14: refused by the tag it carries", async () => {
    const gh = await tmp("gh");
    await execa("sh", [join(REPO, "scripts", "make-example.sh"), "--top-dir", "tag-era", "1.20.15", gh]);
    const tarball = join(gh, "kubernetes", "kubernetes", "archive", "refs", "tags", "v1.20.15.tar.gz");
    const sha512 = (await execa("sha512sum", [tarball])).stdout.split(" ")[0]!;
    const r = await build("1.20.14", tarball, sha512);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /is not Kubernetes 1\.20\.14: hack\/lib\/version\.sh says it was archived from the tag v1\.20\.15/,
    );
  });

  it("the example trees state their version as the genuine ones do (CHANGELOG of their minor; the tag in a git archive)", async () => {
    const tree = await tmp("tree");
    await makeExample("tag-era", "1.20.15", await tmp("pub"), ["--tree", tree]);
    expect(await readFile(join(tree, "CHANGELOG", "CHANGELOG-1.20.md"), "utf8")).toMatch(/^# v1\.20\.14$/m);
    const zero = await tmp("tree0");
    await makeExample("post-fix", "1.22.0", await tmp("pub"), ["--tree", zero]);
    expect(await readFile(join(zero, "CHANGELOG", "CHANGELOG-1.22.md"), "utf8")).toMatch(
      /^# v1\.22\.0-rc\.0$/m,
    );
  });
});
