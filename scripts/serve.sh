#!/usr/bin/env bash
# Installs what is missing, builds the optimised `prism` and the web app, and runs `prism serve`
# on embedded storage (data in ./data, web app and API on http://localhost:8080).
# Extra arguments go to `prism serve`, for example `scripts/serve.sh --port 9090`.
set -euo pipefail

cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release prism
if [[ -f web/package.json ]]; then
  (cd web && npm run build --silent)
fi
exec build/release/src/prism serve --web-dir web/dist "$@"
