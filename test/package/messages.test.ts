/**
 * The messages of the release check and of `kmem-build repo` are explained in docs/troubleshooting.md
 * (the page test/failure/troubleshooting.test.ts keeps for the build's messages): each fragment below
 * must still be printed by src/ and explained on the page.
 */
import { describe, expect, it } from "vitest";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";

const MESSAGES = [
  "sorts at or below the official release",
  "yum would keep the official kubelet of the same version",
  'it must carry the mark "nokmem" as one of its parts',
  "only letters, digits and . _ + ~ ^ are allowed",
  "will not take this build as kubelet-",
  "to publish a rebuild, build it with --release",
  "names no Kubernetes minor",
  "invalid repository layout",
  "gpgcheck=0: the nodes install these kubelet RPMs without checking a signature",
  "repo_gpgcheck=0: the nodes take this repository's metadata without checking a signature",
];

describe("docs/troubleshooting.md on releases and repositories", () => {
  it.each(MESSAGES)("explains %j, which src/ still prints", async (m) => {
    const src =
      (await readFile(resolve("src/package/release.ts"), "utf8")) +
      (await readFile(resolve("src/package/repo.ts"), "utf8"));
    expect(src, "message no longer in src/").toContain(m);
    expect(
      await readFile(resolve("docs/troubleshooting.md"), "utf8"),
      "not in docs/troubleshooting.md",
    ).toContain(m);
  });
});
