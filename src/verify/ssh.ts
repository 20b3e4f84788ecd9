/** How `kmem-build verify` reaches a node: ssh arguments, remote command quoting. */

export interface SshOptions {
  /** Extra `-o` options, e.g. "StrictHostKeyChecking=no" (repeatable --ssh-option). */
  options: string[];
  identity?: string;
  port?: number;
  /** Seconds for TCP connect and the ssh handshake (ssh -o ConnectTimeout). */
  connectTimeout: number;
  /** Run the script through `sudo -n` on the node. */
  sudo: boolean;
}

/** Quotes one word for a POSIX shell (the remote login shell parses ssh's command string). */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The remote command: the script arrives on stdin, so nothing needs installing on the node. */
export function remoteCommand(scriptArgs: readonly string[], sudo: boolean): string {
  return [...(sudo ? ["sudo", "-n"] : []), "sh", "-s", "--", ...scriptArgs].map(shellQuote).join(" ");
}

/** Arguments for `ssh`: never prompts (BatchMode), bounded connect time, then the destination. */
export function sshArgs(dest: string, scriptArgs: readonly string[], o: SshOptions): string[] {
  const args = ["-T", "-o", "BatchMode=yes", "-o", `ConnectTimeout=${o.connectTimeout}`];
  args.push("-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3");
  if (o.port !== undefined) args.push("-p", String(o.port));
  if (o.identity) args.push("-i", o.identity, "-o", "IdentitiesOnly=yes");
  for (const opt of o.options) args.push("-o", opt);
  // "--" keeps a destination that starts with "-" from being read as an option.
  args.push("--", dest, remoteCommand(scriptArgs, o.sudo));
  return args;
}
