#!/usr/bin/env bash
# Runs the tests of the distributed shape. It starts the local cluster (scripts/cluster) in test
# mode on its own ports and runs the API contract, stream and browser tests through its nginx
# endpoint, then the failure, outage and crash tests (kill -9 of random prism processes under
# load). The cluster is stopped again, also on failure.
# Expects build/release/src/prism (or PRISM_BINARY) and web/dist to be built.
set -euo pipefail

cd "$(dirname "$0")/.."
export CLUSTER_BASE_PORT=${CLUSTER_BASE_PORT:-18700}
export CLUSTER_DIR=${CLUSTER_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/prism-cluster-test-XXXXXX")}

# The settings the HTTP test suites expect of the server they talk to (see tests/http).
export AUTH0_TEST_MODE=1 TEST_JWT_SECRET=contract-test-secret
export TASKS_PAGE_SIZE=10 NUM_CACHED_PAGES=2
export CORS_ALLOWED_ORIGINS='https://allowed\.example|http://localhost:[0-9]+'
export STREAM_KEEPALIVE_INTERVAL=300ms STREAM_BUFFER_BYTES=65536

finish() {
  local status=$?
  if ((status != 0)); then
    echo "cluster tests: failed; last lines of each log:"
    for log in "$CLUSTER_DIR"/logs/*.log; do
      echo "--- $log"
      tail -n 15 "$log"
    done
  fi
  scripts/cluster down --purge || true
  exit "$status"
}
trap finish EXIT

scripts/cluster up
eval "$(scripts/cluster env)"

echo "== cluster: API contract and stream tests through nginx ($CLUSTER_URL)"
(cd tests/http && PRISM_TEST_URL=$CLUSTER_URL PRISM_TEST_CA_FILE=$CLUSTER_CA_FILE \
  python3 -m unittest test_api_contract test_stream)

if [[ -f web/dist/index.html ]]; then
  echo "== cluster: browser tests through nginx"
  (cd web && PRISM_URL=$CLUSTER_URL NODE_EXTRA_CA_CERTS=$CLUSTER_CA_FILE PRISM_IGNORE_CERT_ERRORS=1 \
    npm run e2e --silent)
fi

echo "== cluster: failure and outage tests"
(cd tests/cluster && python3 -m unittest -v test_failures test_outages)

echo "== cluster: crash test"
(cd tests/cluster && python3 -m unittest -v test_crash)
