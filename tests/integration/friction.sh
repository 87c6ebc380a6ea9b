#!/usr/bin/env bash
# friction.sh — the sharp edges a new user hit (#14 item 3), against a real
# PostgreSQL and Redis started here (ports of their own).
#   - restore/dump "latest" without --source in a repository of several
#     sources: exit 2, listing them (it used to take the newest, a .env);
#   - `coffer backup NAME` of no configured source and no file: exit 2,
#     listing the sources;
#   - `dump latest --source S` prints the source's main stream: the dump of
#     postgres, the RDB of redis, a command's output; byte-identical to
#     `restore`'s; a file tree says "name the file" and lists what it holds;
#   - restore into a database takes the source's password_file, and a
#     wrong password names the settings;
#   - restore --table of a table the snapshot lacks fails before touching
#     the target, naming similar tables;
#   - restore into a non-empty directory needs --overwrite; --dry-run
#     lists what would be written and writes nothing; ls SNAPSHOT PATH;
#   - diff of two database snapshots names the tables whose rows changed.
. "$(dirname "$0")/lib.sh"

PG=$REPO_ROOT/tests/pg
RT=$REPO_ROOT/tests/redis
export COFFER_PG_DIR=$T/pg COFFER_PG_PORT=${COFFER_PG_FRICTION_PORT:-25451}
"$PG/server.sh" start >/dev/null || fail "cannot start the test PostgreSQL server"
on_exit '"$PG/server.sh" stop >/dev/null 2>&1'
eval "$("$PG/server.sh" env)"
export COFFER_REDIS_DIR=$T/redis COFFER_REDIS_PORT=${COFFER_REDIS_FRICTION_PORT:-26399}
"$RT/server.sh" start >/dev/null || fail "cannot start the test redis-server"
on_exit 'COFFER_REDIS_DIR=$T/redis "$RT/server.sh" stop >/dev/null 2>&1'
"$RT/populate.sh" 2000 || fail "cannot fill the test redis-server"

URL=postgresql://postgres@127.0.0.1:$COFFER_PG_PORT
PASSFILE=$COFFER_PG_DIR/password
psql_q() { psql "$URL/$1" -XAtq -v ON_ERROR_STOP=1 -c "$2"; }
PGPASSFILE=$COFFER_PG_DIR/pgpass psql_q postgres "CREATE DATABASE shop" || fail "cannot create the test database"
PGPASSFILE=$COFFER_PG_DIR/pgpass psql_q shop "CREATE TABLE customers (id int PRIMARY KEY, name text);
    CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers, total numeric);
    INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 500) g;
    INSERT INTO orders SELECT g, 1 + g % 500, g * 1.5 FROM generate_series(1, 3000) g;" ||
    fail "cannot fill the test database"

new_repo repo
mkdir -p "$T/site/public" "$T/app"
printf 'hello\n' >"$T/site/public/index.html"
gen_random 50000 site >"$T/site/public/logo.png"
printf 'DATABASE_URL=postgres://app@db/app\nAPP_KEY=k\n' >"$T/app/.env"
cat >"$T/coffer.yaml" <<YAML
repository: $COFFER_REPOSITORY
password_file: $COFFER_PASSWORD_FILE
sources:
  db:
    type: postgres
    url: $URL/shop
    password_file: $PASSFILE
  cache:
    type: redis
    url: redis://127.0.0.1:$COFFER_REDIS_PORT
  site:
    type: files
    paths: [$T/site]
  report:
    type: command
    command: [sh, -c, "echo report line; seq 1 1000"]
  config:
    type: env
    paths: [$T/app/.env]
YAML
export COFFER_CONFIG=$T/coffer.yaml
c_ok "configured backup of five sources" backup

# ---------------------------------------------------------------- latest of which source?
for cmd in "restore latest --to $T/where" "dump latest" "ls latest"; do
    run_c $cmd
    expect_rc 2 "$cmd without --source"
    expect_err_match "$cmd without --source" '"latest" of which source\? The repository holds cache, config, db, report, site: add --source NAME'
done
[ -e "$T/where" ] && fail "restore latest without --source wrote something"

# ---------------------------------------------------------------- backup NAME that is nothing
run_c backup dbb
expect_rc 2 "backup of a misspelt source"
expect_err_match "backup dbb" 'no source "dbb" in .*coffer.yaml \(sources: cache, config, db, report, site\)'

