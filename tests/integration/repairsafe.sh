#!/usr/bin/env bash
# repairsafe.sh — a repair never leaves a repository worse than it was.
# A pack that cannot be read for a moment is played here by a directory of
# the same name (reads fail with EISDIR, as an I/O error would; the store's
# listing leaves it out, as a listing glitch would, but it is there).
#  1. a pack an old check recorded missing is back: repair snapshots
#     --forget forgets nothing and repair packs drops nothing and clears the
#     stale record; prune keeps the pack; everything restores;
#  2. a damaged pack that cannot be read: repair packs says so, exits
#     non-zero and changes no index, condemned or damage file; once it can
#     be read, repair packs salvages it;
#  3. repair index with a pack whose header cannot be read for a moment
#     keeps the old index files and exits non-zero; with a pack whose header
#     is damaged it keeps the old records of its blobs: the stream in it
#     still dumps byte-identical;
#  4. a pack repair packs dropped as damaged stays condemned after repair
#     index (its damaged blob is still lost, check --read-data does not find
#     the damage again); a backup heals, and the first prune deletes it;
#  5. repair snapshots finds the other copy of blobs whose pack is missing:
#     a snapshot that restores is neither reported nor forgotten, whichever
#     of two packs holding copies is gone;
#  6. repair snapshots --forget on a pack that cannot be read (a tree in it)
#     exits non-zero and writes and forgets nothing.
. "$(dirname "$0")/lib.sh"

D=$T/data
mkdir -p "$D/sub" "$T/stash"
gen_random 2000000 31 >"$D/big"
gen_text 1 32 >"$D/sub/text"
echo small >"$D/small"
gen_random 3000000 33 >"$T/stream1"

snapshot_count() {
    run_c snapshots --json
    expect_ok "snapshots"
    jq_out 'length'
}
# meta_listing: the index, condemned, damage and snapshot files, with sizes
meta_listing() {
    (cd "$COFFER_REPOSITORY" && { find index condemned damage snapshots -type f -printf '%p %s\n' 2>/dev/null || :; } | sort)
}
# a pack that cannot be read: a directory in its place (the file kept aside)
unreadable() { mv "$1" "$T/stash/$(basename "$1")" && mkdir "$1" || fail "cannot hide $1"; }
readable() { rmdir "$1" && mv "$T/stash/$(basename "$1")" "$1" || fail "cannot put $1 back"; }
# two_snapshots NAME: a repository with snapshot f1 of the tree (pack p1)
# and f2 after a change of one file (pack p2: the new file and trees; the
# 2 MB file and the unchanged directory sub/ stay in p1)
two_snapshots() {
    new_repo "$1"
    echo small >"$D/small"
    c_ok "first backup ($1)" backup --name files "$D" --quiet
    f1=$(repo_snapshot files)
    p1=$(pack_of_newest)
    echo changed >"$D/small"
    c_ok "second backup ($1)" backup --name files "$D" --quiet
    f2=$(repo_snapshot files)
    p2=$(pack_of_newest)
    [ "$p1" != "$p2" ] || fail "the second backup wrote no pack of its own ($1)"
}

# --- 1. a pack recorded missing is back ---------------------------------------
two_snapshots one
mv "$p1" "$T/stash/" || fail "cannot move $p1"
run_c check
expect_rc 1 "check with a pack gone"
[ "$(find "$COFFER_REPOSITORY/damage" -type f | wc -l)" = 1 ] || fail "check recorded no missing pack"
mv "$T/stash/$(basename "$p1")" "$p1"
c_ok "repair snapshots --forget with the pack back" repair snapshots --forget
grep -q "^0 snapshots need lost data" "$T/out" || fail "repair snapshots took a pack that is there for lost: $(cat "$T/out")"
[ "$(snapshot_count)" = 2 ] || fail "repair snapshots changed the snapshots although nothing is lost"
c_ok "repair packs with the pack back" repair packs
grep -q "missing from the repository" "$T/out" && fail "repair packs dropped a pack that is there: $(cat "$T/out")"
grep -q "every snapshot can be restored" "$T/out" || fail "repair packs does not say all is restorable: $(cat "$T/out")"
[ "$(find "$COFFER_REPOSITORY/damage" -type f | wc -l)" = 0 ] || fail "repair packs left the stale missing record"
c_ok "prune (case 1)" prune
[ -f "$p1" ] || fail "prune deleted the pack the stale record named"
restores_tree "${f2:0:16}" "case 1"
c_ok "check --read-data (case 1)" check --read-data

# --- 2. a damaged pack that cannot be read --------------------------------------
two_snapshots two
flip_byte "$p1" $(($(stat -c %s "$p1") / 3))
run_c check --read-data
expect_rc 1 "check --read-data of a flipped byte (case 2)"
unreadable "$p1"
meta_listing >"$T/meta-before"
run_c repair packs
expect_nonzero "repair packs with a damaged pack that cannot be read"
grep -q "could not be read" "$T/out" || fail "repair packs does not say the pack could not be read: $(cat "$T/out")"
expect_err_match "repair packs with a pack that cannot be read" "run .*repair packs.* again"
meta_listing | diff "$T/meta-before" - >&2 || fail "repair packs changed the index although it could not read the pack: $(cat "$T/out")"
readable "$p1"
c_ok "repair packs once the pack can be read" repair packs
grep -q "saved, 1 lost" "$T/out" || fail "repair packs did not salvage the pack: $(cat "$T/out")"
c_ok "backup after repair (case 2)" backup --name files "$D" --quiet
restores_tree "${f2:0:16}" "case 2"
c_ok "check --read-data (case 2)" check --read-data

