import { exitCodeOf, KmemError } from "../errors.js";

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** With --json, failures are also reported on stdout, so a pipeline reading it sees why. */
export function printError(err: unknown): void {
  const e = err as Error;
  printJson({
    ok: false,
    error: {
      type: e?.name ?? "Error",
      message: e?.message ?? String(err),
      hint: err instanceof KmemError ? (err.hint ?? null) : null,
      exitCode: exitCodeOf(err),
    },
  });
}
