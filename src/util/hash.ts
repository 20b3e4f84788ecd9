import { createHash } from "node:crypto";
import { open } from "node:fs/promises";

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
  const fh = await open(path, "r");
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

export function hashText(text: string | Buffer, algo: "sha256" | "sha512" = "sha256"): string {
  return createHash(algo).update(text).digest("hex");
}
