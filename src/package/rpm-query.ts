/** Reads the header fields kmem-build needs from an .rpm file (`rpm -qp --qf`). */
import { run } from "../exec.js";
import { UsageError } from "../errors.js";

export interface RpmHeader {
  name: string;
  version: string;
  release: string;
  arch: string;
  buildTime: number;
  /** Long key ID (16 lowercase hex) of the OpenPGP signature, or null when unsigned. */
  signatureKeyId: string | null;
}

const QF =
  "%{NAME}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{BUILDTIME}\\t%{RSAHEADER:pgpsig}\\t%{DSAHEADER:pgpsig}\\n";

export async function queryRpm(file: string): Promise<RpmHeader> {
  const r = await run("rpm", ["-qp", "--qf", QF, "--", file], { allowFailure: true, env: { LC_ALL: "C" } });
  const f = r.stdout.trim().split("\t");
  if (r.exitCode !== 0 || f.length !== 7) {
    throw new UsageError(
      `not a readable RPM: ${file}`,
      r.stderr.split("\n").slice(-3).join("\n") || undefined,
    );
  }
  const keyId = /Key ID ([0-9a-fA-F]{16})/.exec(`${f[5]} ${f[6]}`)?.[1]?.toLowerCase() ?? null;
  return {
    name: f[0]!,
    version: f[1]!,
    release: f[2]!,
    arch: f[3]!,
    buildTime: Number(f[4]),
    signatureKeyId: keyId,
  };
}
