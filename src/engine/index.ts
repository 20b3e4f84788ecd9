/** docker and podman behind one interface; both speak the same CLI for what we use. */
import { randomBytes } from "node:crypto";
import { run, which, installHint } from "../exec.js";
import { BuildError, ToolMissingError, UsageError } from "../errors.js";

export interface ContainerRun {
  image: string;
  mounts: { host: string; container: string; readonly?: boolean }[];
  env: Record<string, string>;
  workdir: string;
  command: string[];
  onLine?: (line: string) => void;
  signal: AbortSignal;
  what: string;
}

export interface Engine {
  name: "podman" | "docker";
  /** Image ID (sha256:…) when the image is present locally, else null. */
  imageId(ref: string): Promise<string | null>;
  pull(ref: string, onLine?: (line: string) => void): Promise<void>;
  /** Runs a throwaway container; it is removed on success, failure and cancellation. */
  run(spec: ContainerRun): Promise<void>;
  /** Which of `tools` the image has no command for (one short container, offline). */
  missingTools(ref: string, tools: string[]): Promise<string[]>;
}

const PROBE = 'for t in "$@"; do command -v "$t" >/dev/null 2>&1 || echo "$t"; done';

export async function detectEngine(choice: "auto" | "podman" | "docker"): Promise<Engine> {
  if (choice !== "auto" && choice !== "podman" && choice !== "docker") {
    throw new UsageError(`unknown engine ${JSON.stringify(choice)}`, "accepted: auto, podman, docker");
  }
  const candidates = choice === "auto" ? (["podman", "docker"] as const) : [choice];
  for (const name of candidates) {
    if (!(await which(name))) continue;
    // Only docker has a daemon that may not answer; podman needs no probe (it cost a process
    // start, ~30 ms, on every build and its answer was never used).
    if (name === "podman") return makeEngine(name);
    const probe = await run(name, ["version", "--format", "{{.Server.Version}}"], {
      allowFailure: true,
      timeoutMs: 30_000,
    }).catch(() => null);
    if (!probe || probe.exitCode !== 0) {
      if (choice === "docker")
        throw new ToolMissingError(
          "docker is installed but its engine does not answer",
          probe?.stderr.split("\n")[0] ?? installHint("docker"),
        );
      continue;
    }
    return makeEngine(name);
  }
  throw new ToolMissingError(
    choice === "auto"
      ? "no container engine found (looked for podman and docker)"
      : `container engine not found: ${choice}`,
    installHint(choice === "auto" ? "podman" : choice),
  );
}

function makeEngine(name: "podman" | "docker"): Engine {
  return {
    name,
    async imageId(ref) {
      const r = await run(name, ["image", "inspect", "--format", "{{.Id}}", ref], { allowFailure: true });
      return r.exitCode === 0 ? r.stdout.trim() : null;
    },
    async pull(ref, onLine) {
      await run(name, ["pull", ref], { onLine, what: `pull builder image ${ref}` }).catch((err) => {
        throw new BuildError(
          `builder image ${ref} is not present and could not be pulled`,
          `build or load it first (scripts/build-image.sh builds a local Go image), or pass --image REF (${(err as Error).message.split("\n")[0]})`,
        );
      });
    },
    async missingTools(ref, tools) {
      const r = await run(
        name,
        ["run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", ref, "-c", PROBE, "sh", ...tools],
        { allowFailure: true, timeoutMs: 120_000 },
      );
      if (r.exitCode !== 0) return ["sh", ...tools];
      return r.stdout.split("\n").filter(Boolean);
    },
    async run(spec) {
      const container = `kmem-build-${randomBytes(6).toString("hex")}`;
      const args = [
        "run",
        "--rm",
        "--name",
        container,
        "--network",
        "none",
        ...userArgs(name),
        "-w",
        spec.workdir,
      ];
      for (const m of spec.mounts) args.push("-v", `${m.host}:${m.container}${m.readonly ? ":ro" : ""}`);
      for (const [k, v] of Object.entries(spec.env)) args.push("-e", `${k}=${v}`);
      args.push(spec.image, ...spec.command);
      // --rm covers normal exits; a killed client (Ctrl-C, timeout) can leave the container behind.
      // On abort it is removed at once and without a grace period: PID 1 in the container (make)
      // ignores SIGTERM, so a plain `rm -f` would wait 10 s before killing it.
      const remove = () =>
        run(name, ["rm", "-f", ...(name === "podman" ? ["--time", "0"] : []), container], {
          allowFailure: true,
        }).catch(() => undefined);
      let removing: Promise<unknown> | undefined;
      const onAbort = () => void (removing = remove());
      spec.signal.addEventListener("abort", onAbort, { once: true });
      try {
        await run(name, args, { onLine: spec.onLine, signal: spec.signal, what: spec.what });
      } finally {
        spec.signal.removeEventListener("abort", onAbort);
        if (spec.signal.aborted) {
          await removing;
          await remove(); // again: the client may have created it after the first removal
        }
      }
    },
  };
}

/** Outputs must belong to the invoking user, not root. Rootless podman maps the user itself. */
function userArgs(name: "podman" | "docker"): string[] {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  if (name === "podman" && uid !== 0) return ["--userns", "keep-id"];
  return ["--user", `${uid}:${gid}`];
}
