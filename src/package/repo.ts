/** Builds a deterministic yum repository from kmem-build outputs and writes a ready `.repo` file. */
import { chmod, copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { run, requireTools } from "../exec.js";
import { UsageError } from "../errors.js";
import { replaceWith } from "../util/fs.js";
import { checkReplaceable, REPO_OUTPUT, writeMarker } from "../util/out-dir.js";
import { findInputRpms } from "./repo-inputs.js";
import { queryRpm } from "./rpm-query.js";
import { exportPublicKey, resolveSigningKey, signDetached, type GpgOptions } from "./sign.js";

export const PUBLIC_KEY_FILE = "RPM-GPG-KEY-kmem-build";
export const PACKAGES_DIR = "Packages";

export interface RepoOptions {
  from: string[];
  out: string;
  signKey?: string;
  /** Where clients will find the repository; defaults to file://<out>. */
  baseUrl?: string;
  /** Repository id: the `[section]` and the `<id>.repo` file name. */
  id?: string;
  /** yum/dnf repository priority (lower wins); defaults to DEFAULT_PRIORITY. */
  priority?: number;
  /** Repository revision and timestamp; defaults to the newest RPM build time (= SOURCE_DATE_EPOCH of the builds). */
  epoch?: number;
  gnupgHome?: string;
  onLine?: (line: string) => void;
}

export interface RepoPackage {
  file: string;
  name: string;
  version: string;
  release: string;
  arch: string;
  sha256: string;
  signatureKeyId: string | null;
}

export interface RepoResult {
  repo: string;
  id: string;
  revision: number;
  baseUrl: string;
  packages: RepoPackage[];
  /** repomd.xml.asc written (repo_gpgcheck=1). */
  metadataSigned: boolean;
  /** Every RPM carries a signature of the signing key (gpgcheck=1). */
  packagesSigned: boolean;
  repoFile: string;
  repoFileText: string;
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
}): string {
  const lines = [
    "# kmem-build: the nokmem kubelet. priority= keeps it through `yum update` when another repository",
    "# has a newer kubelet: dnf honours it, EL7's yum 3 only with yum-plugin-priorities installed.",
    `[${o.id}]`,
    "name=kubelet built without kmem accounting (kmem-build)",
    `baseurl=${o.baseUrl}`,
    "enabled=1",
    `gpgcheck=${o.gpgcheck ? 1 : 0}`,
    `repo_gpgcheck=${o.repoGpgcheck ? 1 : 0}`,
  ];
  if (o.gpgcheck || o.repoGpgcheck) lines.push(`gpgkey=${o.baseUrl}/${PUBLIC_KEY_FILE}`);
  lines.push(`priority=${o.priority ?? DEFAULT_PRIORITY}`);
  return lines.join("\n") + "\n";
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

export async function buildRepo(o: RepoOptions): Promise<RepoResult> {
  const { id, baseUrl, priority } = checkOptions(o);
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
  let newestBuild = 0;
  for (const i of inputs) {
    const { buildTime, ...h } = await queryRpm(i.path);
    packages.push({ file: `${PACKAGES_DIR}/${i.name}`, ...h, sha256: i.sha256 });
    newestBuild = Math.max(newestBuild, buildTime);
  }
  const revision = o.epoch ?? newestBuild;

  await mkdir(dirname(out), { recursive: true });
  const tmp = await mkdtemp(join(dirname(out), `.${basename(out)}.tmp-`));
  try {
    await chmod(tmp, 0o755); // mkdtemp makes it 0700; web servers must read the repository
    await mkdir(join(tmp, PACKAGES_DIR));
    for (const i of inputs) {
      const dest = join(tmp, PACKAGES_DIR, i.name);
      await copyFile(i.path, dest);
      await utimes(dest, revision, revision); // createrepo_c records file mtimes
    }
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
        tmp,
      ],
      {
        onLine: o.onLine ? (l) => o.onLine!(l) : undefined,
        what: "createrepo_c",
        env: { LC_ALL: "C", TZ: "UTC" },
      },
    );
    let publicKey: string | null = null;
    if (o.signKey) {
      await signDetached(join(tmp, "repodata", "repomd.xml"), o.signKey, gpg);
      await exportPublicKey(o.signKey, join(tmp, PUBLIC_KEY_FILE), gpg);
      publicKey = join(out, PUBLIC_KEY_FILE);
    }
    const packagesSigned = !!key && packages.every((p) => p.signatureKeyId === key.signingKeyId);
    const repoFileText = renderRepoFile({
      id,
      baseUrl,
      gpgcheck: packagesSigned,
      repoGpgcheck: !!key,
      priority,
    });
    await writeFile(join(tmp, `${id}.repo`), repoFileText);
    await writeMarker(tmp, REPO_OUTPUT);
    await replaceWith(tmp, out, REPO_OUTPUT);
    return {
      repo: out,
      id,
      revision,
      baseUrl,
      packages,
      metadataSigned: !!key,
      packagesSigned,
      repoFile: join(out, `${id}.repo`),
      repoFileText,
      publicKey,
    };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
