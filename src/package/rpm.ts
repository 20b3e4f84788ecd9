/** Packages a prebuilt kubelet as an EL7-installable, reproducible RPM (templates/kubelet.spec.in). */
import { copyFile, mkdir, open, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { run, requireTools } from "../exec.js";
import { BuildError, UsageError } from "../errors.js";
import { readTemplate, renderTemplate } from "./template.js";
import { glibcTooNewForEl7 } from "./el7.js";
import { checkRelease } from "./release.js";
import { readElf } from "../inspect/elf.js";

export type GoArch = "amd64" | "arm64" | "ppc64le" | "s390x";

const RPM_ARCHES: Record<GoArch, string> = {
  amd64: "x86_64",
  arm64: "aarch64",
  ppc64le: "ppc64le",
  s390x: "s390x",
};

export interface RpmInput {
  /** Kubernetes version without the leading "v", e.g. "1.20.15". */
  version: string;
  /** Must contain "nokmem" and sort above the official "0" and "1.1"; see defaultRelease(). */
  release: string;
  arch: GoArch;
  /** The kubelet binary to package. */
  binary: string;
  /** Installed as /usr/libexec/kmem-build/verify-kmem.sh when given. */
  verifyScript?: string;
  sourceDateEpoch: number;
  /** Scratch directory; an rpmbuild topdir per version/release/arch is made under it, removed after success. */
  workDir: string;
  /** Where the finished .rpm is written. */
  outDir: string;
  /** One line for the package description, e.g. "nokmem marker present". */
  evidence?: string;
  /** The Packager tag and %changelog author, "Name <email>"; defaults to DEFAULT_PACKAGER. */
  packager?: string;
  /** The Vendor tag; defaults to DEFAULT_VENDOR. */
  vendor?: string;
  /** gzip (default) or xz: the payload compressors EL7's rpm 4.11 can read. */
  compression?: "gzip" | "xz";
  onLine?: (line: string) => void;
  /** Stops rpmbuild (Ctrl-C, SIGTERM). */
  signal?: AbortSignal;
}

export interface BuiltRpm {
  file: string;
  name: string;
}

export const DEFAULT_PACKAGER = "kmem-build <kmem-build@localhost>";
export const DEFAULT_VENDOR = "kmem-build";

export function rpmArch(goArch: GoArch): string {
  const a = RPM_ARCHES[goArch];
  if (!a)
    throw new UsageError(
      `unsupported architecture: ${String(goArch)}`,
      `use one of ${Object.keys(RPM_ARCHES).join(", ")}`,
    );
  return a;
}

/**
 * By rpm's own comparison "2.nokmem" sorts above the official releases "0" (legacy repo) and "1.1"
 * (pkgs.k8s.io), so yum prefers it for the same version. ("1.nokmem" would sort below "1.1".)
 */
export function defaultRelease(): string {
  return "2.nokmem";
}

/**
 * gzip at its own default level: -9 took 12.0 s for the 108.7 MiB real kubelet against 3.5 s for
 * -6, to save 1.2% (28.12 MB against 28.45 MB), the largest part of a further release's build.
 */
const PAYLOADS = { gzip: "w6.gzdio", xz: "w6.xzdio" } as const;

/** The rpmbuild payload setting (part of the RPM cache key: it decides the bytes). */
export function payloadOf(compression: "gzip" | "xz"): string {
  return PAYLOADS[compression];
}

/** rpmbuild settings that make the package readable by EL7's rpm 4.11 and byte-for-byte reproducible. */
export function rpmbuildDefines(topdir: string, compression: "gzip" | "xz"): string[] {
  const defs: Record<string, string> = {
    _topdir: topdir,
    _tmppath: join(topdir, "tmp"),
    _rpmdir: join(topdir, "RPMS"),
    _rpmfilename: "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm",
    _build_id_links: "none",
    _binary_payload: payloadOf(compression),
    _binary_filedigest_algorithm: "8", // SHA256
    use_source_date_epoch_as_buildtime: "1",
    clamp_mtime_to_source_date_epoch: "1",
    _buildhost: "kmem-build",
  };
  return Object.entries(defs).flatMap(([k, v]) => ["--define", `${k} ${v}`]);
}

/** Packager and Vendor go into the spec as tags: one plain line each, Packager as "Name <email>". */
export function checkPackagerVendor(o: { packager?: string; vendor?: string }): void {
  if (o.packager !== undefined && !/^[^<>%\s][^<>%\n\r]* <[^<>%\s]+@[^<>%\s]+>$/.test(o.packager)) {
    throw new UsageError(
      `invalid RPM packager: "${o.packager}"`,
      `use "Name <email>", e.g. ${DEFAULT_PACKAGER}`,
    );
  }
  if (o.vendor !== undefined && !/^[^%\s][^%\n\r]*$/.test(o.vendor)) {
    throw new UsageError(
      `invalid RPM vendor: "${o.vendor}"`,
      `use one line without "%", e.g. ${DEFAULT_VENDOR}`,
    );
  }
}

function validate(input: RpmInput): void {
  if (!/^[0-9][A-Za-z0-9._+~^]*$/.test(input.version)) {
    throw new UsageError(
      `invalid RPM version: "${input.version}"`,
      'use the Kubernetes version without "v" and without "-", e.g. 1.20.15',
    );
  }
  checkRelease(input.release);
  rpmArch(input.arch);
  if (!Number.isSafeInteger(input.sourceDateEpoch) || input.sourceDateEpoch < 0) {
    throw new UsageError(`invalid SOURCE_DATE_EPOCH: ${input.sourceDateEpoch}`);
  }
  checkPackagerVendor(input);
  if (/\s/.test(resolve(input.workDir))) {
    throw new UsageError(
      `work directory contains whitespace: ${input.workDir}`,
      "rpmbuild cannot handle spaces in paths",
    );
  }
}

async function requireFile(path: string, what: string): Promise<void> {
  const s = await stat(path).catch(() => null);
  if (!s?.isFile()) throw new UsageError(`${what} not found: ${path}`);
}

/** The %changelog date line format: "Tue Nov 14 2023", in UTC. */
export function changelogDate(epoch: number): string {
  const d = new Date(epoch * 1000);
  const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getUTCDay()]!;
  const month = d.toLocaleString("en-US", { month: "short", timeZone: "UTC" });
  return `${day} ${month} ${String(d.getUTCDate()).padStart(2, "0")} ${d.getUTCFullYear()}`;
}

