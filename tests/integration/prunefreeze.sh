#!/usr/bin/env bash
# prunefreeze.sh — a process stopped for longer than the stale-lock time
# (SIGSTOP, a paused VM, a closed laptop lid) or one whose clock runs ahead
# never makes prune delete data a snapshot needs (issue #12, D1). Each case
# freezes one process at a chosen instant with the fault shim's stop action
# (tests/fault), runs another beside it under `faketime +2h` (so the frozen
# one's lock looks expired to it), resumes the frozen one, and then every
# snapshot must dump byte-identical and `check --read-data` pass:
#  1. prune stopped at its first unlink under data/ (about to delete a pack
#     an earlier prune condemned), a backup of that pack's data beside it;
#  2. prune stopped as it writes its new index (its judgement made, the old
#     index still there), a backup beside it deduplicating against a pack
#     the prune found unneeded — the pack must stay readable and the next
#     prune must take it back;
#  3. a backup stopped after writing its pack but before its index file,
#     two prunes beside it — they must delete nothing while its lock is
#     there, and its snapshot must restore when it resumes;
#  4. a prune stopped as it deletes the old condemned files (about to delete
#     a pack an earlier prune condemned) whose lock is removed meanwhile
#     (`unlock --remove-all`): it keeps the pack, and says the next prune
#     deletes it — which must be true: the pack is still listed as
#     condemned, not left for two more prunes as a pack no file lists.
. "$(dirname "$0")/lib.sh"

use_fault_shim
command -v faketime >/dev/null || fail "faketime is not installed (scripts/install-deps.sh installs it)"
# libfaketime stands in front of ASan's interceptors too (use_fault_shim
# tells ASan not to object).

gen_random 3000000 11 >"$T/x1"
gen_random 3000000 12 >"$T/x2"
gen_random 3000000 13 >"$T/y"

# stream_backup NAME FILE [coffer prefix...]: a stream backup, exit 0 required
stream_backup() {
    local name=$1 file=$2
    shift 2
    "$@" "$COFFER" backup --stdin --name "$name" --quiet <"$file" >"$T/out" 2>"$T/err" ||
        { cat "$T/err" >&2; fail "backup of $name from $file${*:+ (under $*)} failed"; }
}
# dumps_as NAME FILE: the newest snapshot of source NAME dumps as FILE
dumps_as() {
    run_c dump latest --source "$1"
    expect_ok "dump of $1"
    cmp -s "$T/out" "$2" || fail "the newest snapshot of $1 does not dump as $2 was ($3)"
}
# resume: lets the frozen process go on and waits for it; its exit code in RC
resume() {
    kill -CONT "$FROZEN"
    wait "$FROZEN"
    RC=$?
}

# --- 1. prune stopped at its first unlink under data/ ---------------------------
new_repo one
stream_backup x "$T/x1"
stream_backup x "$T/x2"
stream_backup y "$T/y"
c_ok "forget the first snapshot of x" forget --keep-last 1 --source x
c_ok "prune that condemns x1's pack" prune --json
[ "$(jq_out '.packs_condemned')" -ge 1 ] || fail "case 1: the first prune condemned nothing"
frozen unlink /data/ 1 prune
stream_backup x "$T/x1" faketime -f +2h
resume
[ "$RC" = 0 ] || { cat "$T/frozen.err" >&2; fail "case 1: the resumed prune failed"; }
dumps_as x "$T/x1" "case 1, backed up beside a stopped prune"
dumps_as y "$T/y" "case 1"
c_ok "check --read-data (case 1)" check --read-data
c_ok "prune after case 1" prune
c_ok "check --read-data after the next prune (case 1)" check --read-data
dumps_as x "$T/x1" "case 1, after the next prune"

