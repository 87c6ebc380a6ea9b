#!/usr/bin/env bash
# stats.sh — coffer stats: the logical size is the sum of the snapshots'
# sizes; deduplication shows (three backups of the same data stored about
# once); each source's unique bytes cover the data only it has, and data two
# sources share is counted as shared; after forget, the data only the
# forgotten snapshot held is reported as unreferenced (what prune frees).
. "$(dirname "$0")/lib.sh"

new_repo repo
mkdir -p "$T/common" "$T/a-only" "$T/b-only"
gen_random 1048576 1 >"$T/common/shared.bin"
gen_random 1048576 2 >"$T/a-only/a.bin"
gen_random 524288 3 >"$T/b-only/b.bin"
gen_random 786432 4 >"$T/a-only/extra.bin"

c_ok "a's own data" backup --name a "$T/common" "$T/a-only"
for i in 1 2 3; do c_ok "backup $i of a" backup --name a "$T/common"; done
c_ok "b's data" backup --name b "$T/common" "$T/b-only"

run_c snapshots --json
cp "$T/out" "$T/snaps.json"
c_ok "stats" stats --json
cp "$T/out" "$T/stats.json"
MiB=1048576
[ "$(jq_out '.snapshots' "$T/stats.json")" = 5 ] || fail "stats counts $(jq_out '.snapshots' "$T/stats.json") snapshots, not 5"
[ "$(jq_out '.logical_bytes' "$T/stats.json")" = "$(jq_out '[.[].size] | add' "$T/snaps.json")" ] ||
    fail "logical size is not the sum of the snapshots' sizes"
jq -e '.dedup_ratio > 1.5' "$T/stats.json" >/dev/null || fail "deduplication ratio $(jq_out .dedup_ratio "$T/stats.json") is not above 1.5"
a_unique=$(jq_out '.sources[] | select(.source == "a") | .unique_bytes' "$T/stats.json")
b_unique=$(jq_out '.sources[] | select(.source == "b") | .unique_bytes' "$T/stats.json")
shared=$(jq_out '.shared_bytes' "$T/stats.json")
# random data does not compress: unique bytes are the data plus framing (<5%)
[ "$a_unique" -ge $((MiB + 786432)) ] && [ "$a_unique" -lt $(((MiB + 786432) * 105 / 100)) ] ||
    fail "a's unique bytes $a_unique do not match its 1.75 MiB of own data"
[ "$b_unique" -ge 524288 ] && [ "$b_unique" -lt $((524288 * 105 / 100)) ] ||
    fail "b's unique bytes $b_unique do not match its 0.5 MiB of own data"
[ "$shared" -ge $MiB ] && [ "$shared" -lt $((MiB * 105 / 100)) ] || fail "shared bytes $shared do not match the 1 MiB both hold"
[ "$(jq_out '.unreferenced_bytes' "$T/stats.json")" = 0 ] || fail "a fresh repository has unreferenced bytes"

# Forget a's oldest snapshot, the one with its own data: that data is now
# unreferenced. By id: with --keep-last 3 it would stay, because a's second
# snapshot shrank (a-only left the backup) and an unhealthy snapshot does not
# fill a retention slot.
first_a=$(jq -r '[.[] | select(.source == "a")] | sort_by(.time) | .[0].id' "$T/snaps.json")
c_ok "forget a's first snapshot" forget "$first_a"
c_ok "stats after forget" stats --json
unref=$(jq_out '.unreferenced_bytes')
[ "$unref" -ge $((MiB + 786432)) ] && [ "$unref" -lt $(((MiB + 786432) * 105 / 100)) ] ||
    fail "after forget, $unref bytes are unreferenced instead of a's 1.75 MiB"
c_ok "stats as text" stats
grep -q "deduplication:" "$T/out" || fail "stats text lacks the deduplication line"

pass "sizes, dedup ratio, unique and shared bytes per source, unreferenced after forget"
