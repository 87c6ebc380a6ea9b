#!/usr/bin/env bash
# s3-faults.sh — answers to a listing that are not a complete S3 listing
# fail the command, and lose nothing (issue 12, D2). Against the loopback S3
# server of tests/s3 with its listing faults (README there):
#  - a listing of snapshots/ or data/ answered 200 text/html (a proxy's or a
#    website's page): `snapshots` and `prune` fail naming that listing and
#    saying it was not a ListBucketResult; the old reader took it as "no
#    objects", so `snapshots` showed 0 and prune deleted every pack;
#  - the same listings with the XML cut mid-way (after a whole <Contents>,
#    in an answer whose Content-Length matches, so HTTP sees nothing wrong):
#    both fail naming the listing as cut short; the old reader took the
#    keys before the cut as the whole listing;
#  - after the faults are off every pack is still there, byte for byte,
#    `check --read-data` passes and every snapshot restores byte-identical;
#  - a repository whose prefix holds '&' (every key S3 lists comes back as
#    `&amp;`): init, backup, snapshots, restore, prune, check all work (the
#    old reader never matched such a key, so the repository had no keys).
. "$(dirname "$0")/lib.sh"

export COFFER_S3_TEST_PORT=${COFFER_S3_TEST_PORT:-27490}
s3_test_server
export COFFER_S3_RETRY_SECONDS=10
REPO=s3://$COFFER_S3_BUCKET/faults
export COFFER_REPOSITORY=$REPO
printf 'correct horse %s\n' "$RANDOM" >"$T/pw"
export COFFER_PASSWORD_FILE=$T/pw

# pack_sums : "name sha256" of every pack object on the server's disk
pack_sums() {
    (cd "$(repo_files "$REPO")" && find data -name "*._S3rver_object" -exec sha256sum {} + | sort -k2)
}
# restores_all WHAT : every snapshot still listed, each restoring byte-identical
restores_all() {
    c_ok "snapshots ($1)" snapshots --json
    [ "$(jq_out 'length')" = 4 ] || fail "$1: $(jq_out 'length') snapshots listed, not 4"
    for n in 1 2 3; do
        c_ok "dump stream s$n ($1)" dump latest --source "s$n"
        cmp -s "$T/stream-$n" "$T/out" || fail "$1: the stream s$n dumps back different"
    done
    rm -rf "$T/restored"
    c_ok "restore the tree ($1)" restore latest --source files --to "$T/restored"
    compare_trees "$T/tree" "$(restored_path "$T/restored" "$T/tree")" "the tree restored ($1)"
}

c_ok "init" init --kdf testonly
make_tree "$T/tree"
c_ok "backup of a tree" backup "$T/tree"
for n in 1 2 3; do
    gen_random $((700000 * n)) "$n" >"$T/stream-$n"
    run_c_in "$T/stream-$n" backup --stdin --name "s$n"
    expect_ok "backup of stream s$n"
done
pack_sums >"$T/packs-before"
[ "$(wc -l <"$T/packs-before")" -ge 2 ] || fail "the repository has $(wc -l <"$T/packs-before") packs, not 2 or more"
restores_all "before any fault"

# fault_on KIND FOLDER : the listing fault KIND (LIST_HTML or LIST_CUT) on
# every listing of FOLDER/ of this repository
fault_on() { printf 'COFFER_S3_FAULT_%s=1\nCOFFER_S3_FAULT_LIST_MATCH=faults/%s/\n' "$1" "$2" >"$COFFER_S3_DIR/faults"; }
fault_off() { rm -f "$COFFER_S3_DIR/faults"; }

html="was not a ListBucketResult \(got text/html; charset=utf-8 body starting '<!DOCTYPE html> <html>.*the endpoint may be a proxy or website, not S3"
cut="is not well-formed XML \(.*\): the answer was cut short or damaged on the way"

fault_on LIST_HTML snapshots
run_c snapshots
expect_rc 1 "snapshots with the listing of snapshots/ answered by a web page"
expect_err_match "the web page named" "S3 listing of faults/snapshots/ $html"
grep -q "fault=list-html" "$COFFER_S3_DIR/proxy.log" || fail "the proxy injected no web page"
run_c prune
expect_rc 1 "prune with the listing of snapshots/ answered by a web page"
expect_err_match "the web page named, for prune" "S3 listing of faults/snapshots/ $html"

fault_on LIST_HTML data
run_c prune
expect_rc 1 "prune with the listing of data/ answered by a web page"
expect_err_match "the web page named, for data/" "S3 listing of faults/data/ $html"

fault_on LIST_CUT snapshots
run_c snapshots
expect_rc 1 "snapshots with the listing of snapshots/ cut short"
expect_err_match "the cut listing named" "S3 listing of faults/snapshots/ $cut"
grep -q "fault=list-cut" "$COFFER_S3_DIR/proxy.log" || fail "the proxy cut no listing"
run_c forget --keep-last 1 --prune
expect_rc 1 "forget --prune with the listing of snapshots/ cut short"
expect_err_match "the cut listing named, for forget" "S3 listing of faults/snapshots/ $cut"
run_c prune
expect_rc 1 "prune with the listing of snapshots/ cut short"
expect_err_match "the cut listing named, for prune" "S3 listing of faults/snapshots/ $cut"

fault_on LIST_CUT data
run_c prune
expect_rc 1 "prune with the listing of data/ cut short"
expect_err_match "the cut listing named, for data/" "S3 listing of faults/data/ $cut"

fault_off
pack_sums >"$T/packs-after"
diff "$T/packs-before" "$T/packs-after" >/dev/null ||
    fail "packs changed while the listings were bad: $(diff "$T/packs-before" "$T/packs-after" | head -n 5)"
c_ok "check --read-data after the faults" check --read-data
restores_all "after the faults"
c_ok "prune after the faults" prune
restores_all "after a prune with good listings"

# ---- a prefix with '&': every listed key arrives as &amp; ---------------
AMP=s3://$COFFER_S3_BUCKET/a\&b/repo
c_ok "init under a prefix with &" init --repo "$AMP" --kdf testonly
c_ok "backup under a prefix with &" backup --repo "$AMP" "$T/tree"
run_c_in "$T/stream-1" backup --repo "$AMP" --stdin --name s1
expect_ok "backup of a stream under a prefix with &"
c_ok "snapshots under a prefix with &" snapshots --repo "$AMP" --json
[ "$(jq_out 'length')" = 2 ] || fail "under a&b/: $(jq_out 'length') snapshots listed, not 2"
c_ok "forget --prune under a prefix with &" forget --repo "$AMP" --keep-last 1 --prune
c_ok "check --read-data under a prefix with &" check --repo "$AMP" --read-data
rm -rf "$T/restored"
c_ok "restore under a prefix with &" restore --repo "$AMP" latest --source files --to "$T/restored"
compare_trees "$T/tree" "$(restored_path "$T/restored" "$T/tree")" "the tree restored from a&b/"
c_ok "dump under a prefix with &" dump --repo "$AMP" latest --source s1
cmp -s "$T/stream-1" "$T/out" || fail "the stream dumped from a&b/ differs"

pass "S3 listings that are a web page or cut short fail the command and lose nothing; keys with & round-trip"
