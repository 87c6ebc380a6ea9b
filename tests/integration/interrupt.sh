#!/usr/bin/env bash
# interrupt.sh — Ctrl-C and SIGTERM stop coffer cleanly (#14 item 2).
#
# Each command is stopped in the middle of its work: a backup blocked on a
# silent pipe, or a command frozen by the fault shim (FAULT_ACTION=stop) at
# its k-th write or open of the repository, which is then sent the signal
# and let go. After each stop: the exit code is 128 + the signal within 2 s,
# one line says what was kept, no lock of the process is left, no snapshot
# was written, the repository passes `check --read-data`, and what was
# there before still restores byte-identical. An interrupted backup's
# packs are indexed (the next backup stores little again), an interrupted
# prune leaves every file as it was, an interrupted check records nothing.
# A second Ctrl-C quits at once and the repository is still whole.
. "$(dirname "$0")/lib.sh"

use_fault_shim
FROZEN_OUT=$T/out FROZEN_ERR=$T/err # what interrupt reads
MiB=1048576

new_repo repo
R=$COFFER_REPOSITORY
locks_left() { find "$1/locks" -type f | wc -l; }
listing() { (cd "$1" && find data index condemned snapshots -type f 2>/dev/null | sort); }
check_clean() { # check_clean WHAT [REPO]
    run_c check --read-data ${2:+--repo "$2"}
    expect_ok "check --read-data after $1"
}

# interrupt SIGNAL WHAT : sends SIGNAL to the frozen process, lets it go on,
# and asserts a clean stop: 128 + the signal within 2 s, one "coffer:" line
# matching the ERE $3, no lock left in the repositories named after it
interrupt() {
    local sig=$1 what=$2 ere=$3 code
    shift 3
    kill -"$sig" "$FROZEN"
    kill -CONT "$FROZEN"
    wait_gone "$FROZEN"
    code=$((128 + $(kill -l "$sig")))
    [ "$RC" = "$code" ] || { cat "$T/err" >&2; fail "$what: exit code $RC after SIG$sig, not $code"; }
    [ "$GONE_MS" -lt 2000 ] || fail "$what: took $GONE_MS ms to stop after SIG$sig (more than 2 s)"
    grep -Eq "^coffer: interrupted by SIG$sig.*$ere" "$T/err" ||
        { cat "$T/err" >&2; fail "$what: no line saying it was interrupted and what was kept ($ere)"; }
    local r
    for r in "$@"; do
        [ "$(locks_left "$r")" = 0 ] || fail "$what: a lock is left in $r: $(ls "$r/locks")"
    done
    note "$what: stopped in $GONE_MS ms with exit code $RC: $(grep '^coffer: interrupted' "$T/err")"
}

# ---------------------------------------------------------------- backup, SIGINT on a silent pipe
# 100 MB, then the producer falls silent: coffer waits on the pipe, as it
# does behind a pg_dump taking a lock. Ctrl-C must not wait for more input.
mkfifo "$T/pipe"
(gen_random $((100 * MiB)) stream; sleep 60) >"$T/pipe" &
PRODUCER=$!
on_exit "kill $PRODUCER 2>/dev/null"
"$COFFER" backup --stdin --name stream <"$T/pipe" >"$T/out" 2>"$T/err" &
FROZEN=$!
for _ in $(seq 1 300); do
    [ "$(find "$R/data" -type f 2>/dev/null | wc -l)" -ge 3 ] && break
    sleep 0.1
