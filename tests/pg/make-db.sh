#!/usr/bin/env bash
# make-db.sh DBNAME SCALE — (re)creates database DBNAME with the runbook's
# tables (schema.sql) and fills it (generate.sql). SCALE=1 is about 10 MB of
# plain pg_dump, linear in SCALE (fractions like 0.1 work). Deterministic:
# the same SCALE gives the same rows. An existing DBNAME is dropped first.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || { echo "usage: $0 DBNAME SCALE" >&2; exit 2; }
db=$1 scale=$2
[[ "$scale" =~ ^[0-9]+(\.[0-9]+)?$ ]] && [ "$scale" != 0 ] || { echo "$0: SCALE must be a positive number" >&2; exit 2; }

PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
createdb -T template0 -E UTF8 --locale=C.UTF-8 "$db"
"${PSQL[@]}" -d "$db" -v scale="$scale" -f "$PG_TESTS_DIR/schema.sql" -f "$PG_TESTS_DIR/generate.sql"
