import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

export async function hashFile(path: string, algo: "sha256" | "sha512"): Promise<string> {
  const h = createHash(algo);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export function hashText(text: string | Buffer, algo: "sha256" | "sha512" = "sha256"): string {
  return createHash(algo).update(text).digest("hex");
}
