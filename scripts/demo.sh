#!/usr/bin/env bash
# demo.sh — the main job on embedded defaults, from a fresh Debian 12
# machine: installs what is needed, builds coffer, makes sample data (a
# directory of uploads and logs, and a dump-like stream), then runs what
# the runbook asks for: backup into a new local repository, a restore
# drill that compares every byte, a full check, and the snapshot list.
# Until the PostgreSQL and Redis sources land, the "database" is a
# generated SQL stream.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
coffer=$PWD/build/coffer

work=${COFFER_DEMO_DIR:-/tmp/coffer-demo}
rm -rf "$work"
mkdir -p "$work/app/uploads/2025" "$work/app/logs" "$work/app/empty-dir"
umask 077

# Sample data: uploaded files, logs, and a dump-like stream.
for i in $(seq 1 200); do
  head -c $((i * 997)) /dev/urandom > "$work/app/uploads/2025/file-$i.bin"
done
seq 1 200000 | sed 's/^/GET \/api\/items?id=/' > "$work/app/logs/access.log"
printf 'APP_ENV=demo\n' > "$work/app/.env"
ln -s logs/access.log "$work/app/latest.log"
gen_dump() {
  awk 'BEGIN {
    print "-- sample dump";
    print "COPY public.messages (id, conversation_id, role, content, created_at) FROM stdin;";
    srand(42);
    for (i = 1; i <= 300000; i++)
      printf "%d\t%d\t%s\thello, this is message %d about order %d\t2025-01-%02d 10:%02d:00\n",
             i, int(i / 7), (i % 2 ? "user" : "assistant"), i, int(rand() * 100000), 1 + i % 28, i % 60;
    print "\\.";
  }'
}

head -c 32 /dev/urandom | base64 > "$work/passphrase"
export COFFER_REPOSITORY=$work/repo COFFER_PASSWORD_FILE=$work/passphrase

echo "== init"
"$coffer" init --kdf interactive
echo "== backup: files"
"$coffer" backup --name app --tag daily "$work/app"
echo "== backup: database stream"
gen_dump | "$coffer" backup --stdin --name db --tag daily
echo "== second backup (unchanged: deduplicated)"
"$coffer" backup --name app --tag hourly "$work/app"

echo "== restore drill"
"$coffer" restore latest --source app --to "$work/restore"
diff -r --no-dereference "$work/app" "$work/restore$work/app"
"$coffer" dump latest --source db | cmp - <(gen_dump)
echo "restore drill passed: files and stream are byte-identical"

echo "== check --read-data"
"$coffer" check --read-data
echo "== snapshots"
"$coffer" snapshots
echo "demo finished: repository at $work/repo"
