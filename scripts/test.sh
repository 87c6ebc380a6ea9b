#!/usr/bin/env bash
# test.sh — the whole test suite from a fresh Debian 12 machine: installs
# what is needed, builds coffer twice (plain, and with ASan+UBSan), runs
# the unit and integration tests against both, and ends with one line
# "N passed, N failed". Exit status 0 only if everything passed.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
run_suite() { # $1: build dir, $2: label
  local dir=$1 label=$2 log
  log=$(mktemp)
  echo "== $label: unit and integration tests"
  (cd "$dir" && ctest --output-on-failure --timeout 900 -j1) 2>&1 | tee "$log"
  local p f
  p=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* +Passed' "$log" || true)
  f=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*|Failed|Timeout|Not Run)' "$log" || true)
  passed=$((passed + p))
  failed=$((failed + f))
  rm -f "$log"
}

if scripts/build.sh; then
  run_suite build "release build"
else
  echo "build failed"; failed=$((failed + 1))
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The release run has the long randomised rounds in full; under ASan
# (several times slower) fewer of them find the memory errors, and keep the
# whole run under an hour: fault seeds 50 -> 20, kill rounds 20 -> 10, the
# prune race 180 s -> 60 s.
export FAULT_SEEDS=${FAULT_SEEDS:-20} KILL_ROUNDS=${KILL_ROUNDS:-10} COFFER_PRUNE_RACE_SECONDS=${COFFER_PRUNE_RACE_SECONDS:-60}
if scripts/build.sh --sanitize; then
  run_suite build-asan "ASan+UBSan build"
else
  echo "sanitizer build failed"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
