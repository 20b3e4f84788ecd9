import type { Command } from "commander";

// Placeholder until the owning issue lands; replaced by the real command.
export function registerVerify(program: Command): void {
  program.command("verify").description("(not yet implemented)");
}