done
[ "$(find "$R/data" -type f 2>/dev/null | wc -l)" -ge 3 ] || fail "the stdin backup stored no packs in 30 s"
sleep 2 # the 100 MB are in; coffer waits on the pipe
interrupt INT "stdin backup waiting on its input" "no snapshot of stream saved; [0-9]+ packs .* kept for the next backup" "$R"
kill "$PRODUCER" 2>/dev/null
run_c snapshots --json
[ "$(jq_out length)" = 0 ] || fail "an interrupted backup wrote a snapshot"
[ -z "$(find "$R/index" -type f -newer "$T/pipe" | head -n 1)" ] && fail "the interrupted backup wrote no index of its packs"
check_clean "the interrupted stdin backup"
# the next backup of the same stream stores again only what the stop dropped
gen_random $((100 * MiB)) stream >"$T/stream.bin"
timeout 300 "$COFFER" backup --stdin --name stream <"$T/stream.bin" >"$T/out" 2>"$T/err"
RC=$?
expect_ok "the backup after the interrupted one"
added=$("$COFFER" snapshots --json --source stream | jq -r '.[-1].added')
[ "$added" -lt $((40 * MiB)) ] || fail "the backup after the stop stored $added bytes again: the kept packs were not reused"
note "the backup after the stop added $added of 100 MiB"
[ "$("$COFFER" dump latest --source stream | sha_of)" = "$(sha_of <"$T/stream.bin")" ] ||
    fail "the stream does not restore byte-identical"

# ---------------------------------------------------------------- backup of files, SIGTERM
mkdir -p "$T/files"
for i in $(seq 1 50); do gen_random $((4 * MiB)) "f$i" >"$T/files/f$i.bin"; done
frozen write "$R/data/" 4 backup --name files "$T/files"
interrupt TERM "files backup" "no snapshot of files saved; [0-9]+ packs .* kept for the next backup" "$R"
[ -z "$(jq_out '.[] | select(.source == "files") | .id' <("$COFFER" snapshots --json))" ] ||
    fail "the interrupted files backup wrote a snapshot"
check_clean "the interrupted files backup"
c_ok "files backup after the stop" backup --name files "$T/files"
rm -rf "$T/restored"
c_ok "restore of files" restore latest --source files --to "$T/restored"
diff -r "$T/files" "$T/restored$T/files" >/dev/null || fail "files do not restore byte-identical"

# ---------------------------------------------------------------- restore, SIGINT
rm -rf "$T/restored"
frozen write "$T/restored" 10 restore latest --source files --to "$T/restored"
interrupt INT "restore" "the restore into $T/restored is incomplete \\([0-9]+ files written\\)" "$R"

# ---------------------------------------------------------------- check, SIGINT: nothing recorded
events_before=$(find "$R/events" -type f | wc -l)
frozen readopen "$R/data/" 3 check --read-data
interrupt INT "check --read-data" "check stopped, nothing recorded" "$R"
[ "$(find "$R/events" -type f | wc -l)" = "$events_before" ] || fail "an interrupted check recorded an event"
grep -Eqi "damage|cannot be fully restored" "$T/err" && fail "an interrupted check reported damage: $(cat "$T/err")"

# ---------------------------------------------------------------- prune, SIGINT while repacking
# Half of the files leave, the snapshot holding them is forgotten: every
# pack of the first files backup is half unused and is repacked.
for i in $(seq 1 2 50); do rm "$T/files/f$i.bin"; done
c_ok "files backup with half the files" backup --name files "$T/files"
first=$("$COFFER" snapshots --json --source files | jq -r '.[0].id')
c_ok "forget the full files snapshot" forget "$first"
listing "$R" >"$T/before-prune"
frozen write "$R/data/" 2 prune
interrupt INT "prune" "nothing deleted, the repository is as it was" "$R"
listing "$R" >"$T/after-prune"
diff "$T/before-prune" "$T/after-prune" >/dev/null ||
    fail "the interrupted prune changed the repository: $(diff "$T/before-prune" "$T/after-prune" | head -n 5 | tr '\n' ' ')"
check_clean "the interrupted prune"
c_ok "prune after the stop" prune
rm -rf "$T/restored"
c_ok "restore after prune" restore latest --source files --to "$T/restored"
diff -r "$T/files" "$T/restored$T/files" >/dev/null || fail "files do not restore byte-identical after prune"

# ---------------------------------------------------------------- repair index, SIGINT
listing "$R" >"$T/before-repair"
frozen readopen "$R/data/" 1 repair index # its first read of a pack header
interrupt INT "repair index" "the index is as it was" "$R"
listing "$R" >"$T/after-repair"
diff "$T/before-repair" "$T/after-repair" >/dev/null || fail "the interrupted repair index changed the repository"
check_clean "the interrupted repair index"

