/** How a tree's own statements of its version are read, and which versions they allow. */
import { describe, it, expect } from "vitest";
import {
  archiveTag,
  changelogMinor,
  checkTreeVersion,
  newestEntry,
  VERSION_SH,
} from "../../src/pipeline/steps/tree-version.js";

// The lines as the genuine trees have them (Debian's orig tarball of v1.20.2 is a git archive).
const ARCHIVED = `    if [[ 'tag: v1.20.2' =~ tag:\\ (v[^ ,]+) ]]; then\n`;
const BRANCH = `    if [[ 'HEAD -> release-1.20, tag: v1.20.2' =~ tag:\\ (v[^ ,]+) ]]; then\n`;
const UNARCHIVED = `    if [[ '$Format:%D$' =~ tag:\\ (v[^ ,]+) ]]; then\n`;
const changelog = (...entries: string[]) =>
  entries.map((e) => `- [v${e}](#v${e.replaceAll(".", "")})`).join("\n") +
  "\n\n" +
  entries.map((e) => `# v${e}\n\n## Changes\n`).join("\n");

describe("reading the statements", () => {
  it("takes the tag a git archive wrote into hack/lib/version.sh, and nothing from an unfilled placeholder", () => {
    expect(archiveTag(ARCHIVED)).toBe("1.20.2");
    expect(archiveTag(BRANCH)).toBe("1.20.2");
    expect(archiveTag(UNARCHIVED)).toBeNull();
    expect(archiveTag(`    if [[ 'HEAD -> master' =~ tag:\\ (v[^ ,]+) ]]; then\n`)).toBeNull();
  });

  it("takes the newest entry of a changelog (the first heading) and names changelog files by minor", () => {
    expect(newestEntry(changelog("1.20.1", "1.20.0", "1.20.0-rc.0"))).toBe("1.20.1");
    expect(newestEntry("no entries\n")).toBeNull();
    expect(changelogMinor("CHANGELOG/CHANGELOG-1.20.md")).toBe("1.20");
    expect(changelogMinor("CHANGELOG-1.13.md")).toBe("1.13");
    expect(changelogMinor("CHANGELOG/README.md")).toBeNull();
  });
});

describe("checkTreeVersion", () => {
  const cl = (text: string) => ({ "CHANGELOG/CHANGELOG-1.20.md": text });
  const ok = (version: string, files: Record<string, string>, minors = ["1.20"]) =>
    expect(() => checkTreeVersion(version, files, minors, "src.tar.gz")).not.toThrow();
  const refused = (version: string, files: Record<string, string>, minors: string[], message: RegExp) =>
    expect(() => checkTreeVersion(version, files, minors, "src.tar.gz")).toThrow(message);

  it("accepts the genuine 1.20.2 tree's statements for 1.20.2 (tag v1.20.2, newest changelog entry v1.20.1)", () => {
    ok("1.20.2", { [VERSION_SH]: ARCHIVED, ...cl(changelog("1.20.1", "1.20.0")) });
  });

  it("refuses them for any other version", () => {
    const files = { [VERSION_SH]: ARCHIVED, ...cl(changelog("1.20.1", "1.20.0")) };
    for (const v of ["1.20.1", "1.20.3", "1.20.15", "1.19.16"])
      refused(
        v,
        files,
        ["1.20"],
        new RegExp(
          `src\\.tar\\.gz is not Kubernetes ${v.replaceAll(".", "\\.")}: hack/lib/version\\.sh says it was archived from the tag v1\\.20\\.2`,
        ),
      );
  });

  it("without a tag, the changelog bounds the version: the release after its newest entry, or that entry", () => {
    const files = cl(changelog("1.20.14", "1.20.13"));
    ok("1.20.15", files);
    ok("1.20.14", files);
    refused(
      "1.20.16",
      files,
      ["1.20"],
      /the newest entry of its CHANGELOG\/CHANGELOG-1\.20\.md is v1\.20\.14 \(the tree of 1\.20\.16 has v1\.20\.15 or its own\)/,
    );
    refused(
      "1.20.2",
      files,
      ["1.20"],
      /the newest entry of its CHANGELOG\/CHANGELOG-1\.20\.md is v1\.20\.14/,
    );
    ok("1.20.0", cl(changelog("1.20.0-rc.0")));
    refused("1.20.0", cl(changelog("1.19.5")), ["1.20"], /is v1\.19\.5/);
  });

  it("a tree with the changelog of a later minor is that minor", () => {
    refused(
      "1.20.15",
      cl(changelog("1.20.14")),
      ["1.19", "1.20", "1.21"],
      /its newest changelog is CHANGELOG-1\.21\.md \(a 1\.21 tree\)/,
    );
    ok("1.21.1", { "CHANGELOG/CHANGELOG-1.21.md": changelog("1.21.0") }, ["1.9", "1.10", "1.21"]);
  });

  it("a tree that states nothing is not checked", () => {
    ok("1.20.15", {}, []);
    ok("1.20.15", { [VERSION_SH]: UNARCHIVED }, []);
  });
});
