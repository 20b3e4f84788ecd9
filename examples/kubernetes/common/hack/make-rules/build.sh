#!/bin/sh
# hack/make-rules/build.sh [TARGET...]: builds Go binaries the way kubernetes'
# hack/make-rules/build.sh does, for every platform in KUBE_BUILD_PLATFORMS.
# Targets default to WHAT (space-separated), then to cmd/kubelet.
# shellcheck source-path=SCRIPTDIR
set -eu

KUBE_ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
export KUBE_ROOT
# shellcheck source=../lib/version.sh
. "$KUBE_ROOT/hack/lib/version.sh"
# shellcheck source=../lib/golang.sh
. "$KUBE_ROOT/hack/lib/golang.sh"

if [ "$#" -eq 0 ]; then
  # shellcheck disable=SC2086 # WHAT is a word list
  set -- ${WHAT:-cmd/kubelet}
fi
kube_golang_build_binaries "$@"
