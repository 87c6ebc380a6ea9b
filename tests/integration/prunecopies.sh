#!/usr/bin/env bash
# prunecopies.sh — a blob whose copy in a live pack is damaged and whose
# only good copy lies in a condemned pack: restore falls back on the
# condemned copy, and prune keeps that pack (takes it back) instead of
# deleting the only good copy. Built as it happens: a stream x1 is backed
# up, forgotten and its pack condemned by a prune; x1 is backed up again
# (the condemned pack is not deduplicated against, so a live pack holds a
# second copy); a byte of that live pack is flipped and check --read-data
# records the damage. Before the fix restore read only the damaged copy
# (the fallback skipped condemned packs) and the next prune deleted the
# condemned pack, losing x1's data for good.
. "$(dirname "$0")/lib.sh"

gen_random 3000000 41 >"$T/x1"
gen_random 3000000 42 >"$T/x2"
gen_random 3000000 43 >"$T/y"

stream_backup() { # stream_backup NAME FILE
    run_c_in "$2" backup --stdin --name "$1" --quiet
    expect_ok "backup of $1 from $2"
}
dumps_as() { # dumps_as NAME FILE WHAT: the newest snapshot of NAME dumps as FILE
    run_c dump latest --source "$1"
    expect_ok "dump of $1 ($3)"
    cmp -s "$T/out" "$2" || fail "the newest snapshot of $1 does not dump as $2 was ($3)"
}
newest_pack() { find "$COFFER_REPOSITORY/data" -type f -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2; }

new_repo repo
stream_backup x "$T/x1"
condemned=$(newest_pack)
stream_backup x "$T/x2"
stream_backup y "$T/y"
c_ok "forget the first snapshot of x" forget --keep-last 1 --source x
c_ok "prune that condemns x1's pack" prune --json
[ "$(jq_out '.packs_condemned')" = 1 ] || fail "the first prune did not condemn x1's pack: $(cat "$T/out")"
[ -f "$condemned" ] || fail "the first prune deleted x1's pack instead of condemning it"

stream_backup x "$T/x1"
live=$(newest_pack)
[ "$live" != "$condemned" ] || fail "the second backup of x1 wrote no pack (it deduplicated against a condemned pack)"
flip_byte "$live" $(($(stat -c %s "$live") / 3))
run_c check --read-data
expect_rc 1 "check --read-data of the flipped byte"
expect_err_match "check --read-data of the flipped byte" "fails authentication"

# Restore falls back on the good copy in the condemned pack.
dumps_as x "$T/x1" "its live copy damaged, a good copy in a condemned pack"

# The prune after it: alone, and the pack condemned by an earlier prune,
# but it holds the only good copy of a needed blob.
# (The pack is then needed for that one blob only: prune copies it into a
# new pack and condemns the old one again, so the next prune may delete it.)
c_ok "prune with a needed blob's good copy only in a condemned pack" prune --json
[ "$(jq_out '.packs_deleted')" = 0 ] || fail "prune deleted the pack holding the only good copy of a needed blob: $(cat "$T/out")"
[ "$(jq_out '.packs_kept_again + .packs_repacked')" -ge 1 ] || fail "prune neither took back nor repacked the condemned pack holding a good copy: $(cat "$T/out")"
dumps_as x "$T/x1" "after the prune"
c_ok "a second prune" prune
dumps_as x "$T/x1" "after the second prune"

# Repair saves the rest of the damaged pack; then all is whole.
c_ok "repair packs" repair packs
c_ok "check --read-data after repair packs" check --read-data
c_ok "prune after repair" prune
c_ok "another prune after repair" prune
for s in x:x1 y:y; do dumps_as "${s%%:*}" "$T/${s#*:}" "after repair and two prunes"; done
c_ok "check --read-data at the end" check --read-data

pass "a good copy in a condemned pack is read when the live copy is damaged, and prune keeps it"
