/**
 * Through the real CLI: an archive the scan (node-tar) reads one way and the
 * extraction (GNU tar) another. Each entry below is a PAX `x` record followed by a GNU `K`/`L`
 * record: node-tar takes the GNU record (harmless), GNU tar the PAX one (hostile); the two readers'
 * disagreement itself is shown in test/unit/archive-readers.test.ts. The archive passes
 * `check source`; what GNU tar lands on disk is checked with lstat before any host-side step and
 * refused (exit 2). A sentinel directory outside the work directory, which the host-side steps
 * (version file, Go cache, removal of an earlier kubelet) would write to and delete from through
 * the link, is left exactly as it was.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdir, readFile, writeFile, readdir } from "node:fs/promises";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { tarGz, type RawEntry } from "../helpers/tarball.js";
import { makeExample, type ExampleRelease } from "../helpers/example.js";
import { kb, tmp, removeTmp, listTree, buildArgs } from "./helpers.js";

let example: ExampleRelease;
/** The example release's tar stream without its end-of-archive blocks: honest entries to append to. */
let honest: Buffer;

beforeAll(async () => {
  example = await makeExample("tag-era", "1.20.15", await tmp("example"));
  const raw = gunzipSync(await readFile(example.tarball));
  // drop the trailing zero blocks (GNU tar pads to a 10 KiB record)
  let end = raw.length;
  while (end >= 512 && raw.subarray(end - 512, end).every((b) => b === 0)) end -= 512;
  honest = raw.subarray(0, end);
});

afterAll(removeTmp);

/** <base>/{cache,out,w/work,sentinel}: the sentinel holds what the host-side steps would touch. */
async function layout() {
  const base = await tmp("readers");
  const d = {
    base,
    cache: join(base, "cache"),
    out: join(base, "out"),
    work: join(base, "w", "work"),
    sentinel: join(base, "sentinel"),
  };
  await mkdir(join(base, "w"));
  // an earlier kubelet where the removal of _output/local/bin/linux/amd64/kubelet would reach,
  // and a file where the version file (.kmem-build/version.env) would be written
  await mkdir(join(d.sentinel, "local", "bin", "linux", "amd64"), { recursive: true });
  await writeFile(join(d.sentinel, "local", "bin", "linux", "amd64", "kubelet"), "not yours\n");
  await writeFile(join(d.sentinel, "version.env"), "KEEP=1\n");
  return d;
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const p of await listTree(dir))
    out[p] = p.endsWith("/")
      ? ""
      : createHash("sha256")
          .update(await readFile(join(dir, p)))
          .digest("hex");
  return out;
}

interface Case {
  name: string;
  entry: (d: Awaited<ReturnType<typeof layout>>) => RawEntry;
  message: (d: Awaited<ReturnType<typeof layout>>) => RegExp;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const cases: Case[] = [
  {
    name: "a symbolic link out, absolute (_output -> the sentinel; the scan sees _output -> cmd)",
    entry: (d) => ({
      path: "_output",
      type: "symlink",
      linkpath: "cmd",
      pax: { linkpath: d.sentinel },
      gnuLongLink: "cmd",
    }),
    message: (d) =>
      new RegExp(
        `refusing the source tree ${esc(d.work)}/kmem-build-work-[^/]+/src: _output is a symbolic link to ${esc(d.sentinel)}, outside the tree`,
      ),
  },
  {
    name: "a symbolic link out, ../.. (.kmem-build -> ../../../../sentinel; the scan sees .kmem-build -> cmd)",
    // from the run's <base>/w/work/kmem-build-work-*/src: ../../../../sentinel is <base>/sentinel
    entry: () => ({
      path: ".kmem-build",
      type: "symlink",
      linkpath: "cmd",
      pax: { linkpath: "../../../../sentinel" },
      gnuLongLink: "cmd",
    }),
    message: (d) =>
      new RegExp(
        `refusing the source tree ${esc(d.work)}/kmem-build-work-[^/]+/src: \\.kmem-build is a symbolic link to (\\.\\./){4}sentinel, outside the tree`,
      ),
  },
  {
    name: "a file the scan never saw, over a file the plan read (the scan sees docs/cross-version)",
    // the scan read build/build-image/cross/VERSION from the honest entry; GNU tar then overwrites it
    entry: () => ({
      path: "notes",
      body: "v1.99.0-attacker-1\n",
      pax: { path: "build/build-image/cross/VERSION" },
      gnuLongName: "docs/cross-version",
    }),
    message: () =>
      /build\/build-image\/cross\/VERSION as extracted differs from what the archive listing showed \(the archive's headers are read two ways\)/,
  },
  {
    name: "a file the scan never saw, outside the tree (PAX path ../../escaped; the scan sees docs/escaped)",
    entry: () => ({
      path: "notes",
      body: "pwned\n",
      pax: { path: "../../escaped" },
      gnuLongName: "docs/escaped",
    }),
    message: () =>
      /extraction stopped: tar: Removing leading `\.\.\/\.\.\/' from member names; tar: \.\.\/\.\.\/escaped: Member name contains '\.\.'$/m,
  },
];

describe("an archive whose headers node-tar and GNU tar read differently (PAX x, then GNU K/L)", () => {
  it.each(cases)(
    "$name: passes check source, refused after extraction (exit 2), nothing outside touched",
    async (c) => {
      const d = await layout();
      const before = await snapshot(d.sentinel);
      const file = join(d.base, "kubernetes-src.tar.gz");
      const bytes = tarGz([c.entry(d)], honest);
      await writeFile(file, bytes);
      const sha512 = createHash("sha512").update(bytes).digest("hex");
      const r = await kb(
        buildArgs(
          d.cache,
          d.out,
          "--kubernetes",
          "1.20.15",
          "--arch",
          "amd64",
          "--no-rpm",
          "--work-dir",
          d.work,
          "--source",
          file,
          "--sha512",
          sha512,
        ),
      );
      process.stderr.write(
        `${c.name}\n${r.stderr
          .split("\n")
          .filter((l) => /^(error| {2}hint):? /.test(l))
          .join("\n")}\n`,
      );
      expect(r.code, r.stderr).toBe(2);
      // the scan let it through: the refusal comes at extraction, from what is on disk
      expect(r.stderr).toMatch(/✔ check source|check source \[/);
      expect(r.stderr).toMatch(c.message(d));
      expect(r.stderr).toMatch(/^error: /m);
      expect(r.stderr).toMatch(/hint: use an official kubernetes-src\.tar\.gz/);
      expect(r.stderr).not.toMatch(/internal error| {4}at /);
      // nothing compiled, nothing published, the work dir removed, nothing escaped next to it
      expect(await listTree(join(d.base, "w"))).toEqual([]);
      expect(await readdir(d.out)).toEqual([]);
      // the sentinel the link pointed at: not written, nothing removed
      expect(await snapshot(d.sentinel)).toEqual(before);
      expect(
        (await listTree(d.base)).filter(
          (p) => !/^(cache|out|w|sentinel)\//.test(p) && p !== "kubernetes-src.tar.gz",
        ),
      ).toEqual([]);
    },
  );
});
