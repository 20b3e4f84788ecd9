/**
 * Finds the kmem-build command lines in workflow `run:` blocks and shell scripts, and splits them
 * into arguments the way bash would for the simple forms the workflows use (words, quotes, $VAR).
 */
import { parse } from "yaml";

export interface RunBlock {
  where: string;
  script: string;
}

export interface CliCall {
  where: string;
  line: string;
  /** Arguments after the program (`node lib/cli.js` or `kmem-build`), variables replaced. */
  args: string[];
}

type Workflow = { jobs?: Record<string, { steps?: Array<{ name?: string; run?: string }> }> };

export function runBlocks(file: string, text: string): RunBlock[] {
  const wf = parse(text) as Workflow;
  return Object.entries(wf.jobs ?? {}).flatMap(([job, j]) =>
    (j.steps ?? [])
      .map((s, i) => ({
        where: `${file} jobs.${job}.steps[${i}]${s.name ? ` (${s.name})` : ""}`,
        script: s.run,
      }))
      .filter((b): b is RunBlock => typeof b.script === "string"),
  );
}

// The program at command position: line start, after `;`, `&&`, `||`, `|`, `$(`, then/else/do.
const PROGRAM = /(?:^|\$\(|[;&|]\s*|\b(?:then|else|do)\s+)\s*(?:node\s+lib\/cli\.js|kmem-build)(?=\s|$)/g;

export function cliCalls(block: RunBlock, vars: Record<string, string>): CliCall[] {
  const logical = block.script.replace(/\\\n/g, " ").split("\n");
  const calls: CliCall[] = [];
  logical.forEach((line, n) => {
    for (const m of line.matchAll(PROGRAM)) {
      const where = `${block.where} line ${n + 1}`;
      calls.push({
        where,
        line: line.trim(),
        args: shellWords(line.slice(m.index! + m[0].length), vars, where),
      });
    }
  });
  return calls;
}

/** Words up to the first redirection, pipe, list operator or comment. */
export function shellWords(text: string, vars: Record<string, string>, where: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let i = 0;
  const expand = (): string => {
    const m = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/.exec(text.slice(i));
    if (!m) throw new Error(`${where}: unsupported shell syntax at ${JSON.stringify(text.slice(i, i + 20))}`);
    const name = (m[1] ?? m[2])!;
    if (!(name in vars)) throw new Error(`${where}: $${name} has no sample value in the test (add one)`);
    i += m[0].length;
    return vars[name]!;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
      i++;
    } else if (word === null && /^(\d*[<>]|[|;&)#])/.test(text.slice(i))) {
      break;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error(`${where}: unterminated '`);
      word = (word ?? "") + text.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      word ??= "";
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "$") word += expand();
        else if (text[i] === "\\" && /["\\$`]/.test(text[i + 1] ?? "")) {
          word += text[i + 1];
          i += 2;
        } else word += text[i++];
      }
      if (text[i] !== '"') throw new Error(`${where}: unterminated "`);
      i++;
    } else if (c === "$") {
      word = (word ?? "") + expand();
    } else if (c === "`") {
      throw new Error(`${where}: command substitution is not supported in kmem-build command lines`);
    } else if (c === "\\") {
      word = (word ?? "") + (text[i + 1] ?? "");
      i += 2;
    } else {
      word = (word ?? "") + c;
      i++;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** Option names (`--out`, `-k`) listed in a commander help text. */
export function helpOptions(help: string): Set<string> {
  const names = new Set<string>();
  for (const line of help.split("\n")) {
    const m = /^\s{2}((?:-[A-Za-z0-9], )?--[A-Za-z0-9-]+)/.exec(line);
    if (!m) continue;
    for (const n of m[1]!.split(", ")) names.add(n);
  }
  return names;
}
