#!/usr/bin/env bash
# s3.sh — a repository on S3: against s3rver behind a proxy that checks
# every request's Signature V4 with AWS's own signer (tests/s3/):
#  - init, backups of a tree and a stream, restore byte-identical, check
#    --read-data; concurrent backups; more than 1,000 objects under one
#    prefix (listing pages);
#  - a flipped byte in a stored pack is found by check --read-data;
#  - a wrong secret key fails at once with the server's words, exit 1;
#  - a proxy answering 503 to every fifth request, resetting every seventh
#    connection, cutting every eleventh body short: backup, restore and
#    check still succeed with identical results; every request failing:
#    the command gives up within COFFER_S3_RETRY_SECONDS with a clear
#    message, and the repository is as it was.
. "$(dirname "$0")/lib.sh"

S3T=$REPO_ROOT/tests/s3
export COFFER_S3_DIR=$T/s3 COFFER_S3_PORT=${COFFER_S3_TEST_PORT:-27480} COFFER_S3_BUCKET=coffer-test
"$S3T/server.sh" start >/dev/null || fail "cannot start the test S3 server"
on_exit '"$S3T/server.sh" stop >/dev/null 2>&1'
eval "$("$S3T/server.sh" env)"
export COFFER_S3_RETRY_SECONDS=20
REPO=s3://$COFFER_S3_BUCKET/repo
export COFFER_REPOSITORY=$REPO
printf 'correct horse %s\n' "$RANDOM" >"$T/pw"
export COFFER_PASSWORD_FILE=$T/pw

c_ok "init on S3" init --kdf interactive
run_c init --kdf interactive
expect_rc 1 "init where a repository exists"

mkdir -p "$T/src/sub"
gen_random 3000000 1 >"$T/src/a.bin"
gen_random 100000 2 >"$T/src/sub/b.bin"
printf 'hello\n' >"$T/src/sub/c.txt"
c_ok "backup of a tree" backup "$T/src"
gen_random 20000000 3 >"$T/stream"
run_c_in "$T/stream" backup --stdin --name stream
expect_ok "backup of a stream"
c_ok "restore the tree" restore latest --source files --to "$T/restored"
diff -r "$T/src" "$T/restored$T/src" >/dev/null || fail "the tree restored from S3 differs"
c_ok "dump the stream" dump latest --source stream
cmp -s "$T/stream" "$T/out" || fail "the stream dumped from S3 differs"
c_ok "check --read-data on S3" check --read-data

# Two backups at once.
gen_random 2000000 4 >"$T/s1"
gen_random 2000000 5 >"$T/s2"
"$COFFER" backup --stdin --name c1 --quiet <"$T/s1" &
p1=$!
"$COFFER" backup --stdin --name c2 --quiet <"$T/s2" &
p2=$!
wait "$p1" || fail "a concurrent backup failed"
wait "$p2" || fail "the other concurrent backup failed"
c_ok "dump c1" dump latest --source c1
cmp -s "$T/s1" "$T/out" || fail "a concurrent backup does not dump back"

# More than 1,000 objects under one prefix: snapshots, listed in pages.
cmake --build "$(dirname "$COFFER")" --target mksnapshots >/dev/null 2>&1 ||
    fail "cannot build bench/mksnapshots"
"$(dirname "$COFFER")/mksnapshots" "$REPO" 1100 1500000000 1600000000 7 >/dev/null || fail "mksnapshots failed"
c_ok "snapshots after 1,100 more" snapshots --json
[ "$(jq_out 'length')" = 1104 ] || fail "listing found $(jq_out 'length') snapshots, not 1104"

# A flipped byte in a pack, on the server's disk.
pack=$(find "$COFFER_S3_DIR" -path "*repo/data/*" -type f -size +1M -name "*._S3rver_object" | head -n 1)
[ -n "$pack" ] || fail "no pack found in the server's directory"
cp "$pack" "$T/pack-copy"
printf '\xff' | dd of="$pack" bs=1 seek=1000 conv=notrunc 2>/dev/null
run_c check --read-data
expect_rc 1 "check --read-data with a flipped byte on S3"
grep -q "damage: pack" "$T/err" || { _show_last; fail "check does not name the damaged pack"; }
cp "$T/pack-copy" "$pack"

# A wrong secret.
AWS_SECRET_ACCESS_KEY=wrong-$RANDOM run_c snapshots
expect_rc 1 "snapshots with a wrong secret key"
expect_err_match "wrong secret" "SignatureDoesNotMatch|InvalidAccessKeyId|access denied"
grep -q "wrong-" "$T/err" && fail "the error shows the secret"

# A flaky server: 503 to every fifth request, a reset connection every
# seventh, a body cut short every eleventh. Everything still works, and
# gives the same bytes.
printf 'COFFER_S3_FAULT_503_EVERY=5\nCOFFER_S3_FAULT_RESET_EVERY=7\nCOFFER_S3_FAULT_TRUNCATE_EVERY=11\n' >"$COFFER_S3_DIR/faults"
gen_random 6000000 8 >"$T/flaky"
run_c_in "$T/flaky" backup --stdin --name flaky
expect_ok "backup through a flaky server"
c_ok "dump through a flaky server" dump latest --source flaky
cmp -s "$T/flaky" "$T/out" || fail "the stream dumped through a flaky server differs"
rm -rf "$T/restored"
c_ok "restore through a flaky server" restore latest --source files --to "$T/restored"
diff -r "$T/src" "$T/restored$T/src" >/dev/null || fail "the tree restored through a flaky server differs"
c_ok "check --read-data through a flaky server" check --read-data
grep -q " 503 " "$COFFER_S3_DIR/proxy.log" || fail "the proxy injected no 503"

# A dead server: every request fails. The command gives up within the retry
# time with a clear message, and the repository is as it was.
printf 'COFFER_S3_FAULT_ALL=1\n' >"$COFFER_S3_DIR/faults"
start=$SECONDS
COFFER_S3_RETRY_SECONDS=5 run_c_in "$T/flaky" backup --stdin --name dead
expect_rc 1 "backup to a server that answers 503 to everything"
[ $((SECONDS - start)) -le 30 ] || fail "the failing backup took $((SECONDS - start)) s, not about 5"
expect_err_match "dead server" "giving up after [0-9]+ attempts .*HTTP 503"
rm -f "$COFFER_S3_DIR/faults"
c_ok "snapshots after the failed backup" snapshots --json
[ "$(jq_out '[.[] | select(.source == "dead")] | length')" = 0 ] || fail "a failed backup left a snapshot"
c_ok "check after the failed backup" check --read-data

pass "S3 repository: round trip, check, concurrency, pages, damage, wrong key, faults"
