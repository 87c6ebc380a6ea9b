#!/usr/bin/env bash
# stack.sh — one coffer.yaml for a whole application stack (PostgreSQL,
# Redis, .env files, uploads, a git repository, an export command), each
# server real and started here: one `coffer backup` saves every source,
# and all the snapshots of the run share a run id and the application's
# git revision; every source restores to what it was. Then Redis is
# stopped: the other sources are still saved, and the exit code and the
# message name the source that failed.
. "$(dirname "$0")/lib.sh"

PG=$REPO_ROOT/tests/pg
RT=$REPO_ROOT/tests/redis
export COFFER_PG_DIR=$T/pg COFFER_PG_PORT=${COFFER_PG_STACK_PORT:-25443}
export COFFER_REDIS_DIR=$T/redis COFFER_REDIS_PORT=${COFFER_REDIS_STACK_PORT:-26395}
"$PG/server.sh" start >/dev/null || fail "cannot start the test PostgreSQL server"
on_exit '"$PG/server.sh" stop >/dev/null 2>&1'
"$RT/server.sh" start >/dev/null || fail "cannot start the test redis-server"
on_exit '"$RT/server.sh" stop >/dev/null 2>&1'
eval "$("$PG/server.sh" env)"
"$PG/make-db.sh" app 0.1 >/dev/null || fail "cannot generate the test database"
"$RT/populate.sh" 5000 || fail "cannot fill the test redis-server"

# The application: a git repository with an .env and uploads beside it.
APP=$T/app
mkdir -p "$APP/uploads/2025" "$APP/logs"
git init -q "$APP/code"
printf 'print("hello")\n' >"$APP/code/app.py"
git -C "$APP/code" add -A
git -C "$APP/code" -c user.email=t@example.com -c user.name=test commit -qm "first" || fail "cannot commit"
head=$(git -C "$APP/code" rev-parse HEAD)
secret1=sk_live_$RANDOM$RANDOM secret2=pw$RANDOM$RANDOM secret3=tok$RANDOM$RANDOM secret4=hunter$RANDOM$RANDOM
secret5=sk_live_$RANDOM$RANDOM$RANDOM
cat >"$APP/.env.production" <<ENV
# production settings
APP_NAME=shop
export STRIPE_SECRET_KEY="$secret1"
DB_PASSWORD=$secret2 # rotate monthly

EMPTY_TOKEN=
GITHUB_TOKEN='$secret3'
TLS_PRIVATE_KEY="-----BEGIN KEY-----
abc$secret1
-----END KEY-----"
GREETING="hello
world"
DATABASE_URL=postgres://app:$secret4@db:5432/app
# was: redis://:$secret4@old-cache:6379
BILLING=$secret5
ENV
cat >"$T/env-expected" <<ENV
# ==> $APP/.env.production <==
# production settings
APP_NAME=shop
export STRIPE_SECRET_KEY="[REDACTED]"
DB_PASSWORD=[REDACTED] # rotate monthly

EMPTY_TOKEN=[REDACTED]
GITHUB_TOKEN='[REDACTED]'
TLS_PRIVATE_KEY="[REDACTED]"
GREETING="hello
world"
DATABASE_URL=postgres://app:[REDACTED]@db:5432/app
# was: redis://:[REDACTED]@old-cache:6379
BILLING=[REDACTED]
ENV
gen_random 200000 7 >"$APP/uploads/2025/photo.jpg"
mkdir -p "$APP/uploads/cache"
printf 'scratch\n' >"$APP/uploads/upload-123.tmp"
printf 'thumbnail\n' >"$APP/uploads/cache/thumb.jpg"
printf 'line one\nline two\n' >"$APP/logs/app.log"

new_repo repo
cat >"$T/coffer.yaml" <<YAML
sources:
  db:      { type: postgres, url: "postgresql://postgres@127.0.0.1:$COFFER_PG_PORT/app", password_file: $COFFER_PG_DIR/password }
  cache:   { type: redis, url: "redis://127.0.0.1:$COFFER_REDIS_PORT" }
  config:  { type: env, paths: [$APP/.env.production], redact: [KEY, SECRET, PASSWORD, TOKEN, "value:sk_live_*"] }
  uploads: { type: files, paths: [$APP/uploads], exclude: ["*.tmp", "cache/"] }
  logs:    { type: files, paths: [$APP/logs] }
  code:    { type: git, path: $APP/code }
  crm:     { type: command, command: [psql, -X, -At, -d, app, -c, "SELECT count(*) FROM users"], name: users.txt,
             env: [PGHOST, PGPORT, PGUSER, PGPASSFILE] }   # a command gets only the environment it names
YAML
export COFFER_CONFIG=$T/coffer.yaml

