/**
 * The check source step: reading the source archive safely. A first pass lists every entry and
 * refuses the whole archive on anything unsafe (absolute or `..` paths, links leaving the tree,
 * devices); only then is it extracted (extract.ts). Archives with one top-level directory (GitHub)
 * are stripped. --dry-run runs the same scan (previewSourceFiles).
 */
import type { ReadEntry } from "tar";
import { lstat, readFile, stat, readdir, rm } from "node:fs/promises";
import { createReadStream } from "node:fs";
import { join, posix, resolve } from "node:path";
import { createGunzip, gunzipSync } from "node:zlib";
import { checkTree } from "../../util/tree-guard.js";
import { UsageError } from "../../errors.js";
import { hashText } from "../../util/hash.js";
import { keepResult, readKeptResult } from "../../util/kept-results.js";
import { TOOL_VERSION } from "../../version.js";
import type { BuildContext } from "../context.js";
import type { Reporter } from "../step.js";
import type { PreviewContext } from "../preview.js";
import { imageFilesOf } from "./builder-image.js";
import { changelogMinor, checkTreeVersion, versionFilesOf } from "./tree-version.js";

const SAFE_TYPES = new Set(["File", "OldFile", "ContiguousFile", "Directory", "SymbolicLink", "Link"]);

export interface ArchiveScan {
  entries: number;
  strip: number;
  maxMtime: number;
  hasKubelet: boolean;
  /** The minors of the tree's CHANGELOG-X.Y.md files (tree-version.ts). */
  changelogMinors?: string[];
  /** Contents of the requested small files (paths relative to the tree root). */
  files: Record<string, string>;
}

function refuse(archive: string, entry: string, why: string): never {
  throw new UsageError(
    `refusing ${archive}: entry ${JSON.stringify(entry)} ${why}`,
    "use an official kubernetes-src.tar.gz or a GitHub archive of a release tag",
  );
}

function unsafePath(p: string): boolean {
  return p.startsWith("/") || /^[A-Za-z]:/.test(p) || p.split("/").includes("..");
}

/**
 * Whether `target`, seen from directory `from` (tree-relative components), resolves inside the
 * tree when the archive's own symlinks (tree-relative path -> target) are followed.
 */
function staysInside(from: string[], target: string, links: Map<string, string>): boolean {
  if (target.startsWith("/")) return false;
  const done: string[] = [];
  let todo = [...from, ...target.split("/")];
  for (let hops = 0; todo.length;) {
    const c = todo.shift()!;
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (!done.length) return false;
      done.pop();
      continue;
    }
    done.push(c);
    const link = links.get(done.join("/"));
    if (link === undefined) continue;
    if (++hops > 40 || link.startsWith("/")) return false; // a loop, or absolute
    done.pop();
    todo = [...link.split("/"), ...todo];
  }
  return true;
}

/** A gzip of nothing but tar's zero end blocks: tar readers call it "unrecognized", users call it empty. */
async function isEmptyTarGz(file: string): Promise<boolean> {
  const buf = await readFile(file);
  if (buf.length > 1 << 20 || buf[0] !== 0x1f || buf[1] !== 0x8b) return false;
  try {
    return gunzipSync(buf, { maxOutputLength: 1 << 24 }).every((b) => b === 0);
  } catch {
    return false;
  }
}

/**
 * Lists a .tar.gz entry by entry (tar.t, plus whether tar's end-of-archive marker was reached:
 * a tar cut at an entry boundary and then gzipped completely reads "fine" without that check).
 */
/**
 * Limits that stop a decompression bomb early (a few hundred KB of gzip that inflates into millions
 * of entries or gigabytes): the genuine 1.20.2 tree is 27,599 entries, ~34 MB compressed, a ratio
 * of about 6. Counted while streaming, so a bomb is refused as soon as a limit is crossed.
 */
export const ARCHIVE_LIMITS = {
  maxEntries: 300_000,
  maxBytes: 8 * 1024 ** 3,
  /** Above this much output, the output/input ratio must stay below maxRatio. */
  ratioAfterBytes: 64 * 1024 ** 2,
  maxRatio: 100,
};

class ArchiveBomb extends Error {}

