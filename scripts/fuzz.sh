#!/usr/bin/env bash
# Builds the libFuzzer targets (the fuzz preset: clang, AddressSanitizer, UndefinedBehaviorSanitizer)
# and runs each for the given number of seconds, one after another:
#
#   scripts/fuzz.sh [seconds-per-target] [target...]
#
# Default: 600 s per target, every target. Each target starts from its seed corpus in
# fuzz/corpus/<name>/ and writes what it discovers to build/fuzz/corpus/<name>/, so that the
# checked-in seeds stay small. A crash stops the script with the target's output and leaves the
# input in build/fuzz/artifacts/<name>/; add it to the seed corpus and as a GoogleTest regression
# test once fixed. Exits non-zero when a target crashes, leaks or fails to build.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(command_batch jwt jwks page_token http_request)
fi

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for name in "${targets[@]}"; do
  binary=build/fuzz/fuzz/${name}_fuzzer
  work_corpus=build/fuzz/corpus/$name
  artifacts=build/fuzz/artifacts/$name
  mkdir -p "$work_corpus" "$artifacts"
  options=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
           -artifact_prefix="$artifacts/")
  if [[ -f fuzz/$name.dict ]]; then options+=(-dict="fuzz/$name.dict"); fi

  echo "== fuzz $name for ${seconds} s"
  log=build/fuzz/$name.log
  if ! "$binary" "${options[@]}" "$work_corpus" "fuzz/corpus/$name" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $name failed; the input is in $artifacts/ and the full output in $log" >&2
    exit 1
  fi
  grep -E '^Done [0-9]+ runs|^stat::(number_of_executed_units|peak_rss_mb)|DONE +cov:' "$log" || true
done
