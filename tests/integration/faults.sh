#!/usr/bin/env bash
# faults.sh — crash safety under injected faults: tests/fault/loop.sh for
# backup, prune, forget, copy and repair (index), FAULT_SEEDS (default 50) seeds each, so
# that every seed's kill, torn write, EIO, ENOSPC or power loss at the
# k-th write/fsync/rename/link/unlink/mkdir/open leaves a repository that
# opens, checks and restores every snapshot it must (see tests/fault/README.md).
# FAULT_JOBS (default 2) loops run at once; each prints its own lines when done.
. "$(dirname "$0")/lib.sh"

SEEDS=${FAULT_SEEDS:-50}
JOBS=${FAULT_JOBS:-2}
LOOP=$REPO_ROOT/tests/fault/loop.sh
commands=(backup prune forget copy repair)
pids=() started=0
for cmd in "${commands[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    COFFER=$COFFER bash "$LOOP" "$cmd" "$SEEDS" >"$T/$cmd.log" 2>&1 &
    pids+=($!)
    started=$((started + 1))
done
failed=()
for i in "${!commands[@]}"; do
    wait "${pids[$i]}"
    rc=$?
    cat "$T/${commands[$i]}.log"
    [ "$rc" = 0 ] || failed+=("${commands[$i]}")
done
[ ${#failed[@]} = 0 ] || fail "faults under ${failed[*]} lost or damaged data (the seeds to reproduce are above)"
pass "$SEEDS seeds each for ${commands[*]}"
