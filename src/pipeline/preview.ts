/**
 * --dry-run: what a build would do. The same STEPS as a build, each told only what it would do
 * (its `preview`), in order; nothing is downloaded, started or written.
 */
import { STEPS, releaseDir } from "./index.js";
import { resolveBuild } from "./steps/resolve.js";
import type { Arch } from "../options.js";
import type { BuildOptions, ImageInfo, ResolvedBuild } from "./context.js";
import type { CodeGenerators } from "./steps/compile.js";

/** What the steps' previews tell, one field each (or two: compile). */
export interface StepsPreview {
  engine: BuildOptions["engine"];
  source: { path: string } | { url: string };
  patches: string[];
  image: (ImageInfo | { reference: null; from: string }) & { note?: string };
  arches: Arch[];
  commands: Record<string, string>;
  generators: CodeGenerators;
  rpm: boolean;
  signed: boolean;
}

export interface PreviewContext extends ResolvedBuild {
  /** Files the image choice reads, as BuildContext.treeFiles (empty without --source). */
  treeFiles: Record<string, string>;
  shown: Partial<StepsPreview>;
}

function told<K extends keyof StepsPreview>(shown: Partial<StepsPreview>, key: K): StepsPreview[K] {
  const value = shown[key];
  if (value === undefined) throw new Error(`kmem-build: no step in STEPS previews "${key}"`);
  return value;
}

export async function previewBuild(opts: BuildOptions) {
  const { version, recipe, notices } = await resolveBuild(opts);
  const ctx: PreviewContext = { opts, version, recipe, treeFiles: {}, shown: {} };
  for (const step of STEPS) await step.preview?.(ctx);
  const { shown } = ctx;
  return {
    dryRun: true,
    kubernetes: version,
    recipe: {
      name: recipe.name,
      file: recipe.file,
      summary: recipe.summary,
      needsRebuild: recipe.needsRebuild,
    },
    notices,
    source: told(shown, "source"),
    patches: told(shown, "patches"),
    image: told(shown, "image"),
    engine: told(shown, "engine"),
    arches: told(shown, "arches"),
    commands: told(shown, "commands"),
    generators: told(shown, "generators"),
    rpm: told(shown, "rpm"),
    signed: told(shown, "signed"),
    outDir: releaseDir(opts, version),
  };
}

export function printPreview(preview: Awaited<ReturnType<typeof previewBuild>>): void {
  const out = (s: string) => process.stdout.write(s + "\n");
  out(`Kubernetes ${preview.kubernetes}: recipe ${preview.recipe.name} — ${preview.recipe.summary}`);
  for (const n of preview.notices) out(`  notice: ${n}`);
  out(`  source:  ${"url" in preview.source ? preview.source.url : preview.source.path}`);
  out(`  patches: ${preview.patches.length ? preview.patches.join(", ") : "none"}`);
  out(`  image:   ${preview.image.reference ?? "?"} (${preview.image.from})`);
  out(`  engine:  ${preview.engine}`);
  for (const [arch, cmd] of Object.entries(preview.commands)) out(`  ${arch}: ${cmd}`);
  out(`  code generators: ${preview.generators.run ? "run" : "skipped"} (${preview.generators.why})`);
  out(
    `  output:  ${preview.outDir}/ (${preview.rpm ? "binaries, RPMs" : "binaries"}, verify-kmem.sh, SHA256SUMS, manifest.json${preview.signed ? ", signatures" : ""})`,
  );
}
