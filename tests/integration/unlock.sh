#!/usr/bin/env bash
# unlock.sh — stale locks: a coffer killed while holding its lock leaves a
# lock that `check` removes and reports, and `coffer unlock` removes, naming why; the
# lock of a running coffer is kept (and removed only with --remove-all).
. "$(dirname "$0")/lib.sh"

new_repo repo
# A lock is written to "NAME.tmp-*" and then renamed: count renamed ones.
lock_count() { find "$COFFER_REPOSITORY/locks" -type f ! -name '*.tmp-*' | wc -l; }

# A backup waiting on its input (a FIFO nobody writes to) holds a shared lock.
mkfifo "$T/input"
exec 3<>"$T/input"
hold_lock() { # hold_lock NAME: starts a backup that waits for input; sets HOLDER
    "$COFFER" backup --stdin --name "$1" --quiet <&3 >/dev/null 2>&1 &
    HOLDER=$!
    for _ in $(seq 1 100); do [ "$(lock_count)" -ge 1 ] && return 0; sleep 0.05; done
    fail "the waiting backup took no lock"
}

hold_lock dead
kill -9 "$HOLDER"
sleep 0.2
[ "$(lock_count)" = 1 ] || fail "the killed backup left no lock"
c_ok "check with a stale lock" check
# check removes it (as any locker would) and says so, with nothing left to do
grep -q "stale lock: a shared lock of pid $HOLDER .*(its process is gone): removed" "$T/out" ||
    fail "check does not say it removed the stale lock"
grep -q "unlock" "$T/out" && fail "check tells the user to unlock a lock it removed: $(grep unlock "$T/out")"
[ "$(lock_count)" = 0 ] || fail "check left the stale lock"
hold_lock dead2
kill -9 "$HOLDER"
sleep 0.2
c_ok "unlock --json" unlock --json
jq -e --argjson pid "$HOLDER" '.removed == 1 and .kept == 0 and (.locks | length) == 1 and (.locks[0] | .state == "removed"
    and .why == "its process is gone" and .exclusive == false and .pid == $pid and (.id | test("^[0-9a-f]{8}$"))
    and (.refreshed | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")))' "$T/out" >/dev/null ||
    fail "unlock --json does not describe the stale lock it removed: $(cat "$T/out")"
[ "$(lock_count)" = 0 ] || fail "unlock left the stale lock"

hold_lock live
c_ok "unlock beside a live backup" unlock
grep -q "kept shared lock .* of pid $HOLDER .*(live)" "$T/out" || fail "unlock does not keep the live lock"
c_ok "unlock --json beside a live backup" unlock --json
[ "$(jq_out '[.locks[0].state, (.locks[0].why // "null")] | join(",")')" = kept,null ] || fail "unlock --json of a live lock: $(cat "$T/out")"
[ "$(lock_count)" = 1 ] || fail "unlock removed a live lock"
c_ok "unlock --remove-all" unlock --remove-all
[ "$(lock_count)" = 0 ] || fail "unlock --remove-all left a lock"
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
exec 3>&-

# A damaged exclusive lock object: prune says what it is and what to do;
# unlock keeps it, unlock --remove-all removes it, and prune runs again.
excl=$COFFER_REPOSITORY/locks/$(printf 'e%.0s' $(seq 1 64))
mkdir -p "$COFFER_REPOSITORY/locks"
head -c 100 /dev/urandom >"$excl"
run_c prune
expect_rc 11 "prune beside a damaged exclusive lock object (locked: exit 11)"
expect_err_match "damaged lock" "locks/e+ cannot be read .*coffer unlock --remove-all"
c_ok "unlock beside a damaged lock" unlock
grep -q "kept unreadable lock" "$T/out" || fail "unlock does not show the damaged lock: $(cat "$T/out")"
c_ok "unlock --json beside a damaged lock" unlock --json
jq -e '.kept == 1 and .locks[0].state == "kept" and .locks[0].why == "unreadable" and .locks[0].pid == null' "$T/out" >/dev/null ||
    fail "unlock --json of a damaged lock: $(cat "$T/out")"
[ -f "$excl" ] || fail "unlock without --remove-all removed the damaged lock"
c_ok "unlock --remove-all of a damaged lock" unlock --remove-all
[ -f "$excl" ] && fail "unlock --remove-all left the damaged lock"
c_ok "prune after the damaged lock is gone" prune

pass "stale locks reported by check and removed by unlock; live locks kept unless --remove-all; a damaged one removed by --remove-all"
