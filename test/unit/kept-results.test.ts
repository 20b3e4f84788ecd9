/**
 * Results kept by content (src/util/kept-results.ts) and the archive scan that uses them: reused only
 * for the same content, never trusted when forged or edited.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keepResult, readKeptResult, keptResultsDir } from "../../src/util/kept-results.js";
import { archiveVerdictKey, checkSource, type ArchiveScan } from "../../src/pipeline/steps/check-source.js";
import { imageFilesOf } from "../../src/pipeline/steps/builder-image.js";
import { loadRecipes } from "../../src/recipes/load.js";
import { recipeFor } from "../../src/recipes/resolve.js";
import { UsageError } from "../../src/errors.js";
import type { BuildContext } from "../../src/pipeline/context.js";
import type { Recipe } from "../../src/recipes/types.js";
import { tarGz, MINIMAL_TREE } from "../helpers/tarball.js";

const tmp = (p: string) => mkdtemp(join(tmpdir(), p));
const KEY = "a".repeat(64);
const OTHER = "b".repeat(64);
const sha512 = (b: Buffer) => createHash("sha512").update(b).digest("hex");

describe("verdicts kept by content", () => {
  it("are read back for the same content key only", async () => {
    const cache = await tmp("kmem-verdicts-");
    expect(await readKeptResult(cache, "test", KEY)).toBeNull();
    expect(await keepResult(cache, "test", KEY, { ok: true, n: 3 })).toBe(true);
    expect(await readKeptResult(cache, "test", KEY)).toEqual({ ok: true, n: 3 });
    expect(await readKeptResult(cache, "test", OTHER)).toBeNull();
    expect(await readKeptResult(cache, "other-kind", KEY)).toBeNull();
  });

  it("keep their HMAC key in a 0600 file of the cache", async () => {
    const cache = await tmp("kmem-verdicts-");
    await keepResult(cache, "test", KEY, 1);
    const { statSync } = await import("node:fs");
    const st = statSync(join(keptResultsDir(cache), "hmac.key"));
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.size).toBe(32);
  });

  it("an edited value, a forged MAC or a verdict moved to another content key is not trusted", async () => {
    const cache = await tmp("kmem-verdicts-");
    await keepResult(cache, "test", KEY, { safe: false });
    const file = join(keptResultsDir(cache), "test", `${KEY}.json`);
    const genuine = JSON.parse(await readFile(file, "utf8"));

    await writeFile(file, JSON.stringify({ ...genuine, value: { safe: true } }));
    expect(await readKeptResult(cache, "test", KEY)).toBeNull();

    await writeFile(file, JSON.stringify({ ...genuine, mac: "00".repeat(32) }));
    expect(await readKeptResult(cache, "test", KEY)).toBeNull();

    await writeFile(file, JSON.stringify({ ...genuine, mac: genuine.mac.slice(0, 10) }));
    expect(await readKeptResult(cache, "test", KEY)).toBeNull();

    await writeFile(file, "{not json");
    expect(await readKeptResult(cache, "test", KEY)).toBeNull();

    // The genuine file under another content key's name (with or without its key field edited).
    await writeFile(file, JSON.stringify(genuine));
    const moved = join(keptResultsDir(cache), "test", `${OTHER}.json`);
    await writeFile(moved, JSON.stringify(genuine));
    expect(await readKeptResult(cache, "test", OTHER)).toBeNull();
    await writeFile(moved, JSON.stringify({ ...genuine, key: OTHER }));
    expect(await readKeptResult(cache, "test", OTHER)).toBeNull();
    expect(await readKeptResult(cache, "test", KEY)).toEqual({ safe: false });
  });

  it("a verdict signed with another cache's key is not trusted", async () => {
    const mine = await tmp("kmem-verdicts-");
    const theirs = await tmp("kmem-verdicts-");
    await keepResult(mine, "test", KEY, "mine");
    await keepResult(theirs, "test", KEY, "forged");
    await writeFile(
      join(keptResultsDir(mine), "test", `${KEY}.json`),
      await readFile(join(keptResultsDir(theirs), "test", `${KEY}.json`)),
    );
    expect(await readKeptResult(mine, "test", KEY)).toBeNull();
  });

  it("nothing is trusted while the key file is readable by others, or is a link", async () => {
    const cache = await tmp("kmem-verdicts-");
    await keepResult(cache, "test", KEY, "v");
    const key = join(keptResultsDir(cache), "hmac.key");
    await chmod(key, 0o644);
    expect(await readKeptResult(cache, "test", KEY)).toBeNull();
    // Nor is a new verdict kept with it (its key may be known).
    expect(await keepResult(cache, "test", OTHER, "w")).toBe(false);
    await chmod(key, 0o600);
    expect(await readKeptResult(cache, "test", KEY)).toBe("v");

    const elsewhere = join(await tmp("kmem-verdicts-"), "key");
    await writeFile(elsewhere, await readFile(key), { mode: 0o600 });
    await rm(key);
    await symlink(elsewhere, key);
    expect(await readKeptResult(cache, "test", KEY)).toBeNull();
  });

  it("a key file cut short is not used", async () => {
    const cache = await tmp("kmem-verdicts-");
    await mkdir(keptResultsDir(cache), { recursive: true });
    await writeFile(join(keptResultsDir(cache), "hmac.key"), "", { mode: 0o600 });
    expect(await keepResult(cache, "test", KEY, "v")).toBe(false);
    expect(await readKeptResult(cache, "test", KEY)).toBeNull();
  });
});

describe("the archive scan kept by the archive's sha512", () => {
  let recipe: Recipe;
  beforeAll(async () => {
    recipe = recipeFor("1.20.15", await loadRecipes());
  });

  async function check(cache: string, file: string) {
    const digest = sha512(await readFile(file));
    const lines: string[] = [];
    const ctx = {
      opts: { cacheDir: cache, rebuild: false },
      recipe,
      log: (l: string) => lines.push(l),
      source: {
        kind: "tarball",
        path: file,
        file,
        url: null,
        sha512: digest,
        checksumFrom: "flag",
        cacheHit: false,
      },
      treeFiles: {},
      notices: [],
    } as unknown as BuildContext;
    const task = { title: "check source", output: "" };
    await checkSource(ctx, task);
    return { reused: lines.some((l) => /archive scan: verdict kept .* reused/.test(l)), ctx, task };
  }

  const good = () =>
    tarGz([
      ...MINIMAL_TREE,
      { path: "build/build-image/cross/VERSION", body: "v1.15.15-1\n", mtime: 1600000000 },
    ]);
  const hostile = () => tarGz([...MINIMAL_TREE, { path: "../evil", body: "x" }]);

  async function files() {
    const dir = await tmp("kmem-verdict-src-");
    const g = join(dir, "good.tar.gz");
    const h = join(dir, "hostile.tar.gz");
    await writeFile(g, good());
    await writeFile(h, hostile());
    return { g, h, cache: join(dir, "cache") };
  }

  it("is listed the first time, reused the second time, with the same result", async () => {
    const { g, cache } = await files();
    const first = await check(cache, g);
    expect(first.reused).toBe(false);
    const second = await check(cache, g);
    expect(second.reused).toBe(true);
    expect(second.task.output).toContain("verdict kept");
    expect(second.ctx.treeFiles).toEqual(first.ctx.treeFiles);
    expect(second.ctx.treeFiles["build/build-image/cross/VERSION"]).toBe("v1.15.15-1\n");
    expect(second.ctx.archiveStrip).toBe(first.ctx.archiveStrip);
    expect(second.ctx.sourceDateEpoch).toBe(first.ctx.sourceDateEpoch);
  });

  it("another archive (another sha512) is scanned again: a hostile one is refused", async () => {
    const { g, h, cache } = await files();
    await check(cache, g);
    expect((await check(cache, g)).reused).toBe(true);
    await expect(check(cache, h)).rejects.toThrow(UsageError);
    await expect(check(cache, h)).rejects.toThrow(/points outside/);
  });

  it("a forged verdict for a hostile archive is not trusted: the scan runs and refuses it", async () => {
    const { g, h, cache } = await files();
    await check(cache, g); // the cache has a key and one genuine verdict
    const wanted = imageFilesOf(recipe);
    const dir = join(keptResultsDir(cache), "archive-scan");
    const [genuineName] = await readdir(dir);
    const genuine = JSON.parse(await readFile(join(dir, genuineName!), "utf8"));
    const hostileKey = archiveVerdictKey(sha512(await readFile(h)), wanted);
    const claim: ArchiveScan = { entries: 5, strip: 0, maxMtime: 1, hasKubelet: true, files: {} };
    // Forged from scratch, then the genuine file (a valid MAC, for other content) under the hostile key.
    for (const forged of [
      { kind: "archive-scan", key: hostileKey, value: claim, mac: "ab".repeat(32) },
      { ...genuine, key: hostileKey },
      genuine,
    ]) {
      await writeFile(join(dir, `${hostileKey}.json`), JSON.stringify(forged));
      await expect(check(cache, h)).rejects.toThrow(/points outside/);
    }
  });

  it("an edited verdict of the same archive is not trusted: the archive is listed again", async () => {
    const { g, cache } = await files();
    await check(cache, g);
    const dir = join(keptResultsDir(cache), "archive-scan");
    const [name] = await readdir(dir);
    const v = JSON.parse(await readFile(join(dir, name!), "utf8"));
    v.value.files["build/build-image/cross/VERSION"] = "v9.9.9-evil\n";
    await writeFile(join(dir, name!), JSON.stringify(v));
    const again = await check(cache, g);
    expect(again.reused).toBe(false);
    expect(again.ctx.treeFiles["build/build-image/cross/VERSION"]).toBe("v1.15.15-1\n");
    expect((await check(cache, g)).reused).toBe(true); // the listing kept a genuine verdict again
  });
});
