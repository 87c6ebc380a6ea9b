#!/usr/bin/env bash
# soak.sh — the long run of tests/fault/loop.sh, not in CI: SOAK_SEEDS
# (default 1000) seeds for each of backup, prune, forget, copy and repair
# (or SOAK_COMMANDS), niced,
# one after the other, starting at seed SOAK_FIRST (default 1; CI's
# faults.sh covers 1..50). Prints each loop's lines and summary, and a
# final table; exits 1 if any seed failed. Record the results in
# bench/RESULTS.md.
#
#   COFFER=build/coffer tests/soak/soak.sh            # or build-asan/coffer
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
COFFER=${COFFER:-$ROOT/build/coffer}
case $COFFER in /*) ;; *) COFFER=$PWD/$COFFER ;; esac
SEEDS=${SOAK_SEEDS:-1000}
FIRST=${SOAK_FIRST:-1}
read -r -a commands <<<"${SOAK_COMMANDS:-backup prune forget copy repair}"
summary=() rc=0
for cmd in "${commands[@]}"; do
    start=$SECONDS
    COFFER=$COFFER nice -n 10 bash "$ROOT/tests/fault/loop.sh" "$cmd" "$SEEDS" "$FIRST" | tee "${TMPDIR:-/tmp}/soak-$cmd.log"
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
    summary+=("$cmd: $(tail -n 1 "${TMPDIR:-/tmp}/soak-$cmd.log" | grep -o '[0-9]* passed, [0-9]* failed' || echo 'no summary') in $((SECONDS - start)) s")
done
echo "soak, seeds $FIRST..$((FIRST + SEEDS - 1)), $COFFER:"
printf '  %s\n' "${summary[@]}"
exit "$rc"
