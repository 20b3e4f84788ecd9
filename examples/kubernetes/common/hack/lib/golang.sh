# shellcheck shell=sh
# Go build helpers, after kubernetes' hack/lib/golang.sh.
#
# GOFLAGS is never parsed or rewritten here: the go command reads it from the environment, so
# GOFLAGS=-tags=nokmem reaches the compiler exactly as the caller wrote it.
# Trees with a go.mod build in module mode with the vendor directory (-mod=vendor); trees without
# one (Kubernetes <= 1.14 used Godeps) build in GOPATH mode through
# _output/local/go/src/k8s.io/kubernetes -> the tree root, as the real build did.

KUBE_OUTPUT=${KUBE_OUTPUT:-$KUBE_ROOT/_output/local}
KUBE_OUTPUT_BINPATH=${KUBE_OUTPUT_BINPATH:-$KUBE_OUTPUT/bin}
KUBE_GO_PACKAGE=k8s.io/kubernetes

kube_golang_host_platform() {
  printf '%s/%s\n' "$(go env GOHOSTOS)" "$(go env GOHOSTARCH)"
}

# True when binary $1 is named in KUBE_STATIC_OVERRIDES (space- or comma-separated).
kube_golang_is_static() {
  for b in $(printf '%s\n' "${KUBE_STATIC_OVERRIDES:-}" | tr ',' ' '); do
    [ "$b" = "$1" ] && return 0
  done
  return 1
}

kube_golang_setup_env() {
  command -v go >/dev/null 2>&1 || {
    echo "!!! [golang] go not found in PATH" >&2
    return 1
  }
  # A go build cache is required; with no HOME (e.g. an arbitrary --user in a container) keep
  # it in _output like the real tree does.
  if [ -z "${GOCACHE:-}" ]; then
    GOCACHE=$KUBE_OUTPUT/go/cache
    export GOCACHE
  fi
  GOPROXY=${GOPROXY:-off}
  export GOPROXY
  if [ -f "$KUBE_ROOT/go.mod" ]; then
    KUBE_GO_MODE=module
    GO111MODULE=on
    export GO111MODULE
  else
    KUBE_GO_MODE=gopath
    GOPATH=$KUBE_OUTPUT/go
    GO111MODULE=off
    export GOPATH GO111MODULE
    mkdir -p "$GOPATH/src/k8s.io"
    # _output/local/go/src/k8s.io/kubernetes -> the tree root (five levels up)
    ln -sfn ../../../../.. "$GOPATH/src/k8s.io/kubernetes"
  fi
  KUBE_GO_BUILDVCS=""
  if go help build 2>/dev/null | grep -q -- '-buildvcs'; then
    KUBE_GO_BUILDVCS=-buildvcs=false
  fi
}

# kube_golang_build_binaries TARGET... : builds every target for every platform.
kube_golang_build_binaries() {
  kube_golang_setup_env
  platforms=${KUBE_BUILD_PLATFORMS:-$(kube_golang_host_platform)}
  gogcflags=${GOGCFLAGS:-}
  goldflags="${GOLDFLAGS--s -w} -buildid= $(kube_version_ldflags)"
  echo "+++ [golang] $(go version), ${KUBE_GO_MODE} mode, GOFLAGS='${GOFLAGS:-}'"
  for platform in $platforms; do
    goos=${platform%/*}
    goarch=${platform#*/}
    echo "+++ [golang] Building go targets for ${goos}/${goarch}:"
    for target in "$@"; do
      target=${target#./}
      target=${target%/}
      bin=${target##*/}
      out=$KUBE_OUTPUT_BINPATH/$goos/$goarch/$bin
      mkdir -p "${out%/*}"
      (
        GOOS=$goos GOARCH=$goarch
        export GOOS GOARCH
        linkage="CGO_ENABLED=${CGO_ENABLED:-default}"
        if kube_golang_is_static "$bin"; then
          CGO_ENABLED=0
          export CGO_ENABLED
          linkage="static, CGO_ENABLED=0"
        fi
        echo "    $target ($linkage) -> ${out#"$KUBE_ROOT"/}"
        if [ "$KUBE_GO_MODE" = module ]; then
          cd "$KUBE_ROOT" || exit 1
          set -- -mod=vendor "./$target"
        else
          cd "$GOPATH/src/$KUBE_GO_PACKAGE" || exit 1
          set -- "$KUBE_GO_PACKAGE/$target"
        fi
        if [ -n "$gogcflags" ]; then
          set -- -gcflags "$gogcflags" "$@"
        fi
        # shellcheck disable=SC2086 # KUBE_GO_BUILDVCS is empty or one flag
        go build -trimpath $KUBE_GO_BUILDVCS -ldflags "$goldflags" -o "$out" "$@"
      )
    done
  done
}
