/**
 * The genuine 1.20.2 tree (Debian's orig tarball, a git archive of the tag) states its version in
 * hack/lib/version.sh (`tag: v1.20.2`) and in CHANGELOG/CHANGELOG-1.20.md (newest entry v1.20.1):
 * asked as any other version it is refused in check source, before any container runs; asked as
 * 1.20.2 it passes check source (the full build of it is test/real/release.test.ts).
 */
import { describe, it, expect } from "vitest";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "../helpers/cli.js";
import { realSource, REAL_VERSION } from "./shared.js";

async function checkOnly(version: string) {
  const dir = await mkdtemp(join(tmpdir(), "kmem-real-version-"));
  try {
    const src = await realSource();
    const out = join(dir, "out");
    // An image that is not there: a tree that passes check source stops at the builder image.
    const r = await cli([
      "build",
      "--kubernetes",
      version,
      "--arch",
      "amd64",
      "--no-rpm",
      "--engine",
      "podman",
      "--image",
      "localhost/kmem-build-no-such-image:0",
      "--source",
      src.tarball,
      "--sha512",
      src.sha512,
      "--cache-dir",
      join(dir, "cache"),
      "--out",
      out,
    ]);
    return { ...r, published: await readdir(out).catch(() => []) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("the genuine tree's version", () => {
  it.each(["1.20.1", "1.20.3", "1.20.15"])(
    "asked as %s: refused by the tag it was archived from (exit 2)",
    async (v) => {
      const r = await checkOnly(v);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(
        `is not Kubernetes ${v}: hack/lib/version.sh says it was archived from the tag v1.20.2`,
      );
      expect(r.published).toEqual([]);
    },
  );

  it("asked as 1.20.2: check source passes and the build goes on to the builder image", async () => {
    const r = await checkOnly(REAL_VERSION);
    expect(r.stderr).not.toContain("is not Kubernetes");
    expect(r.stderr).toContain(
      "builder image localhost/kmem-build-no-such-image:0 is not present and could not be pulled",
    );
    expect(r.code).toBe(1);
  });
});
