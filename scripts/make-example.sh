#!/bin/sh
# Assembles a bundled example Kubernetes-shaped source tree (examples/kubernetes) for one era and
# publishes it the way the Kubernetes release does, so kmem-build can be pointed at OUTDIR as at
# a mirror of dl.k8s.io (or, with --top-dir, of github.com).
#
#   scripts/make-example.sh [OPTIONS] ERA VERSION OUTDIR
#
# ERA      patch-era   runc before v1.0.0-rc6, Kubernetes <= 1.13: -tags=nokmem does nothing,
#                      patches/runc-pre-rc6-nokmem.patch is needed   (default version 1.13.12)
#          tag-era     runc rc8..rc93, Kubernetes 1.14 - 1.21.1: -tags=nokmem works
#                                                                    (default version 1.20.15)
#          post-fix    runc rc95+, Kubernetes >= 1.21.2: no kernel memory code at all
#                                                                    (default version 1.21.14)
#          broken-tag  the tag-era tree with a Makefile that drops GOFLAGS, so the kernel
#                      memory code stays linked whatever the caller asks (default 1.20.15)
# VERSION  X.Y.Z (a leading "v" is accepted); "-" or "default" for the era's default
# OUTDIR   created if missing. Written (each path also printed on stdout):
#            OUTDIR/v<VERSION>/kubernetes-src.tar.gz         git-archive layout: no top directory
#            OUTDIR/v<VERSION>/kubernetes-src.tar.gz.sha512  hex digest only, no newline
#          with --top-dir instead:
#            OUTDIR/kubernetes/kubernetes/archive/refs/tags/v<VERSION>.tar.gz
#                                        GitHub archive layout: kubernetes-<VERSION>/ top directory
#          with --stable also:
#            OUTDIR/release/stable-<MAJOR>.<MINOR>.txt       "v<VERSION>", no newline
#
# OPTIONS  --top-dir      GitHub archive layout (see above)
#          --stable       also write the release/stable-<MAJOR>.<MINOR>.txt marker
#          --tree DIR     also copy the assembled tree to DIR (created; must be empty)
#          --epoch N      mtime of every entry (default: SOURCE_DATE_EPOCH, else 1577836800)
#
# The tarball is deterministic: sorted names, fixed mtime, owner/group 0/0, GNU tar format,
# modes 0644/0755, gzip -n. Running twice gives byte-identical files.
# Exit codes: 0 ok, 1 failure, 2 usage error. Needs GNU tar, gzip, sha512sum.
set -eu

prog=make-example
usage() {
  sed -n '2,/^set -eu$/p' "$0" | sed -e '/^set -eu$/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}
die() {
  printf '%s: error: %s\n' "$prog" "$*" >&2
  exit 1
}
log() { printf '%s: %s\n' "$prog" "$*" >&2; }

top_dir=0
stable=0
tree_out=""
epoch=${SOURCE_DATE_EPOCH:-1577836800}
while [ "$#" -gt 0 ]; do
  case $1 in
    --top-dir) top_dir=1 ;;
    --stable) stable=1 ;;
    --tree)
      [ "$#" -ge 2 ] || usage
      tree_out=$2
      shift
      ;;
    --tree=*) tree_out=${1#--tree=} ;;
    --epoch)
      [ "$#" -ge 2 ] || usage
      epoch=$2
      shift
      ;;
    --epoch=*) epoch=${1#--epoch=} ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -?*) printf '%s: unknown option %s\n' "$prog" "$1" >&2; usage ;;
    *) break ;;
  esac
  shift
done
[ "$#" -eq 3 ] || usage
era=$1
version=${2#v}
outdir=$3

case $era in
  patch-era) default_version=1.13.12 overlays="patch-era" ;;
  tag-era) default_version=1.20.15 overlays="tag-era" ;;
  post-fix) default_version=1.21.14 overlays="post-fix" ;;
  broken-tag) default_version=1.20.15 overlays="tag-era broken-tag" ;;
  *) printf '%s: unknown ERA %s (patch-era, tag-era, post-fix, broken-tag)\n' "$prog" "$era" >&2; exit 2 ;;
