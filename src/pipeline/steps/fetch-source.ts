/**
 * Gets the source: a local tarball or directory (--source), or a download from the official
 * base URL or GitHub. Every tarball is checked against its sha512 before anything uses it;
 * verified downloads are cached by version + checksum. The sha512 is that of this run's private
 * copy, made while hashing (src/pipeline/custody.ts): later steps read only that copy, so a file
 * swapped or rewritten after the check changes nothing that is built.
 */
import { mkdir, rm, stat, rename } from "node:fs/promises";
import { join, resolve } from "node:path";
import { downloadFile, fetchText, HttpStatusError } from "../../net/http.js";
import { githubUrl } from "../../options.js";
import { UsageError } from "../../errors.js";
import { NotRegularFileError, copyAndHash } from "../../util/hash.js";
import { stagingPathFor } from "../../util/fs.js";
import { privateDir } from "../custody.js";
import { readPinnedSha512 } from "../../recipes/pins.js";
import type { BuildContext, SourceInfo } from "../context.js";
import type { Reporter } from "../step.js";
import type { PreviewContext } from "../preview.js";
import { noteUse } from "../../cache/use.js";

const SHA512 = /^[0-9a-f]{128}$/;

export function sourceUrl(ctx: Pick<BuildContext, "opts" | "version">): string {
  return ctx.opts.origin === "github"
    ? `${githubUrl()}/kubernetes/kubernetes/archive/refs/tags/v${ctx.version}.tar.gz`
    : `${ctx.opts.baseUrl}/v${ctx.version}/kubernetes-src.tar.gz`;
}

export async function previewSource(ctx: PreviewContext): Promise<void> {
  if (ctx.opts.source) await statLocalSource(ctx.opts.source);
  ctx.shown.source = ctx.opts.source ? { path: resolve(ctx.opts.source) } : { url: sourceUrl(ctx) };
}

/** A --source must exist: the same usage error for the build and its --dry-run. */
async function statLocalSource(source: string) {
  return stat(resolve(source)).catch(() => {
    throw new UsageError(
      `--source ${source} does not exist`,
      "give a kubernetes-src.tar.gz or an extracted source directory",
    );
  });
}

/** Accepts `<hex>`, `<hex>  name` or `<hex> *name`; anything else is a malformed checksum. */
export function parseSha512(text: string, where: string): string {
  const first = text.trim().split(/\s+/)[0]?.toLowerCase() ?? "";
  if (!SHA512.test(first)) {
    throw new UsageError(
      `malformed sha512 checksum from ${where}: ${JSON.stringify(text.trim().slice(0, 60))}`,
      "a sha512 checksum is 128 hexadecimal characters",
    );
  }
  return first;
}

async function expectedSha512(
  ctx: BuildContext,
  url: string,
): Promise<Pick<SourceInfo, "sha512" | "checksumFrom">> {
  if (ctx.opts.sha512) return { sha512: parseSha512(ctx.opts.sha512, "--sha512"), checksumFrom: "flag" };
  const pinned = await readPinnedSha512(ctx.version, ctx.opts.recipesDir);
  if (pinned) return { sha512: pinned, checksumFrom: "pinned" };
  if (ctx.opts.origin === "github") {
    throw new UsageError(
      `no checksum to verify the GitHub archive of v${ctx.version} against`,
      "pass --sha512 HEX, pin it in recipes/pins/sha512.txt, or use the official tarball (--origin dl)",
    );
  }
  try {
    const body = await fetchText(`${url}.sha512`, { signal: ctx.signal });
    return { sha512: parseSha512(body, `${url}.sha512`), checksumFrom: "published" };
  } catch (err) {
    if (err instanceof HttpStatusError && err.status === 404) {
      throw new UsageError(
        `no published checksum at ${url}.sha512`,
        "pass --sha512 HEX (from the release's CHANGELOG)",
      );
    }
    throw err;
  }
}

function mismatch(what: string, expected: string, actual: string): UsageError {
  return new UsageError(
    `sha512 mismatch for ${what}: expected ${expected.slice(0, 16)}…, got ${actual.slice(0, 16)}…`,
    "the file is not the release you asked for (corrupt or tampered); it was not used",
  );
}

