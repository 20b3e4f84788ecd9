import type { BuildContext } from "./context.js";
import type { PreviewContext } from "./preview.js";

/** What a step may tell the user while it runs (a listr2 task underneath). */
export interface Reporter {
  title: string;
  output: string;
}

export interface SubStep {
  title: string;
  run: (ctx: BuildContext, task: Reporter) => Promise<void>;
}

export interface Step {
  title: string;
  /** A reason to skip this step, shown as "skipped: …", or false to run it. */
  skip?: (ctx: BuildContext) => string | false;
  run?: (ctx: BuildContext, task: Reporter) => Promise<void>;
  /** Steps that fan out (one compile per arch) return their parts; they run in order. */
  subSteps?: (ctx: BuildContext) => SubStep[];
  /** --dry-run: what this step would do, told without side effects (no download, engine or write). */
  preview?: (ctx: PreviewContext) => Promise<void> | void;
}
