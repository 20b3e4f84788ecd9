import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { open, rm, type FileHandle } from "node:fs/promises";

/** A path that is there but is no regular file (a FIFO, device, socket or directory): never read. */
export class NotRegularFileError extends Error {
  constructor(
    readonly path: string,
    readonly kind: string,
  ) {
    super(`${path} is ${kind}, not a regular file`);
  }
}

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  return st.isDirectory() ? "a directory" : st.isFIFO() ? "a FIFO" : st.isSocket() ? "a socket" : "a device";
}

/**
 * Opens a file to read it, and only if it is a regular file. O_NONBLOCK: opening a FIFO planted at
 * the path would otherwise wait for a writer forever (beyond SIGTERM: the open blocks a libuv thread).
 * `noFollow` for files in a cache (a link there is not what was kept).
 */
export async function openRegular(path: string, noFollow = false): Promise<FileHandle> {
  const fh = await open(
    path,
    constants.O_RDONLY | constants.O_NONBLOCK | (noFollow ? constants.O_NOFOLLOW : 0),
  );
  const st = await fh.stat().catch(async (err: unknown) => {
    await fh.close();
    throw err;
  });
  if (!st.isFile()) {
    await fh.close();
    throw new NotRegularFileError(path, kindOf(st));
  }
  return fh;
}

/**
 * Hashes a file through one reused buffer: a stream would allocate a new chunk for every read,
 * and a 34 MB source archive or a 110 MB kubelet would leave that much garbage behind.
 */
export async function hashFile(
  path: string,
  algo: "sha256" | "sha512",
  bufferSize = 1 << 20,
): Promise<string> {
  const h = createHash(algo);
  const buf = Buffer.allocUnsafe(bufferSize);
  const fh = await openRegular(path);
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest("hex");
}

/**
 * Copies `src` to the new file `dest` (created 0600 unless `mode`, never through an existing name) and hashes
 * the bytes as they are copied: the digest is that of exactly what `dest` holds, whatever happens
 * to `src` afterwards. This is how a checked file is taken into custody: hash the copy's bytes,
 * then use only the copy. `dest` is removed again when the copy fails.
 */
export async function copyAndHash(
  src: string,
  dest: string,
  algo: "sha256" | "sha512",
  opts: { noFollow?: boolean; mode?: number } = {},
): Promise<{ digest: string; size: number }> {
  const h = createHash(algo);
  const buf = Buffer.allocUnsafe(1 << 20);
  const input = await openRegular(src, opts.noFollow);
  let size = 0;
  try {
    const output = await open(
      dest,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      opts.mode ?? 0o600,
    );
    try {
      for (;;) {
        const { bytesRead } = await input.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        h.update(chunk);
        for (let off = 0; off < chunk.length;) off += (await output.write(chunk, off)).bytesWritten;
        size += bytesRead;
      }
    } catch (err) {
      await output.close().catch(() => {});
      await rm(dest, { force: true });
      throw err;
    }
    await output.close();
  } finally {
    await input.close();
  }
  return { digest: h.digest("hex"), size };
}

export function hashText(text: string | Buffer, algo: "sha256" | "sha512" = "sha256"): string {
  return createHash(algo).update(text).digest("hex");
}
