#!/usr/bin/env bash
# Publishes a merged release directory as the GitHub release of its Kubernetes version, idempotently.
# usage: publish-release.sh check VERSION DIR            → output changed=true|false
#        publish-release.sh upload VERSION DIR [FILE…]   → create the release, or update its assets
# "check" (on the merged, not yet signed DIR) downloads the published BUILD-SHA256SUMS, the sums of
# the build outputs before signing (sign-release.sh): equal to DIR/SHA256SUMS means nothing to do.
# "upload" replaces changed assets (--clobber) and deletes assets this build no longer produces.
# Needs gh with GH_TOKEN and GH_REPO. release.yml runs it under a per-version concurrency group.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mode=$1 version=$2 dir=$3
shift 3
tag=$(release_tag "$version")
[ -f "$dir/SHA256SUMS" ] || { echo "publish-release: $dir/SHA256SUMS missing" >&2; exit 1; }

case $mode in
  check)
    changed=true
    if release_exists "$tag"; then
      tmp=$(mktemp -d)
      trap 'rm -rf "$tmp"' EXIT
      if gh release download "$tag" --pattern BUILD-SHA256SUMS --dir "$tmp" 2>/dev/null &&
        cmp -s "$tmp/BUILD-SHA256SUMS" "$dir/SHA256SUMS"; then
        changed=false
        echo "publish-release: $tag is published from the same build outputs (BUILD-SHA256SUMS); nothing to do" >&2
      else
        echo "publish-release: $tag exists but its BUILD-SHA256SUMS differ (or are missing, e.g. unsigned); assets will be replaced" >&2
      fi
    fi
    output changed "$changed"
    ;;
  upload)
    files=()
    for f in "$dir"/*; do [ -f "$f" ] && files+=("$f"); done
    files+=("$@")
    if release_exists "$tag"; then
      gh release upload "$tag" "${files[@]}" --clobber
      want=$(for f in "${files[@]}"; do basename "$f"; done)
      gh release view "$tag" --json assets --jq '.assets[].name' | while IFS= read -r asset; do
        grep -qxF -- "$asset" <<<"$want" || gh release delete-asset "$tag" "$asset" --yes
      done
      echo "publish-release: updated $tag" >&2
    else
      notes=$(mktemp)
      cat >"$notes" <<NOTES
kubelet $version rebuilt by kmem-build without cgroup v1 kernel-memory accounting (Go build tag \`nokmem\`).

Check the download: \`gpg --verify SHA256SUMS.asc SHA256SUMS\` (key: \`RPM-GPG-KEY-kmem-build\`), then
\`sha256sum --check --ignore-missing SHA256SUMS\`. The RPMs are signed (\`rpm --import RPM-GPG-KEY-kmem-build && rpm -K *.rpm\`).
RPMs and binaries per architecture; \`manifest-<arch>.json\` records the inputs and the evidence,
\`build-<arch>.log\` the build; the yum repository (one per Kubernetes minor, gpgcheck=1 and
repo_gpgcheck=1) is \`kmem-build-repo-$version.tar.gz\`. The kmem-build CLI that built it:
\`npm i -g ./kmem-build-<version>.tgz\` (Node >= 20.19; check it with its \`.sha256\`).
NOTES
      gh release create "$tag" "${files[@]}" --title "kubelet $version (nokmem)" --notes-file "$notes" \
        --target "${GITHUB_SHA:-main}"
      rm -f "$notes"
      echo "publish-release: created $tag" >&2
    fi
    ;;
  *)
    echo "usage: publish-release.sh check|upload VERSION DIR [FILE…]" >&2
    exit 2
    ;;
esac
