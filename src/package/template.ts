/** Renders the data files in templates/: `@NAME@` placeholders, replaced in one pass. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PKG_ROOT } from "../version.js";
import { BuildError } from "../errors.js";

export const TEMPLATES_DIR = join(PKG_ROOT, "templates");

/** Every placeholder must have a value and every value must be used, so a template and its caller cannot drift apart silently. */
export function renderTemplate(
  text: string,
  vars: Readonly<Record<string, string>>,
  what = "template",
): string {
  const used = new Set<string>();
  const out = text.replace(/@([A-Z][A-Z0-9_]*)@/g, (_m, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new BuildError(`${what}: no value for placeholder @${name}@`);
    used.add(name);
    return value;
  });
  const unused = Object.keys(vars).filter((k) => !used.has(k));
  if (unused.length)
    throw new BuildError(`${what}: placeholders not found: ${unused.map((k) => `@${k}@`).join(", ")}`);
  return out;
}

export async function readTemplate(name: string): Promise<string> {
  return readFile(join(TEMPLATES_DIR, name), "utf8");
}
