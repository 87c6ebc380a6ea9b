#!/usr/bin/env bash
# bench/retention.sh - the runbook's retention scenario, scaled down:
# coffer against restic and the runbook's full copies, on one database, in
# one run (issue target: coffer's stored bytes at most 0.35x restic's after
# the same backups and the same forget --prune).
#
#  1. A generated database (tests/pg/make-db.sh, scale BENCH_RET_SCALE,
#     default 20: about 200 MB of plain pg_dump) on its own PostgreSQL
#     server (tests/pg/server.sh, port BENCH_PG_PORT, default 25451).
#  2. BENCH_RET_DAYS (default 60) simulated days from 2025-01-01: one
#     backup a day at 02:00 UTC (the runbook's daily) with a day of activity
#     between them (make-activity.sh: ~1% new rows, edits, deletes), then on
#     the last day one backup an hour (00:30 .. 23:30) with an hour of
#     activity between them (bench/hour.sql). Each backup is taken by coffer
#     (`coffer backup --postgres`) and by restic (`pg_dump | restic backup
#     --stdin`, the runbook's dump into restic), both backdated with --time.
#  3. The runbook's policy with prune, for both: forget --keep-hourly 24
#     --keep-daily 30 --keep-weekly 12 --keep-monthly 12 --keep-yearly 7
#     --prune. Both must keep the same number of snapshots.
#  4. Stored bytes of both repositories, beside the runbook's arithmetic:
#     every kept backup a full `pg_dump | gzip` copy.
#  5. coffer check --read-data; the newest and the oldest kept coffer
#     snapshots restore into fresh databases equal (tests/pg/checksum.sh) to
#     the database at their backup.
# Prints a markdown table, also written to $BENCH_DIR/retention-results.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=retention.sh
BENCH_DIR=${BENCH_DIR:-/tmp/coffer-bench}
SCALE=${BENCH_RET_SCALE:-20}
DAYS=${BENCH_RET_DAYS:-60}
BENCH_PG_PORT=${BENCH_PG_PORT:-25451}
COFFER_BIN=${COFFER_BIN:-$ROOT/build/coffer}
PGT=$ROOT/tests/pg
W=$BENCH_DIR/retention-run
LOGS=$W/logs
RESULTS=$BENCH_DIR/retention-results.md
. "$ROOT/bench/lib.sh"

