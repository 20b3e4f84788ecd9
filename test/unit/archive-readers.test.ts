/**
 * The scan (node-tar) and the extraction (GNU tar) read one kind of header
 * differently. A PAX `x` record followed by a GNU `L` (long name) or `K` (long link) record: node-tar
 * takes the last record, GNU tar the PAX one. Shown here with both real readers on archives written
 * byte by byte; the listing passes the scan, and what GNU tar puts on disk is refused by the check of
 * the extracted tree (the build's own refusal is in test/failure/archive-readers.host.test.ts).
 */
import { describe, it, expect } from "vitest";
import * as tar from "tar";
import { execFileSync } from "node:child_process";
import { lstat, mkdtemp, readFile, readlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scanArchive } from "../../src/pipeline/steps/check-source.js";
import { checkTree } from "../../src/util/tree-guard.js";
import { tarGz, MINIMAL_TREE, type RawEntry } from "../helpers/tarball.js";

/** What each reader lists: "<type> <path>[ -> <link>]". */
async function nodeTarSees(file: string): Promise<string[]> {
  const seen: string[] = [];
  await tar.t({
    file,
    onReadEntry: (e) => seen.push(`${e.type} ${e.path}${e.linkpath ? ` -> ${e.linkpath}` : ""}`),
  });
  return seen;
}

function gnuTarSees(file: string): string[] {
  // `tar -tv` prints "<mode> <owner> <size> <date> <time> <path>[ -> <link>]"
  return execFileSync("tar", ["-tvzf", file], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => {
      const m = /^(\S)\S+\s+\S+\s+\d+\s+\S+\s+\S+\s+(.*)$/.exec(l)!;
      return `${{ "-": "File", d: "Directory", l: "SymbolicLink" }[m[1]!] ?? m[1]} ${m[2]}`;
    });
}

async function archiveOf(entries: RawEntry[]): Promise<string> {
  const f = join(await mkdtemp(join(tmpdir(), "kmem-readers-")), "src.tar.gz");
  await writeFile(f, tarGz([...MINIMAL_TREE, ...entries]));
  return f;
}

describe("a PAX record followed by a GNU long name or link: node-tar and GNU tar disagree", () => {
  const outside = "/var/tmp/kmem-build-outside-sentinel";
  const cases: { what: string; entry: RawEntry; scanSees: string; tarSees: string }[] = [
    {
      what: "a symbolic link out (absolute)",
      entry: {
        path: "_output",
        type: "symlink",
        linkpath: "cmd",
        pax: { linkpath: outside },
        gnuLongLink: "cmd",
      },
      scanSees: "SymbolicLink _output -> cmd",
      tarSees: `SymbolicLink _output -> ${outside}`,
    },
    {
      what: "a symbolic link out (../..)",
      entry: {
        path: ".kmem-build",
        type: "symlink",
        linkpath: "cmd",
        pax: { linkpath: "../../outside" },
        gnuLongLink: "cmd",
      },
      scanSees: "SymbolicLink .kmem-build -> cmd",
      tarSees: "SymbolicLink .kmem-build -> ../../outside",
    },
    {
      what: "a file the scan never saw",
      entry: { path: "notes", body: "hidden\n", pax: { path: "never-listed" }, gnuLongName: "docs-notes" },
      scanSees: "File docs-notes",
      tarSees: "File never-listed",
    },
  ];

  it.each(cases)("$what: each reader names a different entry", async (c) => {
    const f = await archiveOf([c.entry]);
    const scan = await nodeTarSees(f);
    const gnu = gnuTarSees(f);
    process.stderr.write(`${c.what}\n  node-tar sees: ${scan.at(-1)}\n  GNU tar sees:  ${gnu.at(-1)}\n`);
    expect(scan.at(-1)).toBe(c.scanSees);
    expect(gnu.at(-1)).toBe(c.tarSees);
    // the honest entries before it read the same in both
    expect(scan.slice(0, -1).map((s) => s.replace(/\/$/, ""))).toEqual(
      gnu.slice(0, -1).map((s) => s.replace(/\/$/, "")),
    );
  });

  it("the scan passes each archive; the tree GNU tar extracts from it shows the link, and checkTree refuses it", async () => {
    for (const c of cases.filter((x) => x.entry.type === "symlink")) {
      const f = await archiveOf([c.entry]);
      await expect(scanArchive(f, [])).resolves.toMatchObject({ hasKubelet: true, strip: 0 });
      const out = await mkdtemp(join(tmpdir(), "kmem-readers-x-"));
      execFileSync("tar", ["-xzf", f, "-C", out, "--no-same-owner"]);
      expect(await readlink(join(out, c.entry.path))).toBe(c.entry.pax!.linkpath);
      await expect(checkTree(out)).rejects.toThrow(
        new RegExp(
          `${c.entry.path.replace(".", "\\.")} is a symbolic link to ${c.entry.pax!.linkpath}, outside the tree`,
        ),
      );
    }
  });

  it("the file the scan never saw lands on disk under the PAX name", async () => {
    const c = cases.find((x) => x.what === "a file the scan never saw")!;
    const f = await archiveOf([c.entry]);
    await expect(scanArchive(f, ["never-listed"])).resolves.toMatchObject({ files: {} });
    const out = await mkdtemp(join(tmpdir(), "kmem-readers-x-"));
    execFileSync("tar", ["-xzf", f, "-C", out, "--no-same-owner"]);
    expect(await readFile(join(out, "never-listed"), "utf8")).toBe("hidden\n");
    await expect(lstat(join(out, "docs-notes"))).rejects.toThrow(/ENOENT/);
  });
});
