/**
 * The one place that runs external commands. Everything (podman, docker, rpmbuild, rpmsign,
 * createrepo_c, gpg, patch, ssh, sh) goes through `run`, so logging, cancellation and
 * "tool not installed" errors behave the same everywhere.
 */
import { execa, type ResultPromise } from "execa";
import { BuildError, ToolMissingError } from "./errors.js";

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Replace the environment instead of extending process.env. */
  extendEnv?: boolean;
  input?: string | Buffer;
  /** Receives stdout and stderr lines as they arrive (for streaming logs into a task). */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Return the result instead of throwing when the command exits non-zero. */
  allowFailure?: boolean;
  /** Text for the error when the command fails, e.g. "compile kubelet for arm64". */
  what?: string;
  /** Stop the command once stdout or stderr passes this many bytes (a BuildError saying so). */
  maxOutputBytes?: number;
}

export interface RunResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** How to install each tool we may call, for "missing tool" messages. */
const INSTALL_HINTS: Record<string, string> = {
  podman: "apt-get install podman runc (or install docker and pass --engine docker)",
  docker: "install Docker Engine, or use podman: apt-get install podman runc",
  rpmbuild: "apt-get install rpm (Debian/Ubuntu) or dnf install rpm-build",
  rpmsign: "apt-get install rpm (Debian/Ubuntu) or dnf install rpm-sign",
  rpm: "apt-get install rpm",
  createrepo_c: "apt-get install createrepo-c (Debian/Ubuntu) or dnf install createrepo_c",
  gpg: "apt-get install gnupg",
  patch: "apt-get install patch",
  ssh: "apt-get install openssh-client",
  kubectl: "apt-get install kubernetes-client (Debian's kubectl)",
  sh: "a POSIX shell is required",
};

export function installHint(tool: string): string {
  return INSTALL_HINTS[tool] ?? `install ${tool} and make sure it is on PATH`;
}

export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const child: ResultPromise = execa(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: opts.extendEnv ?? true,
    input: opts.input,
    cancelSignal: opts.signal,
    timeout: opts.timeoutMs,
    reject: false,
    all: false,
    stripFinalNewline: true,
    forceKillAfterDelay: 5000,
    ...(opts.maxOutputBytes !== undefined ? { maxBuffer: opts.maxOutputBytes } : {}),
  });
  if (opts.onLine) {
    for (const stream of ["stdout", "stderr"] as const) {
      let buf = "";
      child[stream]?.on("data", (chunk: Buffer) => {
        buf += chunk.toString("utf8");
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          opts.onLine!(buf.slice(0, nl), stream);
          buf = buf.slice(nl + 1);
        }
      });
      child[stream]?.on("end", () => {
        if (buf) opts.onLine!(buf, stream);
        buf = "";
      });
    }
  }
  const r = await child;
  const command = [cmd, ...args].join(" ");
  const stdout = typeof r.stdout === "string" ? r.stdout : "";
  const stderr = typeof r.stderr === "string" ? r.stderr : "";
  if (
    (r as { code?: string }).code === "ENOENT" ||
    (r.failed && /ENOENT/.test(String(r.message)) && r.exitCode === undefined)
  ) {
    throw new ToolMissingError(`required tool not found: ${cmd}`, installHint(cmd));
  }
  if (r.isCanceled) {
    throw new BuildError(`${opts.what ?? command}: cancelled`);
  }
  if (r.isMaxBuffer) {
    throw new BuildError(`${opts.what ?? command}: output over ${opts.maxOutputBytes} bytes: stopped`);
  }
  if (r.timedOut) {
    throw new BuildError(`${opts.what ?? command}: timed out after ${opts.timeoutMs} ms`);
  }
  const exitCode = r.exitCode ?? 1;
  if (exitCode !== 0 && !opts.allowFailure) {
    const tail = (stderr || stdout).split("\n").slice(-15).join("\n");
    throw new BuildError(`${opts.what ?? command} failed (exit ${exitCode})${tail ? `:\n${tail}` : ""}`);
  }
  return { command, exitCode, stdout, stderr };
}

/** Absolute path of a command on PATH, or null. Does not spawn a shell. */
export async function which(cmd: string): Promise<string | null> {
  const { access, constants } = await import("node:fs/promises");
  const { delimiter, join } = await import("node:path");
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      /* keep looking */
    }
  }
  return null;
}

/** Throws ToolMissingError naming every missing tool, before any long work starts. */
export async function requireTools(tools: readonly string[], why: string): Promise<void> {
  const missing: string[] = [];
  for (const t of tools) if (!(await which(t))) missing.push(t);
  if (missing.length) {
    throw new ToolMissingError(
      `missing ${missing.length > 1 ? "tools" : "tool"} needed to ${why}: ${missing.join(", ")}`,
      missing.map((t) => `${t}: ${installHint(t)}`).join("; "),
    );
  }
}
