#!/usr/bin/env bash
# fuzz.sh [SECONDS] [HARNESS...] — builds the fuzz harnesses of tests/fuzz
# with clang, libFuzzer, ASan and UBSan (into build-fuzz/) and runs each for
# SECONDS (default 60) from its committed corpus, nice'd, one at a time.
# With FUZZ_CPU=1, SECONDS is CPU time instead of wall time: a harness runs
# in rounds of at most 300 s until its CPU time reaches SECONDS (on a busy
# machine a nice'd fuzzer gets less CPU than the clock shows).
# Prints per harness the wall and CPU seconds, the executions and the
# findings; exits non-zero if any harness found something (the inputs are
# left in build-fuzz/findings/<harness>/, see tests/fuzz/README.md).
# New inputs that reach new code go to build-fuzz/corpus/<harness>/, not to
# the committed corpus: add the ones worth keeping by hand.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${FUZZ_BUILD:-build-fuzz} # another directory lets two runs build at once
shift || true
case $seconds in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [HARNESS...]" >&2; exit 2 ;; esac

CC=${CLANG:-clang} cmake -S . -B "$build" -DCOFFER_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do
    n=$(basename "$f" .c)
    harnesses+=("${n#fuzz_}")
  done
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
nice cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >"$build/build.log" 2>&1 ||
  { echo "fuzz build failed (see $build/build.log)"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
# cpu_now : sets $cpu_total to the CPU seconds (user + system) of this
# shell's reaped children so far, from bash's `times`, which must run in
# this shell (a subshell's children start at zero).
cpu_now() {
  times >"$build/times-$$.txt"
  cpu_total=$(tail -n 1 "$build/times-$$.txt" | awk '{
    t = 0
    for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }
    printf "%.1f", t }')
}
printf '%-12s %8s %8s %12s %8s\n' harness wall cpu execs findings
for h in "${harnesses[@]}"; do
  work=$build/corpus/$h findings=$build/findings/$h log=$build/fuzz-$h.log
  mkdir -p "$work" "$findings"
  : >"$log"
  before=$(find "$findings" -type f | wc -l)
  cpu_now
  start=$SECONDS cpu_start=$cpu_total execs=0 rc=0
  while :; do
    cpu_now
    cpu=$(awk -v a="$cpu_total" -v b="$cpu_start" 'BEGIN { printf "%.0f", a - b }')
    if [ "${FUZZ_CPU:-0}" = 1 ]; then
      left=$((seconds - cpu)); [ "$left" -gt 300 ] && left=300
    else
      left=$((seconds - (SECONDS - start)))
    fi
    [ "$left" -gt 0 ] && [ "$rc" -eq 0 ] || break
    # A hang over 10 s or 2 GB of memory counts as a finding, like a crash.
    nice -n 19 "$build"/tests/fuzz/fuzz_"$h" -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$findings/" "$work" "tests/fuzz/corpus/$h" >>"$log" 2>&1
    rc=$?
    round=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    execs=$((execs + ${round:-0}))
    sed -i 's/^stat::number_of_executed_units:/stat::counted_units:/' "$log"
  done
  took=$((SECONDS - start)) # less than asked when a finding stopped it
  after=$(find "$findings" -type f | wc -l)
  found=$((after - before))
  if [ "$rc" -ne 0 ] && [ "$found" -eq 0 ]; then found=1; fi # died without an artifact
  printf '%-12s %8s %8s %12s %8s\n' "$h" "$took" "$cpu" "$execs" "$found"
  if [ "$found" -ne 0 ]; then
    status=1
    grep -m1 -E 'ERROR: |runtime error|invariant broken' "$log" | sed 's/^/    /'
    echo "    log: $log; inputs: $findings/"
  fi
done
exit $status