# ---------------------------------------------------------------- copy, SIGINT
printf 'copy destination pass\n' >"$T/dest.pw"
run_c init --repo "$T/dest" --kdf testonly --password-file "$T/dest.pw"
expect_ok "init the copy destination"
export COFFER_TO_PASSWORD_FILE=$T/dest.pw
frozen write "$T/dest/data/" 3 copy --to "$T/dest"
interrupt INT "copy" "not copied .* kept for the next copy" "$R" "$T/dest"
run_c check --read-data --repo "$T/dest" --password-file "$T/dest.pw"
expect_ok "check --read-data of the copy destination after the stop"
c_ok "copy after the stop" copy --to "$T/dest"
rm -rf "$T/restored"
run_c restore latest --source files --to "$T/restored" --repo "$T/dest" --password-file "$T/dest.pw"
expect_ok "restore from the copy"
diff -r "$T/files" "$T/restored$T/files" >/dev/null || fail "the copy does not restore byte-identical"

# ---------------------------------------------------------------- two Ctrl-C: at once
# The first Ctrl-C starts the clean stop, which writes the index of the
# packs stored; the shim freezes it there, and the second Ctrl-C quits at
# once, mid-write: the repository must be as whole as after a kill -9.
(gen_random $((100 * MiB)) second; sleep 60) >"$T/pipe" &
PRODUCER=$!
on_exit "kill $PRODUCER 2>/dev/null"
packs_before=$(find "$R/data" -type f | wc -l)
rm -f "$T/mark"
FAULT_OP=write FAULT_PATH=$R/index/ FAULT_AT=1 FAULT_ACTION=stop FAULT_MARK=$T/mark LD_PRELOAD=$SHIM \
    "$COFFER" backup --stdin --name second <"$T/pipe" >"$T/out" 2>"$T/err" &
FROZEN=$!
on_exit "kill -CONT $FROZEN 2>/dev/null; kill -9 $FROZEN 2>/dev/null"
for _ in $(seq 1 300); do
    [ "$(find "$R/data" -type f | wc -l)" -ge $((packs_before + 2)) ] && break
    sleep 0.1
done
[ -f "$T/mark" ] && fail "the backup wrote an index before the first Ctrl-C (the test needs fewer packs)"
kill -INT "$FROZEN"
for _ in $(seq 1 100); do
    [ -f "$T/mark" ] && [ "$(awk '{ print $3 }' "/proc/$FROZEN/stat" 2>/dev/null)" = T ] && break
    sleep 0.1
done
[ -f "$T/mark" ] || { cat "$T/err" >&2; fail "the clean stop after one Ctrl-C wrote no index"; }
kill -INT "$FROZEN"
kill -CONT "$FROZEN"
wait_gone "$FROZEN"
kill "$PRODUCER" 2>/dev/null
[ "$RC" = 130 ] || fail "two Ctrl-C: exit code $RC, not 130"
[ "$GONE_MS" -lt 1000 ] || fail "two Ctrl-C: took $GONE_MS ms"
note "two Ctrl-C: gone in $GONE_MS ms, in the middle of writing the index"
check_clean "a backup quit with two Ctrl-C"
run_c snapshots --json
[ -z "$(jq_out '.[] | select(.source == "second") | .id')" ] || fail "a backup quit with two Ctrl-C wrote a snapshot"
[ "$("$COFFER" dump latest --source stream | sha_of)" = "$(sha_of <"$T/stream.bin")" ] ||
    fail "the stream does not restore byte-identical after the second stop"
rm -rf "$T/restored"
c_ok "restore of files after two Ctrl-C" restore latest --source files --to "$T/restored"
diff -r "$T/files" "$T/restored$T/files" >/dev/null || fail "files do not restore byte-identical after two Ctrl-C"

pass "backup (pipe, SIGINT; files, SIGTERM), restore, check, prune, repair, copy stop within 2 s with 130/143, no lock, repository whole; two Ctrl-C quit at once"
