#!/bin/sh
# Builds a local Go builder image kmem-build compiles kubelet in, ONLY when it is missing.
#
#   scripts/build-image.sh [--go MINOR] [IMAGE]   (default: --go 1.19, IMAGE localhost/kmem-build-go:MINOR)
#
# No container registry is reachable from the machines this runs on, so the image is made from
# scratch: debootstrap --variant=minbase SUITE into a temp dir, apt-get install golang-go make rsync
# ca-certificates in the chroot, clean the apt caches, then `tar -C rootfs -c . | podman import`.
# The Go minor picks the Debian suite whose golang-go is that Go:
#   1.15 -> bullseye (Go 1.15.15: the Go Kubernetes 1.19/1.20 were released with)
#   1.19 -> bookworm (Go 1.19.8)
# rsync is there because the real Kubernetes build (generated_files) needs it; so are bash,
# find, sed, awk and tar, which minbase already has.
#
# Environment:
#   KMEM_BUILD_ENGINE   podman (default) or docker
#   KMEM_BUILD_MIRROR   Debian mirror (default http://deb.debian.org/debian)
#   KMEM_BUILD_SUITE    Debian suite (default: from --go)
#   KMEM_BUILD_FORCE=1  rebuild even when the image exists
#   TMPDIR              where the temporary rootfs goes (needs ~600 MB)
#
# Exit codes: 0 image present (built or already there), 1 failure, 2 usage error.
# Needs root (debootstrap and chroot).
set -eu

GO_MINOR=1.19
if [ "${1:-}" = --go ]; then
  [ "$#" -ge 2 ] || { printf 'usage: %s [--go MINOR] [IMAGE]\n' "$0" >&2; exit 2; }
  GO_MINOR=$2
  shift 2
fi
case $GO_MINOR in
  1.15) DEFAULT_SUITE=bullseye ;;
  1.19) DEFAULT_SUITE=bookworm ;;
  *) printf 'build-image: no Debian suite ships Go %s as golang-go here; use --go 1.15 (bullseye) or --go 1.19 (bookworm)\n' "$GO_MINOR" >&2; exit 2 ;;
esac
IMAGE=${1:-localhost/kmem-build-go:$GO_MINOR}
ENGINE=${KMEM_BUILD_ENGINE:-podman}
MIRROR=${KMEM_BUILD_MIRROR:-http://deb.debian.org/debian}
SUITE=${KMEM_BUILD_SUITE:-$DEFAULT_SUITE}
PACKAGES="golang-go make rsync ca-certificates"
GOROOT_BIN=/usr/lib/go/bin
IMAGE_PATH="${GOROOT_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

log() { printf 'build-image: %s\n' "$*"; }
die() { printf 'build-image: error: %s\n' "$*" >&2; exit 1; }

if [ "$#" -gt 1 ]; then
  printf 'usage: %s [--go MINOR] [IMAGE]\n' "$0" >&2
  exit 2
fi
case $ENGINE in
  podman | docker) ;;
  *) printf 'build-image: KMEM_BUILD_ENGINE must be podman or docker, not %s\n' "$ENGINE" >&2; exit 2 ;;
esac
command -v "$ENGINE" >/dev/null 2>&1 || die "$ENGINE not found in PATH"
# Fail now rather than after the rootfs is built (e.g. a docker CLI with no daemon behind it).
"$ENGINE" info >/dev/null 2>&1 || die "'$ENGINE info' fails: the container engine is not usable"

image_exists() {
  if [ "$ENGINE" = podman ]; then
    podman image exists "$1"
  else
    docker image inspect "$1" >/dev/null 2>&1
  fi
}

# An image made by an older version of this script may lack a tool added since (rsync): remake it.
has_tools() {
  # shellcheck disable=SC2016 # expanded inside the container
  "$ENGINE" run --rm --network none "$1" sh -c 'for t in go make bash rsync; do command -v "$t" >/dev/null || exit 1; done'
}

if image_exists "$IMAGE" && [ "${KMEM_BUILD_FORCE:-0}" != 1 ]; then
  if has_tools "$IMAGE" >/dev/null 2>&1; then
    log "image $IMAGE already present, nothing to do"
    exit 0
  fi
  log "image $IMAGE lacks a tool the build needs (go, make, bash, rsync): building it again"
fi

[ "$(id -u)" -eq 0 ] || die "debootstrap needs root; run as root (or with sudo)"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found (apt-get install debootstrap)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kmem-build-image.XXXXXX")
ROOTFS=$WORK/rootfs
cleanup() {
  # Anything still mounted inside the chroot must go before the directory can.
  for m in proc sys dev/pts dev; do
    if [ -d "$ROOTFS/$m" ] && grep -q " $ROOTFS/$m " /proc/mounts 2>/dev/null; then
      umount -l "$ROOTFS/$m" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$(date +%s)
log "building $IMAGE with $ENGINE (suite $SUITE, mirror $MIRROR)"
log "[1/4] debootstrap --variant=minbase $SUITE (log: $WORK/debootstrap.log)"
if ! debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
  tail -n 30 "$WORK/debootstrap.log" >&2
  die "debootstrap failed"
fi

log "[2/4] apt-get install $PACKAGES"
# Plain chroot: no mounts needed for these packages; policy-rc.d keeps services from starting.
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true
# shellcheck disable=SC2086 # PACKAGES is a word list on purpose
if ! chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $PACKAGES" \
  >"$WORK/apt.log" 2>&1; then
  tail -n 30 "$WORK/apt.log" >&2
  die "apt-get install failed"
fi
gover=$(chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin go version) \
  || die "go does not run in the new rootfs"
log "      $gover"
case $gover in
  *" go$GO_MINOR."* | *" go$GO_MINOR "*) ;;
  *) die "$SUITE's golang-go is not Go $GO_MINOR ($gover)" ;;
esac

log "[3/4] cleaning apt caches"
chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
  "$ROOTFS"/var/log/apt/* "$ROOTFS"/var/log/dpkg.log "$ROOTFS"/tmp/* \
  "$ROOTFS/usr/sbin/policy-rc.d"
: >"$ROOTFS/etc/resolv.conf"

log "[4/4] importing rootfs as $IMAGE"
tar --numeric-owner -C "$ROOTFS" -c . | "$ENGINE" import \
  --change "ENV PATH=$IMAGE_PATH" \
  --change "ENV GOTOOLCHAIN=local" \
  --change "ENV GOPROXY=off" \
  --change "ENV GOCACHE=/tmp/go-build-cache" \
  --change "WORKDIR /src" \
  --change 'CMD ["/bin/sh"]' \
  - "$IMAGE" >/dev/null

"$ENGINE" run --rm --network none "$IMAGE" go version >/dev/null || die "image built but 'go version' fails in it"
log "done: $IMAGE ($("$ENGINE" run --rm --network none "$IMAGE" go version)) in $(($(date +%s) - start))s"
