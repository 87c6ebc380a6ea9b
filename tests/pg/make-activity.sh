#!/usr/bin/env bash
# make-activity.sh DBNAME [DAY [recent|uniform]] — applies one day of
# activity (activity.sql) to a database made by make-db.sh: ~1% new rows,
# some updates, a few deletes. DAY (default 1) picks which rows change; run
# 1, 2, 3, ... in order to age a database. Message edits fall on the newest
# messages (recent, the default) or all over the history (uniform: a worst
# case for deduplication). Deterministic for a given database, DAY and mode.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] && [ $# -le 3 ] || { echo "usage: $0 DBNAME [DAY [recent|uniform]]" >&2; exit 2; }
db=$1 day=${2:-1} edits=${3:-recent}
[[ "$day" =~ ^[1-9][0-9]*$ ]] || { echo "$0: DAY must be a positive integer" >&2; exit 2; }
case "$edits" in recent|uniform) ;; *) echo "$0: edits must be recent or uniform" >&2; exit 2 ;; esac

"${PSQL[@]}" -d "$db" -v day="$day" -v edits="$edits" -f "$PG_TESTS_DIR/activity.sql"
