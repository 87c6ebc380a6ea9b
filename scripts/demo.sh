#!/usr/bin/env bash
# demo.sh — the main job on embedded defaults, from a fresh Debian 12
# machine: installs what is needed, builds coffer, starts a throwaway
# PostgreSQL 15 with the runbook's tables (users, customer_configs,
# conversations, messages, ...) and makes a directory of uploads and logs,
# then does what the runbook asks for: a configured backup of both into a
# new local repository, a day of database activity and a second backup, a
# restore drill (database restored into a scratch database and compared
# row by row; files restored and compared byte by byte), a full check and
# the snapshot list. Everything it starts, it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/install-deps.sh
scripts/build.sh
coffer=$root/build/coffer

work=${COFFER_DEMO_DIR:-/tmp/coffer-demo}
rm -rf "$work"
mkdir -p "$work/app/uploads/2025" "$work/app/logs" "$work/app/empty-dir"
umask 077

echo "== starting a throwaway PostgreSQL with sample data"
export COFFER_PG_DIR=$work/pg COFFER_PG_PORT=${COFFER_DEMO_PG_PORT:-55460}
tests/pg/server.sh start >/dev/null
trap 'tests/pg/server.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(tests/pg/server.sh env)"
tests/pg/make-db.sh app 0.5 >/dev/null

for i in $(seq 1 200); do
  head -c $((i * 997)) /dev/urandom > "$work/app/uploads/2025/file-$i.bin"
done
seq 1 200000 | sed 's/^/GET \/api\/items?id=/' > "$work/app/logs/access.log"
ln -s logs/access.log "$work/app/latest.log"

head -c 32 /dev/urandom | base64 > "$work/passphrase"
cat > "$work/coffer.yaml" <<YAML
repository: $work/repo
password_file: $work/passphrase
sources:
  db:
    type: postgres
    url: postgresql://postgres@127.0.0.1:$COFFER_PG_PORT/app
    password_file: $COFFER_PG_DIR/password
    globals: true
    exports: [customer_configs, conversations, messages, users, scrape_jobs]
  app:
    type: files
    paths: [$work/app]
YAML
export COFFER_CONFIG=$work/coffer.yaml

echo "== init"
"$coffer" init --kdf interactive
echo "== backup: every configured source"
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
"$coffer" restore latest --source app --to "$work/restore"
diff -r --no-dereference "$work/app" "$work/restore$work/app"
echo "files: byte-identical"

echo "== check --read-data"
"$coffer" check --read-data
echo "== snapshots"
"$coffer" snapshots
echo "demo finished: repository at $work/repo"
