/**
 * Every failure the tool reports is one of these classes; each class has one exit code.
 * A message says what went wrong and where; `hint` says what to do about it.
 */
export const EXIT = {
  ok: 0,
  failure: 1, // build, inspection, network or packaging failed
  usage: 2, // bad arguments or bad input (version, recipe, tarball, checksum)
  environment: 3, // a required tool is missing or unusable
  sigint: 130,
  sigpipe: 141, // the output pipe was closed (a reader such as `head` went away)
  sigterm: 143,
} as const;

export class KmemError extends Error {
  readonly exitCode: number = EXIT.failure;
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad command-line usage or bad input data (versions, recipes, archives, checksums). */
export class UsageError extends KmemError {
  override readonly exitCode = EXIT.usage;
}

/** A build step failed: compile, patch application on the tree, packaging, network. */
export class BuildError extends KmemError {
  override readonly exitCode = EXIT.failure;
}

/** The binary does not prove it was built without kmem-enabling code (or is otherwise wrong). */
export class InspectionError extends KmemError {
  override readonly exitCode = EXIT.failure;
}

/** A required external tool is missing or cannot run. */
export class ToolMissingError extends KmemError {
  override readonly exitCode = EXIT.environment;
}

/** The run was interrupted by a signal; the exit code follows the shell convention 128+N. */
export class InterruptedError extends KmemError {
  override readonly exitCode: number;
  constructor(readonly signal: "SIGINT" | "SIGTERM" | "SIGPIPE") {
    super(`interrupted by ${signal}${signal === "SIGPIPE" ? " (the output pipe was closed)" : ""}`);
    this.exitCode = signal === "SIGINT" ? EXIT.sigint : signal === "SIGPIPE" ? EXIT.sigpipe : EXIT.sigterm;
  }
}

export function exitCodeOf(err: unknown): number {
  return err instanceof KmemError ? err.exitCode : EXIT.failure;
}

export function formatError(err: unknown): string {
  if (err instanceof KmemError) {
    return `error: ${err.message}` + (err.hint ? `\n  hint: ${err.hint}` : "");
  }
  const e = err as Error;
  return `internal error: ${e?.stack ?? String(err)}`;
}
