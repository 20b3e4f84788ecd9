/**
 * A private sshd on 127.0.0.1 for the remote tests: its own host key, an authorized_keys for a generated
 * client key, no PAM, root login allowed. Stopped by the returned function.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync, copyFileSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { join } from "node:path";

export const SSHD = "/usr/sbin/sshd";

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/** Resolves when something on the port answers with an SSH banner. */
async function waitForBanner(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((res) => {
      const c = createConnection({ host: "127.0.0.1", port });
      c.once("data", (d) => {
        c.destroy();
        res(d.toString().startsWith("SSH-"));
      });
      c.once("error", () => res(false));
      setTimeout(() => {
        c.destroy();
        res(false);
      }, 1000);
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sshd on port ${port} did not come up`);
}

export interface Keys {
  dir: string;
  /** Client private key for ssh -i. */
  clientKey: string;
}

export function makeKeys(dir: string): Keys {
  mkdirSync(dir, { recursive: true });
  for (const k of ["host_key", "client_key"]) {
    const r = spawnSync("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      `kmem-verify-test-${k}`,
      "-f",
      join(dir, k),
    ]);
    if (r.status !== 0) throw new Error(`ssh-keygen: ${r.stderr}`);
  }
  copyFileSync(join(dir, "client_key.pub"), join(dir, "authorized_keys"));
  return { dir, clientKey: join(dir, "client_key") };
}

export interface Sshd {
  port: number;
  stop: () => Promise<void>;
}

export async function startSshd(keys: Keys, name: string): Promise<Sshd> {
  // sshd insists on its privilege separation directory
  if (!existsSync("/run/sshd")) mkdirSync("/run/sshd", { mode: 0o755, recursive: true });
  const port = await freePort();
  const cfg = join(keys.dir, `sshd_config.${name}`);
  writeFileSync(
    cfg,
    [
      "ListenAddress 127.0.0.1",
      `HostKey ${join(keys.dir, "host_key")}`,
      `AuthorizedKeysFile ${join(keys.dir, "authorized_keys")}`,
      `PidFile ${join(keys.dir, `sshd.${name}.pid`)}`,
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "PermitRootLogin yes",
      "StrictModes no",
      "LogLevel ERROR",
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", cfg, "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  try {
    await waitForBanner(port, 10_000);
  } catch (e) {
    child.kill("SIGKILL");
    throw new Error(`${(e as Error).message}: ${err}`);
  }
  return {
    port,
    stop: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once("exit", () => res());
        child.kill("SIGTERM");
      }),
  };
}

/** Accepts TCP connections and never says a word: a host that hangs. */
export async function startSilentServer(): Promise<{ port: number; stop: () => Promise<void> }> {
  const sockets = new Set<import("node:net").Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
  const { port } = server.address() as { port: number };
  return {
    port,
    stop: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}
