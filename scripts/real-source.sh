#!/bin/sh
# Obtains the genuine Kubernetes 1.20.2 source tree for the real-release tests, from Debian's
# `kubernetes` source package (1.20.5+really1.20.2 = upstream v1.20.2 with its full vendor/).
# No Kubernetes code is committed to this repository: it is fetched here, at test time.
#
#   scripts/real-source.sh [CACHE_DIR]     (default: $KMEM_BUILD_TEST_CACHE/debian-src,
#                                           KMEM_BUILD_TEST_CACHE defaulting to /var/cache/kmem-build-test)
#
# Adds a deb-src entry for bookworm main (its own file, only when no deb-src entry exists), runs
# `apt-get source --download-only kubernetes` into a temp dir, checks every file against the
# Checksums-Sha256 of the .dsc and the orig tarball against the pinned sha256 below, then moves the
# files into CACHE_DIR. A cache that passes the same checks is used as it is.
# Prints the path of the orig tarball on stdout (progress goes to stderr).
# Exit codes: 0 ok, 1 failure (download or checksum), 2 usage.
set -eu

PACKAGE=kubernetes
VERSION=1.20.5+really1.20.2
ORIG=kubernetes_1.20.5+really1.20.2.orig.tar.gz
ORIG_SHA256=b83c0780efb182d928dc63d46488a847f161f04e40a94b96bf5247dd671ecdfc

log() { printf 'real-source: %s\n' "$*" >&2; }
die() { printf 'real-source: error: %s\n' "$*" >&2; exit 1; }

[ "$#" -le 1 ] || { printf 'usage: %s [CACHE_DIR]\n' "$0" >&2; exit 2; }
CACHE=${1:-${KMEM_BUILD_TEST_CACHE:-/var/cache/kmem-build-test}/debian-src}

# The .dsc lists "<sha256> <size> <file>" under Checksums-Sha256; every file must match, and the
# orig tarball must be the one docs/domain.md ("The real tree the tests build") names.
# The Debian revision (e.g. -1.1+deb12u1) changes with stable updates; the orig tarball does not.
check_dir() {
  dir=$1
  set -- "$dir/${PACKAGE}_${VERSION}"-*.dsc
  [ -f "$1" ] && [ -f "$dir/$ORIG" ] || return 1
  DSC=$(basename "$1")
  awk '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 } on && NF == 3 { print $1 "  " $3 }' \
    "$dir/$DSC" >"$dir/.sums"
  [ -s "$dir/.sums" ] || { rm -f "$dir/.sums"; return 1; }
  (cd "$dir" && sha256sum --quiet -c .sums >/dev/null 2>&1) || { rm -f "$dir/.sums"; return 1; }
  rm -f "$dir/.sums"
  echo "$ORIG_SHA256  $dir/$ORIG" | sha256sum --quiet -c - >/dev/null 2>&1
}

if check_dir "$CACHE"; then
  log "cached and verified: $CACHE/$ORIG"
  echo "$CACHE/$ORIG"
  exit 0
fi

if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  log "adding a deb-src entry for bookworm main (/etc/apt/sources.list.d/kmem-build-src.sources)"
  cat >/etc/apt/sources.list.d/kmem-build-src.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt-get update -qq >&2 || die "apt-get update failed"
fi

mkdir -p "$(dirname "$CACHE")"
tmp=$(mktemp -d "$(dirname "$CACHE")/.debian-src.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
log "apt-get source --download-only $PACKAGE (about 35 MB)"
(cd "$tmp" && apt-get source --download-only -qq "$PACKAGE" >&2) ||
  die "apt-get source failed: is a deb-src entry for bookworm configured and the archive reachable?"
check_dir "$tmp" || die "downloaded files do not match the checksums of $DSC (or the pinned orig sha256)"
rm -rf "$CACHE"
mv "$tmp" "$CACHE"
trap - EXIT
log "verified: $CACHE/$ORIG"
echo "$CACHE/$ORIG"
