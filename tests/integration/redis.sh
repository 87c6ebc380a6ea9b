#!/usr/bin/env bash
# redis.sh — the Redis source against a real redis-server started here
# (tests/redis/server.sh, ports of its own): 200,000 keys of every type, a
# fifth with expiries, back up over the replication protocol and restore to
# an RDB that a fresh server loads with the same data (DBSIZE, and type,
# value and expiry of 1,000 keys); the same through coffer.yaml with
# requirepass and a password file (the password never shows); over TLS
# with a test CA (and refused without it); a wrong password, no password, a
# server that is down, rediss:// to a plain server and a server killed in
# the middle of the transfer fail the backup and record no snapshot.
. "$(dirname "$0")/lib.sh"

RT=$REPO_ROOT/tests/redis
PORT=${COFFER_REDIS_TEST_PORT:-26391}
PORT2=$((PORT + 1))
export COFFER_REDIS_DIR=$T/redis COFFER_REDIS_PORT=$PORT
"$RT/server.sh" start >/dev/null || fail "cannot start the test redis-server"
on_exit 'COFFER_REDIS_DIR=$T/redis "$RT/server.sh" stop >/dev/null 2>&1'
on_exit 'COFFER_REDIS_DIR=$T/redis2 "$RT/server.sh" stop >/dev/null 2>&1'
"$RT/populate.sh" 200000 || fail "cannot fill the test redis-server"
URL=redis://127.0.0.1:$PORT
new_repo repo
snapshot_count() { run_c snapshots --json --source cache; expect_ok "snapshots"; jq_out 'length'; }

# --- back up, restore, load into a fresh server ---------------------------
c_ok "backup of Redis" backup --redis "$URL" --name cache
run_c snapshots --json --source cache
cp "$T/out" "$T/snapshots.json"
[ "$(jq_out '.[0].type')" = redis ] || fail "snapshot type is not redis"
[ "$(jq_out '.[0].meta.keys.db0')" = 200000 ] || fail "metadata does not count 200000 keys in db0"
[ "$(jq_out '.[0].meta.checksum')" = crc64 ] || fail "the RDB's checksum was not checked"
jq_out '.[0].meta.redis_version' | grep -q '^[0-9]' || fail "metadata lacks redis_version"
[ "$(jq_out '.[0].meta.used_memory')" -gt 0 ] || fail "metadata lacks used_memory"

c_ok "restore to an RDB file" restore latest cache --to "$T/restored.rdb"
[ "$(stat -c %s "$T/restored.rdb")" = "$(jq_out '.[0].meta.rdb_bytes' "$T/snapshots.json")" ] || fail "restored RDB has the wrong length"
COFFER_REDIS_DIR=$T/redis2 COFFER_REDIS_PORT=$PORT2 "$RT/server.sh" start "$T/restored.rdb" >/dev/null ||
    fail "a fresh redis-server does not start on the restored RDB"
"$RT/compare.sh" "$PORT" "$PORT2" 1000 >"$T/compare" || { cat "$T/compare" >&2; fail "the restored data differs"; }
note "$(cat "$T/compare")"
COFFER_REDIS_DIR=$T/redis2 "$RT/server.sh" stop

c_ok "restore to a directory" restore latest cache --to "$T/dir"
cmp -s "$T/dir/dump.rdb" "$T/restored.rdb" || fail "dump.rdb in a directory differs from the .rdb restore"

# --- requirepass, through coffer.yaml ---------------------------------------
printf 'r3dis-s3cret-%s\n' "$RANDOM" >"$T/redis-pass"
chmod 600 "$T/redis-pass"
redis-cli -p "$PORT" CONFIG SET requirepass "$(cat "$T/redis-pass")" >/dev/null
cat >"$T/coffer.yaml" <<YAML
sources:
  cache:
    type: redis
    url: $URL
    password_file: $T/redis-pass
YAML
COFFER_CONFIG=$T/coffer.yaml c_ok "configured backup with requirepass" backup cache
expect_no_output_match "configured backup with requirepass" "$(cat "$T/redis-pass")"
before=$(snapshot_count)
[ "$before" = 2 ] || fail "expected 2 snapshots, found $before"

# A server that writes RDB files without a checksum (rdbchecksum can only be
# set at start): saved, with a warning (exit code 3) and "checksum": "none".
NOSUM_PORT=$((PORT + 3))
mkdir -p "$T/nosum"
redis-server --port "$NOSUM_PORT" --bind 127.0.0.1 --rdbchecksum no --save "" --daemonize yes \
    --pidfile "$T/nosum/redis.pid" --logfile "$T/nosum/redis.log" --dir "$T/nosum" || fail "cannot start a redis-server without checksums"
