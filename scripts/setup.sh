#!/usr/bin/env bash
# Installs every Debian package Prism Plan needs to build, run and test, then the web app's npm
# packages from web/package-lock.json. Installs only what is missing; safe to run again.
set -euo pipefail

cd "$(dirname "$0")/.."

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang clang-format libclang-rt-14-dev
  # libraries
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev libsqlite3-dev libpq-dev
  libhiredis-dev libspdlog-dev libfmt-dev libcli11-dev zlib1g-dev libsodium-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  # servers and tools used by tests and benchmarks
  sqlite3 postgresql redis-server nginx haproxy openssl wrk hyperfine gnuplot-nox procps curl
  chromium nodejs npm python3
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

# Node and npm may come from outside Debian on some machines; keep what is there.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for package in "${missing[@]}"; do
    [[ "$package" == nodejs || "$package" == npm ]] || filtered+=("$package")
  done
  missing=("${filtered[@]}")
fi

if ((${#missing[@]})); then
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
fi

# The distribution's server packages start their daemons on install; the project starts its own
# instances on loopback ports, so the system-wide ones are not needed.
if [[ -f web/package-lock.json ]]; then
  if [[ ! -d web/node_modules ]] || [[ web/package-lock.json -nt web/node_modules/.package-lock.json ]]; then
    (cd web && npm ci --no-audit --no-fund)
  fi
fi
