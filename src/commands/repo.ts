import type { Command } from "commander";

// Placeholder until the owning issue lands; replaced by the real command.
export function registerRepo(program: Command): void {
  program.command("repo").description("(not yet implemented)");
}
