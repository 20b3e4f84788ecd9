/**
 * What a build takes in from a place others may write (a --source file, the download cache, the
 * kept binaries and RPMs) is copied into this run's private directory and hashed while copied; only
 * that copy is used afterwards. A later change of the original then changes nothing this run uses.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { copyAtomic } from "../util/fs.js";
import { NotRegularFileError, copyAndHash } from "../util/hash.js";
import { keptDigest, sealKept } from "../util/kept-results.js";
import { noteUse } from "../cache/use.js";
import type { BuildContext } from "./context.js";

/** This run's own directory (0700, a new name) inside the work directory. */
export async function privateDir(ctx: Pick<BuildContext, "opts" | "custodyDir">): Promise<string> {
  ctx.custodyDir ??= await mkdtemp(join(ctx.opts.workDir, "custody-"));
  return ctx.custodyDir;
}

export type KeptKind = "kept-binary" | "kept-rpm";

/**
 * Copies of binaries stay executable, as the build made them (a refused one is kept for
 * examination and run by the real-node test); the directory they are in is the run's own (0700).
 * A kept RPM's copy goes to the staging directory, readable as rpmbuild leaves its output.
 */
export const BINARY_MODE = 0o755;

/**
 * Takes a file the cache kept under `key` into `dest` (a new file), and only when its bytes are
 * the ones sealed when it was put in. Null when there is nothing to reuse; a file that is there but
 * not sealed, or changed since, is said in the log and left alone (the caller makes it again).
 */
export async function takeKept(
  ctx: Pick<BuildContext, "opts" | "log" | "notices" | "version">,
  kind: KeptKind,
  key: string,
  kept: string,
  dest: string,
  what: string,
): Promise<{ sha256: string } | null> {
  let copied: { digest: string };
  await noteUse(ctx.opts.cacheDir, kept, ctx.version);
  try {
    copied = await copyAndHash(kept, dest, "sha256", {
      noFollow: true,
      mode: kind === "kept-binary" ? BINARY_MODE : 0o644,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    const why =
      err instanceof NotRegularFileError
        ? `it is ${err.kind}`
        : code === "ELOOP"
          ? "it is a symbolic link"
          : (err as Error).message;
    refuseKept(ctx, what, kept, why);
    return null;
  }
  const sealed = await keptDigest(ctx.opts.cacheDir, kind, key);
  const why = !sealed
    ? "it carries no seal made with this cache's key"
    : sealed !== copied.digest
      ? `its sha256 ${copied.digest.slice(0, 16)}… is not the ${sealed.slice(0, 16)}… sealed when it was kept`
      : null;
  if (why) {
    await rm(dest, { force: true });
    refuseKept(ctx, what, kept, why);
    return null;
  }
  return { sha256: copied.digest };
}

function refuseKept(
  ctx: Pick<BuildContext, "log" | "notices">,
  what: string,
  kept: string,
  why: string,
): void {
  const line = `the cached ${what} (${kept}) was not reused: ${why}; made again`;
  ctx.log(line);
  ctx.notices.push(line);
}

/** Puts `file` (this run's own copy, of sha256 `sha256`) into the cache at `kept`, sealed. */
export async function putKept(
  ctx: Pick<BuildContext, "opts" | "log" | "version">,
  kind: KeptKind,
  key: string,
  file: string,
  kept: string,
  sha256: string,
): Promise<void> {
  await noteUse(ctx.opts.cacheDir, kept, ctx.version);
  await copyAtomic(file, kept);
  if (!(await sealKept(ctx.opts.cacheDir, kind, key, sha256)))
    ctx.log(
      `${kept}: kept but not sealed (the cache's key ${ctx.opts.cacheDir}/verdicts/hmac.key is not usable): it will not be reused`,
    );
}