# --- 2. prune stopped as it writes its new index -------------------------------
new_repo two
stream_backup x "$T/x1"
stream_backup x "$T/x2"
c_ok "forget the first snapshot of x" forget --keep-last 1 --source x
frozen open /index/ 1 prune
# Beside it, x1's data again: the index the backup reads still lists the
# pack the stopped prune has judged unneeded, so the backup reuses it.
stream_backup x "$T/x1" faketime -f +2h
resume
[ "$RC" = 0 ] || { cat "$T/frozen.err" >&2; fail "case 2: the resumed prune failed"; }
dumps_as x "$T/x1" "case 2, right after the prune resumed"
c_ok "check --read-data (case 2)" check --read-data
c_ok "prune after case 2" prune --json
[ "$(jq_out '.packs_kept_again')" -ge 1 ] || fail "case 2: the next prune did not take back the condemned pack a new snapshot needs: $(cat "$T/out")"
c_ok "another prune (case 2)" prune
dumps_as x "$T/x1" "case 2, after two more prunes"
c_ok "check --read-data after the prunes (case 2)" check --read-data

# --- 3. a backup stopped before its index file, prunes beside it ---------------
new_repo three
stream_backup y "$T/y"
FROZEN_STDIN=$T/x1 frozen open /index/ 1 backup --stdin --name x --quiet
for i in 1 2; do
    faketime -f +2h "$COFFER" prune --json >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "case 3: prune $i beside the stopped backup failed"; }
    [ "$(jq_out '.packs_deleted')" = 0 ] || fail "case 3: prune $i deleted packs while a stopped backup's lock was there: $(cat "$T/out")"
    jq -e '.deletion_deferred_by | test("pid")' "$T/out" >/dev/null || fail "case 3: prune $i does not say whose lock held back the deletion: $(cat "$T/out")"
done
resume
[ "$RC" = 0 ] || { cat "$T/frozen.err" >&2; fail "case 3: the resumed backup failed"; }
dumps_as x "$T/x1" "case 3, the backup that was stopped"
c_ok "prune after case 3" prune
c_ok "prune again after case 3" prune
dumps_as x "$T/x1" "case 3, after two prunes"
dumps_as y "$T/y" "case 3"
c_ok "check --read-data (case 3)" check --read-data

# --- 4. a prune whose lock was removed while it was stopped ---------------------
new_repo four
stream_backup x "$T/x1"
x1_pack=$(find "$COFFER_REPOSITORY/data" -type f)
stream_backup x "$T/x2"
stream_backup y "$T/y"
c_ok "forget the first snapshot of x" forget --keep-last 1 --source x
c_ok "prune that condemns x1's pack" prune --json
[ "$(jq_out '.packs_condemned')" = 1 ] || fail "case 4: the first prune did not condemn x1's pack: $(cat "$T/out")"
frozen unlink /condemned/ 1 prune
c_ok "remove every lock while the prune is stopped" unlock --remove-all
resume
[ "$RC" != 0 ] || fail "case 4: the prune whose lock was removed says it succeeded"
grep -q "the packs to delete were kept" "$T/frozen.err" || { cat "$T/frozen.err" >&2; fail "case 4: the prune does not say it kept the packs"; }
grep -q "the next prune deletes them" "$T/frozen.err" || { cat "$T/frozen.err" >&2; fail "case 4: the prune does not say the next prune deletes the packs"; }
[ -f "$x1_pack" ] || fail "case 4: the prune whose lock was removed deleted x1's pack"
dumps_as x "$T/x2" "case 4, after the prune that kept its packs"
dumps_as y "$T/y" "case 4"
c_ok "check --read-data (case 4)" check --read-data
c_ok "the next prune (case 4)" prune --json
[ "$(jq_out '.packs_deleted')" = 1 ] && [ ! -f "$x1_pack" ] ||
    fail "case 4: the next prune did not delete the pack the stopped prune kept: $(cat "$T/out")"
dumps_as x "$T/x2" "case 4, after the next prune"
dumps_as y "$T/y" "case 4, after the next prune"
c_ok "check --read-data after the next prune (case 4)" check --read-data

pass "a stopped prune or backup beside a process whose clock is 2 h ahead loses nothing; deletion waits for every lock"
