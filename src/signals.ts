/**
 * SIGINT/SIGTERM abort the work; cleanup runs in finally blocks; a second signal exits at once.
 * A closed output pipe (EPIPE on stdout or stderr, e.g. `kmem-build build 2>&1 | head -1`) aborts
 * the same way instead of killing the process mid-run with its lock, staging and work directory.
 */
import { InterruptedError } from "./errors.js";

const running = new Set<AbortController>();
let pipeClosed = false;

function onPipeError(err: NodeJS.ErrnoException): void {
  if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_DESTROYED") throw err;
  pipeClosed = true;
  for (const ctl of running) if (!ctl.signal.aborted) ctl.abort(new InterruptedError("SIGPIPE"));
}
process.stdout.on("error", onPipeError);
process.stderr.on("error", onPipeError);

export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const ctl = new AbortController();
  let signalled = false;
  const on = (sig: "SIGINT" | "SIGTERM") => () => {
    if (signalled) process.exit(sig === "SIGINT" ? 130 : 143);
    signalled = true;
    if (!ctl.signal.aborted) ctl.abort(new InterruptedError(sig));
  };
  const onInt = on("SIGINT");
  const onTerm = on("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  running.add(ctl);
  // Closed before this run began (no write failed since): the run is stopped all the same.
  if (pipeClosed) ctl.abort(new InterruptedError("SIGPIPE"));
  return {
    signal: ctl.signal,
    dispose: () => {
      running.delete(ctl);
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    },
  };
}
