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
#    message, and the repository is as it was;
#  - copy local -> S3 -> another local repository and back: every snapshot
#    restores byte-identical from each side, a second copy is a no-op;
#  - settings from coffer.yaml's s3: block, credentials from a profile of a
#    credentials file, packs in STANDARD_IA and metadata in STANDARD; a
#    drill, forget --prune, check and restore on S3;
#  - init records that the server takes conditional writes; a second prune
#    is refused while one holds the exclusive lock, and a dead holder's lock
#    is cleared; the same on a server that ignores conditional headers
#    (init records nothing, locks fall back to write-then-list);
#  - https with a private CA: refused at once until the CA is given (then
#    init, backup, dump work), and refused for a host the certificate does
#    not name.
. "$(dirname "$0")/lib.sh"

s3_test_server
export COFFER_S3_RETRY_SECONDS=20
REPO=s3://$COFFER_S3_BUCKET/repo
export COFFER_REPOSITORY=$REPO
printf 'correct horse %s\n' "$RANDOM" >"$T/pw"
export COFFER_PASSWORD_FILE=$T/pw

c_ok "init on S3" init --kdf interactive
run_c init --kdf testonly
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
flip_byte "$pack" 1000
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
COFFER_DEBUG=1 run_c_in "$T/flaky" backup --stdin --name flaky
expect_ok "backup through a flaky server"
expect_err_match "retries logged with COFFER_DEBUG" "debug: S3 attempt [0-9]+ failed .*retrying in"
grep -qF "$AWS_SECRET_ACCESS_KEY" "$T/err" && fail "a debug line shows the secret"
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

# ---- copy: local -> S3 -> another local repository, and back -----------
# Every snapshot restores byte-identical from either side; copying again
# copies nothing and writes no object.
LOCAL=$T/local
OTHER=$T/other
printf 'other passphrase %s\n' "$RANDOM" >"$T/pw-other"
c_ok "init a local repository" init --repo "$LOCAL" --kdf testonly
make_tree "$T/tree"
c_ok "local backup of a tree" backup --repo "$LOCAL" "$T/tree"
gen_text 4 10 >"$T/db.sql"
run_c_in "$T/db.sql" backup --repo "$LOCAL" --stdin --name db --tag nightly
expect_ok "local backup of a stream"
printf 'changed\n' >>"$T/db.sql"
run_c_in "$T/db.sql" backup --repo "$LOCAL" --stdin --name db
expect_ok "second local backup of the stream"
COPY=s3://$COFFER_S3_BUCKET/copy
c_ok "init the S3 copy" init --repo "$COPY" --kdf testonly
c_ok "copy --dry-run" copy --repo "$LOCAL" --to "$COPY" --dry-run
grep -q "would copy 3 snapshots" "$T/out" || fail "dry run: $(cat "$T/out")"
c_ok "copy --tag nightly" copy --repo "$LOCAL" --to "$COPY" --tag nightly
grep -q "copied 1 snapshot " "$T/out" || fail "copy --tag copied: $(tail -n 1 "$T/out")"
c_ok "copy local -> S3" copy --repo "$LOCAL" --to "$COPY"
grep -q "copied 2 snapshots (1 already there)" "$T/out" || fail "copy: $(tail -n 1 "$T/out")"
objects_before=$(find "$COFFER_S3_DIR" -path "*copy/*" -name "*._S3rver_object" | wc -l)
c_ok "copy again" copy --repo "$LOCAL" --to "$COPY"
grep -q "copied 0 snapshots (3 already there)" "$T/out" || fail "a second copy: $(tail -n 1 "$T/out")"
objects_after=$(find "$COFFER_S3_DIR" -path "*copy/*" -name "*._S3rver_object" | wc -l)
[ "$objects_before" = "$objects_after" ] || fail "a second copy wrote objects ($objects_before -> $objects_after)"
c_ok "init another local repository" init --repo "$OTHER" --kdf testonly --password-file "$T/pw-other"
c_ok "copy S3 -> local" copy --repo "$COPY" --to "$OTHER" --to-password-file "$T/pw-other"
run_c copy --repo "$OTHER" --password-file "$T/pw-other" --to "$LOCAL"
expect_rc 12 "copy to a repository of another passphrase without --to-password-file"
expect_err_match "destination passphrase" "destination .*wrong passphrase"
expect_err_match "destination passphrase hint" "passphrase comes from --to-password-file"
c_ok "copy back to the first" copy --repo "$OTHER" --password-file "$T/pw-other" --to "$LOCAL" --to-password-file "$T/pw"
grep -q "copied 0 snapshots (3 already there)" "$T/out" || fail "copying back: $(tail -n 1 "$T/out")"
for side in "$LOCAL" "$COPY" "$OTHER"; do
    pw=$T/pw
    [ "$side" = "$OTHER" ] && pw=$T/pw-other
    c_ok "check --read-data of $side" check --repo "$side" --password-file "$pw" --read-data
    c_ok "snapshots of $side" snapshots --repo "$side" --password-file "$pw" --json
    [ "$(jq_out 'length')" = 3 ] || fail "$side holds $(jq_out 'length') snapshots, not 3"
    for id in $(jq_out '.[] | select(.source == "db") | .id'); do
        c_ok "dump $id from $side" dump --repo "$side" --password-file "$pw" "$id"
        sha_of <"$T/out" >>"$T/db-sums-$(basename "$side")"
    done
    rm -rf "$T/restored-copy"
    c_ok "restore the tree from $side" restore --repo "$side" --password-file "$pw" latest --source files \
        --to "$T/restored-copy"
    compare_trees "$T/tree" "$(restored_path "$T/restored-copy" "$T/tree")" "the tree restored from $side"
