#!/usr/bin/env bash
# prune.sh — forget and prune: the repository shrinks, check --read-data
# passes and every kept snapshot restores byte for byte; --dry-run changes
# nothing; a pack that is mostly unused is rewritten; prune killed with
# SIGKILL at 20 random moments never leaves a snapshot without its data;
# a backup loop running against a forget --prune loop never produces a
# snapshot that references a missing blob; and with a needed pack missing,
# prune refuses and changes nothing.
. "$(dirname "$0")/lib.sh"

new_repo repo
D=$T/data
mkdir -p "$D"
repo_bytes() { find "$COFFER_REPOSITORY" -path '*/locks' -prune -o -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
repo_files() { (cd "$COFFER_REPOSITORY" && find . -path ./locks -prune -o -type f -printf '%p %s\n' | sort); }
# restores every snapshot of source s and compares it with the copy kept
# in $T/copies/<snapshot id> when it was made
verify_all() {
    run_c snapshots --json --source s
    expect_ok "snapshots"
    for id in $(jq_out '.[].id'); do
        rm -rf "$T/check"
        run_c restore "${id:0:16}" --to "$T/check"
        expect_ok "restore of $id ($1)"
        diff -r "$T/copies/$id" "$T/check$D" >/dev/null || fail "snapshot $id does not restore as it was backed up ($1)"
    done
    run_c check
    expect_ok "check ($1)"
}
backup_s() { # backs up $D as source s and keeps a copy of what it held
    run_c backup --name s "$D" --quiet
    [ "$RC" = 0 ] || return 1
    run_c snapshots --json --source s
    local id
    id=$(jq_out '.[-1].id')
    mkdir -p "$T/copies"
    cp -a "$D" "$T/copies/$id"
}
mkdir -p "$T/copies"

# --- forget + prune shrink the repository ----------------------------------------
gen_random 3000000 1 >"$D/a"
gen_random 3000000 2 >"$D/b"
backup_s || fail "backup 1"
rm "$D/b"
gen_random 2000000 3 >"$D/c"
backup_s || fail "backup 2"
c_ok "forget" forget --keep-last 1
before=$(repo_bytes)
repo_files >"$T/files-before"
c_ok "prune --dry-run" prune --dry-run
grep -q "would repack" "$T/out" || fail "prune --dry-run does not say what it would repack"
repo_files | cmp -s - "$T/files-before" || fail "prune --dry-run changed the repository"
# A full disk (a 1 MiB file size limit) stops the repack: the prune fails
# and nothing it had not finished is left behind.
( trap '' XFSZ; ulimit -f 1024; exec "$COFFER" prune >"$T/out" 2>"$T/err" )
RC=$?
LAST_CMD="coffer prune (file size limit 1 MiB)"
expect_nonzero "prune that cannot write its new pack"
expect_err_match "prune that cannot write its new pack" "cannot (write|create|store)"
repo_files | cmp -s - "$T/files-before" || fail "a prune that could not write changed the repository"
verify_all "after a prune that could not write"
# Deletion takes two prunes: the first condemns (hides from backups, keeps
# readable), the next deletes what is still unneeded.
c_ok "prune" prune --json
[ "$(jq_out '.packs_condemned')" -gt 0 ] || fail "the first prune condemned nothing: $(cat "$T/out")"
[ "$(jq_out '.packs_deleted')" = 0 ] || fail "the first prune deleted packs it had only just found unneeded"
[ "$(find "$COFFER_REPOSITORY/condemned" -type f | wc -l)" -gt 0 ] || fail "the first prune wrote no condemned/ file"
verify_all "after the first prune"
c_ok "check --read-data between the prunes" check --read-data
c_ok "second prune" prune --json
[ "$(jq_out '.packs_deleted')" -gt 0 ] || fail "the second prune deleted nothing: $(cat "$T/out")"
after=$(repo_bytes)
[ "$after" -lt $((before - 2500000)) ] || fail "prune freed too little: $before -> $after bytes"
note "forget --keep-last 1 and two prunes: $before -> $after bytes"
c_ok "check --read-data after prune" check --read-data
verify_all "after prune"
c_ok "stats" stats --json
[ "$(jq_out '.unreferenced_bytes')" -lt 100000 ] || fail "after prune $(jq_out '.unreferenced_bytes') bytes are still unreferenced"

# --- prune killed at random moments ---------------------------------------------
for i in $(seq 1 20); do
    gen_random 4000000 "k$i" >"$D/f$i"
    rm -f "$D/f$((i - 2))"
    backup_s || fail "backup before kill $i"
    run_c forget --keep-last 2
    expect_ok "forget before kill $i"
    "$COFFER" prune --quiet >/dev/null 2>&1 &
    pid=$!
    sleep "0.$(( (RANDOM % 30) ))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    verify_all "after prune killed ($i)"
done
c_ok "prune to the end after the kills" prune
c_ok "and the prune that deletes what that one condemned" prune
c_ok "check --read-data after the kills" check --read-data
verify_all "after the last prune"

# --- backups and forget --prune at the same time --------------------------------
# For three minutes; after every forget --prune that got through, `check`
# (while backups go on) finds every blob of every snapshot.
SECONDS_TO_RUN=${COFFER_PRUNE_RACE_SECONDS:-180}
end=$((SECONDS + SECONDS_TO_RUN))
(
    n=0
    while [ $SECONDS -lt $end ]; do
        n=$((n + 1))
        gen_random 1000000 "r$n" >"$D/race"
        if "$COFFER" backup --name s "$D" --quiet >/dev/null 2>&1; then echo ok >>"$T/race-backups"; fi
    done
) &
backups=$!
prunes=0 checks=0
while [ $SECONDS -lt $end ]; do
    if "$COFFER" forget --keep-last 3 --prune --quiet >/dev/null 2>"$T/race.err"; then
        prunes=$((prunes + 1))
        if ! "$COFFER" check --quiet >"$T/race-check.out" 2>&1; then
            grep -qi "lock" "$T/race-check.out" ||
                { cat "$T/race-check.out" >&2; fail "check after forget --prune $prunes, during the race, failed"; }
        else
            checks=$((checks + 1))
        fi
    else
        grep -qi "lock" "$T/race.err" || { cat "$T/race.err" >&2; fail "forget --prune failed for another reason than the lock"; }
    fi
done
wait "$backups"
[ "$prunes" -gt 0 ] || fail "no forget --prune got through in $SECONDS_TO_RUN s"
[ "$checks" -gt 0 ] || fail "no check got through during the race"
backups_done=$(wc -l <"$T/race-backups" 2>/dev/null || echo 0)
[ "$backups_done" -ge 3 ] || fail "only $backups_done backups got through beside the prunes"
c_ok "check --read-data after the race" check --read-data
run_c snapshots --json --source s
for id in $(jq_out '.[].id'); do
    run_c restore "${id:0:16}" --to "$T/race-$id"
    expect_ok "restore of $id after the race"
done
note "$prunes forget --prune runs, $checks checks, beside $backups_done backups in $SECONDS_TO_RUN s"

# --- a missing pack: prune refuses and changes nothing -------------------------------
# Two prunes first: the race can leave packs no snapshot needs (condemned, or
# written by a backup the last forget dropped), and a missing pack that is not
# needed is rightly no reason to refuse. After the first condemns them and the
# second deletes them, every pack left holds a blob a snapshot needs.
c_ok "prune after the race" prune
c_ok "second prune after the race" prune
pack=$(find "$COFFER_REPOSITORY/data" -type f | head -n 1)
mv "$pack" "$T/hidden-pack"
repo_files >"$T/files-before"
run_c prune
expect_nonzero "prune with a needed pack missing"
expect_err_match "prune with a needed pack missing" "missing|cannot|check"
repo_files | cmp -s - "$T/files-before" || fail "a refused prune changed the repository"
mv "$T/hidden-pack" "$pack"
c_ok "check once the pack is back" check

pass "prune shrinks and keeps every snapshot whole, 20 kills, concurrent backups"