/** Copies `from` into this run's private directory, hashing it on the way: the copy and its sha512. */
async function takeIntoCustody(ctx: BuildContext, from: string, noFollow: boolean) {
  const file = join(await privateDir(ctx), "kubernetes-src.tar.gz");
  await rm(file, { force: true }); // a copy of an earlier candidate (a damaged cache entry)
  const { digest } = await copyAndHash(from, file, "sha512", { noFollow });
  return { file, sha512: digest };
}

export async function fetchSource(ctx: BuildContext, task: Reporter): Promise<void> {
  if (ctx.opts.source) {
    const path = resolve(ctx.opts.source);
    const st = await statLocalSource(ctx.opts.source);
    if (st.isDirectory()) {
      ctx.source = {
        kind: "directory",
        path,
        file: path,
        url: null,
        sha512: null,
        checksumFrom: "none",
        cacheHit: false,
      };
      task.output = `using the source directory ${path} (not checksummed)`;
      return;
    }
    const { file, sha512: actual } = await takeIntoCustody(ctx, path, false).catch((err: unknown) => {
      if (err instanceof NotRegularFileError)
        throw new UsageError(
          `--source ${ctx.opts.source} is ${err.kind}, not a regular file or a directory`,
          "give a kubernetes-src.tar.gz or an extracted source directory",
        );
      throw err;
    });
    const expected = ctx.opts.sha512
      ? parseSha512(ctx.opts.sha512, "--sha512")
      : await readPinnedSha512(ctx.version, ctx.opts.recipesDir);
    if (expected && expected !== actual) throw mismatch(path, expected, actual);
    if (!expected)
      ctx.notices.push(`--source ${path} was used without a checksum to verify it against (pass --sha512)`);
    ctx.source = {
      kind: "tarball",
      path,
      file,
      url: null,
      sha512: actual,
      checksumFrom: expected ? (ctx.opts.sha512 ? "flag" : "pinned") : "none",
      cacheHit: false,
    };
    task.output = expected ? "local tarball verified (sha512)" : "local tarball (no checksum given)";
    return;
  }

  const url = sourceUrl(ctx);
  const { sha512, checksumFrom } = await expectedSha512(ctx, url);
  const dir = join(ctx.opts.cacheDir, "sources", `v${ctx.version}`);
  const cached = join(dir, `${sha512!.slice(0, 32)}.tar.gz`);
  await noteUse(ctx.opts.cacheDir, cached, ctx.version);
  const hit = await takeIntoCustody(ctx, cached, true).catch(() => null); // none, or no regular file
  if (hit?.sha512 === sha512) {
    ctx.source = { kind: "tarball", path: cached, file: hit.file, url, sha512, checksumFrom, cacheHit: true };
    task.output = `cache hit: ${cached}`;
    return;
  }
  if (hit) await rm(cached, { force: true }); // a damaged cache entry is never trusted
  await mkdir(dir, { recursive: true });
  const tmp = stagingPathFor(cached, "download");
  try {
    let last = 0;
    await downloadFile(url, tmp, {
      signal: ctx.signal,
      onRetry: (n, why) => (task.output = `retry ${n} after: ${why}`),
      onProgress: (got, total) => {
        if (got - last < 1 << 20 && got !== total) return;
        last = got;
        const mib = (n: number) => (n / 1048576).toFixed(1);
        task.output = total
          ? `${mib(got)} / ${mib(total)} MiB (${Math.floor((got / total) * 100)}%)`
          : `${mib(got)} MiB`;
      },
    });
    const got = await takeIntoCustody(ctx, tmp, true);
    if (got.sha512 !== sha512) throw mismatch(url, sha512!, got.sha512);
    await rename(tmp, cached);
    ctx.source = {
      kind: "tarball",
      path: cached,
      file: got.file,
      url,
      sha512,
      checksumFrom,
      cacheHit: false,
    };
  } finally {
    await rm(tmp, { force: true });
  }
  task.output = `downloaded and verified (${checksumFrom} sha512)`;
}
