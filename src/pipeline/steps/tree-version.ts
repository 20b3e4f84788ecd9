/**
 * Where a Kubernetes source tree states its own version, and the check that it is the version
 * asked: every release's source archive is called kubernetes-src.tar.gz, so a user's own --sha512
 * proves the bytes, not that they are the asked release. Two statements, as the genuine trees make
 * them (the 1.20.2 tree of test/real has both):
 *  - hack/lib/version.sh of a `git archive` (GitHub's archives, Debian's orig tarball) has its
 *    `$Format:%D$` placeholder replaced by the refs of the commit: `[[ 'tag: v1.20.2' =~ tag:\ …`;
 *  - CHANGELOG/CHANGELOG-<minor>.md (CHANGELOG-<minor>.md at the root before 1.16): its newest
 *    `# v…` entry is the release before this one (a release's own entry is committed after its
 *    tag) or this one; no CHANGELOG of a later minor exists.
 * A tree that states neither is not checked (our minimal test trees); one that states another
 * version is refused.
 */
import semver from "semver";
import { UsageError } from "../../errors.js";

export const VERSION_SH = "hack/lib/version.sh";

/** The changelog files of `version`'s minor, where the eras put them. */
export function changelogFiles(version: string): string[] {
  const v = semver.parse(version);
  if (!v) return [];
  return [`CHANGELOG/CHANGELOG-${v.major}.${v.minor}.md`, `CHANGELOG-${v.major}.${v.minor}.md`];
}

/** The tree files the check reads (scanned with the image files, without extracting). */
export function versionFilesOf(version: string): string[] {
  return [VERSION_SH, ...changelogFiles(version)];
}

/** `1.20` from a tree path naming a changelog of one minor, else null. */
export function changelogMinor(path: string): string | null {
  return /^(?:CHANGELOG\/)?CHANGELOG-(\d+\.\d+)\.md$/.exec(path)?.[1] ?? null;
}

/** The tag a git archive wrote into hack/lib/version.sh, without its "v"; null when none was. */
export function archiveTag(versionSh: string): string | null {
  const refs = /\[\[ '([^']*)' =~ tag:/.exec(versionSh)?.[1];
  if (!refs || refs.includes("$Format")) return null;
  return /(?:^|[ ,])tag: v([0-9][^ ,]*)/.exec(refs)?.[1] ?? null;
}

/** The newest `# vX.Y.Z` entry of a changelog (entries are newest first). */
export function newestEntry(changelog: string): string | null {
  return /^# v(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)\s*$/m.exec(changelog)?.[1] ?? null;
}

const HINT =
  "pass the --kubernetes version this tree is, or the kubernetes-src.tar.gz of the version you asked for (every release's archive has that name)";

function refuse(from: string, version: string, what: string): never {
  throw new UsageError(`${from} is not Kubernetes ${version}: ${what}`, HINT);
}

/**
 * Refuses a tree that states another version than `version`. `files`: the tree's files read by the
 * scan (paths from the root); `minors`: the minors of every CHANGELOG-X.Y.md in the tree.
 */
export function checkTreeVersion(
  version: string,
  files: Record<string, string>,
  minors: string[],
  from: string,
): void {
  const asked = semver.parse(version);
  if (!asked) return;
  const tag = files[VERSION_SH] !== undefined ? archiveTag(files[VERSION_SH]) : null;
  if (tag !== null && tag !== version)
    refuse(from, version, `${VERSION_SH} says it was archived from the tag v${tag}`);
  if (!minors.length) return;
  const minor = `${asked.major}.${asked.minor}`;
  const newestMinor = [...minors].sort((a, b) => semver.compare(`${a}.0`, `${b}.0`)).pop()!;
  if (newestMinor !== minor)
    refuse(from, version, `its newest changelog is CHANGELOG-${newestMinor}.md (a ${newestMinor} tree)`);
  const file = changelogFiles(version).find((f) => files[f] !== undefined);
  const newest = file ? newestEntry(files[file]!) : null;
  if (!file || !newest) return;
  // The release before `version` (its own entry may be there too): X.Y.(Z-1), or for X.Y.0 any
  // pre-release of it.
  const floor = asked.patch > 0 && !asked.prerelease.length ? `${minor}.${asked.patch - 1}` : `${minor}.0-0`;
  if (semver.gt(newest, version) || semver.lt(newest, floor))
    refuse(
      from,
      version,
      `the newest entry of its ${file} is v${newest} (the tree of ${version} has v${floor.replace(/-0$/, "")}${asked.patch > 0 ? " or its own" : " or a pre-release of it"})`,
    );
}
