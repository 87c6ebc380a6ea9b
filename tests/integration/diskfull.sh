#!/usr/bin/env bash
# diskfull.sh — a backup whose writes fail part-way (the file size limit
# stands in for a full disk: writes fail with EFBIG as they would with
# ENOSPC) fails with a message naming the write, records no snapshot, and
# leaves the repository as good as it was: check --read-data passes and the
# earlier snapshot restores byte-identical. A copy into a full disk fails
# the same way and completes when run again with room.
. "$(dirname "$0")/lib.sh"

new_repo repo
gen_text 3 1 >"$T/first.txt"
run_c_in "$T/first.txt" backup --stdin --name db
expect_ok "first backup"
head -c $((24 * 1024 * 1024)) /dev/urandom >"$T/big.bin"   # incompressible: packs fill fast

# 2 MiB per file: the first pack (16 MiB) cannot be written.
( trap '' XFSZ; ulimit -f 2048; exec timeout -k 5 "$CMD_TIMEOUT" "$COFFER" backup --stdin --name db \
    <"$T/big.bin" >"$T/out" 2>"$T/err" )
RC=$?
LAST_CMD="coffer backup --stdin (file size limit 2 MiB)"
expect_nonzero "backup that cannot write its packs"
expect_err_line "backup that cannot write its packs"
expect_err_match "backup that cannot write its packs" "cannot (write|create|store)"
# The message names the write and the disk, not the stream being read.
expect_err_match "backup that cannot write its packs" "cannot back up the stream: cannot write .*disk holding the repository"
grep -qi "cannot read the stream" "$T/err" && fail "a full repository disk is reported as a failed read of the stream"

run_c snapshots --json
expect_ok "snapshots after the failed backup"
[ "$(jq_out 'length')" = 1 ] || fail "the failed backup left a snapshot"
c_ok "check --read-data after the failed backup" check --read-data
run_c dump latest --source db
expect_ok "dump of the earlier snapshot"
cmp -s "$T/out" "$T/first.txt" || fail "the earlier snapshot no longer restores byte-identical"
ls "$COFFER_REPOSITORY"/data/*/ 2>/dev/null | grep -q '\.tmp-' &&
    note "a temporary file of the failed write is left (prune removes it)"

# A copy into a repository whose disk is full: it fails naming the write,
# the destination records no snapshot and stays intact, the source is
# untouched; with room again the same copy completes.
run_c_in "$T/big.bin" backup --stdin --name big
expect_ok "backup of the big stream"
c_ok "init the copy's destination" init --repo "$T/dest" --kdf testonly
( trap '' XFSZ; ulimit -f 2048; exec timeout -k 5 "$CMD_TIMEOUT" "$COFFER" copy --to "$T/dest" \
    >"$T/out" 2>"$T/err" )
RC=$?
LAST_CMD="coffer copy --to dest (file size limit 2 MiB)"
expect_nonzero "copy that cannot write its packs"
expect_err_match "copy that cannot write its packs" "cannot copy snapshot .*cannot (write|store)"
expect_err_match "copy that cannot write its packs" "run copy again to go on"
c_ok "snapshots of the destination after the failed copy" snapshots --repo "$T/dest" --json
[ "$(jq_out '[.[] | select(.source == "big")] | length')" = 0 ] || fail "the failed copy left a snapshot of big"
c_ok "check --read-data of the destination" check --repo "$T/dest" --read-data
c_ok "copy with room again" copy --to "$T/dest"
c_ok "dump the big stream from the copy" dump --repo "$T/dest" latest --source big
cmp -s "$T/out" "$T/big.bin" || fail "the big stream copied after the failure differs"
c_ok "check --read-data of the source" check --read-data
pass "failed writes: clear error, no snapshot, repository intact; a copy likewise"
