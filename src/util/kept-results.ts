/**
 * Kept results: the outcome of a slow step (the safety scan of a source archive, the builder image's
 * tool check), stored in the cache under the hash of exactly what was looked at and reused only for
 * that same content, as binaries and RPMs are. (On disk they live in `<cache>/verdicts/`, the name
 * caches made by earlier versions use; docs/architecture.md's glossary keeps "verdict" for a binary's
 * classification.)
 *
 * A kept result lets a later run skip that work, so it must not be forgeable: each file carries an
 * HMAC-SHA256 over its kind, its content key and its value, made with a random key kept in
 * `<cache>/verdicts/hmac.key` (created on first use, mode 0600, owned by the user). A file
 * written or edited by anyone without that key, copied under another content key, or read while the
 * key file is readable by others is not trusted: the check runs again.
 *
 * The same key seals the files the cache keeps (compiled kubelets, RPMs): `sealKept` records the
 * sha256 of what was put in under its content key, `keptDigest` gives it back only when the seal
 * is ours. Every file here is opened without following a link and without blocking on a FIFO, and
 * only a regular file is read.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { constants } from "node:fs";
import { link, mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openRegular } from "./hash.js";

const KEY_BYTES = 32;
/** Far above any result we keep (an archive scan with its few small files is a few KB). */
const MAX_RESULT_BYTES = 4 << 20;

export function keptResultsDir(cacheDir: string): string {
  return join(cacheDir, "verdicts");
}

function keyPath(cacheDir: string): string {
  return join(keptResultsDir(cacheDir), "hmac.key");
}

function resultPath(cacheDir: string, kind: string, key: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(kind) || !/^[0-9a-f]{16,128}$/.test(key))
    throw new Error(`bad kept result name ${kind}/${key}`);
  return join(keptResultsDir(cacheDir), kind, `${key}.json`);
}

/** The HMAC key, or null when there is none or it is not trustworthy (not ours, not 0600, not a plain file). */
async function readKey(cacheDir: string): Promise<Buffer | null> {
  let fh;
  try {
    // O_NONBLOCK: a FIFO planted here must not hang the build (it is then refused by fstat).
    fh = await open(keyPath(cacheDir), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    const uid = process.getuid?.();
    if (!st.isFile() || (st.mode & 0o077) !== 0 || (uid !== undefined && st.uid !== uid)) return null;
    if (st.size !== KEY_BYTES) return null;
    const key = Buffer.alloc(KEY_BYTES);
    const { bytesRead } = await fh.read(key, 0, KEY_BYTES, 0);
    return bytesRead === KEY_BYTES ? key : null;
  } finally {
    await fh.close();
  }
}

/** Creates the key when there is none (complete before it has its name: link() of a finished file). */
async function ensureKey(cacheDir: string): Promise<Buffer | null> {
  const existing = await readKey(cacheDir);
  if (existing) return existing;
  const dir = keptResultsDir(cacheDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.hmac.key.${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await writeFile(tmp, randomBytes(KEY_BYTES), { flag: "wx", mode: 0o600 });
    // Whoever links first wins; everyone then uses the key under that name.
    await link(tmp, keyPath(cacheDir)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
  } finally {
    await rm(tmp, { force: true });
  }
  return readKey(cacheDir);
}

/** A kept result file's text: a regular file (no link, no FIFO) of bounded size, or an error. */
async function readSmallRegular(path: string): Promise<string> {
  const fh = await openRegular(path, true);
  try {
    const st = await fh.stat();
    if (st.size > MAX_RESULT_BYTES) throw new Error(`${path} is too large for a kept result`);
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return buf.subarray(0, bytesRead).toString("utf8");
  } finally {
    await fh.close();
  }
}

function mac(key: Buffer, kind: string, contentKey: string, value: unknown): Buffer {
  return createHmac("sha256", key)
    .update(JSON.stringify([kind, contentKey, value]))
    .digest();
}

/** The kept value for exactly this content, or null (none, unreadable, or not signed with our key). */
export async function readKeptResult<T>(
  cacheDir: string,
  kind: string,
  contentKey: string,
): Promise<T | null> {
  const key = await readKey(cacheDir);
  if (!key) return null;
  let parsed: { kind?: unknown; key?: unknown; value?: unknown; mac?: unknown };
  try {
    parsed = JSON.parse(await readSmallRegular(resultPath(cacheDir, kind, contentKey))) as typeof parsed;
  } catch {
    return null;
  }
  if (parsed.kind !== kind || parsed.key !== contentKey || typeof parsed.mac !== "string") return null;
  const expected = mac(key, kind, contentKey, parsed.value);
  const given = Buffer.from(parsed.mac, "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  return parsed.value as T;
}

/**
 * Keeps a result for this content. Best effort: a cache that cannot be written only means the
 * check runs again next time.
 */
export async function keepResult(
  cacheDir: string,
  kind: string,
  contentKey: string,
  value: unknown,
): Promise<boolean> {
  try {
    const key = await ensureKey(cacheDir);
    if (!key) return false;
    const file = resultPath(cacheDir, kind, contentKey);
    await mkdir(join(keptResultsDir(cacheDir), kind), { recursive: true, mode: 0o700 });
    const body = { kind, key: contentKey, value, mac: mac(key, kind, contentKey, value).toString("hex") };
    const tmp = `${file}.${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      await writeFile(tmp, JSON.stringify(body), { flag: "wx", mode: 0o600 });
      await rename(tmp, file);
    } finally {
      await rm(tmp, { force: true });
    }
    return true;
  } catch {
    return false;
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Seals a file just put into the cache under `contentKey`: its sha256, signed with the cache's key.
 * False when it could not be sealed (no trustworthy key): the file is then never reused.
 */
export function sealKept(
  cacheDir: string,
  kind: string,
  contentKey: string,
  sha256: string,
): Promise<boolean> {
  return keepResult(cacheDir, kind, contentKey, { sha256 });
}

/** The sha256 sealed for the file kept under `contentKey`, or null (none, or not sealed with our key). */
export async function keptDigest(cacheDir: string, kind: string, contentKey: string): Promise<string | null> {
  const v = await readKeptResult<{ sha256?: unknown }>(cacheDir, kind, contentKey);
  return typeof v?.sha256 === "string" && SHA256.test(v.sha256) ? v.sha256 : null;
}