async function listArchive(archive: string, onReadEntry: (e: ReadEntry) => void): Promise<boolean> {
  // node-tar is loaded only when an archive is actually listed (a no-op build reuses the verdict).
  const tar = await import("tar");
  let entries = 0;
  const parser = new tar.Parser({
    strict: true,
    onReadEntry: (e) => {
      if (++entries > ARCHIVE_LIMITS.maxEntries)
        parser.emit("error", new ArchiveBomb(`more than ${ARCHIVE_LIMITS.maxEntries} entries`));
      onReadEntry(e);
      e.resume();
    },
  });
  let sawEnd = false;
  parser.on("eof", () => (sawEnd = true));
  await new Promise<void>((resolve, reject) => {
    const input = createReadStream(archive);
    const gunzip = createGunzip();
    let inBytes = 0;
    let outBytes = 0;
    const fail = (err: Error) => {
      input.destroy();
      gunzip.destroy();
      reject(err);
    };
    input.on("data", (c) => (inBytes += c.length));
    gunzip.on("data", (c: Buffer) => {
      outBytes += c.length;
      if (outBytes > ARCHIVE_LIMITS.maxBytes)
        fail(new ArchiveBomb(`it inflates to more than ${ARCHIVE_LIMITS.maxBytes} bytes`));
      else if (
        outBytes > ARCHIVE_LIMITS.ratioAfterBytes &&
        outBytes / Math.max(inBytes, 1) > ARCHIVE_LIMITS.maxRatio
      )
        fail(
          new ArchiveBomb(
            `it inflates more than ${ARCHIVE_LIMITS.maxRatio} times (${inBytes} bytes read gave ${outBytes})`,
          ),
        );
    });
    input.on("error", fail);
    gunzip.on("error", fail);
    parser.on("error", fail);
    parser.on("end", resolve);
    input.pipe(gunzip).pipe(parser as unknown as NodeJS.WritableStream);
  });
  return sawEnd;
}

/** An entry's path as it lands on disk: `./a/./b/` is `a/b`; the archive root itself is `.`. */
function normPath(p: string): string {
  const n = posix.normalize(p).replace(/\/$/, "");
  return n.startsWith("./") ? n.slice(2) : n;
}

