# shellcheck shell=bash
# Shared by the release scripts: the GitHub release tag of a Kubernetes version.
release_tag() { printf 'kubelet-v%s-nokmem' "$1"; }

# Writes name=value to the step outputs (stdout when run outside GitHub Actions).
output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"; else printf '%s=%s\n' "$1" "$2"; fi
}

# gh release view, telling "no such release" (status 1) from any other failure (exits).
release_exists() {
  local out
  if out=$(gh release view "$1" --json tagName 2>&1); then return 0; fi
  if grep -qi 'release not found' <<<"$out"; then return 1; fi
  printf 'gh release view %s failed: %s\n' "$1" "$out" >&2
  exit 1
}
