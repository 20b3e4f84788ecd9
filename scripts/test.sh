#!/usr/bin/env bash
# Sets everything up on a fresh Debian/Ubuntu machine and runs the whole test suite:
# system packages, npm dependencies, the local Go builder image, then lint, type-check and vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-system.sh
npm ci --no-audit --no-fund
sh scripts/build-image.sh
npm run lint
npm run build
report=$(mktemp)
trap 'rm -f "$report"' EXIT
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