esac
case $version in '' | - | default) version=$default_version ;; esac
if ! printf '%s\n' "$version" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$'; then
  printf '%s: VERSION must look like 1.20.15, not %s\n' "$prog" "$2" >&2
  exit 2
fi
case $epoch in '' | *[!0-9]*) printf '%s: --epoch must be a number of seconds\n' "$prog" >&2; exit 2 ;; esac

major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
rest=${rest#*.}
patchlevel=${rest%%[!0-9]*}

# Which era a real Kubernetes release of this version belongs to (docs/domain.md, "The nokmem build tag, era by era").
if [ "$major" -ne 1 ]; then
  real_era=post-fix
elif [ "$minor" -le 13 ]; then
  real_era=patch-era
elif [ "$minor" -lt 21 ] || { [ "$minor" -eq 21 ] && [ "$patchlevel" -lt 2 ]; }; then
  real_era=tag-era
else
  real_era=post-fix
fi
case $era in
  broken-tag) want_era=tag-era ;;
  *) want_era=$era ;;
esac
if [ "$real_era" != "$want_era" ]; then
  log "warning: a real Kubernetes v$version belongs to $real_era, but the $era tree was asked for"
fi

# Builder image the tree names (kube-cross tag in build/build-image/cross/VERSION) and its Go
# version. Representative values per minor, not an exact history.
case $minor in
  10) cross=v1.9.3-2 gover=1.9.3 ;;
  11 | 12) cross=v1.10.8-1 gover=1.10.8 ;;
  13) cross=v1.11.13-1 gover=1.11.13 ;;
  14) cross=v1.12.12-1 gover=1.12.12 ;;
  15) cross=v1.12.17-1 gover=1.12.17 ;;
  16 | 17 | 18) cross=v1.13.15-1 gover=1.13.15 ;;
  19 | 20) cross=v1.15.15-legacy-1 gover=1.15.15 ;;
  21) cross=v1.16.15-1 gover=1.16.15 ;;
  22) cross=v1.22.0-go1.16.15-buster.0 gover=1.16.15 ;;
  23) cross=v1.23.0-go1.17.13-bullseye.0 gover=1.17.13 ;;
  24 | 25) cross=v1.$minor.0-go1.20.14-bullseye.0 gover=1.20.14 ;;
  26 | 27) cross=v1.$minor.0-go1.21.13-bullseye.0 gover=1.21.13 ;;
  28 | 29) cross=v1.$minor.0-go1.22.12-bookworm.0 gover=1.22.12 ;;
  *)
    if [ "$minor" -lt 10 ]; then
      cross=v1.9.3-2 gover=1.9.3
    else
      cross=v1.$minor.0-go1.23.12-bookworm.0 gover=1.23.12
    fi
    ;;
esac

command -v sha512sum >/dev/null 2>&1 || die "sha512sum not found"
command -v gzip >/dev/null 2>&1 || die "gzip not found"
tar --version 2>/dev/null | grep -q 'GNU tar' || die "GNU tar is required"

here=$(cd "$(dirname "$0")" && pwd -P)
examples=$here/../examples/kubernetes
[ -d "$examples/common" ] || die "example sources not found at $examples"

