/** Written last: manifest.json (inputs and outputs), then SHA256SUMS over every artifact. */
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { formatSha256Sums, SUMS_FILE } from "../../package/checksums.js";
import { hashText } from "../../util/hash.js";
import { signDetached, exportPublicKey } from "../../package/sign.js";
import { TOOL_VERSION } from "../../version.js";
import { addArtifact } from "../artifacts.js";
import { rpmRelease } from "./rpm.js";
import { buildGenerators } from "./compile.js";
import type { BuildContext } from "../context.js";
import type { Reporter } from "../step.js";

export const MANIFEST_FILE = "manifest.json";
export const LOG_FILE = "build.log";

/** How the kubelets were built: the command that ran (the platform and version file aside). */
function buildRecord(ctx: BuildContext) {
  const { build } = ctx.recipe;
  const codeGenerators = buildGenerators(ctx);
  const command =
    codeGenerators.run || !build.withoutGenerators ? build.command : build.withoutGenerators.command;
  return { command, env: build.env, tags: build.tags, codeGenerators };
}

export function manifestOf(ctx: BuildContext) {
  return {
    schema: "https://kmem-build.example/schemas/manifest.schema.json",
    tool: { name: "kmem-build", version: TOOL_VERSION },
    kubernetes: ctx.version,
    recipe: {
      name: ctx.recipe.name,
      file: ctx.recipe.file.split("/").slice(-2).join("/"),
      sha256: ctx.recipe.sha256,
      needsRebuild: ctx.recipe.needsRebuild,
    },
    source: {
      kind: ctx.source!.kind,
      url: ctx.source!.url,
      sha512: ctx.source!.sha512,
      checksumFrom: ctx.source!.checksumFrom,
    },
    patches: ctx.patches,
    builder: {
      engine: ctx.engine?.name ?? null,
      image: ctx.image?.reference ?? null,
      imageId: ctx.image?.id ?? null,
      imageFrom: ctx.image?.from ?? null,
      goVersion:
        ctx.binaries.find((b) => b.evidence?.goVersion)?.evidence?.goVersion ?? ctx.image?.goVersion ?? null,
    },
    build: buildRecord(ctx),
    sourceDateEpoch: ctx.sourceDateEpoch,
    rpmRelease: ctx.opts.rpm ? rpmRelease(ctx) : null,
    signed: !!ctx.opts.signKey,
    notices: ctx.notices,
    outputs: ctx.artifacts
      .slice()
      .sort((a, b) => a.file.localeCompare(b.file))
      .map((a) => ({
        ...a,
        evidence:
          a.kind === "binary" || a.kind === "rpm"
            ? (ctx.binaries.find((b) => b.arch === a.arch)?.evidence ?? null)
            : undefined,
      })),
  };
}

export async function writeManifestAndSums(ctx: BuildContext, task: Reporter): Promise<void> {
  await writeFile(join(ctx.stageDir, LOG_FILE), ctx.logText());
  await addArtifact(ctx, LOG_FILE, "log");
  if (ctx.opts.signKey) {
    await exportPublicKey(ctx.opts.signKey, join(ctx.stageDir, "RPM-GPG-KEY-kmem-build"), {
      gnupgHome: ctx.opts.gnupgHome,
    });
    await addArtifact(ctx, "RPM-GPG-KEY-kmem-build", "key");
  }
  const manifest = JSON.stringify(manifestOf(ctx), null, 2) + "\n";
  await writeFile(join(ctx.stageDir, MANIFEST_FILE), manifest);
  // Every artifact was hashed when it was added (after signing, for signed RPMs): SHA256SUMS is
  // written from those digests instead of reading every file (~300 MB for two kubelets) again.
  const entries = [
    ...ctx.artifacts.map((a) => ({ name: a.file, sha256: a.sha256 })),
    { name: MANIFEST_FILE, sha256: hashText(manifest) },
  ];
  const sums = join(ctx.stageDir, SUMS_FILE);
  await writeFile(`${sums}.partial`, formatSha256Sums(entries));
  await rename(`${sums}.partial`, sums);
  const files = entries.map((e) => e.name);
  if (ctx.opts.signKey) {
    await signDetached(join(ctx.stageDir, SUMS_FILE), ctx.opts.signKey, { gnupgHome: ctx.opts.gnupgHome });
  }
  task.output = `${SUMS_FILE} covers ${files.length} files`;
}
