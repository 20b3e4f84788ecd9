/** The list of release files (ctx.artifacts) with their sizes and digests, kept as steps add them. */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { hashFile } from "../util/hash.js";
import type { Artifact, BuildContext } from "./context.js";

/** `sha256` may be given when the caller already hashed exactly these bytes (saves a read of a ~100 MB kubelet). */
export async function addArtifact(
  ctx: BuildContext,
  file: string,
  kind: Artifact["kind"],
  arch?: Artifact["arch"],
  sha256?: string,
): Promise<void> {
  const path = join(ctx.stageDir, file);
  const size = (await stat(path)).size;
  const digest = sha256 ?? (await hashFile(path, "sha256"));
  ctx.artifacts = ctx.artifacts.filter((a) => a.file !== file);
  ctx.artifacts.push({ file, kind, arch, size, sha256: digest });
}
