/**
 * Builds deterministic yum repositories from kmem-build outputs, by default one per Kubernetes minor
 * (`<out>/1.20/` with its own repodata and `kmem-build-1.20.repo`), as the community's official
 * repositories are: `yum upgrade kubelet` then never crosses a minor.
 */
import { chmod, copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { basename, dirname, join, posix, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { run, requireTools } from "../exec.js";
import { UsageError } from "../errors.js";
import { replaceWith } from "../util/fs.js";
import { checkReplaceable, REPO_OUTPUT, writeMarker } from "../util/out-dir.js";
import { findInputRpms, type InputRpm } from "./repo-inputs.js";
import { queryRpm } from "./rpm-query.js";
import { exportPublicKey, resolveSigningKey, signDetached, type GpgOptions } from "./sign.js";

export const PUBLIC_KEY_FILE = "RPM-GPG-KEY-kmem-build";
export const PACKAGES_DIR = "Packages";

/** `minor`: one repository per Kubernetes minor under <out>/<minor>/; `single`: every package in <out>. */
export type RepoLayout = "minor" | "single";

export interface RepoOptions {
  from: string[];
  layout?: RepoLayout;
  out: string;
  signKey?: string;
  /** Where clients will find the repository; defaults to file://<out>. */
  baseUrl?: string;
  /** Repository id: the `[section]` and the `<id>.repo` file name (`<id>-<minor>` per minor). */
  id?: string;
  /** yum/dnf repository priority (lower wins); defaults to DEFAULT_PRIORITY. */
  priority?: number;
  /** Repository revision and timestamp; defaults to the newest RPM build time (= SOURCE_DATE_EPOCH of the builds). */
  epoch?: number;
  gnupgHome?: string;
  onLine?: (line: string) => void;
}

export interface RepoPackage {
  /** Path inside --out, e.g. 1.20/Packages/kubelet-1.20.15-2.nokmem.x86_64.rpm. */
  file: string;
  name: string;
  version: string;
  release: string;
  arch: string;
  sha256: string;
  signatureKeyId: string | null;
}

/** One yum repository: its own repodata and `.repo` file. */
export interface RepoEntry {
  /** The Kubernetes minor it holds (null in the single layout). */
  minor: string | null;
  dir: string;
  id: string;
  baseUrl: string;
  revision: number;
  repoFile: string;
  repoFileText: string;
}

export interface RepoResult {
  repo: string;
  layout: RepoLayout;
  /** The highest revision of the repositories. */
  revision: number;
  packages: RepoPackage[];
  repositories: RepoEntry[];
  /** repomd.xml.asc written (repo_gpgcheck=1). */
  metadataSigned: boolean;
  /** Every RPM carries a signature of the signing key (gpgcheck=1). */
  packagesSigned: boolean;
  publicKey: string | null;
}

/**
 * Below the default 99 of every other repository: dnf (and EL7 yum with yum-plugin-priorities) then
 * takes kubelet only from here, so a newer official kubelet cannot replace the nokmem one at `yum update`.
 */
export const DEFAULT_PRIORITY = 10;

export function renderRepoFile(o: {
  id: string;
  baseUrl: string;
  gpgcheck: boolean;
  repoGpgcheck: boolean;
  priority?: number;
  minor?: string | null;
  /** Where the public key lies; defaults to <baseUrl>/RPM-GPG-KEY-kmem-build. */
  gpgKeyUrl?: string;
}): string {
  const lines = [
    "# kmem-build: the nokmem kubelet. priority= keeps it through `yum update` when another repository",
    "# has a newer kubelet: dnf honours it, EL7's yum 3 only with yum-plugin-priorities installed.",
  ];
  const warning = unsignedWarning(o);
  if (warning) lines.push(...warning.map((l) => `# WARNING: ${l}`));
  lines.push(
    `[${o.id}]`,
    `name=kubelet${o.minor ? ` ${o.minor}` : ""} built without kmem accounting (kmem-build)`,
    `baseurl=${o.baseUrl}`,
    "enabled=1",
    `gpgcheck=${o.gpgcheck ? 1 : 0}`,
    `repo_gpgcheck=${o.repoGpgcheck ? 1 : 0}`,
  );
  if (o.gpgcheck || o.repoGpgcheck) lines.push(`gpgkey=${o.gpgKeyUrl ?? `${o.baseUrl}/${PUBLIC_KEY_FILE}`}`);
  lines.push(`priority=${o.priority ?? DEFAULT_PRIORITY}`);
  return lines.join("\n") + "\n";
}

/** What the nodes will not check, one line each; null when they check both signatures. */
export function unsignedWarning(o: { gpgcheck: boolean; repoGpgcheck: boolean }): string[] | null {
  const out: string[] = [];
  if (!o.gpgcheck)
    out.push(
      "gpgcheck=0: the nodes install these kubelet RPMs without checking a signature (sign them: kmem-build build --sign-key, or rpmsign)",
    );
  if (!o.repoGpgcheck)
    out.push(
      "repo_gpgcheck=0: the nodes take this repository's metadata without checking a signature (kmem-build repo --sign-key)",
    );
  return out.length ? out : null;
}

/** "1.20" for 1.20.15 (also 1.21.0~rc.1); null when the version names no minor. */
export function minorOf(version: string): string | null {
  return /^(\d+\.\d+)(?:[.~^+]|$)/.exec(version)?.[1] ?? null;
}

function checkOptions(o: RepoOptions): { id: string; baseUrl: string; priority: number } {
  const id = o.id ?? "kmem-build";
  if (!/^[A-Za-z0-9._:-]+$/.test(id))
    throw new UsageError(`invalid repository id: "${id}"`, "use letters, digits, '.', '_', ':' or '-'");
  const baseUrl = (o.baseUrl ?? pathToFileURL(resolve(o.out)).href).replace(/\/+$/, "");
  if (!/^(https?|ftp|file):\/\/\S+$/.test(baseUrl)) {
    throw new UsageError(`invalid --base-url: "${o.baseUrl}"`, "use an http(s)://, ftp:// or file:// URL");
  }
  if (o.epoch !== undefined && (!Number.isSafeInteger(o.epoch) || o.epoch < 0))
    throw new UsageError(`invalid epoch: ${o.epoch}`);
  const priority = o.priority ?? DEFAULT_PRIORITY;
  if (!Number.isInteger(priority) || priority < 1 || priority > 99)
    throw new UsageError(
      `invalid repository priority: ${o.priority}`,
      "use 1-99, below the official repository's (default 99)",
    );
  return { id, baseUrl, priority };
}

interface Group {
  minor: string | null;
  /** Path of the repository inside --out ("" for the single layout). */
  sub: string;
  inputs: InputRpm[];
  revision: number;
}

export async function buildRepo(o: RepoOptions): Promise<RepoResult> {
  const { id, baseUrl, priority } = checkOptions(o);
  const layout = o.layout ?? "minor";
  if (layout !== "minor" && layout !== "single")
    throw new UsageError(`invalid repository layout: "${String(layout)}"`, "use minor or single");
  const out = resolve(o.out);
  const gpg: GpgOptions = { gnupgHome: o.gnupgHome, onLine: o.onLine };
  await requireTools(["createrepo_c", "rpm"], "build the yum repository");
  const key = o.signKey ? await resolveSigningKey(o.signKey, gpg) : null;

  for (const from of o.from) {
    const f = resolve(from);
    if (f === out || f.startsWith(out + sep)) {
      throw new UsageError(
        `--out ${o.out} would replace the build output --from ${from}`,
        "write the repository to another directory",
      );
    }
  }
  await checkReplaceable(out, REPO_OUTPUT, o.out);
  const inputs = await findInputRpms(o.from, [out]);
  const packages: RepoPackage[] = [];
  const groups = new Map<string, Group>();
  for (const i of inputs) {
    const { buildTime, ...h } = await queryRpm(i.path);
    const minor = layout === "minor" ? minorOf(h.version) : null;
    if (layout === "minor" && !minor)
      throw new UsageError(
        `${i.path}: version ${h.version} names no Kubernetes minor`,
        "only kubelet RPMs of a Kubernetes release (1.20.15) can be laid out by minor; or use --layout single",
      );
    const sub = minor ?? "";
    const g = groups.get(sub) ?? { minor, sub, inputs: [], revision: 0 };
    groups.set(sub, g);
    g.inputs.push(i);
    g.revision = Math.max(g.revision, o.epoch ?? buildTime);
    packages.push({ file: posix.join(sub, PACKAGES_DIR, i.name), ...h, sha256: i.sha256 });
  }
  const ordered = [...groups.values()].sort((a, b) => compareMinors(a.minor, b.minor));
  packages.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));

  await mkdir(dirname(out), { recursive: true });
  const tmp = await mkdtemp(join(dirname(out), `.${basename(out)}.tmp-`));
  try {
    await chmod(tmp, 0o755); // mkdtemp makes it 0700; web servers must read the repository
    let publicKey: string | null = null;
    if (o.signKey) {
      await exportPublicKey(o.signKey, join(tmp, PUBLIC_KEY_FILE), gpg);
      publicKey = join(out, PUBLIC_KEY_FILE);
    }
    const packagesSigned = !!key && packages.every((p) => p.signatureKeyId === key.signingKeyId);
    const repositories: RepoEntry[] = [];
    for (const g of ordered) {
      const dir = join(tmp, g.sub);
      await mkdir(join(dir, PACKAGES_DIR), { recursive: true, mode: 0o755 });
      await chmod(dir, 0o755);
      for (const i of g.inputs) {
        const dest = join(dir, PACKAGES_DIR, i.name);
        await copyFile(i.path, dest);
        await utimes(dest, g.revision, g.revision); // createrepo_c records file mtimes
      }
      await createrepo(dir, g.revision, o.onLine);
      if (o.signKey) await signDetached(join(dir, "repodata", "repomd.xml"), o.signKey, gpg);
      const repoId = g.minor ? `${id}-${g.minor}` : id;
      const repoBaseUrl = g.minor ? `${baseUrl}/${g.minor}` : baseUrl;
      const repoFileText = renderRepoFile({
        id: repoId,
        baseUrl: repoBaseUrl,
        gpgcheck: packagesSigned,
        repoGpgcheck: !!key,
        priority,
        minor: g.minor,
        gpgKeyUrl: `${baseUrl}/${PUBLIC_KEY_FILE}`,
      });
      await writeFile(join(dir, `${repoId}.repo`), repoFileText);
      repositories.push({
        minor: g.minor,
        dir: join(out, g.sub),
        id: repoId,
        baseUrl: repoBaseUrl,
        revision: g.revision,
        repoFile: join(out, g.sub, `${repoId}.repo`),
        repoFileText,
      });
    }
    await writeMarker(tmp, REPO_OUTPUT);
    await replaceWith(tmp, out, REPO_OUTPUT);
    return {
      repo: out,
      layout,
      revision: Math.max(...repositories.map((r) => r.revision)),
      packages,
      repositories,
      metadataSigned: !!key,
      packagesSigned,
      publicKey,
    };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

function compareMinors(a: string | null, b: string | null): number {
  const [a1 = 0, a2 = 0] = (a ?? "").split(".").map(Number);
  const [b1 = 0, b2 = 0] = (b ?? "").split(".").map(Number);
  return a1 - b1 || a2 - b2;
}

async function createrepo(dir: string, revision: number, onLine?: (line: string) => void): Promise<void> {
  await run(
    "createrepo_c",
    [
      "--revision",
      String(revision),
      "--set-timestamp-to-revision",
      "--general-compress-type",
      "gz",
      "--checksum",
      "sha256",
      "--no-database",
      dir,
    ],
    { onLine, what: "createrepo_c", env: { LC_ALL: "C", TZ: "UTC" } },
  );
}
