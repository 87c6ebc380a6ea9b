#!/usr/bin/env bash
# drill.sh — trust: restore drills, health rules, status. Against a real
# PostgreSQL and a real Redis started here:
#  - a drill of a healthy stack (database with validation SQL, Redis, files,
#    env, git) passes, records an RTO, and `status` shows it;
#  - a backup taken after an orphaned message was inserted with triggers
#    off fails the drill (the orphan check, the foreign keys), exit 1, and
#    status shows the failure;
#  - a backdated newest snapshot fails max_age, a much smaller one fails
#    shrink_alert (check exits 3);
#  - a flipped byte in a pack: check --read-data reports it, check without
#    it does not claim to have read data;
#  - Ctrl-C during a drill leaves no scratch database, directory or
#    redis-server behind.
. "$(dirname "$0")/lib.sh"

PG=$REPO_ROOT/tests/pg
RT=$REPO_ROOT/tests/redis
export COFFER_PG_DIR=$T/pg COFFER_PG_PORT=${COFFER_PG_DRILL_PORT:-25445}
export COFFER_REDIS_DIR=$T/redis COFFER_REDIS_PORT=${COFFER_REDIS_DRILL_PORT:-26397}
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"
"$PG/server.sh" start >/dev/null || fail "cannot start the test PostgreSQL server"
on_exit '"$PG/server.sh" stop >/dev/null 2>&1'
"$RT/server.sh" start >/dev/null || fail "cannot start the test redis-server"
on_exit '"$RT/server.sh" stop >/dev/null 2>&1'
eval "$("$PG/server.sh" env)"
"$PG/make-db.sh" app 0.5 >/dev/null || fail "cannot generate the test database"
"$RT/populate.sh" 3000 || fail "cannot fill the test redis-server"

APP=$T/app
mkdir -p "$APP/uploads"
gen_random 300000 1 >"$APP/uploads/a.bin"
printf 'hello\n' >"$APP/uploads/b.txt"
printf 'APP=shop\nAPI_KEY=secret%s\n' "$RANDOM" >"$APP/.env"
git init -q "$APP/code"
printf 'print(1)\n' >"$APP/code/app.py"
git -C "$APP/code" add -A && git -C "$APP/code" -c user.email=t@example.com -c user.name=t commit -qm one ||
    fail "cannot commit"

new_repo repo
URL=postgresql://postgres@127.0.0.1:$COFFER_PG_PORT
cat >"$T/coffer.yaml" <<YAML
objectives: { rpo: 1h, rto: 10m }
drill:
  postgres:
    scratch_url: $URL/postgres
    checks:
      - name: customers present
        sql: SELECT count(*) > 0 FROM customer_configs WHERE created_at IS NOT NULL
      - name: no orphaned messages
        sql: SELECT count(*) = 0 FROM messages m LEFT JOIN conversations c ON m.conversation_id = c.id WHERE c.id IS NULL
      - name: users counted
        sql: SELECT count(*) FROM users
        expect: "$(psql -X -At -d app -c 'SELECT count(*) FROM users')"
sources:
  db:      { type: postgres, url: "$URL/app", password_file: $COFFER_PG_DIR/password }
  cache:   { type: redis, url: "redis://127.0.0.1:$COFFER_REDIS_PORT" }
  uploads: { type: files, paths: [$APP/uploads] }
  config:  { type: env, paths: [$APP/.env] }
  code:    { type: git, path: $APP/code }