/** `name`: how messages call the archive (a private copy is read, the user's path is named). */
export async function scanArchive(file: string, wanted: string[], name = file): Promise<ArchiveScan> {
  const archive = name;
  const seen: { path: string; type: string; linkpath?: string }[] = [];
  const raw: Record<string, Buffer> = {};
  let maxMtime = 0;
  let complete: boolean;
  try {
    complete = await listArchive(file, (e) => {
      seen.push({ path: e.path, type: e.type, linkpath: e.linkpath });
      if (e.mtime) maxMtime = Math.max(maxMtime, Math.floor(e.mtime.getTime() / 1000));
      const rel = normPath(e.path);
      const tail = rel.includes("/") ? rel.slice(rel.indexOf("/") + 1) : rel;
      if (e.type === "File" && (wanted.includes(rel) || wanted.includes(tail))) {
        const chunks: Buffer[] = [];
        e.on("data", (c: Buffer) => chunks.push(c));
        e.on("end", () => (raw[rel] = Buffer.concat(chunks)));
      } else e.resume();
    });
  } catch (err) {
    if (err instanceof ArchiveBomb)
      throw new UsageError(
        `refusing ${archive}: it looks like a decompression bomb: ${err.message}`,
        "use an official kubernetes-src.tar.gz; a real Kubernetes source archive is far below these limits",
      );
    const e = err as Error & { code?: string };
    if (!seen.length && (await isEmptyTarGz(file))) {
      throw new UsageError(
        `refusing ${archive}: the archive is empty`,
        "use an official kubernetes-src.tar.gz",
      );
    }
    const code = e.code && !e.message.startsWith(e.code) ? `${e.code}: ` : "";
    throw new UsageError(
      `cannot read ${archive} as a gzip-compressed tar archive: ${code}${e.message}`,
      "the file is truncated or not a .tar.gz; delete it and fetch it again",
    );
  }
  if (!seen.length)
    throw new UsageError(
      `refusing ${archive}: the archive is empty`,
      "use an official kubernetes-src.tar.gz",
    );
  if (!complete)
    throw new UsageError(
      `refusing ${archive}: the archive is truncated (it ends after ${seen.length} entries without tar's end-of-archive marker)`,
      "the file is incomplete; delete it and fetch it again",
    );
  for (const e of seen) {
    if (!SAFE_TYPES.has(e.type))
      refuse(
        archive,
        e.path,
        `is a ${e.type} (only files, directories and links inside the tree are allowed)`,
      );
    if (unsafePath(e.path)) refuse(archive, e.path, "points outside the extraction directory");
    if (e.type === "Link" && (!e.linkpath || unsafePath(e.linkpath)))
      refuse(archive, e.path, `is a hard link to ${e.linkpath} outside the tree`);
    if (e.type === "SymbolicLink") {
      const target = e.linkpath ?? "";
      const resolved = posix.normalize(posix.join(posix.dirname(e.path.replace(/^\.\//, "")), target));
      if (target.startsWith("/") || resolved === ".." || resolved.startsWith("../")) {
        refuse(archive, e.path, `is a symbolic link to ${target}, outside the tree`);
      }
    }
  }
  const inTree = seen.filter((e) => normPath(e.path) !== ".");
  const tops = new Set(inTree.map((e) => normPath(e.path).split("/")[0]));
  const single = tops.size === 1 && inTree.some((e) => normPath(e.path).split("/").length > 1);
  const strip = single ? 1 : 0;
  // GNU tar counts a leading "./" as a component of its own when stripping.
  const dotted = seen.filter((e) => e.path.startsWith("./")).length;
  if (strip && dotted && dotted !== seen.length)
    refuse(
      archive,
      seen.find((e) => !e.path.startsWith("./"))!.path,
      "mixes paths with and without a leading ./",
    );
  const extractStrip = strip && dotted ? strip + 1 : strip;
  // Links chain (a -> ., b -> a/..): lexically b stays inside, on disk it is the tree's parent. So
  // every link target is resolved through the archive's own symlinks, in the tree as extracted
  // (after stripping), and nothing may sit beneath a symlink (it would be written through it).
  const parts = (p: string) =>
    normPath(p)
      .split("/")
      .filter((c) => c && c !== ".")
      .slice(strip);
  const links = new Map<string, string>();
  for (const e of seen) if (e.type === "SymbolicLink") links.set(parts(e.path).join("/"), e.linkpath ?? "");
  for (const e of seen) {
    const path = parts(e.path);
    for (let i = 1; i < path.length; i++) {
      const dir = path.slice(0, i).join("/");
      if (links.has(dir))
        refuse(archive, e.path, `lies beneath the symbolic link ${dir} (nothing is written through links)`);
    }
    if (e.type === "SymbolicLink" && !staysInside(path.slice(0, -1), e.linkpath ?? "", links))
      refuse(archive, e.path, `is a symbolic link to ${e.linkpath} that leaves the tree through other links`);
    if (e.type === "Link" && !staysInside([], parts(e.linkpath ?? "").join("/"), links))
      refuse(archive, e.path, `is a hard link to ${e.linkpath} that leaves the tree through symbolic links`);
  }
  const files: Record<string, string> = {};
  for (const [rel, buf] of Object.entries(raw)) {
    const key = strip ? rel.slice(rel.indexOf("/") + 1) : rel;
    if (wanted.includes(key)) files[key] = buf.toString("utf8");
  }
  const hasKubelet = seen.some((e) => {
    const p = parts(e.path);
    return p[0] === "cmd" && p[1] === "kubelet";
  });
  const changelogMinors = seen
    .filter((e) => e.type === "File")
    .map((e) => changelogMinor(parts(e.path).join("/")))
    .filter((m): m is string => m !== null);
  return { entries: seen.length, strip: extractStrip, maxMtime, hasKubelet, changelogMinors, files };
}

/** Reads the requested files and the newest mtime from an extracted source directory. */
export async function scanDirectory(dir: string, wanted: string[]): Promise<ArchiveScan> {
  const files: Record<string, string> = {};
  for (const w of wanted) {
    const text = await readFile(join(dir, w), "utf8").catch(() => null);
    if (text !== null) files[w] = text;
  }
  const top = await readdir(dir);
  if (!top.length) throw new UsageError(`source directory ${dir} is empty`);
  let maxMtime = 0;
  for (const name of top)
    maxMtime = Math.max(maxMtime, Math.floor((await stat(join(dir, name))).mtimeMs / 1000));
  const changelogs = [
    ...top,
    ...(await readdir(join(dir, "CHANGELOG")).catch(() => [])).map((n) => `CHANGELOG/${n}`),
  ];
  const changelogMinors = changelogs.map(changelogMinor).filter((m): m is string => m !== null);
  return {
    entries: top.length,
    strip: 0,
    maxMtime,
    hasKubelet: await hasKubeletDir(dir),
    changelogMinors,
    files,
  };
}

const ARCHIVE_SCAN_RESULT = "archive-scan";

/**
 * What an archive's scan depends on: the archive's bytes (its sha512, verified in fetch source just
 * before), the files read from it, the limits and the scanner (the tool's version).
 */
export function archiveVerdictKey(sha512: string, wanted: string[]): string {
  return hashText(JSON.stringify({ format: 2, tool: TOOL_VERSION, sha512, wanted, limits: ARCHIVE_LIMITS }));
}

export async function checkSource(ctx: BuildContext, task: Reporter): Promise<void> {
  const src = ctx.source!;
  try {
    // A directory is checked as it is on disk before anything reads it (a link out is refused).
    if (src.kind === "directory") await checkTree(src.path);
    const wanted = [...imageFilesOf(ctx.recipe), ...versionFilesOf(ctx.version)];
    let reused = false;
    let scan: ArchiveScan;
    if (src.kind === "tarball") {
      const key = src.sha512 ? archiveVerdictKey(src.sha512, wanted) : null;
      const kept = key
        ? await readKeptResult<ArchiveScan>(ctx.opts.cacheDir, ARCHIVE_SCAN_RESULT, key)
        : null;
      // Kept on --rebuild too: the verdict is about these bytes, not a build product.
      reused = !!kept;
      scan = reused ? kept! : await scanArchive(src.file, wanted, src.path);
      if (key && !reused && scan.hasKubelet)
        await keepResult(ctx.opts.cacheDir, ARCHIVE_SCAN_RESULT, key, scan);
    } else scan = await scanDirectory(src.path, wanted);
    if (reused) ctx.log(`archive scan: verdict kept for sha512 ${src.sha512!.slice(0, 16)}… reused`);
    requireKubelet(scan.hasKubelet, src.path);
    checkTreeVersion(ctx.version, scan.files, scan.changelogMinors ?? [], src.path);
    ctx.treeFiles = scan.files;
    ctx.archiveStrip = scan.strip;
    // Reproducible builds: the time comes from the source (git archive sets commit time), never the clock.
    ctx.sourceDateEpoch = Number(process.env.SOURCE_DATE_EPOCH) || scan.maxMtime;
    task.output = `${scan.entries} entries${scan.strip ? ", one top-level directory (stripped)" : ""}${reused ? " (scanned before: verdict kept for this sha512)" : ""}; SOURCE_DATE_EPOCH=${ctx.sourceDateEpoch}`;
  } catch (err) {
    // A download that matched its checksum but is not a usable tree must not stay in the cache
    // (the next run would trust it again). A local --source file is the user's: left alone.
    if (src.kind === "tarball" && src.url !== null) {
      await rm(src.path, { force: true });
      if (err instanceof UsageError)
        throw new UsageError(`${err.message} (downloaded from ${src.url}; not kept in the cache)`, err.hint);
    }
    throw err;
  }
}

/**
 * The one check that a tree is a Kubernetes tree: cmd/kubelet is a directory. Made on what
 * check source read (the archive's listing, or the directory), and again on what landed on disk.
 */
export function requireKubelet(has: boolean, from: string): void {
  if (!has)
    throw new UsageError(
      `${from} is not a Kubernetes source tree: cmd/kubelet is missing`,
      "give the kubernetes-src.tar.gz of a release (or its extracted directory)",
    );
}

/** Whether `dir`/cmd/kubelet is a real directory (a link there does not count). */
export async function hasKubeletDir(dir: string): Promise<boolean> {
  return lstat(join(dir, "cmd", "kubelet")).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** What --dry-run reads of a --source: the small files the image choice needs, by the same scan. */
export async function previewSourceFiles(ctx: PreviewContext): Promise<void> {
  if (!ctx.opts.source) return;
  const src = resolve(ctx.opts.source);
  const isDir = await stat(src).then(
    (s) => s.isDirectory(),
    () => false,
  );
  const wanted = imageFilesOf(ctx.recipe);
  ctx.treeFiles = (isDir ? await scanDirectory(src, wanted) : await scanArchive(src, wanted)).files;
}
