/** GPG signing: RPM signatures (rpmsign), detached armored signatures, public key export. */
import { rename, rm, stat } from "node:fs/promises";
import { run, requireTools, which } from "../exec.js";
import { BuildError, UsageError } from "../errors.js";

export interface GpgOptions {
  /** Keyring directory (GNUPGHOME); the default keyring when absent. */
  gnupgHome?: string;
  onLine?: (line: string) => void;
}

export interface SigningKey {
  /** Fingerprint of the primary key: what we pass to gpg and rpmsign. */
  fingerprint: string;
  /** Long key ID of the (sub)key that signs: what `rpm -K` and `rpm -qi` show. */
  signingKeyId: string;
  userId: string;
}

/** Public-key algorithms EL7's rpm 4.11 can verify (RFC 4880 ids): RSA and DSA only, no ECDSA/EdDSA. */
const EL7_ALGOS = new Set(["1", "2", "3", "17"]);

function gpgEnv(opts: GpgOptions): Record<string, string> | undefined {
  return opts.gnupgHome ? { GNUPGHOME: opts.gnupgHome } : undefined;
}

function listKeysHint(opts: GpgOptions): string {
  const home = opts.gnupgHome ? ` --homedir ${opts.gnupgHome}` : "";
  return `list the signing keys with: gpg${home} --list-secret-keys --keyid-format long`;
}

/**
 * Preflight for every signing operation: the secret key must be in the keyring, unambiguous,
 * usable, and of an algorithm EL7 can verify. Throws UsageError naming the key otherwise.
 */
export async function resolveSigningKey(key: string, opts: GpgOptions = {}): Promise<SigningKey> {
  await requireTools(["gpg"], "sign packages and repository metadata");
  const r = await run(
    "gpg",
    ["--batch", "--with-colons", "--fixed-list-mode", "--list-secret-keys", "--", key],
    {
      env: gpgEnv(opts),
      allowFailure: true,
    },
  );
  const rows = r.stdout.split("\n").map((l) => l.split(":"));
  const primaries = rows.filter((f) => f[0] === "sec");
  const where = opts.gnupgHome ? ` (keyring ${opts.gnupgHome})` : "";
  if (r.exitCode !== 0 || primaries.length === 0) {
    throw new UsageError(`signing key "${key}" is not in the keyring${where}`, listKeysHint(opts));
  }
  if (primaries.length > 1) {
    throw new UsageError(
      `signing key "${key}" matches ${primaries.length} keys${where}`,
      `pass a fingerprint; ${listKeysHint(opts)}`,
    );
  }
  // A key block: sec/ssb rows, each followed by its fpr row and (for sec) uid rows.
  const keys: { algo: string; keyId: string; created: number; usable: boolean; fpr: string }[] = [];
  let userId = "";
  for (const f of rows) {
    if (f[0] === "sec" || f[0] === "ssb") {
      const validity = f[1] ?? "";
      keys.push({
        algo: f[3] ?? "",
        keyId: (f[4] ?? "").toLowerCase(),
        created: Number(f[5] ?? 0),
        usable: (f[11] ?? "").includes("s") && !/[erdi]/.test(validity),
        fpr: "",
      });
    } else if (f[0] === "fpr" && keys.length && !keys[keys.length - 1]!.fpr) {
      keys[keys.length - 1]!.fpr = f[9] ?? "";
    } else if (f[0] === "uid" && !userId) {
      userId = f[9] ?? "";
    }
  }
  const signers = keys.filter((k) => k.usable).sort((a, b) => b.created - a.created);
  const signer = signers[0]; // gpg signs with the newest usable signing (sub)key
  if (!signer) {
    throw new UsageError(
      `signing key "${key}" has no usable signing key (expired, revoked or no sign capability)`,
      listKeysHint(opts),
    );
  }
  if (!EL7_ALGOS.has(signer.algo)) {
    throw new UsageError(
      `signing key "${key}" uses public-key algorithm ${signer.algo}, which EL7's rpm cannot verify`,
      "use an RSA key, e.g.: gpg --quick-gen-key 'kmem-build <you@example.com>' rsa4096 sign never",
    );
  }
  return { fingerprint: keys[0]!.fpr, signingKeyId: signer.keyId, userId };
}

/** Adds v3 (header+payload, needed by EL7's payload check) and v4 signatures to each RPM, in place. */
export async function signRpms(files: string[], key: string, opts: GpgOptions = {}): Promise<void> {
  if (!files.length) return;
  await requireTools(["rpmsign", "gpg"], "sign RPMs");
  const k = await resolveSigningKey(key, opts);
  const gpg = (await which("gpg"))!;
  const defines = [`_gpg_name ${k.fingerprint}`, `__gpg ${gpg}`, "_gpg_digest_algo sha256"];
  if (opts.gnupgHome) defines.push(`_gpg_path ${opts.gnupgHome}`);
  await run("rpmsign", ["--addsign", "--rpmv3", ...defines.flatMap((d) => ["--define", d]), ...files], {
    env: gpgEnv(opts),
    onLine: opts.onLine ? (l) => opts.onLine!(l) : undefined,
    what: `sign ${files.length} RPM(s) with ${key}`,
  });
}

/** Runs gpg writing `out` through a `.partial` name, so a failed or interrupted gpg leaves no half file. */
async function gpgToFile(out: string, args: string[], opts: GpgOptions, what: string): Promise<void> {
  const partial = `${out}.partial`;
  await rm(partial, { force: true });
  await run("gpg", ["--batch", "--yes", "--armor", "--output", partial, ...args], {
    env: gpgEnv(opts),
    what,
  });
  if (!(await stat(partial)).size) throw new BuildError(`${what}: gpg wrote nothing`);
  await rename(partial, out);
}

/** Writes `<file>.asc`, an armored detached signature (SHA256SUMS.asc, repomd.xml.asc); returns its path. */
export async function signDetached(file: string, key: string, opts: GpgOptions = {}): Promise<string> {
  const k = await resolveSigningKey(key, opts);
  const out = `${file}.asc`;
  const args = ["--detach-sign", "--digest-algo", "SHA256", "--local-user", k.fingerprint, "--", file];
  await gpgToFile(out, args, opts, `sign ${file} with ${key}`);
  return out;
}

/** Writes the armored public key (e.g. RPM-GPG-KEY-kmem-build) that `rpm --import` and yum's gpgkey= read. */
export async function exportPublicKey(key: string, outFile: string, opts: GpgOptions = {}): Promise<void> {
  const k = await resolveSigningKey(key, opts);
  const args = ["--export-options", "export-minimal", "--export", k.fingerprint];
  await gpgToFile(outFile, args, opts, `export public key ${key}`);
}
