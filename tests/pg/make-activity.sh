#!/usr/bin/env bash
# make-activity.sh DBNAME [DAY] — applies one day of activity (activity.sql)
# to a database made by make-db.sh: ~1% new rows, some updates, a few
# deletes. DAY (default 1) picks which rows change; run 1, 2, 3, ... in order
# to age a database. Deterministic for a given database and DAY.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 DBNAME [DAY]" >&2; exit 2; }
db=$1 day=${2:-1}
[[ "$day" =~ ^[1-9][0-9]*$ ]] || { echo "$0: DAY must be a positive integer" >&2; exit 2; }

"${PSQL[@]}" -d "$db" -v day="$day" -f "$PG_TESTS_DIR/activity.sql"
