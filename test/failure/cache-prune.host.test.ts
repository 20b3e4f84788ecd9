/**
 * `kmem-build cache list` and `cache prune` on a cache that real podman builds of the example
 * trees filled: least recently used entries go, an entry a running build uses stays, a work
 * directory of a dead run is collected, and a link planted in the cache is never followed.
 */
import { describe, it, expect, afterAll } from "vitest";
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeExample, type ExampleRelease } from "../helpers/example.js";
import { kb, start, finish, tmp, removeTmp, buildArgs, waitFor } from "./helpers.js";

afterAll(removeTmp);

interface Listed {
  size: number;
  entries: {
    path: string;
    category: string;
    release?: string;
    size: number;
    lastUse: string;
    inUse: boolean;
  }[];
}

const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

describe("kmem-build cache list and prune", () => {
  it("lists per release; prunes the least recently used to a size; an entry in use, a live run's work directory and what planted links point at survive", async () => {
    const cache = await tmp("prune-cache");
    const ex: Record<string, ExampleRelease> = {};
    const build = async (version: string, extra: string[] = []) => {
      ex[version] ??= await makeExample("tag-era", version, await tmp(`prune-ex-${version}`));
      return buildArgs(cache, await tmp("prune-out"), "--kubernetes", version, "--arch", "amd64")
        .concat(["--source", ex[version].tarball, "--sha512", ex[version].sha512, "--no-rpm", "--json"])
        .concat(extra);
    };
    for (const v of ["1.20.13", "1.20.14", "1.20.15"]) {
      const r = await kb(await build(v, ["--cache-max-size", "1T"]));
      expect(r.code, r.stderr).toBe(0);
    }
    const list = async (): Promise<Listed> => {
      const r = await kb(["cache", "list", "--cache-dir", cache, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Listed;
    };
    const before = await list();
    const binaries = before.entries.filter((e) => e.category === "binaries");
    expect(binaries.map((e) => e.release).sort()).toEqual(["1.20.13", "1.20.14", "1.20.15"]);
    expect(before.entries.map((e) => e.path)).toContain("go/verified");
    for (const e of before.entries) expect(e.size).toBeGreaterThan(0);
    const text = await kb(["cache", "list", "--cache-dir", cache]);
    expect(text.stdout).toMatch(/^go\/verified\s+1\.20\.15\s+\S+\s+\d{4}-\d\d-\d\dT/m);
    expect(text.stdout).toMatch(/^total \S+ in \d+ entries/m);

    // Planted links: as an entry of the cache's own, and inside a kept entry; both point at files of someone else's.
    const outside = await tmp("prune-outside");
    await writeFile(join(outside, "precious"), "keep me");
    await symlink(outside, join(cache, "binaries", "planted-link"));
    const oldest = binaries.find((e) => e.release === "1.20.13")!;
    await symlink(join(outside, "precious"), join(cache, oldest.path, "link-inside"));
    expect((await list()).entries.map((e) => e.path)).not.toContain("binaries/planted-link");

    // A dead run's work directory (its owner's pid is free) and a live run's (this test's own process).
    const work = join(cache, "work");
    const dead = join(work, "kmem-build-work-dead01");
    const live = join(work, "kmem-build-work-live01");
    await mkdir(dead, { recursive: true });
    await mkdir(live, { recursive: true });
    await writeFile(join(dead, ".kmem-build-owner"), "2147480000 1\n");
    const stat = await readFile(`/proc/${process.pid}/stat`, "utf8");
    const myStart = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    await writeFile(join(live, ".kmem-build-owner"), `${process.pid} ${myStart}\n`);

    // --dry-run removes nothing.
    const dry = await kb(["cache", "prune", "--cache-dir", cache, "--max-size", "0", "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).removed.length).toBeGreaterThan(0);
    expect((await list()).entries.length).toBe(before.entries.length + 2);

    // Prune to a size that keeps the newest binary only: the two older binaries go, oldest first.
    const newest = binaries.find((e) => e.release === "1.20.15")!;
    const goSize = before.entries.find((e) => e.path === "go/verified")!.size;
    const limit = goSize + newest.size + 65536; // and the live work directory (a few KiB)
    const pruned = await kb(["cache", "prune", "--cache-dir", cache, "--max-size", String(limit), "--json"]);
    expect(pruned.code, pruned.stderr).toBe(0);
    const p = JSON.parse(pruned.stdout) as {
      removed: { path: string }[];
      collected: string[];
      sizeAfter: number;
    };
    expect(p.collected).toEqual([dead]);
    expect(p.removed.map((e) => e.path).sort()).toEqual(
      binaries
        .filter((e) => e !== newest)
        .map((e) => e.path)
        .sort(),
    );
    expect(await exists(join(cache, newest.path))).toBe(true);
    expect(await exists(join(cache, "go", "verified"))).toBe(true);
    expect(await readFile(join(outside, "precious"), "utf8")).toBe("keep me");
    expect(await exists(join(cache, "binaries", "planted-link"))).toBe(true); // not ours: left alone
    expect(await exists(live)).toBe(true);
    expect(await exists(dead)).toBe(false);

    // A running build's entries survive a prune to nothing, and it finishes; afterwards they may go.
    // The build is held (SIGSTOP) the moment it names the shared Go cache in use, so the prune runs
    // while it is mid-build however fast the example compiles; it goes on (SIGCONT) afterwards.
    const p2 = start(await build("1.20.14", ["--rebuild", "--cache-max-size", "1T"]));
    const inUse = join(cache, "in-use");
    const namesVerified = async () => {
      for (const f of await readdir(inUse).catch(() => [] as string[]))
        if ((await readFile(join(inUse, f), "utf8").catch(() => "")).includes("go/verified")) return true;
      return false;
    };
    await waitFor("the build to name the shared Go cache in use", async () => {
      if (!(await namesVerified())) return false;
      process.kill(p2.pid!, "SIGSTOP");
      return true;
    });
    let during: Awaited<ReturnType<typeof kb>>;
    try {
      expect(await namesVerified(), "the build was held while it still named go/verified in use").toBe(true);
      during = await kb(["cache", "prune", "--cache-dir", cache, "--max-size", "0", "--json"]);
    } finally {
      process.kill(p2.pid!, "SIGCONT");
    }
    expect(during.code, during.stderr).toBe(0);
    const d = JSON.parse(during.stdout) as {
      removed: { path: string }[];
      kept: { path: string; inUse: boolean }[];
    };
    expect(d.removed.map((e) => e.path)).not.toContain("go/verified");
    expect(d.kept.find((e) => e.path === "go/verified")?.inUse).toBe(true);
    expect(d.kept.find((e) => e.path === live.slice(cache.length + 1))?.inUse).toBe(true);
    const r2 = await finish(p2);
    expect(r2.code, r2.stderr).toBe(0);
    expect(await readFile(join(outside, "precious"), "utf8")).toBe("keep me");

    // The limit a build is given is kept after it: --cache-max-size 0 leaves only what is in use.
    const r3 = await kb(await build("1.20.15", ["--cache-max-size", "0"]));
    expect(r3.code, r3.stderr).toBe(0);
    expect(r3.stderr).toMatch(/cache: removed \d+ least recently used entries \(\S+ → \S+, limit 0B\)/);
    expect((await list()).entries.map((e) => e.path)).toEqual([live.slice(cache.length + 1)]);

    const bad = await kb(["cache", "prune", "--cache-dir", cache, "--max-size", "lots"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--max-size "lots" is not a size/);
  });
});
