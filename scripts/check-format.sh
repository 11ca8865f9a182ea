#!/usr/bin/env bash
# Fails when a C++ file does not match .clang-format. Fix with: scripts/check-format.sh --fix
set -euo pipefail

cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.h' '*.cc' | grep -v '^web/')
if [[ "${1:-}" == "--fix" ]]; then
  clang-format -i "${files[@]}"
else
  clang-format --dry-run --Werror "${files[@]}"
  echo "format check: ${#files[@]} files ok"
fi
