#!/usr/bin/env bash
# Runs the web app's browser tests (playwright-core driving Debian's Chromium) against real
# `prism serve` processes started here on free loopback ports with temporary data directories:
# every spec in test mode, the sign-up and sign-in spec in local-accounts mode, and the OIDC
# spec against web/e2e/oidc-provider.mjs (HTTPS on loopback with a self-signed certificate that
# prism trusts through AUTH_JWKS_CA_FILE).
# Expects build/release/src/prism (or PRISM_BINARY) and web/dist to be built.
set -euo pipefail

cd "$(dirname "$0")/.."
prism=${PRISM_BINARY:-build/release/src/prism}
secret="e2e-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
server_pids=()
data_dirs=()

cleanup() {
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for dir in "${data_dirs[@]}"; do rm -rf "$dir"; done
}
trap cleanup EXIT

# Starts prism serve with the given extra environment; sets $port and $data_dir.
start_server() {
  data_dir=$(mktemp -d)
  data_dirs+=("$data_dir")
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  env "$@" PORT="$port" PRISM_BIND_ADDRESS=127.0.0.1 PRISM_DATA_DIR="$data_dir" \
    PRISM_WEB_DIR="$PWD/web/dist" "$prism" serve >"$data_dir/serve.log" 2>&1 &
  server_pids+=($!)
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
    sleep 0.1
  done
  echo "e2e: prism serve did not start"; cat "$data_dir/serve.log"; return 1
}

run_specs() {
  local log=$1
  shift
  local status=0
  (cd web && npm run e2e --silent -- "$@") || status=$?
  if ((status != 0)); then
    echo "e2e: failed; last lines of the server log:"
    tail -n 40 "$log"
  fi
  return "$status"
}

start_server AUTH0_TEST_MODE=1 TEST_JWT_SECRET="$secret"
(export PRISM_URL="http://127.0.0.1:$port" TEST_JWT_SECRET="$secret"; run_specs "$data_dir/serve.log")

start_server AUTH_MODE=local
(export PRISM_URL="http://127.0.0.1:$port"; run_specs "$data_dir/serve.log" e2e/local-auth.e2e.ts)

# Starts the test OIDC provider; sets $issuer and $ca_file.
start_oidc_provider() {
  local dir
  dir=$(mktemp -d)
  data_dirs+=("$dir")
  # 70-second access tokens make the web app renew with the refresh token during the spec.
  node web/e2e/oidc-provider.mjs --dir "$dir" --client-id prism-e2e-web --access-token-seconds 70 \
    >"$dir/listening.json" 2>"$dir/provider.log" &
  server_pids+=($!)
  for _ in $(seq 300); do
    if [[ -s "$dir/listening.json" ]]; then
      issuer=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["issuer"])' "$dir/listening.json")
      ca_file=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["caFile"])' "$dir/listening.json")
      return 0
    fi
    sleep 0.1
  done
  echo "e2e: the OIDC test provider did not start"; cat "$dir/provider.log"; return 1
}

start_oidc_provider
start_server AUTH_MODE=oidc AUTH_ISSUER="$issuer" AUTH_AUDIENCE=prism-e2e-api \
  AUTH_CLIENT_ID=prism-e2e-web AUTH_JWKS_CA_FILE="$ca_file"
(export PRISM_URL="http://127.0.0.1:$port" NODE_EXTRA_CA_CERTS="$ca_file"
 run_specs "$data_dir/serve.log" e2e/oidc-auth.e2e.ts)
