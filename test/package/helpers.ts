/** Fixtures for the packaging tests: temp dirs, a stand-in kubelet, throwaway GPG keyrings. */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../src/exec.js";

const created: string[] = [];

export async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `kmem-${prefix}-`));
  created.push(d);
  return d;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(created.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** The real kubelet comes from the pipeline; packaging only needs an executable file. */
export async function standInKubelet(dir: string, text = "stand-in"): Promise<string> {
  const p = join(dir, "kubelet");
  await writeFile(p, `#!/bin/sh\necho "kubelet ${text} (kmem-build test)"\n`);
  await chmod(p, 0o755);
  return p;
}

export async function standInVerifyScript(dir: string): Promise<string> {
  const p = join(dir, "verify-kmem.sh");
  await writeFile(p, "#!/bin/sh\n# stand-in for scripts/verify-kmem.sh\necho OK\n");
  await chmod(p, 0o755);
  return p;
}

export const SDE = 1_700_000_000; // 2023-11-14T22:13:20Z

/** A passphrase-less key in a fresh GNUPGHOME; returns the home and the primary fingerprint. */
export async function throwawayKey(algo = "default", uid = "kmem-build test <test@kmem-build.invalid>") {
  const home = await tempDir("gnupg");
  await chmod(home, 0o700);
  const env = { GNUPGHOME: home };
  await run("gpg", ["--batch", "--passphrase", "", "--quick-gen-key", uid, algo, "default", "never"], {
    env,
  });
  const r = await run("gpg", ["--batch", "--with-colons", "--list-secret-keys", uid], { env });
  const fpr = r.stdout
    .split("\n")
    .find((l) => l.startsWith("fpr:"))!
    .split(":")[9]!;
  return { home, fingerprint: fpr, uid };
}

export async function stopAgent(home: string): Promise<void> {
  await run("gpgconf", ["--homedir", home, "--kill", "gpg-agent"], { allowFailure: true });
}

export async function rpmQuery(file: string, args: string[]): Promise<string> {
  return (await run("rpm", ["-qp", ...args, file], { env: { LC_ALL: "C", TZ: "UTC" } })).stdout;
}

/** rpm's own version comparison: -1, 0 or 1. */
export async function rpmVercmp(a: string, b: string): Promise<number> {
  const r = await run("rpm", ["--eval", `%{lua: print(rpm.vercmp("${a}", "${b}"))}`]);
  return Number(r.stdout.trim());
}