done
want=$( (head -c -8 "$T/db.sql" | sha_of; sha_of <"$T/db.sql") | sort)
for side in local copy other; do
    [ "$(sort "$T/db-sums-$side")" = "$want" ] || fail "the streams dumped from $side differ from what was backed up"
done

# ---- settings from coffer.yaml: credentials_file and profile, storage
# classes, connections; nothing secret in the file or on a command line --
printf '[default]\naws_access_key_id = WRONG\naws_secret_access_key = wrong\n\n[backup]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
    "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$T/aws-credentials"
chmod 600 "$T/aws-credentials"
cat >"$T/coffer.yaml" <<YAML
repository: s3://$COFFER_S3_BUCKET/configured
s3:
  endpoint: $COFFER_S3_ENDPOINT
  region: us-east-1
  path_style: true
  credentials_file: $T/aws-credentials
  profile: backup
  connections: 2
  retry_time: 20s
  storage_class: {data: STANDARD_IA, metadata: STANDARD}
sources:
  uploads:
    type: files
    paths: [$T/tree]
YAML
(
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY COFFER_S3_ENDPOINT COFFER_REPOSITORY COFFER_S3_RETRY_SECONDS
    export COFFER_CONFIG=$T/coffer.yaml
    c_ok "init from coffer.yaml's s3: block" init --kdf testonly
    run_c_in "$T/db.sql" backup --stdin --name db
    expect_ok "backup with credentials from a profile"
    c_ok "dump with credentials from a profile" dump latest --source db
    cmp -s "$T/db.sql" "$T/out" || fail "the stream dumped with the configured settings differs"
    c_ok "backup of the configured sources" backup
    c_ok "a second backup of them" backup
    c_ok "drill of a files source on S3" drill --source uploads
    grep -q "passed" "$T/out" || fail "the drill on S3 did not pass: $(cat "$T/out")"
    c_ok "forget --prune on S3" forget --keep-last 1 --prune
    c_ok "snapshots after forget" snapshots --source uploads --json
    [ "$(jq_out 'length')" = 1 ] || fail "forget kept $(jq_out 'length') snapshots of uploads, not 1"
    c_ok "check --read-data after forget --prune" check --read-data
    rm -rf "$T/restored-config"
    c_ok "restore after forget --prune" restore latest --source uploads --to "$T/restored-config"
    compare_trees "$T/tree" "$(restored_path "$T/restored-config" "$T/tree")" "the tree restored after prune"
    sed -i 's/profile: backup/profile: default/' "$T/coffer.yaml"
    run_c snapshots
    expect_rc 1 "snapshots with the profile holding a wrong key"
    expect_err_match "wrong profile" "InvalidAccessKeyId|SignatureDoesNotMatch|access denied"
    sed -i 's/profile: default/profile: missing/' "$T/coffer.yaml"
    run_c snapshots
    expect_rc 2 "snapshots with a profile the credentials file lacks"
    expect_err_match "missing profile" "has no profile \[missing\]"
) || exit 1
sign=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
    -H "x-amz-content-sha256: $(printf '' | sha_of)")
pack_key=$(cd "$COFFER_S3_DIR/data/$COFFER_S3_BUCKET" && find configured/data -name "*._S3rver_object" | head -n 1)
pack_key=${pack_key%._S3rver_object}
[ -n "$pack_key" ] || fail "no pack stored under the configured prefix"
curl -sS -I "${sign[@]}" "$COFFER_S3_ENDPOINT/$COFFER_S3_BUCKET/$pack_key" >"$T/head-pack" ||
    fail "HEAD of a pack failed"
grep -qi "^x-amz-storage-class: STANDARD_IA" "$T/head-pack" || fail "a pack is not in STANDARD_IA: $(cat "$T/head-pack")"
curl -sS -I "${sign[@]}" "$COFFER_S3_ENDPOINT/$COFFER_S3_BUCKET/configured/config" >"$T/head-config" ||
    fail "HEAD of config failed"
grep -qi "^x-amz-storage-class" "$T/head-config" && fail "config is not in STANDARD: $(cat "$T/head-config")"

# ---- locks: the server honours If-None-Match: *, so init recorded it, and
# an exclusive lock is one object that only one process can create --------
[ -n "$(find "$COFFER_S3_DIR" -path "*repo/conditional-writes._S3rver_object")" ] ||
    fail "init did not record that the server takes conditional writes"
