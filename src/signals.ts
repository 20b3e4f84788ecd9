/** SIGINT/SIGTERM abort the work; cleanup runs in finally blocks; a second signal exits at once. */
import { InterruptedError } from "./errors.js";

export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const ctl = new AbortController();
  const on = (sig: "SIGINT" | "SIGTERM") => () => {
    if (ctl.signal.aborted) process.exit(sig === "SIGINT" ? 130 : 143);
    ctl.abort(new InterruptedError(sig));
  };
  const onInt = on("SIGINT");
  const onTerm = on("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return {
    signal: ctl.signal,
    dispose: () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    },
  };
}
