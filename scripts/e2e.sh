#!/usr/bin/env bash
# Runs the web app's browser tests (playwright-core driving Debian's Chromium) against a real
# `prism serve` in test mode, started here on a free loopback port with a temporary data
# directory, and stops it afterwards. Expects build/release/src/prism and web/dist to be built.
set -euo pipefail

cd "$(dirname "$0")/.."
prism=${PRISM_BINARY:-build/release/src/prism}
data_dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
secret="e2e-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

AUTH0_TEST_MODE=1 TEST_JWT_SECRET="$secret" PORT="$port" PRISM_BIND_ADDRESS=127.0.0.1 \
  PRISM_DATA_DIR="$data_dir" PRISM_WEB_DIR="$PWD/web/dist" \
  "$prism" serve >"$data_dir/serve.log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -rf "$data_dir"
}
trap cleanup EXIT

for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done

status=0
(cd web && PRISM_URL="http://127.0.0.1:$port" TEST_JWT_SECRET="$secret" npm run e2e --silent) || status=$?
if ((status != 0)); then
  echo "e2e: failed; last lines of the server log:"
  tail -n 40 "$data_dir/serve.log"
fi
exit "$status"
