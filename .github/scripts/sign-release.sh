#!/usr/bin/env bash
# Signs a merged release directory with the release key, as `kmem-build build --sign-key` signs a build.
# usage: sign-release.sh KEY DIR        (the key in $GNUPGHOME, without a passphrase)
# 1. BUILD-SHA256SUMS keeps the merged SHA256SUMS: the sums of the reproducible build outputs, which
#    publish-release.sh compares (a signature holds a timestamp: the signed RPMs differ at every run).
# 2. Every RPM gets v3 and v4 signatures (rpmsign, the defines of src/package/sign.ts), and each one
#    is checked against the exported public key in a throwaway rpm database.
# 3. SHA256SUMS is written again over the signed files, with SHA256SUMS.asc and RPM-GPG-KEY-kmem-build.
set -euo pipefail
key=$1 dir=$2
fail() { echo "sign-release: $*" >&2; exit 1; }

[ -n "$key" ] || fail "no signing key given"
[ -f "$dir/SHA256SUMS" ] || fail "$dir/SHA256SUMS missing (merge the release first)"
[ ! -e "$dir/BUILD-SHA256SUMS" ] || fail "$dir is already signed ($dir/BUILD-SHA256SUMS exists)"
gpg=$(command -v gpg) || fail "gpg not found"
command -v rpmsign >/dev/null || fail "rpmsign not found (apt-get install rpm)"
fpr=$(gpg --batch --with-colons --list-secret-keys -- "$key" 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }') || true
[ -n "$fpr" ] || fail "signing key $key is not in the keyring ${GNUPGHOME:-~/.gnupg}"

shopt -s nullglob
rpms=("$dir"/*.rpm)
[ ${#rpms[@]} -gt 0 ] || fail "no RPMs in $dir"
cp "$dir/SHA256SUMS" "$dir/BUILD-SHA256SUMS"

rpmsign --addsign --rpmv3 --define "_gpg_name $fpr" --define "__gpg $gpg" --define "_gpg_digest_algo sha256" \
  ${GNUPGHOME:+--define "_gpg_path $GNUPGHOME"} "${rpms[@]}"

gpg --batch --yes --armor --export-options export-minimal --output "$dir/RPM-GPG-KEY-kmem-build" --export "$fpr"
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT
rpmkeys --dbpath "$db" --import "$dir/RPM-GPG-KEY-kmem-build"
for f in "${rpms[@]}"; do
  out=$(LC_ALL=C rpmkeys --dbpath "$db" --checksig -- "$f") || fail "signature check failed: $out"
  case $out in *"signatures OK"*) ;; *) fail "not signed by $fpr: $out" ;; esac
done

sums=$(cd "$dir" && find . -maxdepth 1 -type f ! -name 'build-*.log' ! -name 'manifest-*.json' \
  ! -name SHA256SUMS ! -name SHA256SUMS.asc -printf '%f\n' |
  LC_ALL=C sort | while IFS= read -r name; do sha256sum -- "$name"; done)
printf '%s\n' "$sums" >"$dir/SHA256SUMS"
gpg --batch --yes --armor --detach-sign --digest-algo SHA256 --local-user "$fpr" \
  --output "$dir/SHA256SUMS.asc" -- "$dir/SHA256SUMS"
echo "sign-release: $dir: ${#rpms[@]} RPM(s) signed by $fpr" >&2