# catch_prune REPO PATTERN: starts prunes of REPO until one is caught, stopped
# (SIGSTOP), holding its exclusive lock (an object matching PATTERN under
# the server's files); its pid in HELD.
catch_prune() {
    local repo=$1 pattern=$2 p
    HELD=""
    for attempt in 1 2 3 4 5 6 7 8; do
        "$COFFER" prune --repo "$repo" --quiet >/dev/null 2>&1 &
        p=$!
        for _ in $(seq 1 400); do
            if [ -n "$(find "$COFFER_S3_DIR" -path "$pattern" 2>/dev/null)" ]; then
                kill -STOP "$p" 2>/dev/null && HELD=$p
                break
            fi
            kill -0 "$p" 2>/dev/null || break
            sleep 0.005
        done
        [ -n "$HELD" ] && return 0
        wait "$p" || true
    done
    fail "could not catch a prune holding its exclusive lock"
}
# second_prune_refused_then_cleared REPO: a second prune is refused while
# HELD holds the lock; killed, its stale lock is cleared by the next prune.
second_prune_refused_then_cleared() {
    run_c prune --repo "$1"
    expect_rc 11 "a second prune while the first holds the exclusive lock"
    expect_err_match "second prune" "locked: an exclusive lock held by pid $HELD"
    disown "$HELD" # no "Killed" notice from the shell
    kill -9 "$HELD"
    while kill -0 "$HELD" 2>/dev/null; do sleep 0.05; done
    c_ok "prune after the holder died (its lock is stale)" prune --repo "$1"
    c_ok "check after the prunes" check --repo "$1" --read-data
}
catch_prune "$COPY" "*copy/locks/eeee*._S3rver_object"
second_prune_refused_then_cleared "$COPY"

# A server that ignores conditional headers, like older S3-compatible ones:
# init finds out and records nothing, and locks fall back to write-then-list.
"$REPO_ROOT/tests/s3/server.sh" stop >/dev/null 2>&1
COFFER_S3_IGNORE_CONDITIONAL=1 "$REPO_ROOT/tests/s3/server.sh" start >/dev/null ||
    fail "cannot restart the test S3 server"
OLD=s3://$COFFER_S3_BUCKET/old
c_ok "init on a server without conditional writes" init --repo "$OLD" --kdf testonly
[ -z "$(find "$COFFER_S3_DIR" -path "*old/conditional-writes*")" ] ||
    fail "init recorded conditional writes on a server that ignores them"
run_c_in "$T/db.sql" backup --repo "$OLD" --stdin --name db
expect_ok "backup on a server without conditional writes"
catch_prune "$OLD" "*old/locks/*._S3rver_object"
[ -z "$(find "$COFFER_S3_DIR" -path "*old/locks/eeee*")" ] || fail "the fallback lock used the exclusive object's name"
second_prune_refused_then_cleared "$OLD"
c_ok "dump after the prunes" dump --repo "$OLD" latest --source db
cmp -s "$T/db.sql" "$T/out" || fail "the stream dumped after the prunes differs"

# TLS: a server with a certificate from a private CA is refused at once
# (no retries, no fallback to http) until its CA is given; a certificate
# that does not name the host is refused even then.
"$REPO_ROOT/tests/s3/server.sh" stop >/dev/null 2>&1
COFFER_S3_TLS=1 "$REPO_ROOT/tests/s3/server.sh" start >/dev/null || fail "cannot start the test S3 server with TLS"
eval "$("$REPO_ROOT/tests/s3/server.sh" env)"
case $COFFER_S3_ENDPOINT in https://*) ;; *) fail "the TLS server's endpoint is $COFFER_S3_ENDPOINT" ;; esac
TLSREPO=s3://$COFFER_S3_BUCKET/tls
start=$SECONDS
run_c init --repo "$TLSREPO" --kdf testonly
expect_rc 1 "init on a server whose CA is not trusted"
expect_err_match "untrusted certificate" "certificate is not signed by a CA coffer trusts.*ca_file"
[ $((SECONDS - start)) -le 5 ] || fail "an untrusted certificate was retried for $((SECONDS - start)) s"
grep -q "tls/" "$COFFER_S3_DIR/proxy.log" && fail "a request got through an untrusted TLS connection"
COFFER_S3_CA_FILE=$COFFER_S3_TEST_CA c_ok "init with the CA given" init --repo "$TLSREPO" --kdf testonly
COFFER_S3_CA_FILE=$COFFER_S3_TEST_CA run_c_in "$T/db.sql" backup --repo "$TLSREPO" --stdin --name db
expect_ok "backup over TLS"
COFFER_S3_CA_FILE=$COFFER_S3_TEST_CA c_ok "dump over TLS" dump --repo "$TLSREPO" latest --source db
cmp -s "$T/db.sql" "$T/out" || fail "the stream dumped over TLS differs"
COFFER_S3_CA_FILE=$COFFER_S3_TEST_CA COFFER_S3_ENDPOINT=${COFFER_S3_ENDPOINT/127.0.0.1/localhost} \
    run_c snapshots --repo "$TLSREPO"
expect_rc 1 "a certificate that does not name the host"
expect_err_match "host name" "does not name this host"

pass "S3 repository: round trip, check, concurrency, pages, damage, wrong key, faults, copy, coffer.yaml, locks"
