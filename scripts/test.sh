#!/usr/bin/env bash
# Sets everything up on a fresh Debian/Ubuntu machine and runs the whole test suite:
# system packages, npm dependencies, the local Go builder images, the real Kubernetes source, then
# lint, type-check and vitest (fast suites on our example trees, real suites in test/real/).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-system.sh
npm ci --no-audit --no-fund
# Builder images: Go 1.19 (bookworm) for the example trees, Go 1.15 (bullseye) for the real tree.
sh scripts/build-image.sh
sh scripts/build-image.sh --go 1.15
# The genuine Kubernetes 1.20.2 tree for test/real/ (Debian's source package; kept across runs
# with the Go build cache in KMEM_BUILD_TEST_CACHE). Each run builds through kmem-build in its own
# KMEM_BUILD_TEST_RUN, shared by the real-release, real-node and cluster suites.
report=$(mktemp)
trap 'rm -f "$report"; [ -z "${KMEM_BUILD_TEST_RUN_OWNED:-}" ] || rm -rf "$KMEM_BUILD_TEST_RUN"' EXIT
export KMEM_BUILD_TEST_CACHE=${KMEM_BUILD_TEST_CACHE:-/var/cache/kmem-build-test}
sh scripts/real-source.sh >/dev/null
if [ -z "${KMEM_BUILD_TEST_RUN:-}" ]; then
  KMEM_BUILD_TEST_RUN=$(mktemp -d "${TMPDIR:-/var/tmp}/kmem-build-run.XXXXXX")
  export KMEM_BUILD_TEST_RUN
  KMEM_BUILD_TEST_RUN_OWNED=1
fi
npm run lint
npm run build
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# Benchmarks are not tests (nothing fails on a number), but they run here in short mode so they
# do not rot; --out - keeps the committed BENCHMARKS.md.
if [ "$#" -eq 0 ]; then
  node bench/run.mjs --short --no-build --out - >"${report}.bench" 2>&1 || {
    status=1
    echo "benchmarks (--short) broke:" && tail -40 "${report}.bench"
  }
  rm -f "${report}.bench"
fi
# One plain closing line that any CI log reader understands.
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report" || true
exit "$status"
