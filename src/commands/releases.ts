import type { Command } from "commander";

// Placeholder until the owning issue lands; replaced by the real command.
export function registerReleases(program: Command): void {
  program.command("releases").description("(not yet implemented)");
}
