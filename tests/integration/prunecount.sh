#!/usr/bin/env bash
# prunecount.sh — prune never takes a listing that lost snapshots for the
# truth (issue #12, D2): with every snapshot object gone while the index
# still holds data, or with fewer than half of the snapshots the last prune
# or forget left, prune refuses and changes nothing unless --force; a
# forget that removes most snapshots on purpose records the new count, so
# the prune after it goes on.
. "$(dirname "$0")/lib.sh"

new_repo repo
for i in 1 2 3 4; do
    gen_random 200000 "p$i" >"$T/s$i"
    run_c_in "$T/s$i" backup --stdin --name "s$i" --quiet
    expect_ok "backup $i"
done
c_ok "first prune (records 4 snapshots)" prune
listing() { (cd "$COFFER_REPOSITORY" && find . -path ./locks -prune -o -type f -printf '%p %s\n' | sort); }

# Three of four snapshot objects vanish (as from a listing cut short).
mkdir -p "$T/hidden"
for f in $(ls "$COFFER_REPOSITORY/snapshots" | head -n 3); do mv "$COFFER_REPOSITORY/snapshots/$f" "$T/hidden/"; done
listing >"$T/before"
run_c prune
expect_nonzero "prune with 1 of the 4 snapshots the last prune left"
expect_err_match "prune with 1 of 4 snapshots" "1 snapshots were listed, but the last prune or forget left 4.*prune --force"
listing | cmp -s - "$T/before" || fail "a refused prune changed the repository"

# Every snapshot object gone while the index holds blobs.
mv "$COFFER_REPOSITORY/snapshots/"* "$T/hidden/"
run_c prune
expect_nonzero "prune with no snapshot listed"
expect_err_match "prune with no snapshot listed" "no snapshot was listed, but the index holds [0-9]+ blobs"
mv "$T/hidden/"* "$COFFER_REPOSITORY/snapshots/"
c_ok "prune once the snapshots are back" prune
for i in 1 2 3 4; do
    run_c dump latest --source "s$i"
    expect_ok "dump of s$i"
    cmp -s "$T/out" "$T/s$i" || fail "s$i does not dump as it was backed up"
done

# A forget that removes most snapshots on purpose records the count it
# leaves: the prune after it goes on.
for i in 5 6 7 8; do
    run_c_in "$T/s4" backup --stdin --name s4 --quiet
    expect_ok "backup $i of s4"
done
c_ok "prune (records 8 snapshots)" prune
c_ok "forget 4 of s4's 5 snapshots" forget --keep-last 1 --source s4
c_ok "prune after a forget that left half" prune
# Three vanish without a forget: refused; --force goes on.
for s in s1 s2 s3; do
    for id in $(snapshot_ids "$s"); do mv "$COFFER_REPOSITORY/snapshots/$id" "$T/hidden/"; done
done
run_c prune
expect_nonzero "prune after snapshots vanished without a forget"
c_ok "prune --force" prune --force
run_c dump latest --source s4
expect_ok "dump of s4 after prune --force"
cmp -s "$T/out" "$T/s4" || fail "s4 does not dump as it was backed up after prune --force"

pass "prune refuses a snapshot list that is empty or under half of the last count, unless --force"
