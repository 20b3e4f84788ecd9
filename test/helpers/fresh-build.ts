/**
 * Once per vitest run, before any test: the tests run what was edited. They execute the generated
 * scripts/verify-kmem.sh and the compiled lib/, not the sources, so
 *   - lib/ older than src/ (or missing) is compiled again here (`npm run build`'s tsc, ~20 s);
 *   - scripts/verify-kmem.sh that is not what its parts make stops the run in one line: it is
 *     committed and shipped, so it is never rewritten behind the developer's back.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const REPO = join(import.meta.dirname, "..", "..");

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export function staleness(): { lib: boolean; script: string | null } {
  const cli = join(REPO, "lib", "cli.js");
  const sources = Math.max(newest(join(REPO, "src")), statSync(join(REPO, "tsconfig.json")).mtimeMs);
  const lib = !existsSync(cli) || statSync(cli).mtimeMs < sources;
  const r = spawnSync(process.execPath, [join(REPO, "scripts", "assemble-verify-kmem.mjs"), "--check"], {
    encoding: "utf8",
  });
  return { lib, script: r.status === 0 ? null : (r.stderr || r.stdout).trim().split("\n")[0] || "differs" };
}

export default function setup(): void {
  const s = staleness();
  // the assembler's own line says what to run (npm run assemble)
  if (s.script !== null) throw new Error(s.script);
  if (!s.lib) return;
  const tsc = spawnSync(
    process.execPath,
    [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"],
    {
      cwd: REPO,
      encoding: "utf8",
    },
  );
  if (tsc.status !== 0)
    throw new Error(`lib/ is older than src/ and does not compile:\n${tsc.stdout}${tsc.stderr}`);
  chmodSync(join(REPO, "lib", "cli.js"), 0o755);
  console.log("lib/ was older than src/: compiled again before the tests");
}
