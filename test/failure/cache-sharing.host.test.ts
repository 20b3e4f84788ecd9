/**
 * Which builds share one Go build cache: verified sources (a published, pinned or --sha512
 * checksum) share one, anything else keeps its own, named by content. Through the real CLI with
 * real podman builds of the example trees.
 */
import { describe, it, expect, afterAll } from "vitest";
import { execa } from "execa";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { makeExample } from "../helpers/example.js";
import { kb, tmp, removeTmp, buildArgs } from "./helpers.js";

const tag = randomBytes(4).toString("hex");
afterAll(removeTmp);

describe("verified sources share one Go build cache; anything else keeps its own", () => {
  it("two verified releases share the cache; an unverified --source directory (a hostile one) gets its own, and its plants stay there", async () => {
    const cache = await tmp("share-cache");
    const goCaches = join(cache, "go");
    // Two patch releases, each verified against an operator-given --sha512.
    for (const version of ["1.20.14", "1.20.15"]) {
      const ex = await makeExample("tag-era", version, await tmp(`share-ex-${version}`));
      const out = await tmp("share-out");
      const r = await kb(
        buildArgs(cache, out, "--kubernetes", version, "--arch", "amd64", "--source", ex.tarball).concat([
          "--sha512",
          ex.sha512,
          "--no-rpm",
          "--json",
        ]),
      );
      expect(r.code, r.stderr).toBe(0);
      expect(await readdir(goCaches)).toEqual(["verified"]);
    }
    const verifiedFiles = (await execa("find", [join(goCaches, "verified"), "-type", "f"])).stdout;

    // An unverified directory whose Makefile writes into the Go cache it is given.
    const tree = join(await tmp("share-tree"), "tree");
    await makeExample("tag-era", "1.20.15", await tmp("share-tree-pub"), ["--tree", tree]);
    const planted = `planted-by-unverified-tree-${tag}`;
    const makefile = join(tree, "Makefile");
    await writeFile(
      makefile,
      (await readFile(makefile, "utf8")).replace(
        "all:\n",
        () =>
          `all:\n\techo hostile > "$$GOCACHE/${planted}" && mkdir -p "$$GOCACHE/ff" && echo x > "$$GOCACHE/ff/${planted}-a"\n`,
      ),
    );
    const out = await tmp("share-out");
    const r = await kb(
      buildArgs(cache, out, "--kubernetes", "1.20.15", "--arch", "amd64", "--source", tree).concat([
        "--no-rpm",
        "--json",
      ]),
    );
    expect(r.code, r.stderr).toBe(0);
    const digest = /source directory content digest \(of the copy built\): sha256 ([0-9a-f]{64})/.exec(
      await readFile(join(out, "1.20.15", "build.log"), "utf8"),
    )![1]!;
    const own = `dir-${digest.slice(0, 32)}`;
    expect((await readdir(goCaches)).sort()).toEqual([own, "verified"].sort());
    const found = (await execa("find", [goCaches, "-name", `${planted}*`])).stdout
      .split("\n")
      .filter(Boolean);
    expect(found).toHaveLength(2); // the attack ran, into the unverified tree's own cache only
    for (const f of found) expect(f.startsWith(join(goCaches, own) + "/")).toBe(true);
    // The shared cache holds what the verified builds put there, nothing more.
    expect((await execa("find", [join(goCaches, "verified"), "-type", "f"])).stdout).toBe(verifiedFiles);
  });
});
