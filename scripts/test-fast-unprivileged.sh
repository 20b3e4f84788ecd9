#!/bin/sh
# Proves the fast test tier needs no root, no podman/docker and no network but loopback: runs it as
# an unprivileged user (default: nobody's kind, a user named by $1, created if missing) in a fresh
# network namespace with only `lo` up, with podman and docker on PATH replaced by stubs that fail
# and log. Needs root to set that up; the tests themselves run without it. Exit status: vitest's,
# or 1 when a stub was called.
set -eu
cd "$(dirname "$0")/.."
user=${1:-kmem-build-test}
id "$user" >/dev/null 2>&1 || useradd --create-home "$user"
work=$(mktemp -d "${TMPDIR:-/tmp}/kmem-build-fast.XXXXXX")
trap 'rm -rf "$work"' EXIT
npm run build >/dev/null
git ls-files -z | xargs -0 cp --parents -t "$work"
cp -a node_modules lib "$work/"
mkdir "$work/.stub"
for tool in podman docker; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/.stub/called"\nexit 99\n' "$tool" "$work" >"$work/.stub/$tool"
  chmod +x "$work/.stub/$tool"
done
chown -R "$user" "$work"
status=0
# shellcheck disable=SC2016 # expanded by the inner sh, from its arguments
unshare --net sh -c 'ip link set lo up && cd "$1" && exec setpriv --reuid "$2" --regid "$2" --init-groups \
  env HOME="$1" PATH="$1/.stub:$PATH" npx vitest run --project fast' sh "$work" "$user" || status=$?
if [ -s "$work/.stub/called" ]; then
  echo "test-fast-unprivileged: the fast tier ran a container engine:" >&2
  cat "$work/.stub/called" >&2
  exit 1
fi
exit "$status"
