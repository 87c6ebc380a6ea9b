#!/usr/bin/env bash
# bench/pg.sh - PostgreSQL benchmark: coffer against pg_dump alone, the
# runbook method (pg_dump | gzip | openssl) and restic, on one generated
# database (tests/pg/make-db.sh, ~1 GB of plain pg_dump by default), in one
# run on one machine, with its own PostgreSQL server (tests/pg/server.sh),
# stopped and removed at the end.
#
# Prints tool versions and a markdown table of every measurement and of
# coffer's targets; the table is also written to $BENCH_DIR/pg-results.md.
# See bench/README.md ("bench/pg.sh") for the steps and variables.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/coffer-bench}
BENCH_PG_SCALE=${BENCH_PG_SCALE:-97}
BENCH_PG_PORT=${BENCH_PG_PORT:-25450}
BENCH_PG_KEEP=${BENCH_PG_KEEP:-0}
BENCH_PG_ACTIVITY=${BENCH_PG_ACTIVITY:-}   # make-activity.sh's edit mode; empty: its default
COFFER_BIN=${COFFER_BIN:-$ROOT/build/coffer}
TIME=/usr/bin/time
PGT=$ROOT/tests/pg

log() { printf '%s\n' "$*" >&2; }
die() { log "pg.sh: $*"; exit 1; }

