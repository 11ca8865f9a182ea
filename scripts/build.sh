#!/usr/bin/env bash
# Configures and builds one preset: scripts/build.sh <release|debug|asan> [target...]
set -euo pipefail

cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true

jobs=$(nproc)
cmake --preset "$preset" >/dev/null
if (($#)); then
  cmake --build --preset "$preset" -j "$jobs" --target "$@"
else
  cmake --build --preset "$preset" -j "$jobs"
fi