on_exit 'kill "$(cat "$T/nosum/redis.pid" 2>/dev/null)" 2>/dev/null'
for _ in $(seq 1 100); do [ "$(redis-cli -p "$NOSUM_PORT" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
redis-cli -p "$NOSUM_PORT" set some key >/dev/null
run_c backup --redis "redis://127.0.0.1:$NOSUM_PORT" --name unchecked
expect_rc 3 "backup of an RDB without a checksum"
expect_err_match "backup of an RDB without a checksum" "without a checksum"
run_c snapshots --json --source unchecked
[ "$(jq_out '.[0].meta.checksum')" = none ] || fail "an unchecked RDB is not marked checksum none"

# --- TLS (rediss://): a server with a certificate from a test CA ----------------
TLS=$T/tls
mkdir -p "$TLS"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TLS/ca.key" -out "$TLS/ca.crt" -days 2 -subj "/CN=coffer test CA" 2>/dev/null &&
    openssl req -newkey rsa:2048 -nodes -keyout "$TLS/server.key" -out "$TLS/server.csr" -subj "/CN=localhost" 2>/dev/null &&
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$TLS/ext.cnf" &&
    openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" -CAcreateserial -out "$TLS/server.crt" \
        -days 2 -extfile "$TLS/ext.cnf" 2>/dev/null || fail "cannot make test certificates"
TLS_PORT=$((PORT + 2))
redis-server --port 0 --tls-port "$TLS_PORT" --bind 127.0.0.1 --tls-cert-file "$TLS/server.crt" \
    --tls-key-file "$TLS/server.key" --tls-ca-cert-file "$TLS/ca.crt" --tls-auth-clients no --save "" --enable-debug-command local \
    --daemonize yes --pidfile "$TLS/redis.pid" --logfile "$TLS/redis.log" --dir "$TLS" || fail "cannot start a TLS redis-server"
on_exit 'kill "$(cat "$T/tls/redis.pid" 2>/dev/null)" 2>/dev/null'
for _ in $(seq 1 100); do
    [ "$(redis-cli --tls --cacert "$TLS/ca.crt" -p "$TLS_PORT" ping 2>/dev/null)" = PONG ] && break
    sleep 0.05
done
redis-cli --tls --cacert "$TLS/ca.crt" -p "$TLS_PORT" DEBUG POPULATE 1000 >/dev/null
c_ok "backup over TLS" backup --redis "rediss://127.0.0.1:$TLS_PORT" --name tlscache --tls-ca-file "$TLS/ca.crt"
c_ok "backup over TLS, by host name" backup --redis "rediss://localhost:$TLS_PORT" --name tlscache --tls-ca-file "$TLS/ca.crt"
run_c snapshots --json --source tlscache
[ "$(jq_out '.[0].meta.keys.db0')" = 1000 ] || fail "the TLS backup does not count 1000 keys"
run_c backup --redis "rediss://127.0.0.1:$TLS_PORT" --name tlscache
expect_nonzero "TLS server whose CA is not trusted"
expect_err_match "TLS server whose CA is not trusted" "TLS handshake .* failed: .*certificate"

# --- failures: no snapshot, a clear message ------------------------------------
printf 'not-the-password\n' >"$T/wrong-pass"
run_c backup --redis "$URL" --name cache --db-password-file "$T/wrong-pass"
expect_nonzero "wrong Redis password"
expect_err_match "wrong Redis password" "authentication failed"
expect_no_output_match "wrong Redis password" "not-the-password"
run_c backup --redis "$URL" --name cache
expect_nonzero "no Redis password"
expect_err_match "no Redis password" "NOAUTH|authentication required"
run_c backup --redis "redis://127.0.0.1:1" --name cache
expect_nonzero "Redis server down"
expect_err_match "Redis server down" "cannot connect to Redis at 127.0.0.1:1"
run_c backup --redis "rediss://127.0.0.1:$PORT" --name cache
expect_nonzero "rediss:// URL to a server without TLS"
expect_err_match "rediss:// URL to a server without TLS" "TLS handshake"
[ "$(snapshot_count)" = "$before" ] || fail "a failed backup recorded a snapshot"

# The server dies during the transfer: coffer is paused once the server is
# sending the RDB (about 200 MB, far more than socket buffers hold), the
# server is killed, coffer resumes and must fail.
redis-cli -p "$PORT" -a "$(cat "$T/redis-pass")" --no-auth-warning DEBUG POPULATE 2000000 big 100 >/dev/null
"$COFFER" backup --redis "$URL" --name cache --db-password-file "$T/redis-pass" >"$T/killed.out" 2>"$T/killed.err" &
cpid=$!
state=
for _ in $(seq 1 600); do
    state=$(redis-cli -p "$PORT" -a "$(cat "$T/redis-pass")" --no-auth-warning INFO replication 2>/dev/null |
        sed -n 's/^slave0:.*state=\([a-z_]*\).*/\1/p')
    [ "$state" = send_bulk ] && break
    sleep 0.02
done
[ "$state" = send_bulk ] || { kill "$cpid" 2>/dev/null; fail "the transfer never started (state: $state)"; }
kill -STOP "$cpid"
"$RT/server.sh" kill
kill -CONT "$cpid"
wait "$cpid"
rc=$?
[ "$rc" != 0 ] || fail "backup succeeded although the server died mid-transfer"
grep -Eqi "transfer stopped|closed the connection" "$T/killed.err" || { cat "$T/killed.err" >&2; fail "killed-server failure does not say why"; }
[ "$(snapshot_count)" = "$before" ] || fail "a snapshot was recorded for the transfer the server died in"
c_ok "check --read-data after the failed backups" check --read-data

pass "200000 keys round trip, requirepass from coffer.yaml, TLS, 6 failure modes"
