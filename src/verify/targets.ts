/** The hosts to verify: --ssh destinations and --hosts-file lines, in order, without duplicates. */
import { readFile } from "node:fs/promises";
import { UsageError } from "../errors.js";

/** One destination per line (`user@host`, `host`, `ssh://user@host:port`); `#` starts a comment. */
export function parseHostsFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/(^|\s)#.*$/, "").trim())
    .filter((l) => l.length > 0);
}

export async function collectHosts(ssh: readonly string[], hostsFile?: string): Promise<string[]> {
  const hosts = [...ssh];
  if (hostsFile) {
    let text: string;
    try {
      text = await readFile(hostsFile, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read --hosts-file ${hostsFile}: ${(err as Error).message}`);
    }
    const fromFile = parseHostsFile(text);
    if (fromFile.length === 0) throw new UsageError(`--hosts-file ${hostsFile} lists no hosts`);
    hosts.push(...fromFile);
  }
  for (const h of hosts) {
    if (/\s/.test(h) || h.startsWith("-")) throw new UsageError(`not an ssh destination: "${h}"`);
  }
  return [...new Set(hosts)];
}