c_ok "backup of the whole stack" backup
run_c snapshots --json
expect_ok "snapshots"
cp "$T/out" "$T/snaps.json"
[ "$(jq_out 'length' "$T/snaps.json")" = 7 ] || fail "expected 7 snapshots, got $(jq_out 'length' "$T/snaps.json")"
[ "$(jq_out '[.[].run] | unique | length' "$T/snaps.json")" = 1 ] || fail "the snapshots of one run do not share a run id"
[ "$(jq_out '.[0].run' "$T/snaps.json")" != null ] || fail "no run id"
[ "$(jq_out '[.[].revision] | unique | .[0]' "$T/snaps.json")" = "$head" ] || fail "snapshots do not record the app's git revision"

# Every source comes back.
c_ok "restore the database" restore latest db --to "postgresql://postgres@127.0.0.1:$COFFER_PG_PORT/app_restored" --db-password-file "$COFFER_PG_DIR/password"
"$PG/checksum.sh" app >"$T/sum-app"
"$PG/checksum.sh" app_restored >"$T/sum-restored"
diff -q "$T/sum-app" "$T/sum-restored" >/dev/null || fail "restored database differs"
c_ok "restore the cache" restore latest cache --to "$T/cache.rdb"
COFFER_REDIS_DIR=$T/redis2 COFFER_REDIS_PORT=$((COFFER_REDIS_PORT + 1)) "$RT/server.sh" start "$T/cache.rdb" >/dev/null ||
    fail "redis-server does not start on the restored RDB"
on_exit 'COFFER_REDIS_DIR=$T/redis2 "$RT/server.sh" stop >/dev/null 2>&1'
"$RT/compare.sh" "$COFFER_REDIS_PORT" $((COFFER_REDIS_PORT + 1)) 500 >/dev/null || fail "restored Redis data differs"
c_ok "restore config" restore latest config --to "$T/r-config"
cmp -s "$APP/.env.production" "$(restored_path "$T/r-config" "$APP/.env.production")" || fail "restored .env differs"
c_ok "redacted view of the env files" dump latest config --redacted
diff -u "$T/env-expected" "$T/out" >&2 || fail "the redacted view is not the file with exactly the secret values hidden"
for secret in "$secret1" "$secret2" "$secret3" "$secret4" "$secret5"; do
    grep -qF "$secret" "$T/out" && fail "the redacted view shows a secret"
done
c_ok "restore uploads" restore latest uploads --to "$T/r-uploads"
cmp -s "$APP/uploads/2025/photo.jpg" "$(restored_path "$T/r-uploads" "$APP/uploads/2025/photo.jpg")" || fail "restored upload differs"
[ ! -e "$(restored_path "$T/r-uploads" "$APP/uploads/upload-123.tmp")" ] || fail "an excluded *.tmp file was backed up"
[ ! -e "$(restored_path "$T/r-uploads" "$APP/uploads/cache")" ] || fail "an excluded cache/ directory was backed up"
c_ok "restore code" restore latest code --to "$T/r-code"
git clone -q "$T/r-code/repo.bundle" "$T/clone" || fail "the restored bundle does not clone"
[ "$(git -C "$T/clone" rev-parse HEAD)" = "$head" ] || fail "the cloned bundle has another HEAD"
c_ok "dump crm" dump latest crm users.txt
[ "$(cat "$T/out")" = "$(psql -X -At -d app -c 'SELECT count(*) FROM users')" ] || fail "the command's output differs"

# One source broken: the others are saved, the failure is named.
"$RT/server.sh" stop
run_c backup
expect_rc 1 "backup with Redis stopped"
expect_err_match "backup with Redis stopped" "1 of 7 sources failed: cache"
run_c snapshots --json
[ "$(jq_out 'length')" = 13 ] || fail "the six working sources were not all saved ($(jq_out 'length') snapshots)"

# Sources that fail: a command that exits non-zero, a git source on a
# directory that is no repository. Both are named; neither leaves a snapshot;
# --redacted refuses a snapshot that is not of env files.
cat >"$T/broken.yaml" <<YAML
sources:
  export: { type: command, command: [sh, -c, "echo partial; echo 'export failed: no token' >&2; exit 3"] }
  notgit: { type: git, path: $T/r-uploads }
YAML
run_c snapshots --json
before=$(jq_out 'length')
COFFER_CONFIG=$T/broken.yaml run_c backup
expect_rc 1 "backup of failing sources"
expect_err_match "backup of failing sources" "export failed: no token"
expect_err_match "backup of failing sources" "2 of 2 sources failed: export, notgit"
run_c snapshots --json
[ "$(jq_out 'length')" = "$before" ] || fail "a failed command or git source left a snapshot"
run_c dump latest crm --redacted
expect_nonzero "--redacted on a command snapshot"
expect_err_match "--redacted on a command snapshot" "for env snapshots"

pass "7 sources in one run share a run id and revision, each restores; Redis down fails only cache"