# --- 3. repair index with a pack header that cannot be read -----------------------
new_repo three
run_c_in "$T/stream1" backup --stdin --name s --quiet
expect_ok "backup of the stream"
ps=$(pack_of_newest)
c_ok "backup of the tree (case 3)" backup --name files "$D" --quiet
unreadable "$ps"
find "$COFFER_REPOSITORY/index" -type f | sort >"$T/index-before"
run_c repair index
expect_nonzero "repair index with a pack that cannot be read"
expect_err_match "repair index with a pack that cannot be read" "run .*repair index.* again"
find "$COFFER_REPOSITORY/index" -type f | sort | comm -23 "$T/index-before" - | grep -q . &&
    fail "repair index deleted old index files although a pack could not be read"
readable "$ps"
run_c dump latest --source s
expect_ok "dump after repair index failed on a pack"
cmp -s "$T/out" "$T/stream1" || fail "the stream does not dump as it was after repair index (case 3)"
c_ok "repair index once every pack can be read" repair index
c_ok "check --read-data after repair index" check --read-data
# a damaged header: the old records of its blobs stay
flip_byte "$ps" $(($(stat -c %s "$ps") - 40))
c_ok "repair index with a damaged pack header" repair index
grep -q "header" "$T/out" || fail "repair index does not name the damaged header: $(cat "$T/out")"
run_c dump latest --source s
expect_ok "dump after repair index with a damaged header"
cmp -s "$T/out" "$T/stream1" || fail "the stream does not dump as it was after repair index (damaged header)"

# --- 4. a dropped pack stays condemned through repair index ---------------------
new_repo four
c_ok "backup (case 4)" backup --name files "$D" --quiet
f1=$(repo_snapshot files)
p1=$(pack_of_newest)
flip_byte "$p1" $(($(stat -c %s "$p1") / 3))
run_c check --read-data
expect_rc 1 "check --read-data of a flipped byte (case 4)"
c_ok "repair packs (case 4)" repair packs
grep -q "snapshot ${f1:0:8} .*cannot restore" "$T/out" || fail "repair packs does not list the lost file: $(cat "$T/out")"
c_ok "repair index after repair packs" repair index
c_ok "repair snapshots --dry-run after repair index" repair snapshots --dry-run
grep -q "snapshot ${f1:0:8} .*cannot restore" "$T/out" ||
    fail "after repair index the damaged pack's blob counts as restorable again: $(cat "$T/out")"
run_c check --read-data
expect_rc 1 "check --read-data after repair index (a file is still lost)"
grep -q "fails authentication" "$T/out" "$T/err" && fail "repair index made the damaged pack live again: $(cat "$T/err")"
c_ok "backup after repair (case 4)" backup --name files "$D" --quiet
restores_tree "${f1:0:16}" "case 4, after the backup"
c_ok "prune (case 4)" prune
[ ! -e "$p1" ] || fail "the first prune after repair packs did not delete the condemned damaged pack"
c_ok "check --read-data (case 4)" check --read-data

# --- 5. a missing pack whose blobs have other copies --------------------------------
# Two snapshots of the same tree, the second taken while the first one's
# pack was away, so that its pack holds a second copy of every blob but the
# root tree (the root lists the ancestors of $D, whose times change): with
# either pack gone, the snapshot whose root is in the other one restores,
# and repair snapshots must neither report it nor forget it.
new_repo five
echo small >"$D/small"
c_ok "backup (case 5)" backup --name files "$D" --quiet
f1=$(repo_snapshot files)
pa=$(pack_of_newest)
mv "$pa" "$T/stash/" || fail "cannot move $pa"
run_c backup --name files "$D" --quiet
expect_rc 3 "backup with a pack gone (it stores everything again)"
f2=$(repo_snapshot files)
pb=$(pack_of_newest)
mv "$T/stash/$(basename "$pa")" "$pa"
for gone in "$pa:$f2" "$pb:$f1"; do
    pack=${gone%%:*} kept=${gone##*:}
    mv "$pack" "$T/stash/" || fail "cannot move $pack"
    c_ok "repair snapshots --forget, one copy gone" repair snapshots --forget
    grep -q "snapshot ${kept:0:8} " "$T/out" &&
        fail "repair snapshots does not find the other copy of what snapshot ${kept:0:8} needs: $(cat "$T/out")"
    [ "$(snapshot_count)" = 2 ] || fail "repair snapshots --forget changed the snapshots: $(cat "$T/out")"
    restores_tree "${kept:0:16}" "case 5, the other pack gone"
    mv "$T/stash/$(basename "$pack")" "$pack"
done
c_ok "check --read-data (case 5)" check --read-data

# --- 6. repair snapshots on a pack that cannot be read ---------------------------------
two_snapshots six
unreadable "$p1"
meta_listing >"$T/meta-before"
run_c repair snapshots --forget
expect_nonzero "repair snapshots --forget with a pack that cannot be read"
expect_err_match "repair snapshots with a pack that cannot be read" "cannot read"
meta_listing | cmp -s - "$T/meta-before" || fail "repair snapshots wrote or forgot something on an I/O error"
readable "$p1"
c_ok "repair snapshots once the pack can be read" repair snapshots --forget
grep -q "^0 snapshots need lost data" "$T/out" || fail "repair snapshots finds lost data: $(cat "$T/out")"
restores_tree "${f2:0:16}" "case 6"
echo small >"$D/small"
restores_tree "${f1:0:16}" "case 6"

pass "repairs leave what they cannot read as it is and fail; stale records, other copies and condemned packs are honoured"