# ---------------------------------------------------------------- dump prints the main stream
timeout 120 "$COFFER" dump latest --source db >"$T/db.dump" 2>"$T/err" || { cat "$T/err" >&2; fail "dump latest --source db"; }
c_ok "restore db to a directory" restore latest --source db --to "$T/dbdir"
cmp -s "$T/db.dump" "$T/dbdir/db.dump" || fail "dump of db is not the snapshot's db.dump"
pg_restore -l "$T/db.dump" | grep -q "TABLE DATA public orders" || fail "the dump of db is not a pg_dump archive with orders"
timeout 120 "$COFFER" dump latest --source cache >"$T/cache.rdb" 2>"$T/err" || { cat "$T/err" >&2; fail "dump latest --source cache"; }
[ "$(head -c 5 "$T/cache.rdb")" = REDIS ] || fail "the dump of cache is not an RDB"
c_ok "restore cache to an rdb" restore latest --source cache --to "$T/restored.rdb"
cmp -s "$T/cache.rdb" "$T/restored.rdb" || fail "dump of cache differs from its restore"
timeout 120 "$COFFER" dump latest --source report >"$T/report.out" 2>"$T/err" || { cat "$T/err" >&2; fail "dump latest --source report"; }
diff <(sh -c "echo report line; seq 1 1000") "$T/report.out" >/dev/null || fail "dump of report is not the command's output"
run_c dump latest --source site
expect_rc 2 "dump of a file tree without a path"
expect_err_match "dump of a tree" "holds 2 files: name the one to dump, e.g. .coffer dump [0-9a-f]{8} PATH. \($T/site/public/index.html, $T/site/public/logo.png;"
timeout 60 "$COFFER" dump latest --source site "$T/site/public/logo.png" | cmp -s - "$T/site/public/logo.png" ||
    fail "dump of one file of a tree differs"

# ---------------------------------------------------------------- restore into a database
# No --db-password-file and no PGPASSFILE: the source's password_file is used.
unset PGPASSFILE PGPASSWORD
c_ok "restore into a new database with the source's password_file" restore latest --source db --to "$URL/shop_copy"
[ "$(PGPASSFILE=$COFFER_PG_DIR/pgpass psql_q shop_copy 'SELECT count(*) FROM orders')" = 3000 ] ||
    fail "the restored database does not hold the 3000 orders"
printf 'wrong\n' >"$T/wrong.pw"
run_c restore latest --source db --to "$URL/shop_other" --db-password-file "$T/wrong.pw"
expect_nonzero "restore with a wrong password"
expect_err_match "wrong password" "password authentication failed.*--db-password-file.*password_file"
expect_no_output_match "wrong password" "wrong"

# ---------------------------------------------------------------- --table of a table it lacks
run_c restore latest --source db --to "$URL/shop_one" --table order
expect_rc 2 "restore --table of a table the snapshot lacks"
expect_err_match "missing table" 'holds no table "order" \(similar: public.orders\) \(it holds 2 tables\); nothing was restored'
[ "$(PGPASSFILE=$COFFER_PG_DIR/pgpass psql_q postgres "SELECT count(*) FROM pg_database WHERE datname = 'shop_one'")" = 0 ] ||
    fail "restore --table of a missing table created the target database"
c_ok "restore --table orders" restore latest --source db --to "$URL/shop_one" --table orders
[ "$(PGPASSFILE=$COFFER_PG_DIR/pgpass psql_q shop_one 'SELECT count(*) FROM orders')" = 3000 ] ||
    fail "restore --table orders did not restore the orders"

# ---------------------------------------------------------------- non-empty directories, --dry-run, ls PATH
mkdir -p "$T/live"
printf 'live data\n' >"$T/live/keep.txt"
run_c restore latest --source site --to "$T/live"
expect_rc 2 "restore into a non-empty directory"
expect_err_match "non-empty" "is not empty: .*add --overwrite"
[ "$(ls "$T/live")" = keep.txt ] || fail "the refused restore wrote into the directory"
run_c restore latest --source site --to "$T/live" --dry-run
expect_ok "restore --dry-run"
grep -q "^$T/live$T/site/public/logo.png 48.8 KiB$" "$T/out" || fail "--dry-run does not list logo.png with its size: $(cat "$T/out")"
grep -q "would restore .* to $T/live, replacing 0; nothing written" "$T/out" || fail "--dry-run has no summary"
[ "$(ls "$T/live")" = keep.txt ] || fail "--dry-run wrote something"
c_ok "restore --overwrite" restore latest --source site --to "$T/live" --overwrite
cmp -s "$T/site/public/logo.png" "$T/live$T/site/public/logo.png" || fail "--overwrite did not restore logo.png"
run_c restore latest --source site --to "$T/live" --dry-run
grep -q "logo.png 48.8 KiB (replaces what is there)" "$T/out" || fail "--dry-run does not say what it would replace"
run_c ls latest --source site "$T/site/public"
expect_ok "ls with a path"
[ "$(cat "$T/out")" = "$(printf '%s\n' "$T/site/public" "$T/site/public/index.html" "$T/site/public/logo.png")" ] ||
    fail "ls PATH lists $(cat "$T/out")"
