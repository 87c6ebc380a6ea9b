#!/usr/bin/env bash
# copyheal.sh — copy lists the destination's packs before deduplicating
# against them, as a backup does: a pack lost from the destination (no
# damage record names it) is not deduplicated against, so a snapshot copied
# afterwards that shares its data stores that data again. A 20 MiB stream
# is copied (two packs in the destination), the destination's first pack
# (data only) is deleted by hand, and a new snapshot of the same stream is
# copied; it must dump byte-identical from the destination, and after
# `repair packs` condemns the lost pack, `check --read-data` passes there
# (before and after a prune) and the first snapshot dumps too (its data was
# stored again); the
# copy warns that the pack is missing. Before the fix
# the second copy deduplicated against the lost pack and could not be read.
. "$(dirname "$0")/lib.sh"

gen_random $((20 << 20)) 51 >"$T/stream"

new_repo dst
DST=$COFFER_REPOSITORY
DST_PW=$COFFER_PASSWORD_FILE
new_repo src

# in_dst ARGS...: coffer ARGS against the destination
in_dst() { COFFER_REPOSITORY=$DST COFFER_PASSWORD_FILE=$DST_PW run_c "$@"; }
dst_dumps() { # dst_dumps SNAPSHOT WHAT: that snapshot in the destination dumps as the stream
    in_dst dump "$1" --source s
    expect_ok "dump of $1 from the destination ($2)"
    cmp -s "$T/out" "$T/stream" || fail "snapshot $1 does not dump from the destination as it was backed up ($2)"
}

run_c_in "$T/stream" backup --stdin --name s --quiet
expect_ok "first backup"
c_ok "first copy" copy --to "$DST" --to-password-file "$DST_PW"
in_dst snapshots --json --source s
expect_ok "snapshots in the destination"
first=$(jq_out '.[0].id')
[ "$(find "$DST/data" -type f | wc -l)" -ge 2 ] || fail "the first copy wrote fewer than 2 packs"
lost=$(find "$DST/data" -type f -printf '%T@ %p\n' | sort -n | head -n 1 | cut -d' ' -f2)
rm -f "$lost"

run_c_in "$T/stream" backup --stdin --name s --quiet
expect_ok "second backup (the same data)"
c_ok "second copy, a pack of the destination lost" copy --to "$DST" --to-password-file "$DST_PW"
expect_err_match "second copy" "1 indexed pack is not in the destination"
in_dst snapshots --json --source s
[ "$(jq_out 'length')" = 2 ] || fail "the second copy did not copy the new snapshot"
second=$(jq_out '.[1].id')
dst_dumps "${second:0:16}" "copied after a pack was lost"

in_dst repair packs
expect_ok "repair packs in the destination"
# The lost pack is condemned now: its absence is no damage.
in_dst check --read-data
expect_ok "check --read-data of the destination after repair packs"
in_dst prune # drops the lost pack from the condemned lists
expect_ok "prune in the destination"
in_dst check --read-data
expect_ok "check --read-data of the destination after the prune"
dst_dumps "${first:0:16}" "the first copy, its data stored again by the second"
dst_dumps "${second:0:16}" "after repair packs"

pass "copy does not deduplicate against a pack the destination lost"