YAML
export COFFER_CONFIG=$T/coffer.yaml
scratch_dbs() { psql -X -At -d postgres -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'coffer_drill_%'"; }
# The drill's redis-servers: those working in a directory under TMPDIR
# (redis-server changes into its --dir).
drill_servers() { for p in $(pgrep -x redis-server); do readlink "/proc/$p/cwd"; done | grep -c "^$TMPDIR/"; }

# --- a healthy stack -----------------------------------------------------
c_ok "backup of the stack" backup
c_ok "check" check
c_ok "drill of a healthy stack" drill
for s in db cache uploads config code; do
    grep -q "^drill $s (snapshot .*): passed in" "$T/out" || { _show_last; fail "the drill of $s did not pass"; }
done
grep -q "tables and row counts .* 8 tables, .* rows, as at backup" "$T/out" || { _show_last; fail "no row count step"; }
grep -q "no orphaned messages .* got t" "$T/out" || { _show_last; fail "the configured orphan check did not run"; }
grep -q "keys .* 3000 keys in 1 database" "$T/out" || { _show_last; fail "the Redis key counts were not compared"; }
grep -q "git bundle verify .* the bundle is complete" "$T/out" || { _show_last; fail "the git bundle was not verified"; }
[ "$(scratch_dbs)" = 0 ] || fail "a passed drill left its scratch database"
[ -z "$(ls "$TMPDIR")" ] || fail "a passed drill left files in TMPDIR: $(ls "$TMPDIR")"
c_ok "status after a passed drill" status
grep -q "drill .* passed, RTO [0-9.]* s (objective 10m)" "$T/out" || { _show_last; fail "status does not show the drill and its RTO"; }
grep -q "all objectives and rules met" "$T/out" || { _show_last; fail "status is not all-clear"; }
c_ok "status --json" status --json
[ "$(jq_out '.sources | map(select(.source == "db")) | .[0].last_drill.ok')" = true ] || fail "status --json lacks the drill"

# --- an orphaned row -------------------------------------------------------
psql -X -q -d app -c "SET session_replication_role = replica;
    INSERT INTO messages (conversation_id, seq, role, content, created_at)
    VALUES ('00000000-0000-0000-0000-00000000dead', 1, 'user', 'orphan', now())" || fail "cannot insert the orphan"
c_ok "backup with an orphan" backup db
run_c drill --source db
expect_rc 1 "drill of a database with an orphaned message"
grep -q "FAIL  no orphaned messages .* got f, expected true" "$T/out" || { _show_last; fail "the orphan check did not fail"; }
grep -q "FAIL  foreign keys .* the dump has" "$T/out" || { _show_last; fail "the missing foreign key was not noticed"; }
[ "$(scratch_dbs)" = 0 ] || fail "a failed drill left its scratch database (keep_on_failure is off)"
run_c status
expect_rc 3 "status after a failed drill"
grep -q "PROBLEM  drill: the last drill failed at: .*no orphaned messages" "$T/out" || { _show_last; fail "status does not show the failed drill"; }
psql -X -q -d app -c "DELETE FROM messages WHERE conversation_id = '00000000-0000-0000-0000-00000000dead'"

# --- health rules ----------------------------------------------------------
c_ok "backup of uploads" backup uploads
printf 'x\n' >"$T/small"
run_c_in "$T/small" backup --stdin --name stale --time 2025-01-01T00:00:00Z
expect_ok "a backdated snapshot"
run_c check --source stale
expect_rc 3 "check of a source whose newest snapshot is old"
expect_err_match "max_age" "health: stale: max_age: the newest snapshot is .* old \(health.max_age allows 1d 1h\)"
gen_random 1000000 5 >"$T/big"
run_c_in "$T/big" backup --stdin --name shrinking
expect_ok "a large snapshot"
run_c_in "$T/small" backup --stdin --name shrinking
expect_ok "a small one after it"
run_c check --source shrinking
expect_rc 3 "check of a source whose newest snapshot shrank"
expect_err_match "shrink_alert" "health: shrinking: shrink_alert: the newest snapshot holds 2 B, 0% of the 976.6 KiB before it"
c_ok "check of a healthy source" check --source uploads

# --- damage ----------------------------------------------------------------
pack=$(find "$COFFER_REPOSITORY/data" -type f -size +100k | head -n 1)
[ -n "$pack" ] || fail "no pack to damage"
cp "$pack" "$T/pack-copy"
flip_byte "$pack" 5000
run_c check
grep -q "(read" "$T/out" && fail "check without --read-data claims to have read data"
grep -q "damage:" "$T/err" && fail "check without --read-data reports damage it could not have seen"
run_c check --read-data
expect_rc 1 "check --read-data of a flipped byte"
grep -q "^damage: pack $(basename "$pack")" "$T/err" || { _show_last; fail "check --read-data does not name the damaged pack"; }
cp "$T/pack-copy" "$pack"

# --- partial reads cover everything ------------------------------------------
c_ok "check, for the pack count" check --json
packs=$(jq_out '.packs')
read_total=0
for i in 1 2 3 4; do
    c_ok "check --read-data=25% ($i)" check --read-data=25% --json
    [ "$(jq_out '.read_slice')" = $((i - 1)) ] || fail "partial check $i read slice $(jq_out '.read_slice'), not $((i - 1))"
    read_total=$((read_total + $(jq_out '.packs_read')))
done
[ "$read_total" = "$packs" ] || fail "four checks of 25% read $read_total packs, not the $packs there are"
c_ok "check --read-data=25% (5)" check --read-data=25% --json
[ "$(jq_out '.read_slice')" = 0 ] || fail "the fifth partial check does not start over"

# --- keep_on_failure -----------------------------------------------------------
sed 's/^    scratch_url: .*/&\n    keep_on_failure: true/' "$T/coffer.yaml" >"$T/keep.yaml"
psql -X -q -d app -c "SET session_replication_role = replica;
    INSERT INTO messages (conversation_id, seq, role, content, created_at)
    VALUES ('00000000-0000-0000-0000-00000000beef', 1, 'user', 'orphan', now())" || fail "cannot insert the orphan"
c_ok "backup with an orphan" backup db
run_c drill --source db --config "$T/keep.yaml"
expect_rc 1 "drill with keep_on_failure"
kept_db=$(sed -n 's/.*kept for inspection: database \([a-z0-9_]*\) on the scratch server.*/\1/p' "$T/out")
[ -n "$kept_db" ] || { _show_last; fail "a kept drill does not say where"; }
[ "$(scratch_dbs)" = 1 ] || fail "keep_on_failure did not keep the scratch database"
psql -X -At -d "$kept_db" -c "SELECT count(*) FROM messages WHERE conversation_id = '00000000-0000-0000-0000-00000000beef'" |
    grep -qx 1 || fail "the kept database does not hold the orphan"
psql -X -q -d postgres -c "DROP DATABASE \"$kept_db\""
rm -rf "${TMPDIR:?}"/coffer-drill-*
psql -X -q -d app -c "DELETE FROM messages WHERE conversation_id = '00000000-0000-0000-0000-00000000beef'"

# --- drills that cannot run -------------------------------------------------------
grep -v "scratch_url" "$T/coffer.yaml" >"$T/no-scratch.yaml"
run_c drill --source db --config "$T/no-scratch.yaml"
expect_rc 1 "drill of a database without a scratch server"
grep -q "FAIL  restore .*no scratch server: set drill.postgres.scratch_url" "$T/out" ||
    { _show_last; fail "a drill without scratch_url does not say what is missing"; }
[ "$(scratch_dbs)" = 0 ] || fail "a drill without a scratch server created a database"
run_c drill --source nothing-here
expect_rc 1 "drill of a source without snapshots"
expect_err_match "drill of a source without snapshots" "source nothing-here has no snapshot to drill"

# --- interrupted -------------------------------------------------------------
"$PG/make-db.sh" app 3 >/dev/null || fail "cannot grow the test database"
c_ok "backup of a larger database" backup db
"$COFFER" drill --source db >"$T/drill-int.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ "$(scratch_dbs)" = 1 ] && break; sleep 0.05; done
[ "$(scratch_dbs)" = 1 ] || fail "the drill did not create its scratch database"
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" = 130 ] || { cat "$T/drill-int.out" >&2; fail "an interrupted drill exited $rc, not 130"; }
grep -q "interrupted" "$T/drill-int.out" || fail "an interrupted drill does not say so"
[ "$(scratch_dbs)" = 0 ] || fail "an interrupted drill left its scratch database"
[ -z "$(ls "$TMPDIR")" ] || fail "an interrupted drill left files in TMPDIR: $(ls "$TMPDIR")"
redis-cli -p "$COFFER_REDIS_PORT" DEBUG POPULATE 3000000 big 100 >/dev/null # seconds to load
c_ok "backup of the cache" backup cache
"$COFFER" drill --source cache >"$T/drill-int.out" 2>&1 &
pid=$!
for _ in $(seq 1 300); do [ "$(drill_servers)" -ge 1 ] && break; sleep 0.02; done
[ "$(drill_servers)" -ge 1 ] || fail "the Redis drill started no redis-server"
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" = 130 ] || { cat "$T/drill-int.out" >&2; fail "an interrupted Redis drill exited $rc, not 130"; }
[ "$(drill_servers)" = 0 ] || fail "an interrupted drill left its redis-server running"
[ -z "$(ls "$TMPDIR")" ] || fail "an interrupted Redis drill left files in TMPDIR: $(ls "$TMPDIR")"

pass "drills pass and fail as they should, health rules, damage, interrupts clean up"
