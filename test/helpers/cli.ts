/** Runs the built CLI (lib/cli.js) as a user would, and returns what it printed. */
import { execa, type Options } from "execa";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const CLI = join(REPO, "lib", "cli.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(args: string[], opts: Options = {}): Promise<CliResult> {
  const r = await execa("node", [CLI, ...args], {
    reject: false,
    env: { CI: "true", ...opts.env },
    ...opts,
    stdin: "ignore",
  } as Options);
  return { code: r.exitCode ?? -1, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

/** The Go builder image the tests and the demo use (built by scripts/build-image.sh). */
export const TEST_IMAGE = process.env.KMEM_BUILD_TEST_IMAGE ?? "localhost/kmem-build-go:1.19";
