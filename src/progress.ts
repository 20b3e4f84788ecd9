/**
 * listr2 settings shared by every command with a task list: progress goes to stderr (stdout
 * carries the result, text or JSON), a live list on a terminal, plain lines in CI, nothing when
 * quiet; listr2's own SIGINT handler (exit 127, no cleanup) is off: src/signals.ts handles signals.
 */
import { ListrLogger, ProcessOutput } from "listr2";

const toStderr = () => new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) });

export function progressOptions(quiet: boolean) {
  const live = !!process.stderr.isTTY && !process.env.CI;
  return {
    registerSignalListeners: false,
    renderer: quiet ? "silent" : live ? "default" : "simple",
    fallbackRenderer: "simple",
    rendererOptions: { logger: toStderr() },
    fallbackRendererOptions: { logger: toStderr() },
  } as const;
}
