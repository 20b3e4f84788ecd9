#!/usr/bin/env bash
# Merges the per-architecture builds of one Kubernetes release into one directory.
# usage: merge-release.sh VERSION "ARCH…" ARTIFACTS_DIR OUT_DIR
# ARTIFACTS_DIR/kmem-build-VERSION-ARCH/dist/VERSION/ is one build job's output. Each build's
# SHA256SUMS is checked first. build.log and manifest.json differ per arch and per run (the log has
# timestamps, the manifest lists the log's hash): they become build-ARCH.log and manifest-ARCH.json
# and stay out of the merged SHA256SUMS, which so covers only reproducible files and tells whether
# a release changed.
set -euo pipefail
version=$1 arches=$2 artifacts=$3 out=$4
fail() { echo "merge-release: $*" >&2; exit 1; }

[ -e "$out" ] && fail "$out already exists"
[ -n "$arches" ] || fail "no architectures given"
mkdir -p "$out"
for arch in $arches; do
  dir="$artifacts/kmem-build-$version-$arch/dist/$version"
  [ -f "$dir/SHA256SUMS" ] || fail "no build output for $version $arch ($dir/SHA256SUMS missing)"
  (cd "$dir" && sha256sum --check --strict --quiet SHA256SUMS) || fail "checksum mismatch in $dir"
  for f in "$dir"/*; do
    name=${f##*/}
    case $name in
      SHA256SUMS | SHA256SUMS.asc) ;;
      build.log) cp "$f" "$out/build-$arch.log" ;;
      manifest.json) cp "$f" "$out/manifest-$arch.json" ;;
      *)
        if [ -e "$out/$name" ]; then
          cmp -s "$f" "$out/$name" || fail "$name differs between architectures"
        else
          cp "$f" "$out/$name"
        fi
        ;;
    esac
  done
done
# Artifact downloads lose file modes.
chmod 0755 "$out"/kubelet-linux-* "$out"/*.sh 2>/dev/null || true

sums=$(cd "$out" && find . -maxdepth 1 -type f ! -name 'build-*.log' ! -name 'manifest-*.json' -printf '%f\n' |
  LC_ALL=C sort | while IFS= read -r name; do sha256sum -- "$name"; done)
printf '%s\n' "$sums" >"$out/SHA256SUMS"
echo "merge-release: $out: $(grep -c . "$out/SHA256SUMS") files in SHA256SUMS" >&2
