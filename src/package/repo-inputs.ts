/**
 * Finds the RPMs in kmem-build build outputs and checks each against the SHA256SUMS that lists it.
 * A --from directory may be `dist/` (with `<version>/` subdirectories) or a single `<version>/` directory;
 * any directory holding a SHA256SUMS covers the RPMs at or below it.
 */
import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { UsageError } from "../errors.js";
import { SUMS_FILE, readSha256Sums, sha256File } from "./checksums.js";

export interface InputRpm {
  /** Absolute path in the build output. */
  path: string;
  name: string;
  sha256: string;
  /** The SHA256SUMS file that vouched for it. */
  sumsFile: string;
}

const MAX_DEPTH = 4;

async function walk(
  dir: string,
  skip: ReadonlySet<string>,
  depth: number,
  rpms: string[],
  sums: string[],
): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (depth < MAX_DEPTH && !e.name.startsWith(".") && e.name !== "repodata" && !skip.has(p)) {
        await walk(p, skip, depth + 1, rpms, sums);
      }
    } else if (e.isFile() && e.name.endsWith(".rpm")) rpms.push(p);
    else if (e.isFile() && e.name === SUMS_FILE) sums.push(p);
  }
}

/** The nearest SHA256SUMS at or above the RPM (up to `root`) that lists it. */
function findEntry(rpm: string, root: string, sums: Map<string, Map<string, string>>) {
  for (let dir = dirname(rpm); ; dir = dirname(dir)) {
    const file = join(dir, SUMS_FILE);
    const name = relative(dir, rpm).split(sep).join("/");
    const expected = sums.get(file)?.get(name);
    if (expected) return { file, expected };
    if (dir === root || dirname(dir) === dir) return null;
  }
}

/** `exclude`: directories never searched (the repository being written, when it sits inside a --from). */
export async function findInputRpms(fromDirs: string[], exclude: string[] = []): Promise<InputRpm[]> {
  const skip = new Set(exclude.map((d) => resolve(d)));
  const byName = new Map<string, InputRpm>();
  for (const from of fromDirs) {
    const root = resolve(from);
    if (!(await stat(root).catch(() => null))?.isDirectory()) {
      throw new UsageError(
        `--from ${from}: not a directory`,
        "pass a kmem-build output directory (dist/ or dist/<version>/)",
      );
    }
    const rpmPaths: string[] = [];
    const sumsPaths: string[] = [];
    await walk(root, skip, 0, rpmPaths, sumsPaths);
    if (!rpmPaths.length)
      throw new UsageError(`--from ${from}: no .rpm files found`, "build with packaging enabled first");
    const sums = new Map<string, Map<string, string>>();
    for (const s of sumsPaths) sums.set(s, await readSha256Sums(s));

    for (const path of rpmPaths.sort()) {
      const entry = findEntry(path, root, sums);
      if (!entry) {
        throw new UsageError(
          `${path}: not listed in any ${SUMS_FILE} under ${from}`,
          `only RPMs from a kmem-build output (with its ${SUMS_FILE}) are accepted`,
        );
      }
      const actual = await sha256File(path);
      if (actual !== entry.expected) {
        throw new UsageError(
          `checksum mismatch: ${path}\n  expected ${entry.expected} (${entry.file})\n  actual   ${actual}`,
          "the file changed after the build; rebuild it or find out who modified it",
        );
      }
      const name = basename(path);
      const seen = byName.get(name);
      if (seen && seen.sha256 !== actual) {
        throw new UsageError(
          `two different files named ${name}: ${seen.path} and ${path}`,
          "a repository can hold only one of them",
        );
      }
      if (!seen) byName.set(name, { path, name, sha256: actual, sumsFile: entry.file });
    }
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
