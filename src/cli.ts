#!/usr/bin/env node
/** Argument parsing only: each command lives in src/commands/<name>.ts and registers itself. */
import { Command, CommanderError } from "commander";
import { exitCodeOf, formatError, EXIT } from "./errors.js";
import { TOOL_VERSION } from "./version.js";
import { registerBuild } from "./commands/build.js";
import { registerRecipes } from "./commands/recipes.js";
import { registerVerify } from "./commands/verify.js";
import { registerRepo } from "./commands/repo.js";
import { registerReleases } from "./commands/releases.js";
import { registerManifests } from "./commands/manifests.js";
import { registerCache } from "./commands/cache.js";

const EXIT_HELP = `
Exit codes:
  0    success
  1    build, inspection, network or packaging failure (verify: a problem was found)
  2    bad usage or bad input (verify: could not tell)
  3    a required tool is missing (podman/docker, rpmbuild, createrepo_c, gpg)
  130  interrupted (SIGINT), 143 terminated (SIGTERM), 141 output pipe closed (EPIPE)`;

export function makeProgram(): Command {
  const program = new Command("kmem-build")
    .description(
      "Rebuild kubelet without cgroup v1 kernel-memory accounting, package it for EL7, verify nodes",
    )
    .version(TOOL_VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", EXIT_HELP)
    .exitOverride();
  registerBuild(program);
  registerRecipes(program);
  registerVerify(program);
  registerRepo(program);
  registerReleases(program);
  registerManifests(program);
  registerCache(program);
  for (const c of program.commands) c.exitOverride().addHelpText("after", EXIT_HELP);
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    await makeProgram().parseAsync(argv);
    return process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0)
        return 0;
      return EXIT.usage;
    }
    process.stderr.write(formatError(err) + "\n");
    return exitCodeOf(err);
  }
}

const code = await main(process.argv);
// process.exit() drops what a pipe has not taken yet (a large --json report): flush first.
await Promise.all(
  [process.stdout, process.stderr].map((s) => new Promise<void>((done) => s.write("", () => done()))),
);
process.exit(code);
