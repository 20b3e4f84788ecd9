/**
 * The version mark (`v1.20.2+nokmem`): what the compile step stamps, the cache key it is part of, and
 * the inspection that refuses a marked binary whose bytes say it is no nokmem build.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stampedVersion, versionFile } from "../../src/pipeline/steps/compile.js";
import { binaryCacheKey } from "../../src/pipeline/steps/cache-lookup.js";
import { inspectBinary } from "../../src/pipeline/steps/inspect.js";
import {
  evidenceFrom,
  KMEM_ENABLING_STRING,
  markContradiction,
  NOKMEM_MARKER_STRING,
} from "../../src/inspect/evidence.js";
import { loadRecipes } from "../../src/recipes/load.js";
import { recipeFor } from "../../src/recipes/resolve.js";
import type { BinaryOutput, BuildContext } from "../../src/pipeline/context.js";
import type { Recipe } from "../../src/recipes/types.js";

/** A static x86-64 ELF header (no program headers) followed by the given strings, as Go packs them. */
function elfWith(...strings: string[]): Buffer {
  const h = Buffer.alloc(64);
  h.writeUInt32BE(0x7f454c46, 0);
  h[4] = 2; // 64-bit
  h[5] = 1; // little endian
  h[6] = 1;
  h.writeUInt16LE(2, 16); // ET_EXEC
  h.writeUInt16LE(62, 18); // x86-64
  h.writeUInt16LE(64, 52);
  h.writeUInt16LE(56, 54);
  return Buffer.concat([h, Buffer.from(`\0runtime.main${strings.join("")}go1.15.15\0`, "latin1")]);
}

describe("the version mark", () => {
  let recipe: Recipe;
  let dir: string;
  beforeAll(async () => {
    recipe = recipeFor("1.20.2", await loadRecipes());
    dir = await mkdtemp(join(tmpdir(), "kmem-mark-"));
  });

  const ctxFor = (versionMark: boolean) =>
    ({
      version: "1.20.2",
      recipe,
      opts: { versionMark, cacheDir: dir },
      source: { sha512: "a".repeat(128), path: "x" },
      image: { id: "sha256:" + "b".repeat(64) },
      patches: [],
    }) as unknown as BuildContext;

  async function inspect(versionMark: boolean, ...strings: string[]) {
    const path = join(dir, `kubelet-${Math.random().toString(36).slice(2)}`);
    await writeFile(path, elfWith(...strings));
    const b = { arch: "amd64", path } as BinaryOutput;
    return { problems: await inspectBinary(ctxFor(versionMark), b), b };
  }

  it("is semver build metadata on upstream's version, written to KUBE_GIT_VERSION_FILE; off with --no-version-mark", () => {
    expect(stampedVersion("1.20.2", true)).toBe("v1.20.2+nokmem");
    expect(stampedVersion("1.21.0-rc.1", true)).toBe("v1.21.0-rc.1+nokmem");
    expect(stampedVersion("1.20.2", false)).toBe("v1.20.2");
    expect(versionFile("1.20.2", false, true)).toContain("\nKUBE_GIT_VERSION=v1.20.2+nokmem\n");
    expect(versionFile("1.20.2", false, true)).toContain("\nKUBE_GIT_MINOR=20\n");
    expect(versionFile("1.20.2", false, false)).toContain("\nKUBE_GIT_VERSION=v1.20.2\n");
  });

  it("is part of the binary cache key: a marked and an unmarked build never share a cached binary", () => {
    const marked = binaryCacheKey(ctxFor(true), "amd64");
    const plain = binaryCacheKey(ctxFor(false), "amd64");
    expect(marked).toMatch(/^[0-9a-f]{64}$/);
    expect(plain).toMatch(/^[0-9a-f]{64}$/);
    expect(marked).not.toBe(plain);
  });

  it("inspection passes a marked nokmem binary and records the mark", async () => {
    const { problems, b } = await inspect(true, "v1.20.2+nokmem", NOKMEM_MARKER_STRING);
    expect(problems).toEqual([]);
    expect(b.evidence).toMatchObject({ marked: true, verdict: "nokmem-variant-linked" });
  });

  it("inspection refuses a marked binary that links the kmem-enabling code", async () => {
    const { problems } = await inspect(true, "v1.20.2+nokmem", KMEM_ENABLING_STRING, NOKMEM_MARKER_STRING);
    expect(problems).toContain(
      "its version carries the nokmem mark (+nokmem) but it links runc's kmem-enabling code",
    );
  });

  it("inspection refuses a binary without the stamped version, and a mark where --no-version-mark was asked", async () => {
    const unmarked = await inspect(true, "v1.20.2", NOKMEM_MARKER_STRING);
    expect(unmarked.problems).toEqual([
      "the version string v1.20.2+nokmem is not in the binary (KUBE_GIT_VERSION_FILE not honoured?)",
    ]);
    expect(unmarked.b.evidence?.marked).toBe(false);
    expect((await inspect(false, "v1.20.2", NOKMEM_MARKER_STRING)).problems).toEqual([]);
    expect((await inspect(false, "v1.20.2+nokmem", NOKMEM_MARKER_STRING)).problems).toEqual([
      "its version carries the nokmem mark although it was built with --no-version-mark",
    ]);
  });

  it("a mark contradicts Go build settings that record tags without nokmem", () => {
    const ev = (tags: string) =>
      evidenceFrom({
        has: (n) => n === "+nokmem",
        buildInfo: { version: "go1.19", modinfo: `path\tk8s.io/kubernetes\nbuild\t-tags=${tags}\n` },
        goGuess: null,
      });
    expect(markContradiction(ev("selinux,notest,nokmem"))).toBeNull();
    expect(markContradiction(ev("selinux,notest"))).toBe(
      "its version carries the nokmem mark (+nokmem) but its Go build settings record tags [selinux,notest], without nokmem",
    );
  });
});
