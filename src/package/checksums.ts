/** SHA256SUMS files in `sha256sum -c` format: `<hex>  <name>`, sorted by name (as goreleaser writes them). */
import { readFile, rename, writeFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { BuildError, UsageError } from "../errors.js";
import { hashFile } from "../util/hash.js";

export const SUMS_FILE = "SHA256SUMS";

export const sha256File = (path: string): Promise<string> => hashFile(path, "sha256");

/** A name as sha256sum prints it: relative to `dir`, with forward slashes. */
function nameIn(dir: string, file: string): string {
  const rel = relative(dir, isAbsolute(file) ? file : join(dir, file));
  if (!rel || rel.startsWith("..") || isAbsolute(rel)) throw new BuildError(`${file} is not inside ${dir}`);
  // sha256sum escapes these with a leading backslash; our file names never need them.
  if (/[\n\\]/.test(rel))
    throw new BuildError(`file name not supported in ${SUMS_FILE}: ${JSON.stringify(rel)}`);
  return rel.split(sep).join("/");
}

export function formatSha256Sums(entries: ReadonlyArray<{ name: string; sha256: string }>): string {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sorted.map((e) => `${e.sha256}  ${e.name}\n`).join("");
}

/** Writes `dir/SHA256SUMS` for `files` (paths inside `dir`, absolute or relative to it); returns its path. */
export async function writeSha256Sums(dir: string, files: string[]): Promise<string> {
  const root = resolve(dir);
  const entries = await Promise.all(
    files.map(async (f) => {
      const name = nameIn(root, f);
      return { name, sha256: await sha256File(join(root, name)) };
    }),
  );
  const out = join(root, SUMS_FILE);
  await writeFile(`${out}.partial`, formatSha256Sums(entries));
  await rename(`${out}.partial`, out);
  return out;
}

/** name → lowercase hex. Accepts text and binary (`*name`) mode lines; rejects anything else. */
export function parseSha256Sums(text: string, source = SUMS_FILE): Map<string, string> {
  const sums = new Map<string, string>();
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m)
      throw new UsageError(`${source}:${i + 1}: not a sha256sum line: ${JSON.stringify(line.slice(0, 80))}`);
    sums.set(m[2]!, m[1]!.toLowerCase());
  });
  return sums;
}

export async function readSha256Sums(file: string): Promise<Map<string, string>> {
  return parseSha256Sums(await readFile(file, "utf8"), file);
}