run_c ls latest --source site "$T/site/nothing"
expect_rc 1 "ls of a path the snapshot lacks"
expect_err_match "ls missing path" "holds nothing at $T/site/nothing"

# ---------------------------------------------------------------- diff of two database snapshots
PGPASSFILE=$COFFER_PG_DIR/pgpass psql_q shop "INSERT INTO orders SELECT g, 1 + g % 500, g FROM generate_series(3001, 3200) g;
    CREATE TABLE audit (at timestamptz); INSERT INTO audit SELECT now() FROM generate_series(1, 7);" ||
    fail "cannot change the test database"
c_ok "a second backup of db" backup db
run_c diff latest --source db
expect_ok "diff latest --source db (with the snapshot before)"
grep -q "^M /db.dump$" "$T/out" || fail "diff does not say db.dump changed: $(cat "$T/out")"
grep -q "^M public.orders  3000 -> 3200 (+200)$" "$T/out" || fail "diff does not give orders' rows: $(cat "$T/out")"
grep -q "^+ public.audit  7 rows$" "$T/out" || fail "diff does not list the new table audit: $(cat "$T/out")"
grep -q "customers" "$T/out" && fail "diff lists customers, whose rows did not change"
grep -q "; 2 tables with other row counts$" "$T/out" || fail "diff's summary does not count 2 tables: $(cat "$T/out")"
run_c diff latest --source db --json
[ "$(jq_out '[.tables[] | select(.name == "public.orders") | .before, .after] | map(tostring) | join(",")')" = 3000,3200 ] ||
    fail "diff --json tables: $(cat "$T/out")"
[ "$(jq_out '.tables[] | select(.name == "public.audit") | .before')" = null ] || fail "diff --json: audit had rows before"

c_ok "config check with every source reachable" config check
for s in "db (postgres): ok: PostgreSQL 15" "cache (redis): ok: Redis " "site (files): ok: 1 path readable" \
    "report (command): ok: sh is " "config (env): ok: 1 path readable" "repository: ok: "; do
    grep -qF "$s" "$T/out" || fail "config check lacks \"$s\": $(cat "$T/out")"
done
[ "$(grep -c ': ok: ' "$T/out")" = 6 ] || fail "config check does not print one line per source and the repository"
before=$(snapshot_ids db | wc -l)
sed -e "s|password_file: $PASSFILE|password_file: $T/wrong.pw|" -e "s|paths: \[$T/site\]|paths: [$T/gone]|" \
    "$T/coffer.yaml" >"$T/broken.yaml"
run_c config check --config "$T/broken.yaml"
expect_rc 1 "config check with a wrong password and a missing path"
grep -q "^db (postgres): FAILED: .*password authentication failed" "$T/out" || fail "config check does not name db's failure: $(cat "$T/out")"
grep -q "^site (files): FAILED: cannot read $T/gone" "$T/out" || fail "config check does not name the missing path"
grep -q "^cache (redis): ok" "$T/out" || fail "config check stops at the first failure"
run_c config check --json --config "$T/broken.yaml"
[ "$(jq_out '[.sources[] | select(.ok == false) | .source] | join(",")')" = db,site ] || fail "config check --json: $(cat "$T/out")"
[ "$(snapshot_ids db | wc -l)" = "$before" ] || fail "config check backed something up"
run_c config check nosuch
expect_rc 2 "config check of an unknown source"

pass "config check reaches every source; latest needs a source, misspelt sources listed, dump prints each type's stream, restore takes password_file and checks --table first, --overwrite, --dry-run, ls PATH, diff gives tables' rows"
