#!/usr/bin/env bash
# heal.sh — damage heals (issue #12, D4 and D5): a lost pack, a flipped
# byte and a damaged index file each end, after the steps check and status
# name, in a repository where every snapshot restores byte-identical and
# check --read-data passes.
#  1. a pack lost: the next backup lists the packs, stores what the lost one
#     held again (exit 3, saying so), and its snapshot restores; the old
#     snapshot, whose tree was in the lost pack, is named by check, and
#     repair packs drops the pack and lists that snapshot as still lost;
#  2. a flipped byte: check --read-data fails naming the pack, records the
#     damage and prints "to do: coffer repair packs, then coffer backup …";
#     status shows the same; a backup after the check does not deduplicate
#     against the damaged blob; repair packs saves the rest; then every
#     snapshot restores and check --read-data passes;
#  3. a damaged index file: commands go on with a warning naming it; prune
#     refuses; repair index rebuilds it from the packs; check passes;
#  4. each repair with --dry-run changes nothing; repair snapshots writes a
#     copy, tagged repaired, of a tree snapshot whose file is lost for good;
#  5. a snapshot forget removed, put back from an old copy, is reported.
. "$(dirname "$0")/lib.sh"

D=$T/data
mkdir -p "$D/sub"
gen_random 3000000 21 >"$T/stream1"
gen_random 2000000 22 >"$D/big"
gen_text 1 23 >"$D/sub/text"
echo small >"$D/small"

dumps_as() { # dumps_as SNAPSHOT SOURCE FILE WHAT
    run_c dump "$1" --source "$2"
    expect_ok "dump of $2 $1 ($4)"
    cmp -s "$T/out" "$3" || fail "snapshot $1 of $2 does not dump as it was backed up ($4)"
}
repo_listing() { (cd "$COFFER_REPOSITORY" && find . -path ./locks -prune -o -type f -printf '%p %s\n' | sort); }
# damaged_tree_repo NAME: a repository NAME with one snapshot of the tree
# (its id in f1) and one byte of its pack flipped, a third into the pack
# file's blobs
damaged_tree_repo() {
    new_repo "$1"
    run_c backup --name files "$D" --quiet
    expect_ok "backup of the tree ($1)"
    f1=$(repo_snapshot files)
    local pack size
    pack=$(pack_of_newest)
    size=$(stat -c %s "$pack")
    flip_byte "$pack" $((size / 3))
}

# --- 1. a lost pack --------------------------------------------------------
new_repo one
run_c_in "$T/stream1" backup --stdin --name s --quiet
expect_ok "backup of the stream"
s1=$(repo_snapshot s)
rm -f "$(pack_of_newest)"
run_c_in "$T/stream1" backup --stdin --name s
expect_rc 3 "backup after a pack was lost (a warning: what it held is stored again)"
expect_err_match "backup after a pack was lost" "1 indexed pack is not in the repository"
s2=$(repo_snapshot s)
dumps_as "${s2:0:16}" s "$T/stream1" "new snapshot after a lost pack"
run_c check
expect_rc 1 "check with a pack lost"
expect_err_match "check with a pack lost" "pack [0-9a-f]+ is in the index but missing"
expect_err_match "check with a pack lost" "snapshot ${s1:0:8} .*cannot be fully restored"
grep -q "to do: coffer repair packs" "$T/out" || fail "check does not say what to do about a lost pack: $(cat "$T/out")"
c_ok "repair packs after a lost pack" repair packs
grep -q "snapshot ${s1:0:8} .*cannot restore" "$T/out" || fail "repair packs does not name the snapshot still lost: $(cat "$T/out")"
grep -q "dropped from the index" "$T/out" || fail "repair packs does not say it dropped the lost pack: $(cat "$T/out")"
dumps_as "${s2:0:16}" s "$T/stream1" "new snapshot after repair packs"

# --- 2. a flipped byte ----------------------------------------------------------
damaged_tree_repo two
run_c check --read-data
expect_rc 1 "check --read-data of a flipped byte"
expect_err_match "check --read-data of a flipped byte" "pack [0-9a-f]+: blob [0-9a-f]+ fails authentication"
grep -q "to do: coffer repair packs, then coffer backup" "$T/out" || fail "check does not say what to do: $(cat "$T/out")"
[ "$(find "$COFFER_REPOSITORY/damage" -type f | wc -l)" = 1 ] || fail "check recorded no damage"
run_c status --json
jq -e '.sources[].problems[] | select(.rule == "damage") | .todo | test("coffer repair packs")' "$T/out" >/dev/null ||
    fail "status does not name the repair: $(cat "$T/out")"