case $BENCH_DIR in /*) ;; *) die "BENCH_DIR must be an absolute path" ;; esac
[ "$BENCH_DIR" != / ] || die "BENCH_DIR must not be /"
[[ $BENCH_PG_SCALE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BENCH_PG_SCALE must be a positive number"
[[ $BENCH_PG_PORT =~ ^[0-9]+$ ]] || die "BENCH_PG_PORT must be a port number"
[ -x "$COFFER_BIN" ] || die "coffer not built ($COFFER_BIN missing); run: cmake --build build -j2"

# ------------------------------------------------------------ dependencies
need=()
[ -x "$TIME" ] || need+=(time)
for p in restic jq openssl gzip; do command -v "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing packages (${need[*]}); install them or run as root"
	log "installing: ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# ------------------------------------------------------------ layout
# The server lives in $BENCH_DIR/pg (server.sh removes it on stop); everything
# else of this script in $BENCH_DIR/pg-run, recreated on each run.
export COFFER_PG_DIR=$BENCH_DIR/pg COFFER_PG_PORT=$BENCH_PG_PORT
W=$BENCH_DIR/pg-run
LOGS=$W/logs
RESULTS=$BENCH_DIR/pg-results.md
mkdir -p "$BENCH_DIR"
rm -rf -- "$W"
mkdir -p "$W"/{logs,runbook,tmp,cache}
cd "$W"   # no stray ./coffer.yaml is picked up
export TMPDIR=$W/tmp               # coffer restore --jobs stages the dump here
export RESTIC_CACHE_DIR=$W/cache/restic XDG_CACHE_HOME=$W/cache
unset COFFER_CONFIG COFFER_PASSWORD RESTIC_PASSWORD RESTIC_REPOSITORY

avail_kb=$(df -Pk "$BENCH_DIR" | awk 'NR == 2 { print $4 }')
need_kb=$(awk -v s="$BENCH_PG_SCALE" 'BEGIN { printf "%d", s * 10 * 1024 * 9 }')
[ "$avail_kb" -ge "$need_kb" ] || log "warning: $((avail_kb / 1024)) MiB free in $BENCH_DIR, about $((need_kb / 1024)) MiB are needed"

# One random passphrase for every tool's repository and for openssl; only
# ever passed as a file name (env or -pass file:).
PASSFILE=$W/password
(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PASSFILE"; echo >>"$PASSFILE")
export COFFER_PASSWORD_FILE=$PASSFILE RESTIC_PASSWORD_FILE=$PASSFILE
export CREPO=$W/coffer-repo RREPO=$W/restic-repo
export COFFER_BIN

# ------------------------------------------------------------ server
started=0
cleanup() {
	local rc=$?
	if [ "$started" = 1 ]; then "$PGT/server.sh" stop >/dev/null 2>&1 || log "pg.sh: server.sh stop failed"; fi
	if [ "$BENCH_PG_KEEP" != 1 ]; then
		rm -rf -- "$CREPO" "$RREPO" "$W/runbook" "$W/tmp" "$W/cache" "$PASSFILE"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
started=1
"$PGT/server.sh" start
eval "$("$PGT/server.sh" env)"
export DBPASS=$COFFER_PG_DIR/password
export URL=postgresql://postgres@127.0.0.1:$COFFER_PG_PORT
export DB=coffer_bench
PSQL=(psql -X -q -v ON_ERROR_STOP=1 --no-psqlrc)

# ------------------------------------------------------------ helpers
declare -A WALL CPU RSS BYTES
load() { cut -d' ' -f1-3 /proc/loadavg; }

# Before each timed step: the server writes out its dirty buffers and the
# kernel its dirty pages, so no step pays for the previous one's writes.
settle() { "${PSQL[@]}" -d postgres -c CHECKPOINT; sync; }

# timed KEY SCRIPT: runs SCRIPT with bash (pipefail) under GNU time.
timed() {
	local key=$1 script=$2 line
	settle
	printf '%s\n' "$script" >"$LOGS/$key.cmd"
	log "  $key: $script"
	if ! "$TIME" -f '%e %U %S %M' -o "$LOGS/$key.time" bash -c "set -euo pipefail; $script" \
		>"$LOGS/$key.out" 2>"$LOGS/$key.err"; then
		tail -n 20 "$LOGS/$key.err" >&2
		die "step $key failed (logs in $LOGS/$key.*)"
	fi
	line=$(tail -n 1 "$LOGS/$key.time")
	local u s
	read -r "WALL[$key]" u s "RSS[$key]" <<<"$line"
	CPU[$key]=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
	log "    wall ${WALL[$key]} s, cpu ${CPU[$key]} s, peak rss $((RSS[$key] / 1024)) MiB"
}
dub() { du -sb "$1" | cut -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { awk -v r="$1" -v l="$2" 'BEGIN { print (r != "n/a" && r + 0 <= l + 0) ? "PASS" : "FAIL" }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

# ------------------------------------------------------------ the database
load_start=$(load)
t_start=$(date +%s)
log "generating $DB at scale $BENCH_PG_SCALE"
"$TIME" -f '%e' -o "$LOGS/make-db.time" "$PGT/make-db.sh" "$DB" "$BENCH_PG_SCALE" 2>"$LOGS/make-db.err" \
	|| { cat "$LOGS/make-db.err" >&2; die "make-db.sh failed"; }
# VACUUM sets hint bits and the visibility map now, and autovacuum then has
# nothing to do on the freshly loaded tables while steps are timed.
"${PSQL[@]}" -d "$DB" -c 'VACUUM (ANALYZE)'
db_size=$("${PSQL[@]}" -At -d "$DB" -c "SELECT pg_database_size(current_database())")
# Size of the plain dump (untimed; this also reads the whole database once,
# so every timed step below finds it in the same, warm, cache).
plain_bytes=$(pg_dump -d "$DB" | wc -c)
log "database: $(mb "$db_size") MB on disk, plain pg_dump $(mb "$plain_bytes") MB"
# Fingerprint of the day-0 state, which every restore must reproduce.
"$PGT/checksum.sh" "$DB" >"$W/sum-day0"

# ------------------------------------------------------------ 1. floor
log "1. pg_dump alone"
timed dump_fc "pg_dump -Fc -Z0 -d \"\$DB\" >/dev/null"
timed dump_plain "pg_dump -d \"\$DB\" >/dev/null"

# ------------------------------------------------------------ 2. runbook
log "2. runbook method"
export RB=$W/runbook
timed rb_backup "pg_dump -d \"\$DB\" | gzip -6 >\"\$RB/f.sql.gz\"
openssl enc -aes-256-cbc -pbkdf2 -salt -in \"\$RB/f.sql.gz\" -out \"\$RB/f.sql.gz.enc\" -pass file:\"\$COFFER_PASSWORD_FILE\""
BYTES[rb_backup]=$(dub "$RB/f.sql.gz.enc")
gz_bytes=$(dub "$RB/f.sql.gz")

# ------------------------------------------------------------ 3. coffer first
log "3. coffer first backup"
"$COFFER_BIN" init --repo "$CREPO" --kdf interactive >"$LOGS/coffer-init.log" 2>&1 \
	|| { cat "$LOGS/coffer-init.log" >&2; die "coffer init failed"; }
timed coffer_b1 "\"\$COFFER_BIN\" backup --repo \"\$CREPO\" --postgres \"\$URL/\$DB\" --db-password-file \"\$DBPASS\" --name db"
BYTES[coffer_b1]=$(dub "$CREPO")

# ------------------------------------------------------------ 4. restic first
log "4. restic first backup"
restic init --repository-version 2 -r "$RREPO" >"$LOGS/restic-init.log" 2>&1 \
	|| { cat "$LOGS/restic-init.log" >&2; die "restic init failed"; }
timed restic_b1 "pg_dump -d \"\$DB\" | restic -r \"\$RREPO\" backup --stdin --stdin-filename db.sql"
BYTES[restic_b1]=$(dub "$RREPO")

# ------------------------------------------------------------ 5. a day later
log "5. one day of activity, second backups"
"$TIME" -f '%e' -o "$LOGS/activity.time" "$PGT/make-activity.sh" "$DB" 1 ${BENCH_PG_ACTIVITY:+"$BENCH_PG_ACTIVITY"} 2>"$LOGS/activity.err" \
	|| { cat "$LOGS/activity.err" >&2; die "make-activity.sh failed"; }
"${PSQL[@]}" -d "$DB" -c 'VACUUM (ANALYZE)'
timed coffer_b2 "\"\$COFFER_BIN\" backup --repo \"\$CREPO\" --postgres \"\$URL/\$DB\" --db-password-file \"\$DBPASS\" --name db"
BYTES[coffer_b2]=$(($(dub "$CREPO") - BYTES[coffer_b1]))
timed restic_b2 "pg_dump -d \"\$DB\" | restic -r \"\$RREPO\" backup --stdin --stdin-filename db.sql"
BYTES[restic_b2]=$(($(dub "$RREPO") - BYTES[restic_b1]))

"$COFFER_BIN" snapshots --repo "$CREPO" --json --source db >"$W/coffer-snapshots.json"
[ "$(jq length "$W/coffer-snapshots.json")" = 2 ] || die "expected 2 coffer snapshots"
export SNAP1
SNAP1=$(jq -r '.[0].id' "$W/coffer-snapshots.json")
coffer_size1=$(jq -r '.[0].size' "$W/coffer-snapshots.json")

# ------------------------------------------------------------ 6. restore
log "6. restore into empty databases (day-0 state)"
for d in bench_r_runbook bench_r_coffer bench_r_coffer_j2; do
	PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$d"
done
createdb bench_r_runbook
timed rb_restore "openssl enc -d -aes-256-cbc -pbkdf2 -in \"\$RB/f.sql.gz.enc\" -pass file:\"\$COFFER_PASSWORD_FILE\" | gunzip | psql -X -q -v ON_ERROR_STOP=1 -d bench_r_runbook"
timed coffer_restore "\"\$COFFER_BIN\" restore --repo \"\$CREPO\" \"\$SNAP1\" db --to \"\$URL/bench_r_coffer\" --db-password-file \"\$DBPASS\""
timed coffer_restore_j2 "\"\$COFFER_BIN\" restore --repo \"\$CREPO\" \"\$SNAP1\" db --to \"\$URL/bench_r_coffer_j2\" --db-password-file \"\$DBPASS\" --jobs 2"

verify=identical
for d in bench_r_runbook bench_r_coffer bench_r_coffer_j2; do
	"$PGT/checksum.sh" "$d" >"$W/sum-$d" || verify=FAILED
	diff -u "$W/sum-day0" "$W/sum-$d" >"$LOGS/diff-$d.txt" || { verify=FAILED; log "$d differs from the day-0 database (see $LOGS/diff-$d.txt)"; }
done
load_end=$(load)
t_total=$(($(date +%s) - t_start))

# ------------------------------------------------------------ report
pgdump_v=$(pg_dump --version)
server_v=$("${PSQL[@]}" -At -d postgres -c 'SHOW server_version')
r_fc=$(ratio "${WALL[coffer_b1]}" "${WALL[dump_fc]}")
r_rb=$(ratio "${WALL[coffer_b1]}" "${WALL[rb_backup]}")
r_b1=$(ratio "${BYTES[coffer_b1]}" "${BYTES[restic_b1]}")
r_b2=$(ratio "${BYTES[coffer_b2]}" "${BYTES[restic_b2]}")
r_rs=$(ratio "${WALL[coffer_restore]}" "${WALL[rb_restore]}")
r_rs2=$(ratio "${WALL[coffer_restore_j2]}" "${WALL[rb_restore]}")

row() { # KEY LABEL COMMAND [BYTES-LABEL]
	local k=$1 b=${BYTES[$1]:-} bs="" cmd=${3//|/\\|}
	[ -n "$b" ] && bs="$b ($(mb "$b") MB)${4:+ $4}"
	# shellcheck disable=SC2016  # the backquotes are markdown
	printf '| %s | `%s` | %s | %s | %s | %s |\n' "$2" "$cmd" "${WALL[$k]}" "${CPU[$k]}" "$((RSS[$k] / 1024))" "$bs"
}

{
	echo "## PostgreSQL benchmark (bench/pg.sh)"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host: $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%d MiB RAM", $2 / 1024 }' /proc/meminfo)"
	echo "- versions: $("$COFFER_BIN" --version); $(restic version | cut -d' ' -f1-2); $pgdump_v; server $server_v; $(openssl version | cut -d' ' -f1-2); $(gzip --version | head -n 1)"
	echo "- database: make-db.sh scale $BENCH_PG_SCALE: plain pg_dump $plain_bytes B ($(mb "$plain_bytes") MB), pg_database_size $db_size B ($(mb "$db_size") MB); generated in $(cat "$LOGS/make-db.time") s; one day of activity (make-activity.sh DB 1${BENCH_PG_ACTIVITY:+ $BENCH_PG_ACTIVITY}) in $(cat "$LOGS/activity.time") s"
	echo "- load average (1/5/15 min) at start: $load_start, at end: $load_end; total $t_total s. Timings are noisy when other processes use the CPU or disk; byte counts are not."
	echo
	echo "| step | command | wall s | CPU s | peak RSS MiB | bytes |"
	echo "|---|---|---:|---:|---:|---:|"
	row dump_fc "1 floor, custom" "pg_dump -Fc -Z0 -d DB >/dev/null"
	row dump_plain "1 floor, plain" "pg_dump -d DB >/dev/null"
	row rb_backup "2 runbook backup" "pg_dump -d DB | gzip -6 >f.sql.gz; openssl enc -aes-256-cbc -pbkdf2 -salt ..." "(.enc; .gz $gz_bytes)"
	row coffer_b1 "3 coffer first backup" "coffer backup --postgres URL/DB --name db" "(repo)"
	row restic_b1 "4 restic first backup" "pg_dump -d DB | restic backup --stdin" "(repo)"
	row coffer_b2 "5 coffer second backup" "coffer backup --postgres URL/DB --name db" "(added)"
	row restic_b2 "5 restic second backup" "pg_dump -d DB | restic backup --stdin" "(added)"
	row rb_restore "6 runbook restore" "openssl enc -d ... | gunzip | psql -X -q -v ON_ERROR_STOP=1 -d NEWDB" ""
	row coffer_restore "6 coffer restore" "coffer restore SNAP1 db --to URL/NEWDB" ""
	row coffer_restore_j2 "6 coffer restore --jobs 2" "coffer restore SNAP1 db --to URL/NEWDB --jobs 2" ""
	echo
	echo "coffer's first snapshot: $SNAP1, logical size $coffer_size1 B (db.dump). Restored databases vs the day-0 database (checksum.sh): $verify."
	echo
	echo "| target | ratio | limit | result |"
	echo "|---|---:|---:|---|"
	echo "| coffer backup wall / pg_dump -Fc -Z0 wall | $r_fc | 1.3 | $(verdict "$r_fc" 1.3) |"
	echo "| coffer backup wall / runbook backup wall | $r_rb | 0.2 | $(verdict "$r_rb" 0.2) |"
	echo "| coffer first backup bytes / restic's | $r_b1 | 1.1 | $(verdict "$r_b1" 1.1) |"
	echo "| coffer second added bytes / restic's | $r_b2 | 0.3 | $(verdict "$r_b2" 0.3) |"
	echo "| coffer restore wall / runbook restore wall | $r_rs | 0.7 | $(verdict "$r_rs" 0.7) |"
	echo "| coffer restore --jobs 2 wall / runbook restore wall | $r_rs2 | 0.7 | $(verdict "$r_rs2" 0.7) |"
} >"$RESULTS"

echo
cat "$RESULTS"
log "written to $RESULTS; logs in $LOGS"
[ "$verify" = identical ] || die "a restored database differs from the source"
