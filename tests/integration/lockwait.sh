#!/usr/bin/env bash
# lockwait.sh — waiting for a conflicting lock (#14 item 2): --retry-lock
# DURATION and coffer.yaml's lock_wait:.
#
# A prune frozen by the fault shim holds the exclusive lock. Without a wait
# a backup is refused at once, and the refusal names --retry-lock. With
# --retry-lock 2s it gives up after about 2 s, saying it waited. With a
# wait longer than the prune takes (the prune is let go after 3 s) the
# backup says once that it waits, then succeeds. Two configured runs
# (coffer.yaml, lock_wait: 1m) started together beside a prune both
# succeed, and two prunes started together both succeed with --retry-lock.
# Ctrl-C ends a wait at once (130). A bad duration is a usage error.
. "$(dirname "$0")/lib.sh"

use_fault_shim

new_repo repo
R=$COFFER_REPOSITORY
mkdir -p "$T/src"
gen_random 300000 a >"$T/src/a.bin"
c_ok "first backup" backup --name files "$T/src"

# hold_exclusive : a prune frozen at its first write under index/ (it has
# taken the exclusive lock by then); pid in HOLDER
hold_exclusive() {
    gen_random 200000 "$RANDOM" >"$T/src/churn.bin"
    c_ok "a backup to give prune work" backup --name files "$T/src"
    c_ok "forget all but the newest" forget --source files --keep-last 1
    FROZEN_OUT=$T/holder.out FROZEN_ERR=$T/holder.err frozen write "$R/index/" 1 prune
    HOLDER=$FROZEN
}
release() {
    kill -CONT "$HOLDER"
    wait "$HOLDER" || { cat "$T/holder.err" >&2; fail "the prune that held the lock failed after it was let go"; }
}

# ---------------------------------------------------------------- no wait: refused at once, naming the option
hold_exclusive
start=$(date +%s%3N)
run_c backup --name files "$T/src"
took=$(($(date +%s%3N) - start))
expect_rc 11 "backup beside a prune, without a wait"
expect_err_match "the refusal" "locked: an exclusive lock held by pid $HOLDER.*--retry-lock DURATION.*lock_wait:"
[ "$took" -lt 5000 ] || fail "the refusal took $took ms"
# ls, find and diff read trees that a prune may delete: they take a shared lock too
for cmd in "ls latest" "find a.bin" "diff latest latest"; do
    run_c $cmd
    expect_rc 11 "$cmd beside a prune"
    expect_err_match "$cmd beside a prune" "locked: an exclusive lock held by pid $HOLDER.*--retry-lock DURATION"
done

# ---------------------------------------------------------------- --retry-lock 2s: gives up after about 2 s
start=$(date +%s%3N)
run_c backup --name files --retry-lock 2s "$T/src"
took=$(($(date +%s%3N) - start))
expect_rc 11 "backup with --retry-lock 2s beside a prune that does not end"
expect_err_match "the refusal after the wait" "still, after waiting 2s and [0-9]+ tries"
expect_err_match "the notice" "waiting up to 2s for it to go"
[ "$took" -ge 1900 ] && [ "$took" -lt 6000 ] || fail "--retry-lock 2s gave up after $took ms"
note "--retry-lock 2s gave up after $took ms"

# ---------------------------------------------------------------- a wait longer than the holder: succeeds
before=$(snapshot_ids files | wc -l)
"$COFFER" backup --name files --retry-lock 1m "$T/src" >"$T/w.out" 2>"$T/w.err" </dev/null &
WAITER=$!
sleep 3
kill -0 "$WAITER" 2>/dev/null || { cat "$T/w.err" >&2; fail "the waiting backup did not wait"; }
release
wait "$WAITER" || { cat "$T/w.err" >&2; fail "the backup with --retry-lock 1m failed after the prune ended"; }
[ "$(grep -c 'waiting up to 1m for it to go' "$T/w.err")" = 1 ] || fail "the waiting backup did not say once that it waits"
[ "$(snapshot_ids files | wc -l)" = $((before + 1)) ] || fail "the waiting backup saved no snapshot"

# ---------------------------------------------------------------- coffer.yaml: lock_wait: 1m, two configured runs
cat >"$T/coffer.yaml" <<EOF
repository: $R
password_file: $COFFER_PASSWORD_FILE
lock_wait: 1m
sources:
  files:
    type: files
    paths: [$T/src]
EOF
hold_exclusive
"$COFFER" backup --config "$T/coffer.yaml" >"$T/r1.out" 2>"$T/r1.err" </dev/null &
RUN1=$!
"$COFFER" backup --config "$T/coffer.yaml" >"$T/r2.out" 2>"$T/r2.err" </dev/null &
RUN2=$!
sleep 2
release
wait "$RUN1" || { cat "$T/r1.err" >&2; fail "the first configured run failed"; }
wait "$RUN2" || { cat "$T/r2.err" >&2; fail "the second configured run failed"; }
grep -q "waiting up to 1m" "$T/r1.err" || fail "the configured run did not wait (lock_wait: not read?)"

# ---------------------------------------------------------------- two prunes at once
gen_random 200000 p1 >"$T/src/churn.bin"
c_ok "backup" backup --name files "$T/src"
c_ok "forget" forget --source files --keep-last 1
"$COFFER" prune --retry-lock 1m >"$T/p1.out" 2>"$T/p1.err" </dev/null &
P1=$!
"$COFFER" prune --retry-lock 1m >"$T/p2.out" 2>"$T/p2.err" </dev/null &
P2=$!
wait "$P1" || { cat "$T/p1.err" >&2; fail "the first of two prunes failed"; }
wait "$P2" || { cat "$T/p2.err" >&2; fail "the second of two prunes failed"; }
c_ok "check after the two prunes" check --read-data

# ---------------------------------------------------------------- Ctrl-C ends a wait
hold_exclusive
"$COFFER" backup --name files --retry-lock 10m "$T/src" >"$T/w.out" 2>"$T/w.err" </dev/null &
WAITER=$!
sleep 2
start=$(date +%s%3N)
kill -INT "$WAITER"
wait "$WAITER"
RC=$?
took=$(($(date +%s%3N) - start))
[ "$RC" = 130 ] || { cat "$T/w.err" >&2; fail "Ctrl-C during the wait: exit code $RC, not 130"; }
[ "$took" -lt 1000 ] || fail "Ctrl-C during the wait took $took ms"
release
[ "$(find "$R/locks" -type f | wc -l)" = 0 ] || fail "a lock is left after the wait was ended: $(ls "$R/locks")"

# ---------------------------------------------------------------- bad durations
run_c backup --name files --retry-lock 10x "$T/src"
expect_rc 2 "--retry-lock 10x"
expect_err_match "bad duration" "--retry-lock: not a duration: \"10x\""
sed -i 's/^lock_wait: 1m$/lock_wait: soon/' "$T/coffer.yaml"
run_c backup --config "$T/coffer.yaml"
expect_nonzero "lock_wait: soon"
expect_err_match "bad lock_wait" "lock_wait: .*not a duration"
run_c snapshots --retry-lock 1m
expect_rc 2 "--retry-lock on a command that takes no lock"

pass "refused at once naming --retry-lock; gives up after the wait; waits and succeeds; lock_wait: in coffer.yaml; two prunes; Ctrl-C ends a wait"
