/**
 * The extract step: the archive that check source scanned (check-source.ts) is extracted by GNU tar
 * into the work directory (a --source directory is copied), and what landed on disk is checked again.
 */
import { cp, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { checkTree, isRegularFileIn, treeDigest } from "../../util/tree-guard.js";
import { UsageError } from "../../errors.js";
import { run } from "../../exec.js";
import type { BuildContext } from "../context.js";
import type { Reporter } from "../step.js";
import { hasKubeletDir, requireKubelet } from "./check-source.js";

export async function extractSource(ctx: BuildContext, task: Reporter): Promise<void> {
  const src = ctx.source!;
  const tree = join(ctx.opts.workDir, "src");
  await mkdir(tree, { recursive: true });
  if (src.kind === "directory") {
    // Never build inside the user's directory: compile writes _output/ into the tree.
    await cp(src.path, tree, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (p) => !p.endsWith("/_output"),
    });
  } else {
    // checkSource listed every entry and refused the archive on anything unsafe; what is
    // extracted is that same checksum-verified file (this run's private copy, never the original). The system tar does the writing: node-tar's
    // extraction of the real tree (27,599 entries) peaked at 433 MiB RSS and took ~50 s, GNU tar
    // needs a few MiB and a fraction of that time.
    const r = await run(
      "tar",
      ["-xzf", src.file, "-C", tree, `--strip-components=${ctx.archiveStrip ?? 0}`, "--no-same-owner"],
      { signal: ctx.signal, allowFailure: true },
    );
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (r.exitCode !== 0) {
      // tar's own guards stop what the scan let through: still bad input. Its first line is often
      // only a warning ("Removing leading `../'"): every diagnostic is kept, the closing summary not.
      const said = r.stderr
        .split("\n")
        .filter((l) => l && !/Exiting with failure status/.test(l))
        .slice(0, 5)
        .join("; ");
      throw new UsageError(
        `refusing ${src.path}: extraction stopped: ${said || `tar exited ${r.exitCode}`}`,
        "use an official kubernetes-src.tar.gz or a GitHub archive of a release tag",
      );
    }
  }
  // What landed on disk is what counts (tar readers disagree on some headers): checked before any
  // host-side step, and the files the plan read from the archive must be the ones extracted.
  const entries = await checkTree(tree);
  requireKubelet(await hasKubeletDir(tree), src.path);
  for (const [rel, text] of Object.entries(ctx.treeFiles)) {
    const onDisk = (await isRegularFileIn(tree, rel)) ? await readFile(join(tree, rel), "utf8") : null;
    if (onDisk !== text)
      throw new UsageError(
        `refusing ${src.path}: ${rel} as extracted differs from what the archive listing showed (the archive's headers are read two ways)`,
        "use an official kubernetes-src.tar.gz or a GitHub archive of a release tag",
      );
  }
  ctx.log(`extracted tree checked: ${entries} entries, no link leaves it`);
  // A directory has no sha512: what names its Go build cache is the content of the copy built.
  if (src.kind === "directory") {
    src.treeDigest = await treeDigest(tree);
    ctx.log(`source directory content digest (of the copy built): sha256 ${src.treeDigest}`);
  }
  ctx.treeDir = tree;
  task.output = `extracted to ${tree}`;
}
