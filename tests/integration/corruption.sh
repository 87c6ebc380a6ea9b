#!/usr/bin/env bash
# Corruption detection: one flipped byte in a pack is found by
# check --read-data (naming pack and snapshot), makes restore/dump of the
# affected snapshot fail, and leaves the other snapshot restorable.
# Also: a flipped byte in a snapshot file and a truncated pack are detected.
. "$(dirname "$0")/lib.sh"

new_repo repo
R=$COFFER_REPOSITORY

list_packs() { (cd "$R/data" && find . -type f -printf '%P\n' | sort); }

# data set A: tree of random files
mkdir -p "$T/A/sub"
for i in 1 2 3 4; do gen_random $((700000 + i * 1000)) "A$i" >"$T/A/sub/f$i.bin"; done
printf 'small A\n' >"$T/A/small.txt"
c_ok "backup A" backup --name setA "$T/A"
list_packs >"$T/packs.A"

# data set B: different random data
mkdir -p "$T/B"
for i in 1 2 3; do gen_random $((900000 + i * 1000)) "B$i" >"$T/B/g$i.bin"; done
c_ok "backup B" backup --name setB "$T/B"
list_packs >"$T/packs.AB"

idA=$(snapshot_ids setA | head -n1)
idB=$(snapshot_ids setB | head -n1)
[ -n "$idA" ] && [ -n "$idB" ] && [ "$idA" != "$idB" ] || fail "could not get two snapshot ids (A='$idA' B='$idB')"

comm -13 "$T/packs.A" "$T/packs.AB" >"$T/packs.Bonly"
[ -s "$T/packs.Bonly" ] || fail "backup B wrote no new pack under data/"
for p in $(cat "$T/packs.AB"); do
    echo "$p" | grep -Eq '^[0-9a-f]{2}/[0-9a-f]{64}$' || fail "unexpected pack path data/$p (want data/<2 hex>/<64 hex>)"
    [ "${p:0:2}" = "${p:3:2}" ] || fail "pack data/$p is not in the directory named after its first 2 hex digits"
done
# biggest pack of B: holds B's file data
victim=$(cd "$R/data" && ls -S $(cat "$T/packs.Bonly") | head -n1)
packid=$(basename "$victim")
size=$(stat -c %s "$R/data/$victim")
[ "$size" -gt 100000 ] || fail "largest pack of B is only $size bytes; expected B's ~2.7 MB of data"

# ------------------------------------------------------------ intact repo
c_ok "check on intact repository" check
c_ok "check --read-data on intact repository" check --read-data
c_ok "check --read-data=10% on intact repository" check --read-data=10%

cp -a "$R" "$T/repo-copy"       # pristine copy for the snapshot-file test

# ------------------------------------------------------------ flip a byte in B's pack
flip_byte "$R/data/$victim" $((size / 2))
note "flipped byte $((size / 2)) of data/$victim"

run_c check --read-data
expect_nonzero "check --read-data after flipping a byte in pack $packid"
cat "$T/out" "$T/err" >"$T/checkout"
grep -Fq "$packid" "$T/checkout" || grep -Fq "${packid:0:16}" "$T/checkout" ||
    { _show_last; fail "check --read-data output does not name the damaged pack $packid"; }
grep -Fq "${idB:0:8}" "$T/checkout" ||
    { _show_last; fail "check --read-data output does not name the affected snapshot ${idB:0:8}"; }
grep -Fq "${idA:0:8}" "$T/checkout" &&
    warn "check --read-data output also mentions the unaffected snapshot ${idA:0:8}"
note "check --read-data detected the damage"

run_c restore "$idB" --to "$T/rB"
expect_nonzero "restore of snapshot B with a damaged pack"
expect_err_line "restore of damaged snapshot B"
run_c dump "$idB" "$T/B/g1.bin"
r1=$RC; cp "$T/err" "$T/err1"
run_c dump "$idB" "$T/B/g2.bin"
r2=$RC
run_c dump "$idB" "$T/B/g3.bin"
r3=$RC
# the damaged byte is in one file's data: at least one dump must fail, and any
# dump that succeeds must be byte-identical
[ "$r1" != 0 ] || [ "$r2" != 0 ] || [ "$r3" != 0 ] ||
    fail "dump of every file of damaged snapshot B succeeded (corruption undetected)"
for i in 1 2 3; do
    ct dump "$idB" "$T/B/g$i.bin" >"$T/dumped" 2>/dev/null && {
        cmp -s "$T/dumped" "$T/B/g$i.bin" || fail "dump of g$i.bin from damaged snapshot B exited 0 with wrong bytes"
    }
done

c_ok "restore of unaffected snapshot A" restore "$idA" --to "$T/rA"
compare_trees "$T/A" "$(restored_path "$T/rA" "$T/A")" "restore of unaffected snapshot A"
ct dump "$idA" "$T/A/sub/f3.bin" >"$T/dumped" 2>"$T/err"; RC=$?; LAST_CMD="coffer dump $idA $T/A/sub/f3.bin"
expect_ok "dump from unaffected snapshot A"
cmp -s "$T/dumped" "$T/A/sub/f3.bin" || fail "dump of f3.bin from snapshot A differs"
note "unaffected snapshot still restores"

# ------------------------------------------------------------ truncated pack
export COFFER_REPOSITORY=$T/repo-trunc
cp -a "$T/repo-copy" "$COFFER_REPOSITORY"
truncate -s $((size - 100)) "$COFFER_REPOSITORY/data/$victim"
run_c check --read-data
expect_nonzero "check --read-data with a pack truncated by 100 bytes"
c_ok "restore A from repo with truncated B pack" restore "$idA" --to "$T/rA2"
compare_trees "$T/A" "$(restored_path "$T/rA2" "$T/A")" "restore of A with B's pack truncated"

# ------------------------------------------------------------ flipped byte in a snapshot file
export COFFER_REPOSITORY=$T/repo-copy
sfile=$(cd "$COFFER_REPOSITORY/snapshots" && ls | grep -F "$idB" | head -n1)
if [ -z "$sfile" ]; then
    # snapshot files may be named differently from the snapshot id; use the newest
    sfile=$(cd "$COFFER_REPOSITORY/snapshots" && ls -t | head -n1)
fi
ssize=$(stat -c %s "$COFFER_REPOSITORY/snapshots/$sfile")
flip_byte "$COFFER_REPOSITORY/snapshots/$sfile" $((ssize / 2))
run_c check
expect_nonzero "check after flipping a byte in snapshot file snapshots/$sfile"
run_c restore "$idB" --to "$T/rB2"
expect_nonzero "restore of snapshot whose snapshot file is damaged"
c_ok "restore A with B's snapshot file damaged" restore "$idA" --to "$T/rA3"
compare_trees "$T/A" "$(restored_path "$T/rA3" "$T/A")" "restore of A with B's snapshot file damaged"
run_c snapshots
grep -Fq "${idA:0:8}" "$T/out" ||
    { _show_last; fail "snapshots no longer lists intact snapshot ${idA:0:8} when another snapshot file is damaged"; }

pass "corruption detected, unaffected snapshot intact"
