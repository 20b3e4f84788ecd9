# shellcheck shell=sh
# Version stamping, after kubernetes' hack/lib/version.sh. A source tarball has no .git, so the
# version comes from KUBE_GIT_VERSION_FILE (lines KUBE_GIT_COMMIT=..., KUBE_GIT_TREE_STATE=...,
# KUBE_GIT_VERSION=v1.20.15, KUBE_GIT_MAJOR=1, KUBE_GIT_MINOR=20) or from those variables in the
# environment. Unlike the real script the file is parsed, not sourced: other lines are ignored.
# A git archive (GitHub's archives) replaces the placeholder below by the commit's refs, as it does
# in the real script (`if [[ '$Format:%D$' =~ tag:\ (v[^ ,]+) ]]`), which is how such a tree states
# its version; scripts/make-example.sh --top-dir does the same:
#   [[ '$Format:%D$' =~ tag:\ (v[^ ,]+) ]]

kube_version_load_file() {
  if [ ! -r "$1" ]; then
    echo "!!! [version] KUBE_GIT_VERSION_FILE '$1' is not readable" >&2
    return 1
  fi
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in
      KUBE_GIT_COMMIT=* | KUBE_GIT_TREE_STATE=* | KUBE_GIT_VERSION=* | KUBE_GIT_MAJOR=* | KUBE_GIT_MINOR=*)
        key=${line%%=*}
        value=${line#*=}
        case $value in
          \"*\") value=${value#\"}; value=${value%\"} ;;
          \'*\') value=${value#\'}; value=${value%\'} ;;
        esac
        # key is one of the five names matched above
        eval "$key=\$value"
        ;;
    esac
  done <"$1"
}

kube_version_get_vars() {
  if [ -n "${KUBE_GIT_VERSION_FILE:-}" ]; then
    kube_version_load_file "$KUBE_GIT_VERSION_FILE"
  fi
  if [ -n "${KUBE_GIT_VERSION:-}" ]; then
    case $KUBE_GIT_VERSION in
      v[0-9]*.[0-9]*.[0-9]*) ;;
      *) echo "+++ [version] warning: KUBE_GIT_VERSION '$KUBE_GIT_VERSION' is not of the form vX.Y.Z" >&2 ;;
    esac
    if [ -z "${KUBE_GIT_MAJOR:-}" ] || [ -z "${KUBE_GIT_MINOR:-}" ]; then
      rest=${KUBE_GIT_VERSION#v}
      KUBE_GIT_MAJOR=${KUBE_GIT_MAJOR:-${rest%%.*}}
      rest=${rest#*.}
      KUBE_GIT_MINOR=${KUBE_GIT_MINOR:-${rest%%.*}}
    fi
  fi
}

# The build date: SOURCE_DATE_EPOCH when set (reproducible builds), otherwise now.
kube_version_build_date() {
  if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null ||
      date -u -r "$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ
  else
    date -u +%Y-%m-%dT%H:%M:%SZ
  fi
}

# Prints the -X linker flags that stamp the version package.
kube_version_ldflags() {
  kube_version_get_vars
  pkg=k8s.io/kubernetes/pkg/version
  flags="-X '$pkg.buildDate=$(kube_version_build_date)'"
  [ -z "${KUBE_GIT_COMMIT:-}" ] || flags="$flags -X '$pkg.gitCommit=$KUBE_GIT_COMMIT'"
  [ -z "${KUBE_GIT_TREE_STATE:-}" ] || flags="$flags -X '$pkg.gitTreeState=$KUBE_GIT_TREE_STATE'"
  [ -z "${KUBE_GIT_VERSION:-}" ] || flags="$flags -X '$pkg.gitVersion=$KUBE_GIT_VERSION'"
  [ -z "${KUBE_GIT_MAJOR:-}" ] || flags="$flags -X '$pkg.gitMajor=$KUBE_GIT_MAJOR'"
  [ -z "${KUBE_GIT_MINOR:-}" ] || flags="$flags -X '$pkg.gitMinor=$KUBE_GIT_MINOR'"
  printf '%s\n' "$flags"
}