/** The description is part of the spec: one line, and no `%` that rpm would expand as a macro. */
function specText(s: string): string {
  return s.replace(/\s+/g, " ").trim().replace(/%/g, "%%");
}

export type SpecInput = Pick<
  RpmInput,
  "version" | "release" | "sourceDateEpoch" | "evidence" | "packager" | "vendor"
> & { withVerify: boolean };

/** templates/kubelet.spec.in as buildRpm renders it (also used by bench/plain-build.sh's caller). */
export async function renderKubeletSpec(input: SpecInput): Promise<string> {
  return renderTemplate(
    await readTemplate("kubelet.spec.in"),
    {
      VERSION: input.version,
      RELEASE: input.release,
      WITH_VERIFY: input.withVerify ? "1" : "0",
      EVIDENCE: specText(input.evidence ?? "see the kmem-build build report"),
      PACKAGER: specText(input.packager ?? DEFAULT_PACKAGER),
      VENDOR: specText(input.vendor ?? DEFAULT_VENDOR),
      CHANGELOG_DATE: changelogDate(input.sourceDateEpoch),
    },
    "kubelet.spec.in",
  );
}

export async function buildRpm(input: RpmInput): Promise<BuiltRpm> {
  validate(input);
  await requireTools(["rpmbuild", "rpm"], "build the kubelet RPM");
  await requireFile(input.binary, "kubelet binary");
  if (input.verifyScript) await requireFile(input.verifyScript, "verify script");

  const arch = rpmArch(input.arch);
  const topdir = join(resolve(input.workDir), `rpmbuild-${input.version}-${input.release}-${arch}`);
  await rm(topdir, { recursive: true, force: true });
  const sources = join(topdir, "SOURCES");
  for (const d of ["SOURCES", "SPECS", "BUILD", "RPMS", "tmp"])
    await mkdir(join(topdir, d), { recursive: true });

  await copyFile(input.binary, join(sources, "kubelet"));
  await writeFile(join(sources, "kubelet.service"), await readTemplate("kubelet.service"));
  await writeFile(join(sources, "kubelet.sysconfig"), await readTemplate("kubelet.sysconfig"));
  if (input.verifyScript) await copyFile(input.verifyScript, join(sources, "verify-kmem.sh"));

  const spec = await renderKubeletSpec({ ...input, withVerify: !!input.verifyScript });
  const specFile = join(topdir, "SPECS", "kubelet.spec");
  await writeFile(specFile, spec);

  await run(
    "rpmbuild",
    ["-bb", "--target", arch, ...rpmbuildDefines(topdir, input.compression ?? "gzip"), specFile],
    {
      env: { SOURCE_DATE_EPOCH: String(input.sourceDateEpoch), TZ: "UTC", LC_ALL: "C" },
      onLine: input.onLine ? (line) => input.onLine!(line) : undefined,
      signal: input.signal,
      what: `rpmbuild kubelet ${input.version}-${input.release} for ${arch}`,
    },
  );

  const name = `kubelet-${input.version}-${input.release}.${arch}.rpm`;
  const built = join(topdir, "RPMS", name);
  if (!(await stat(built).catch(() => null)))
    throw new BuildError(`rpmbuild did not produce ${name} in ${basename(topdir)}/RPMS`);
  // A static binary cannot need the node's glibc: only a dynamic one is worth asking rpm about.
  const glibc = (await isStaticElf(input.binary))
    ? null
    : glibcTooNewForEl7(
        (await run("rpm", ["-qp", "--requires", built], { env: { LC_ALL: "C" } })).stdout.split("\n"),
      );
  if (glibc) {
    throw new BuildError(
      `${name} would not install on EL7: the kubelet binary needs ${glibc}, EL7 has glibc 2.17`,
      "build kubelet statically (KUBE_STATIC_OVERRIDES=kubelet, CGO_ENABLED=0) or with a glibc <= 2.17 toolchain",
    );
  }
  await mkdir(input.outDir, { recursive: true });
  const file = join(resolve(input.outDir), name);
  const partial = `${file}.partial`;
  await copyFile(built, partial);
  await rename(partial, file);
  await rm(topdir, { recursive: true, force: true });
  return { file, name };
}

async function isStaticElf(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return readElf(head.subarray(0, bytesRead))?.static ?? false;
  } finally {
    await fh.close();
  }
}