# Before any repair, a backup stores the damaged blob again instead of
# deduplicating against it.
run_c backup --name files "$D" --quiet
expect_ok "backup after the damage was recorded"
f2=$(repo_snapshot files)
restores_tree "${f2:0:16}" "backed up after check recorded the damage"
restores_tree "${f1:0:16}" "the damaged snapshot, healed by the new copy"
repo_listing >"$T/before-dry"
c_ok "repair packs --dry-run" repair packs --dry-run
grep -q "can be saved" "$T/out" || fail "repair packs --dry-run does not say what it would save: $(cat "$T/out")"
repo_listing | cmp -s - "$T/before-dry" || fail "repair packs --dry-run changed the repository"
c_ok "repair packs" repair packs
grep -q "every snapshot can be restored" "$T/out" || fail "repair packs does not say that all is restorable: $(cat "$T/out")"
c_ok "check --read-data after repair packs" check --read-data
restores_tree "${f1:0:16}" "after repair packs"
restores_tree "${f2:0:16}" "after repair packs"
c_ok "prune after repair" prune
c_ok "second prune after repair" prune
c_ok "check --read-data after the prunes" check --read-data

# --- 3. a damaged index file --------------------------------------------------
new_repo three
run_c_in "$T/stream1" backup --stdin --name s --quiet
expect_ok "backup of the stream"
run_c backup --name files "$D" --quiet
expect_ok "backup of the tree"
idx=$(find "$COFFER_REPOSITORY/index" -type f | head -n 1)
flip_byte "$idx" 40
run_c snapshots
expect_ok "snapshots beside a damaged index file"
run_c check
expect_rc 1 "check with a damaged index file"
expect_err_match "check with a damaged index file" "index/[0-9a-f]+: .*coffer repair index"
run_c prune
expect_nonzero "prune with a damaged index file"
expect_err_match "prune with a damaged index file" "repair index"
repo_listing >"$T/before-dry"
c_ok "repair index --dry-run" repair index --dry-run
repo_listing | cmp -s - "$T/before-dry" || fail "repair index --dry-run changed the repository"
c_ok "repair index" repair index
grep -q "rebuilt from 2 packs" "$T/out" || fail "repair index does not say what it rebuilt: $(cat "$T/out")"
c_ok "check --read-data after repair index" check --read-data --json
[ "$(jq_out '.packs_read')" = "$(jq_out '.packs')" ] || fail "check --read-data did not read every pack: $(cat "$T/out")"
dumps_as latest s "$T/stream1" "after repair index"
restores_tree latest "after repair index"

# --- 4. a file lost for good: repair snapshots ------------------------------------
damaged_tree_repo four
run_c check --read-data
expect_rc 1 "check --read-data of a flipped byte (case 4)"
c_ok "repair packs (case 4)" repair packs
grep -q "cannot restore 1 item" "$T/out" || fail "repair packs does not list what is still lost: $(cat "$T/out")"
# Which file the flipped byte hit depends on the order the workers put
# the blobs in the pack: big or sub/text, and exactly one.
lost=$(grep -o -E "$D/(big|sub/text|small)\b" "$T/out" | sort -u)
[ -n "$lost" ] && [ "$(printf '%s\n' "$lost" | wc -l)" = 1 ] ||
    fail "repair packs does not name the one lost file: $(cat "$T/out")"
repo_listing >"$T/before-dry"
c_ok "repair snapshots --dry-run" repair snapshots --dry-run
repo_listing | cmp -s - "$T/before-dry" || fail "repair snapshots --dry-run changed the repository"
c_ok "repair snapshots" repair snapshots
run_c snapshots --json --source files
jq -e --arg o "$f1" '.[] | select(.tags | index("repaired")) | select(.repaired_from == $o)' "$T/out" >/dev/null ||
    fail "no snapshot tagged repaired naming the original: $(cat "$T/out")"
rid=$(jq -r '.[] | select(.tags | index("repaired")) | .id' "$T/out")
rm -rf "$T/restored"
c_ok "restore of the repaired snapshot" restore "${rid:0:16}" --source files --to "$T/restored"
for f in "$D/big" "$D/sub/text" "$D/small"; do
    if [ "$f" = "$lost" ]; then
        [ ! -e "$T/restored$f" ] || fail "the repaired snapshot still has the lost file $f"
    else
        cmp -s "$f" "$T/restored$f" || fail "the repaired snapshot lost the intact file $f"
    fi
done
# The source still has the file: a backup stores it again, and then even
# the original snapshot restores whole.
run_c backup --name files "$D" --quiet
expect_ok "backup after repair"
restores_tree "${f1:0:16}" "the original after the backup that stored the lost file again"
c_ok "check --read-data at the end (case 4)" check --read-data

# --- 5. a forgotten snapshot put back (D11) -------------------------------------
new_repo five
run_c_in "$T/stream1" backup --stdin --name s --quiet
expect_ok "first backup (case 5)"
old=$(repo_snapshot s)
run_c_in "$T/stream1" backup --stdin --name s --quiet
expect_ok "second backup (case 5)"
cp "$COFFER_REPOSITORY/snapshots/$old" "$T/kept-snapshot"
c_ok "forget the first (case 5)" forget --keep-last 1 --source s
c_ok "check after forget (case 5)" check
cp "$T/kept-snapshot" "$COFFER_REPOSITORY/snapshots/$old"
run_c check
expect_rc 1 "check with a forgotten snapshot put back"
expect_err_match "check with a forgotten snapshot put back" "snapshot ${old:0:8} .*was removed by forget at .* and is back"

pass "a lost pack, a flipped byte and a damaged index file heal by check, repair and backup; dry runs change nothing"