[[ $SCALE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BENCH_RET_SCALE must be a positive number"
[[ $DAYS =~ ^[0-9]+$ ]] && [ "$DAYS" -ge 2 ] || die "BENCH_RET_DAYS must be 2 or more"
[ -x "$COFFER_BIN" ] || die "coffer not built ($COFFER_BIN missing); run: cmake --build build -j2"
for p in restic jq gzip; do command -v "$p" >/dev/null || die "$p missing: apt-get install $p"; done
[ -x "$TIME" ] || die "GNU time missing: apt-get install time"

rm -rf -- "$W"
mkdir -p "$LOGS" "$W/sums" "$W/cache"
cd "$W"
export COFFER_PG_DIR=$W/pg COFFER_PG_PORT=$BENCH_PG_PORT TZ=UTC
export RESTIC_CACHE_DIR=$W/cache/restic XDG_CACHE_HOME=$W/cache
unset COFFER_CONFIG COFFER_PASSWORD COFFER_REPOSITORY RESTIC_PASSWORD RESTIC_REPOSITORY
PASSFILE=$W/password
new_password "$PASSFILE"
export COFFER_PASSWORD_FILE=$PASSFILE RESTIC_PASSWORD_FILE=$PASSFILE
CREPO=$W/coffer-repo RREPO=$W/restic-repo
POLICY=(--keep-hourly 24 --keep-daily 30 --keep-weekly 12 --keep-monthly 12 --keep-yearly 7)

cleanup() {
	local rc=$?
	"$PGT/server.sh" stop >/dev/null 2>&1 || log "$BENCH_NAME: server.sh stop failed"
	rm -rf -- "$CREPO" "$RREPO" "$W/cache" "$PASSFILE"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$PGT/server.sh" start >/dev/null
eval "$("$PGT/server.sh" env)"
DB=app URL=postgresql://postgres@127.0.0.1:$COFFER_PG_PORT
PSQL=(psql -X -q -v ON_ERROR_STOP=1 --no-psqlrc)

t_start=$(date +%s)
log "generating the database (scale $SCALE)"
"$PGT/make-db.sh" "$DB" "$SCALE" 2>"$LOGS/make-db.err" || { cat "$LOGS/make-db.err" >&2; die "make-db.sh failed"; }
"${PSQL[@]}" -d "$DB" -c 'VACUUM (ANALYZE)'
plain0=$(pg_dump -d "$DB" | wc -c)
log "plain pg_dump: $(mb "$plain0") MB"
"$COFFER_BIN" init --repo "$CREPO" --kdf interactive >"$LOGS/coffer-init.log" 2>&1 || die "coffer init failed"
restic init --repository-version 2 -r "$RREPO" >"$LOGS/restic-init.log" 2>&1 || die "restic init failed"

coffer_wall=0 restic_wall=0 backups=0
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }
# backup_both TIME (UTC, "YYYY-MM-DD HH:MM:SS"): one backup by each tool.
backup_both() {
	local when=$1 n=$((backups + 1))
	timed "coffer-$n" "$COFFER_BIN" backup --repo "$CREPO" --postgres "$URL/$DB" --db-password-file "$COFFER_PG_DIR/password" \
		--name db --time "${when/ /T}Z" --quiet
	timed "restic-$n" bash -c 'set -o pipefail; pg_dump -d "$1" | restic -r "$2" backup --stdin --stdin-filename db.sql \
		--host bench --time "$3" --quiet' _ "$DB" "$RREPO" "$when"
	coffer_wall=$(add "$coffer_wall" "${WALL[coffer-$n]}")
	restic_wall=$(add "$restic_wall" "${WALL[restic-$n]}")
	backups=$n
}

log "daily backups, days 1 .. $((DAYS - 1))"
for day in $(seq 1 $((DAYS - 1))); do
	if [ "$day" -gt 1 ]; then
		"$PGT/make-activity.sh" "$DB" $((day - 1)) 2>>"$LOGS/activity.err" || die "make-activity.sh failed"
	fi
	when=$(date -u -d "2025-01-01 02:00:00 UTC + $((day - 1)) days" '+%F %T')
	"$PGT/checksum.sh" "$DB" >"$W/sums/${when/ /T}"
	backup_both "$when"
done
log "hourly backups on day $DAYS"
"$PGT/make-activity.sh" "$DB" $((DAYS - 1)) 2>>"$LOGS/activity.err" || die "make-activity.sh failed"
t0=$(date -u -d "2025-01-01 00:00:00 UTC + $((DAYS - 1)) days" '+%F %T')
for hour in $(seq 0 23); do
	[ "$hour" = 0 ] || "${PSQL[@]}" -d "$DB" -v hour="$hour" -v t0="'$t0+00'" -f "$ROOT/bench/hour.sql" >/dev/null
	when=$(date -u -d "$t0 UTC + $hour hours 30 minutes" '+%F %T')
	[ "$hour" != 23 ] || "$PGT/checksum.sh" "$DB" >"$W/sums/${when/ /T}"
	backup_both "$when"
done
coffer_before=$(dub "$CREPO") restic_before=$(dub "$RREPO")

log "forget --prune with the runbook's policy"
timed coffer-forget "$COFFER_BIN" forget --repo "$CREPO" "${POLICY[@]}" --prune
timed restic-forget restic -r "$RREPO" forget "${POLICY[@]}" --prune
# coffer frees the space in two prunes (the first condemns, the next
# deletes: docs/retention.md); a daily forget --prune frees yesterday's.
"$COFFER_BIN" prune --repo "$CREPO" --quiet
coffer_after=$(dub "$CREPO") restic_after=$(dub "$RREPO")
"$COFFER_BIN" snapshots --repo "$CREPO" --json >"$W/coffer-snapshots.json"
restic -r "$RREPO" snapshots --json >"$W/restic-snapshots.json"
coffer_kept=$(jq length "$W/coffer-snapshots.json")
restic_kept=$(jq length "$W/restic-snapshots.json")
# The kept backups' times, from both tools, must be the same set.
jq -r '.[].time' "$W/coffer-snapshots.json" | cut -c1-16 | sort >"$W/coffer-kept"
jq -r '.[].time' "$W/restic-snapshots.json" | cut -c1-16 | sort >"$W/restic-kept"
same_set=yes
diff -u "$W/coffer-kept" "$W/restic-kept" >"$LOGS/kept.diff" || same_set=no

log "verifying coffer's repository"
timed coffer-check "$COFFER_BIN" check --repo "$CREPO" --read-data
verify=identical
for which in oldest newest; do
	at=0; [ "$which" = oldest ] || at=-1
	id=$(jq -r "sort_by(.time) | .[$at].id" "$W/coffer-snapshots.json")
	when=$(jq -r "sort_by(.time) | .[$at].time" "$W/coffer-snapshots.json" | cut -c1-19)
	target=restored_$which
	"$COFFER_BIN" restore --repo "$CREPO" "$id" db --to "$URL/$target" --db-password-file "$COFFER_PG_DIR/password" \
		--quiet >"$LOGS/restore-$which.log" 2>&1 || die "restoring $id failed (see $LOGS/restore-$which.log)"
	"$PGT/checksum.sh" "$target" >"$W/restored-$which.sum"
	diff -u "$W/sums/$when" "$W/restored-$which.sum" >"$LOGS/restored-$which.diff" ||
		{ verify=FAILED; log "snapshot $id ($when) restores different from the database at its backup"; }
done
t_total=$(($(date +%s) - t_start))

gz_bytes=$(pg_dump -d "$DB" | gzip -6 | wc -c)
plain_bytes=$(pg_dump -d "$DB" | wc -c)
runbook_kept=$((coffer_kept * gz_bytes))
runbook_steady=$((85 * gz_bytes))
r_after=$(ratio "$coffer_after" "$restic_after")
r_before=$(ratio "$coffer_before" "$restic_before")

{
	echo "## Retention benchmark (bench/retention.sh)"
	echo
	echo "- date: $(date -u +%FT%TZ); host: $(uname -sr), $(nproc) CPUs; $("$COFFER_BIN" --version); $(restic version | cut -d' ' -f1-2); $(pg_dump --version)"
	echo "- database: make-db.sh scale $SCALE: plain pg_dump $(mb "$plain0") MB at the start, $(mb "$plain_bytes") MB at the end ($(mb "$gz_bytes") MB gzip -6)"
	echo "- $backups backups by each tool: $((DAYS - 1)) daily (02:00 UTC, a day of make-activity.sh between them) and 24 hourly on day $DAYS (hour.sql between them); total wall: coffer $coffer_wall s, restic $restic_wall s (pg_dump included); run took $t_total s"
	echo "- policy: ${POLICY[*]}: coffer kept $coffer_kept, restic kept $restic_kept; same backups kept: $same_set"
	echo "- coffer check --read-data passed; the oldest and newest kept coffer snapshots restore equal to the database at their backup: $verify"
	echo
	echo "| | before forget | after forget --prune | forget --prune wall s |"
	echo "|---|---:|---:|---:|"
	echo "| coffer repository | $(mb "$coffer_before") MB | $(mb "$coffer_after") MB | ${WALL[coffer-forget]} |"
	echo "| restic repository | $(mb "$restic_before") MB | $(mb "$restic_after") MB | ${WALL[restic-forget]} |"
	echo "| runbook, full copies: $coffer_kept kept × $(mb "$gz_bytes") MB (pg_dump \\| gzip) | | $(mb "$runbook_kept") MB | |"
	echo "| runbook's steady state: 24 + 30 + 12 + 12 + 7 = 85 copies × $(mb "$gz_bytes") MB | | $(mb "$runbook_steady") MB | |"
	echo
	echo "| target | ratio | limit | result |"
	echo "|---|---:|---:|---|"
	echo "| coffer stored bytes / restic's, after forget --prune | $r_after | 0.35 | $(at_most "$r_after" 0.35) |"
	echo "| (before forget, for reference) | $r_before | | |"
	echo "| coffer stored bytes / the runbook's full copies of the same kept backups | $(ratio "$coffer_after" "$runbook_kept") | | |"
} >"$RESULTS"
echo
cat "$RESULTS"
[ "$same_set" = yes ] || die "coffer and restic kept different backups (see $LOGS/kept.diff)"
[ "$verify" = identical ] || die "a restored snapshot differs"