work=$(mktemp -d "${TMPDIR:-/tmp}/kmem-build-example.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The tree is assembled as $work/kubernetes-<VERSION> so the --top-dir layout needs no renaming.
name=kubernetes-$version
tree=$work/$name
mkdir "$tree"
cp -R "$examples/common/." "$tree/"
for overlay in $overlays; do
  cp -R "$examples/eras/$overlay/." "$tree/"
done
# Nothing a local build may have left behind.
find "$tree" -name _output -prune -exec rm -rf {} +
mkdir -p "$tree/build/build-image/cross"
printf '%s\n' "$cross" >"$tree/build/build-image/cross/VERSION"
# .go-version appeared in December 2022 (kubernetes PR 114660), on the branches still
# maintained then: 1.23 and later.
if [ "$major" -gt 1 ] || [ "$minor" -ge 23 ]; then
  printf '%s\n' "$gover" >"$tree/.go-version"
fi
# The tree states its version as a real one does (src/pipeline/steps/tree-version.ts): its minor's
# CHANGELOG, whose newest entry is the release before it (a release's own entry comes after its
# tag), and, in a git archive (--top-dir), the tag written into hack/lib/version.sh.
case $version in
  *-*) previous=$version ;;
  *) if [ "$patchlevel" -gt 0 ]; then previous=$major.$minor.$((patchlevel - 1)); else previous=$major.$minor.0-rc.0; fi ;;
esac
mkdir -p "$tree/CHANGELOG"
{
  printf -- '- [v%s](#v%s)\n\n' "$previous" "$(printf '%s' "$previous" | tr -d '.')"
  printf '# v%s\n\n' "$previous"
  printf 'The kmem-build example tree (examples/kubernetes): no Kubernetes code, no real changes.\n'
} >"$tree/CHANGELOG/CHANGELOG-$major.$minor.md"
if [ "$top_dir" -eq 1 ]; then
  # shellcheck disable=SC2016 # the $ are sed's, escaped: the literal placeholder
  sed 's|\$Format:%D\$|tag: v'"$version"'|' "$tree/hack/lib/version.sh" >"$work/version.sh"
  mv "$work/version.sh" "$tree/hack/lib/version.sh"
fi
find "$tree" -type d -exec chmod 0755 {} +
find "$tree" -type f -exec chmod 0644 {} +
find "$tree/hack/make-rules" -type f -name '*.sh' -exec chmod 0755 {} +

if [ -n "$tree_out" ]; then
  if [ -e "$tree_out" ] && [ -n "$(ls -A "$tree_out")" ]; then
    die "--tree $tree_out exists and is not empty"
  fi
  mkdir -p "$tree_out"
  cp -R "$tree/." "$tree_out/"
  log "tree ($era, v$version) copied to $tree_out"
fi

# Entry list, sorted by byte order: git archive layout (paths relative to the tree root, no
# top directory) or GitHub layout (everything below kubernetes-<VERSION>/).
(cd "$tree" && find . -mindepth 1 -print) | sed 's|^\./||' | LC_ALL=C sort >"$work/entries"
if [ "$top_dir" -eq 1 ]; then
  { printf '%s\n' "$name"; sed "s|^|$name/|" "$work/entries"; } >"$work/list"
  tar_dir=$work
  dest=$outdir/kubernetes/kubernetes/archive/refs/tags/v$version.tar.gz
else
  cp "$work/entries" "$work/list"
  tar_dir=$tree
  dest=$outdir/v$version/kubernetes-src.tar.gz
fi

mkdir -p "$(dirname "$dest")"
tmp=$dest.tmp.$$
tar --format=gnu --numeric-owner --owner=0 --group=0 --mtime="@$epoch" \
  --no-recursion -C "$tar_dir" -T "$work/list" -cf - | gzip -n -9 >"$tmp"
mv -f "$tmp" "$dest"
printf '%s\n' "$dest"

if [ "$top_dir" -eq 0 ]; then
  sum=$(sha512sum "$dest" | cut -d' ' -f1)
  printf '%s' "$sum" >"$dest.sha512.tmp.$$"
  mv -f "$dest.sha512.tmp.$$" "$dest.sha512"
  printf '%s\n' "$dest.sha512"
fi

if [ "$stable" -eq 1 ]; then
  marker=$outdir/release/stable-$major.$minor.txt
  mkdir -p "$outdir/release"
  printf 'v%s' "$version" >"$marker.tmp.$$"
  mv -f "$marker.tmp.$$" "$marker"
  printf '%s\n' "$marker"
fi

log "$era tree v$version ($(wc -l <"$work/entries" | tr -d ' ') entries, builder image $cross) -> $dest"
