/** Packs the bundled example trees into official-style tarballs (scripts/make-example.sh). */
import { execa } from "execa";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "./cli.js";

export const EXAMPLES = {
  "patch-era": "1.13.12",
  "tag-era": "1.20.15",
  "post-fix": "1.21.14",
  "broken-tag": "1.19.16",
} as const;

export interface ExampleRelease {
  dir: string; // serve this directory: it has v<version>/kubernetes-src.tar.gz(.sha512) and release/
  tarball: string;
  sha512: string;
}

export async function makeExample(
  era: keyof typeof EXAMPLES,
  version: string = EXAMPLES[era],
  dir?: string,
  extra: string[] = [],
): Promise<ExampleRelease> {
  const out = dir ?? (await mkdtemp(join(tmpdir(), "kmem-example-")));
  await execa("sh", [join(REPO, "scripts", "make-example.sh"), ...extra, era, version, out]);
  const tarball = join(out, `v${version}`, "kubernetes-src.tar.gz");
  return { dir: out, tarball, sha512: (await readFile(`${tarball}.sha512`, "utf8")).trim().split(/\s+/)[0]! };
}
