#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test: the format check, the optimised
# build's tests, a short run of each libFuzzer target (PRISM_FUZZ_SECONDS each, default 20), the
# AddressSanitizer + UndefinedBehaviorSanitizer build's tests, the web app's unit and browser
# tests, and the tests of the local cluster. Exits non-zero on the first failure.
set -euo pipefail

cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== format check"
scripts/check-format.sh

echo "== optimised build and tests"
scripts/build.sh release
ctest --preset release -j "$(nproc)"

echo "== fuzz targets, short run (scripts/fuzz.sh without arguments is the long run)"
scripts/fuzz.sh "${PRISM_FUZZ_SECONDS:-20}"

echo "== sanitizer build and tests"
scripts/build.sh asan
ctest --preset asan -j "$(nproc)"

if [[ -f web/package.json ]]; then
  echo "== web app unit tests"
  (cd web && npm test --silent)
  echo "== web app build and browser tests against prism serve"
  (cd web && npm run build --silent)
  scripts/e2e.sh
fi

echo "== the local cluster: PostgreSQL, Redis, HAProxy, nginx and every role"
scripts/cluster-tests.sh
