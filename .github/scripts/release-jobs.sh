#!/usr/bin/env bash
# Turns the matrix printed by `kmem-build releases --matrix` into the jobs of release.yml:
#   build   = {"include":[{"kubernetes","arch"}…]}        one job per version × arch
#   publish = {"include":[{"kubernetes","arches"}…]}      one job per version ("amd64 arm64")
#   count   = number of build jobs
# A version that already has a GitHub release is left out unless FORCE=true: its RPMs are
# reproducible, so rebuilding it daily would only find the release unchanged.
# usage: release-jobs.sh MATRIX_JSON_FILE   (needs gh with GH_TOKEN and GH_REPO, and jq)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

matrix=$(cat "$1")
keep=()
for version in $(jq -r '[.include[].kubernetes] | unique | .[]' <<<"$matrix"); do
  if [ "${FORCE:-false}" != true ] && release_exists "$(release_tag "$version")"; then
    echo "release-jobs: $version is already published as $(release_tag "$version"); skipped (run with force to rebuild)" >&2
    continue
  fi
  keep+=("$version")
done

build=$(jq -c --argjson keep "$(jq -nc '$ARGS.positional' --args "${keep[@]}")" \
  '{include: [.include[] | select(.kubernetes as $k | $keep | index($k))]}' <<<"$matrix")
publish=$(jq -c '{include: (.include | group_by(.kubernetes)
  | map({kubernetes: .[0].kubernetes, arches: (map(.arch) | join(" "))}))}' <<<"$build")
output build "$build"
output publish "$publish"
output count "$(jq '.include | length' <<<"$build")"
