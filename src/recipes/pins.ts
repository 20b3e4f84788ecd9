import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { UsageError } from "../errors.js";

/** The pinned sha512 for `v<version>/kubernetes-src.tar.gz` from recipes/pins/sha512.txt, if any. */
export async function readPinnedSha512(version: string, recipesDir: string): Promise<string | null> {
  const file = join(recipesDir, "pins", "sha512.txt");
  const text = await readFile(file, "utf8").catch(() => "");
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^([0-9a-f]{128})\s+\*?(\S+)$/.exec(line);
    if (!m)
      throw new UsageError(
        `${file}:${i + 1}: malformed line`,
        "expected `<128 hex>  v<version>/kubernetes-src.tar.gz`",
      );
    if (m[2] === `v${version}/kubernetes-src.tar.gz`) return m[1]!;
  }
  return null;
}
