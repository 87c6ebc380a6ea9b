#!/usr/bin/env bash
# demo.sh — the main job on embedded defaults, from a fresh Debian 12
# machine: installs what is needed, builds coffer, starts a throwaway
# PostgreSQL 15 with the runbook's tables (users, customer_configs,
# conversations, messages, ...) and a throwaway Redis with sample keys,
# makes an application directory (a .env file, uploads, logs, a git
# repository), then does what the runbook asks for: one configured backup of
# the whole stack into a new local repository, a day of database activity
# and a second backup, a restore drill (database restored into a scratch
# database and compared row by row; the Redis RDB loaded into a scratch
# server and compared; files compared byte by byte), `coffer drill` (the
# same, built in: restore, row counts, foreign keys, the runbook's
# validation SQL, RTO), the redacted view of the .env file, a full check,
# the snapshot list and `coffer status`. Everything it starts, it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/install-deps.sh
scripts/build.sh
coffer=$root/build/coffer

work=${COFFER_DEMO_DIR:-/tmp/coffer-demo}
rm -rf "$work"
mkdir -p "$work/app/uploads/2025" "$work/app/logs" "$work/app/empty-dir" "$work/app/code"
umask 077

echo "== starting a throwaway PostgreSQL with sample data"
export COFFER_PG_DIR=$work/pg COFFER_PG_PORT=${COFFER_DEMO_PG_PORT:-25460}
tests/pg/server.sh start >/dev/null
eval "$(tests/pg/server.sh env)"
tests/pg/make-db.sh app 0.5 >/dev/null

echo "== starting a throwaway Redis with sample keys"
export COFFER_REDIS_DIR=$work/redis COFFER_REDIS_PORT=${COFFER_DEMO_REDIS_PORT:-26460}
tests/redis/server.sh start >/dev/null
trap 'tests/pg/server.sh stop >/dev/null 2>&1 || true; tests/redis/server.sh stop >/dev/null 2>&1 || true
      COFFER_REDIS_DIR=$work/redis-drill tests/redis/server.sh stop >/dev/null 2>&1 || true' EXIT
tests/redis/populate.sh 50000

for i in $(seq 1 200); do
  head -c $((i * 997)) /dev/urandom > "$work/app/uploads/2025/file-$i.bin"
done
seq 1 200000 | sed 's/^/GET \/api\/items?id=/' > "$work/app/logs/access.log"
ln -s logs/access.log "$work/app/latest.log"
cat > "$work/app/.env.production" <<ENV
# production settings
APP_NAME=shop
export STRIPE_SECRET_KEY="sk_live_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
DB_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n') # rotate monthly
ENV
printf 'print("hello")\n' > "$work/app/code/app.py"
git init -q "$work/app/code"
git -C "$work/app/code" add -A
git -C "$work/app/code" -c user.email=demo@example.com -c user.name=demo commit -qm "release 1"

head -c 32 /dev/urandom | base64 > "$work/passphrase"
cat > "$work/coffer.yaml" <<YAML
repository: $work/repo
password_file: $work/passphrase
objectives: { rpo: 1h, rto: 30m }             # the runbook's database targets
drill:
  postgres:
    scratch_url: postgresql://postgres@127.0.0.1:$COFFER_PG_PORT/postgres
    checks:                                    # the runbook's restoration drill queries
      - name: customer data present
        sql: SELECT count(*) > 0 FROM customer_configs WHERE created_at IS NOT NULL
      - name: no orphaned messages
        sql: SELECT count(*) = 0 FROM messages m LEFT JOIN conversations c ON m.conversation_id = c.id WHERE c.id IS NULL
sources:
  db:
    type: postgres
    url: postgresql://postgres@127.0.0.1:$COFFER_PG_PORT/app
    password_file: $COFFER_PG_DIR/password
    globals: true
    exports: [customer_configs, conversations, messages, users, scrape_jobs]
  cache:
    type: redis
    url: redis://127.0.0.1:$COFFER_REDIS_PORT
  config:
    type: env
    paths: [$work/app/.env.production]
  app:
    type: files
    paths: [$work/app]
    exclude: [.git/]
  code:
    type: git
    path: $work/app/code
YAML
export COFFER_CONFIG=$work/coffer.yaml

echo "== init"
"$coffer" init --kdf interactive
echo "== backup: every configured source (one run: database, cache, .env, files, git)"
"$coffer" backup --tag daily
echo "== a day of database activity, then the hourly backup"
tests/pg/make-activity.sh app 1 >/dev/null
"$coffer" backup db --tag hourly

echo "== restore drill"
"$coffer" restore latest --source db --to "postgresql://postgres@127.0.0.1:$COFFER_PG_PORT/drill" \
  --db-password-file "$COFFER_PG_DIR/password"
tests/pg/checksum.sh app > "$work/app.sum"
tests/pg/checksum.sh drill > "$work/drill.sum"
diff -u "$work/app.sum" "$work/drill.sum"
echo "database: every table's rows equal, $(grep '^orphan_messages' "$work/drill.sum")"
"$coffer" restore latest --source cache --to "$work/drill.rdb"
COFFER_REDIS_DIR=$work/redis-drill COFFER_REDIS_PORT=$((COFFER_REDIS_PORT + 1)) tests/redis/server.sh start "$work/drill.rdb" >/dev/null
echo "redis: $(tests/redis/compare.sh "$COFFER_REDIS_PORT" $((COFFER_REDIS_PORT + 1)) 1000)"
"$coffer" restore latest --source app --to "$work/restore"
diff -r --no-dereference --exclude=.git "$work/app" "$work/restore$work/app"
echo "files: byte-identical"
"$coffer" restore latest --source code --to "$work/restore-code"
git clone -q "$work/restore-code/repo.bundle" "$work/clone"
echo "git: the bundle clones at $(git -C "$work/clone" rev-parse --short HEAD)"
echo "== the .env file, redacted for review"
"$coffer" dump latest --source config --redacted

echo "== coffer drill: every source restored into a scratch place, validated, timed (the RTO), removed"
"$coffer" drill
echo "== check --read-data"
"$coffer" check --read-data
echo "== snapshots"
"$coffer" snapshots
echo "== status: are we safe?"
"$coffer" status
echo "demo finished: repository at $work/repo"
