/**
 * The one rule for every output directory a command replaces (a release `<out>/<version>/`, the
 * refused binaries beside it, `manifests --out`, `repo --out`): a missing or empty directory is
 * taken; a non-empty one is replaced only when it carries the marker this tool wrote there.
 * Anything else is the user's and is never deleted.
 */
import { lstat, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import { TOOL_VERSION } from "../version.js";

export interface OwnedOutput {
  /** The flag the user gave the directory with, for messages (`--out`). */
  flag: string;
  /** What writes it, for messages ("kmem-build repo"). */
  writer: string;
  /** The marker file inside the directory. */
  marker: string;
  /** Whether the marker's text is what the writer puts there. */
  ours: (text: string) => boolean;
  /** The marker's text (omitted where the marker is a file the output holds anyway, e.g. a release's manifest.json). */
  text?: string;
}

function signed(writer: string): Pick<OwnedOutput, "ours" | "text"> {
  const text = `written by kmem-build ${TOOL_VERSION} (${writer}); kmem-build replaces this directory whole\n`;
  return { text, ours: (t) => t.startsWith("written by kmem-build ") && t.includes(`(${writer})`) };
}

export const MANIFESTS_OUTPUT: OwnedOutput = {
  flag: "--out",
  writer: "kmem-build manifests",
  marker: ".kmem-build-manifests",
  ...signed("kmem-build manifests"),
};

export const REPO_OUTPUT: OwnedOutput = {
  flag: "--out",
  writer: "kmem-build repo",
  marker: ".kmem-build-repo",
  ...signed("kmem-build repo"),
};

/** A release directory is marked by its manifest.json (tool.name kmem-build). */
export const RELEASE_OUTPUT: OwnedOutput = {
  flag: "--out",
  writer: "kmem-build build",
  marker: "manifest.json",
  ours: (t) => {
    try {
      return (JSON.parse(t) as { tool?: { name?: unknown } }).tool?.name === "kmem-build";
    } catch {
      return false;
    }
  },
};

export const REJECTED_OUTPUT: OwnedOutput = {
  flag: "--out",
  writer: "kmem-build build (refused binaries)",
  marker: ".kmem-build-rejected",
  ...signed("kmem-build build (refused binaries)"),
};

/** Whether `dir` (which exists) is empty or carries `o`'s marker: a regular file, not a link. */
export async function isOwnedOrEmpty(dir: string, o: OwnedOutput): Promise<boolean> {
  const entries = await readdir(dir);
  if (!entries.length) return true;
  const st = await lstat(join(dir, o.marker)).catch(() => null);
  if (!st?.isFile() || st.size > 1 << 20) return false;
  return o.ours(await readFile(join(dir, o.marker), "utf8").catch(() => ""));
}

/**
 * Refuses (usage error) to replace `dir` unless it is missing, an empty directory, or an earlier
 * output of the same writer; `shown` is the path as the user wrote it.
 */
export async function checkReplaceable(dir: string, o: OwnedOutput, shown = dir): Promise<void> {
  const st = await lstat(dir).catch(() => null);
  if (!st) return;
  if (!st.isDirectory())
    throw new UsageError(
      `${o.flag} ${shown} exists and is not a directory (${st.isSymbolicLink() ? "a symbolic link" : "a file"}): kmem-build replaces only a directory it wrote`,
      "give a new or empty directory",
    );
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`${o.flag} ${shown} exists and is not a readable directory (${err.code})`);
  });
  if (await isOwnedOrEmpty(dir, o)) return;
  const seen = entries.slice(0, 3).join(", ") + (entries.length > 3 ? `, … (${entries.length} entries)` : "");
  throw new UsageError(
    `${o.flag} ${shown} exists and holds files ${o.writer} did not write (${seen}); nothing was deleted`,
    `give a new or empty directory; an earlier output of ${o.writer} (it holds ${o.marker}) is replaced, anything else is left alone: move it away yourself if it is yours to delete`,
  );
}

/** Writes `o`'s marker into the staged directory, so a later run may replace it. */
export async function writeMarker(dir: string, o: OwnedOutput): Promise<void> {
  if (o.text !== undefined) await writeFile(join(dir, o.marker), o.text, { flag: "wx" });
}
