import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFile, open, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../src/exec.js";
import { ToolMissingError, UsageError } from "../../src/errors.js";
import { buildRpm } from "../../src/package/rpm.js";
import { exportPublicKey, resolveSigningKey, signDetached, signRpms } from "../../src/package/sign.js";
import {
  removeTempDirs,
  rpmQuery,
  SDE,
  standInKubelet,
  stopAgent,
  tempDir,
  throwawayKey,
} from "./helpers.js";

let key: Awaited<ReturnType<typeof throwawayKey>>;
let rpmFile: string;
let work: string;
const homes: string[] = [];

beforeAll(async () => {
  key = await throwawayKey();
  homes.push(key.home);
  work = await tempDir("sign");
  const built = await buildRpm({
    version: "1.20.15",
    release: "2.nokmem",
    arch: "amd64",
    binary: await standInKubelet(work),
    sourceDateEpoch: SDE,
    workDir: work,
    outDir: join(work, "out"),
  });
  rpmFile = built.file;
  await signRpms([rpmFile], key.fingerprint, { gnupgHome: key.home });
});
afterAll(async () => {
  for (const h of homes) await stopAgent(h);
  await removeTempDirs();
});

/** rpm -K against a throwaway rpm database that trusts only our exported key. */
async function checkSig(file: string, pubKey: string) {
  const db = await tempDir("rpmdb");
  await run("rpm", ["--dbpath", db, "--import", pubKey]);
  return run("rpm", ["--dbpath", db, "-Kv", file], { allowFailure: true, env: { LC_ALL: "C" } });
}

async function flipByte(file: string, fromEnd: number): Promise<void> {
  const { size } = await stat(file);
  const fh = await open(file, "r+");
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, size - fromEnd);
  b[0] = b[0]! ^ 0xff;
  await fh.write(b, 0, 1, size - fromEnd);
  await fh.close();
}

describe("signing", () => {
  it("resolves the key and checks it is one EL7 can verify", async () => {
    const k = await resolveSigningKey(key.uid, { gnupgHome: key.home });
    expect(k.fingerprint).toBe(key.fingerprint);
    expect(k.signingKeyId).toMatch(/^[0-9a-f]{16}$/);
    expect(k.userId).toBe(key.uid);
  });

  it("names the missing key and how to list keys", async () => {
    const err = await resolveSigningKey("nobody@example.invalid", { gnupgHome: key.home }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toContain('"nobody@example.invalid" is not in the keyring');
    expect((err as UsageError).hint).toContain(`gpg --homedir ${key.home} --list-secret-keys`);
    await expect(signRpms([rpmFile], "nobody@example.invalid", { gnupgHome: key.home })).rejects.toThrow(
      UsageError,
    );
  });

  it("refuses an EdDSA key, which EL7's rpm cannot verify", async () => {
    const ed = await throwawayKey("ed25519", "ed test <ed@kmem-build.invalid>");
    homes.push(ed.home);
    await expect(resolveSigningKey(ed.fingerprint, { gnupgHome: ed.home })).rejects.toThrow(
      /EL7's rpm cannot verify/,
    );
  });

  it("names the missing tool when gpg or rpmsign is not installed", async () => {
    const path = process.env.PATH;
    process.env.PATH = await tempDir("empty-path");
    try {
      const err = await signRpms([rpmFile], key.fingerprint, { gnupgHome: key.home }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ToolMissingError);
      expect((err as Error).message).toMatch(/rpmsign, gpg/);
      await expect(signDetached(rpmFile, key.fingerprint, { gnupgHome: key.home })).rejects.toThrow(
        /missing tool .*: gpg/,
      );
    } finally {
      process.env.PATH = path;
    }
  });

  it("signs RPMs with v3 and v4 signatures that rpm -K accepts", async () => {
    const pub = join(work, "RPM-GPG-KEY-kmem-build");
    await exportPublicKey(key.fingerprint, pub, { gnupgHome: key.home });
    const k = await resolveSigningKey(key.fingerprint, { gnupgHome: key.home });
    const sigs = await rpmQuery(rpmFile, ["--qf", "%{SIGPGP:pgpsig}|%{RSAHEADER:pgpsig}"]);
    expect(sigs).toMatch(
      new RegExp(`^RSA/SHA256, .*Key ID ${k.signingKeyId}\\|RSA/SHA256, .*Key ID ${k.signingKeyId}$`),
    );
    const r = await checkSig(rpmFile, pub);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/Header V4 RSA\/SHA256 Signature, key ID \w+: OK/);
    expect(r.stdout).toMatch(/V4 RSA\/SHA256 Signature, key ID \w+: OK/);
    expect(r.stdout).not.toMatch(/NOT OK|NOKEY/);
  });

  it("makes rpm -K fail on a tampered RPM", async () => {
    const bad = join(work, "tampered.rpm");
    await copyFile(rpmFile, bad);
    await flipByte(bad, 10);
    const r = await checkSig(bad, join(work, "RPM-GPG-KEY-kmem-build"));
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/BAD|NOT OK/);
  });

  it("writes armored detached signatures that gpg --verify accepts, and rejects after tampering", async () => {
    const file = join(work, "SHA256SUMS");
    await writeFile(file, `${"a".repeat(64)}  kubelet-1.20.15-2.nokmem.x86_64.rpm\n`);
    const asc = await signDetached(file, key.fingerprint, { gnupgHome: key.home });
    expect(asc).toBe(`${file}.asc`);
    expect(await readFile(asc, "utf8")).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
    const env = { GNUPGHOME: key.home };
    expect((await run("gpg", ["--batch", "--verify", asc, file], { env, allowFailure: true })).exitCode).toBe(
      0,
    );
    await writeFile(file, `${"b".repeat(64)}  kubelet-1.20.15-2.nokmem.x86_64.rpm\n`);
    const bad = await run("gpg", ["--batch", "--verify", asc, file], { env, allowFailure: true });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/BAD signature/);
  });

  it("exports an armored public key", async () => {
    const text = await readFile(join(work, "RPM-GPG-KEY-kmem-build"), "utf8");
    expect(text).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    expect(text).not.toMatch(/PRIVATE/);
  });
});
