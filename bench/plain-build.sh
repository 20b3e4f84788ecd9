#!/bin/sh
# The plain way: what `kmem-build build` does, done by hand with the same commands, for the
# orchestration-overhead benchmark (bench/build.mjs). Not a product script.
#
#   bench/plain-build.sh SRC_TARBALL SHA512 EPOCH IMAGE CACHE_DIR OUT_DIR SPEC_FILE ARCH...
#
# Environment: KMEM_PLAIN_VERSION (default 1.20.15, the example release), KMEM_PLAIN_STRIP=1 for a
# tarball with one top directory (Debian's orig tarball of the real tree, GitHub archives),
# KMEM_PLAIN_TIMES=FILE to append a nanosecond time stamp before and after the compile (the
# benchmark separates the compile from the rest with them).
#
# Same work as the tool, step by step:
#   sha512sum -c of the tarball; tar -xzf into a scratch directory; the version file;
#   per arch the same `podman run` as src/pipeline/steps/compile.ts + src/engine/index.ts
#   (same name pattern, --rm, --network none, --user, -w, the two mounts, the four variables,
#   the same make arguments), the Go build cache in CACHE_DIR/go like the tool's;
#   binaries and verify-kmem.sh staged; per arch the same rpmbuild call as src/package/rpm.ts
#   (same topdir layout, SOURCES, --target and --define list, environment) on SPEC_FILE, which
#   bench/lib/render-spec.mjs rendered beforehand with the project's own template code (a
#   person doing this by hand has a spec file); sha256sum of everything into SHA256SUMS.
# Not done (the tool does these on top): recipe loading, engine/image probes, the archive
# safety scan, ELF inspection, `rpm -qp --requires`, build.log, manifest.json, atomic publish.
set -eu

[ "$#" -ge 8 ] || {
  echo "usage: $0 SRC SHA512 EPOCH IMAGE CACHE_DIR OUT_DIR SPEC_FILE ARCH..." >&2
  exit 2
}
src=$1 sha512=$2 epoch=$3 image=$4 cache=$5 out=$6 spec=$7
shift 7

root=$(cd "$(dirname "$0")/.." && pwd -P)
version=${KMEM_PLAIN_VERSION:-1.20.15}
release=2.nokmem
tree_in=/go/src/k8s.io/kubernetes

work=$(mktemp -d "${TMPDIR:-/tmp}/kmem-plain.XXXXXX")
trap 'rm -rf "$work"' EXIT

# fetch source / check source
printf '%s  %s\n' "$sha512" "$src" | sha512sum -c --quiet -
mkdir "$work/src"
if [ "${KMEM_PLAIN_STRIP:-0}" = 1 ]; then
  tar -xzf "$src" -C "$work/src" --strip-components=1
else
  tar -xzf "$src" -C "$work/src"
fi
tree=$work/src

# compile
# hack/lib/golang.sh sets GOCACHE to _output/local/go/cache: the Go cache is mounted there too.
# The Go build cache, keyed as kmem-build keys it (src/pipeline/steps/compile.ts): the source's
# sha512 is given, so it is the one cache of verified sources.
gocache="$cache/go/verified"
mkdir -p "$gocache/go-build" "$tree/.kmem-build" "$tree/_output/local/go/cache"
# the version carries kmem-build's mark (semver build metadata, +nokmem)
printf 'KUBE_GIT_COMMIT=\nKUBE_GIT_TREE_STATE=clean\nKUBE_GIT_VERSION=v%s+nokmem\nKUBE_GIT_MAJOR=1\nKUBE_GIT_MINOR=20\n' \
  "$version" >"$tree/.kmem-build/version.env"
if [ "$(id -u)" -ne 0 ]; then
  user_flag="--userns keep-id"
else
  user_flag="--user $(id -u):$(id -g)"
fi
stamp() { [ -z "${KMEM_PLAIN_TIMES:-}" ] || date +%s%N >>"$KMEM_PLAIN_TIMES"; }
stamp
for arch in "$@"; do
  rm -f "$tree/_output/local/bin/linux/$arch/kubelet"
  # shellcheck disable=SC2086 # user_flag is two words
  podman run --rm --name "kmem-build-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" \
    --network none $user_flag -w "$tree_in" \
    -v "$tree:$tree_in" -v "$gocache:/kmem-cache" -v "$gocache/go-build:$tree_in/_output/local/go/cache" \
    -e HOME=/tmp -e GOCACHE=/kmem-cache/go-build -e GOPROXY=off -e "SOURCE_DATE_EPOCH=$epoch" \
    "$image" make WHAT=cmd/kubelet GOFLAGS=-tags=nokmem KUBE_STATIC_OVERRIDES=kubelet \
    "KUBE_BUILD_PLATFORMS=linux/$arch" "KUBE_GIT_VERSION_FILE=$tree_in/.kmem-build/version.env"
done
stamp

# stage
mkdir -p "$out"
for arch in "$@"; do
  cp "$tree/_output/local/bin/linux/$arch/kubelet" "$out/kubelet-linux-$arch"
  chmod 0755 "$out/kubelet-linux-$arch"
done
# stamped with the release the RPMs carry (src/verify/script-args.ts stampRelease)
sed "s/^BUILD_RELEASE=\"\"\$/BUILD_RELEASE=\"$release\"/" "$root/scripts/verify-kmem.sh" >"$out/verify-kmem.sh"
chmod 0755 "$out/verify-kmem.sh"

# rpm
for arch in "$@"; do
  case $arch in
    amd64) rpmarch=x86_64 ;;
    arm64) rpmarch=aarch64 ;;
    *) rpmarch=$arch ;;
  esac
  top=$work/rpm/rpmbuild-$version-$release-$rpmarch
  for d in SOURCES SPECS BUILD RPMS tmp; do mkdir -p "$top/$d"; done
  cp "$out/kubelet-linux-$arch" "$top/SOURCES/kubelet"
  cp "$root/templates/kubelet.service" "$top/SOURCES/kubelet.service"
  cp "$root/templates/kubelet.sysconfig" "$top/SOURCES/kubelet.sysconfig"
  cp "$out/verify-kmem.sh" "$top/SOURCES/verify-kmem.sh"
  cp "$spec" "$top/SPECS/kubelet.spec"
  SOURCE_DATE_EPOCH=$epoch TZ=UTC LC_ALL=C rpmbuild -bb --target "$rpmarch" \
    --define "_topdir $top" \
    --define "_tmppath $top/tmp" \
    --define "_rpmdir $top/RPMS" \
    --define "_rpmfilename %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm" \
    --define "_build_id_links none" \
    --define "_binary_payload w6.gzdio" \
    --define "_binary_filedigest_algorithm 8" \
    --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_date_epoch 1" \
    --define "_buildhost kmem-build" \
    "$top/SPECS/kubelet.spec" >"$work/rpmbuild-$arch.log" 2>&1 || {
    cat "$work/rpmbuild-$arch.log" >&2
    exit 1
  }
  cp "$top/RPMS/kubelet-$version-$release.$rpmarch.rpm" "$out/"
done

# checksums
(cd "$out" && sha256sum -- * >SHA256SUMS.partial && mv SHA256SUMS.partial SHA256SUMS)
