#!/usr/bin/env bash
# bench/forget.sh - `coffer forget` over many snapshots (issue target: the
# runbook's policy over 10,000 snapshots in under 2 s).
#
# One real backup (a small stream), then bench/mksnapshots copies it
# BENCH_FORGET_SNAPSHOTS times (default 10,000) at irregular times over 9
# years, each its own sealed snapshot object. Then, on fresh copies of that
# repository, `coffer forget` with the runbook's policy (--keep-hourly 24
# --keep-daily 30 --keep-weekly 12 --keep-monthly 12 --keep-yearly 7):
#   - cold: the page cache dropped first (only as root; skipped otherwise),
#     as a nightly cron job meets the repository;
#   - warm: right after the copy;
#   - --dry-run, warm: reading and judging alone.
# Afterwards the kept snapshots still restore. Prints a markdown table, also
# written to $BENCH_DIR/forget-results.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=forget.sh
BENCH_DIR=${BENCH_DIR:-/tmp/coffer-bench}
COUNT=${BENCH_FORGET_SNAPSHOTS:-10000}
BUILD=${COFFER_BUILD_DIR:-$ROOT/build}
COFFER_BIN=${COFFER_BIN:-$BUILD/coffer}
LIMIT=2
W=$BENCH_DIR/forget-run
LOGS=$W/logs
RESULTS=$BENCH_DIR/forget-results.md
. "$ROOT/bench/lib.sh"
[ -x "$COFFER_BIN" ] || die "coffer not built ($COFFER_BIN missing); run: cmake --build build -j2"
[ -x "$TIME" ] || die "GNU time missing: apt-get install time"
command -v jq >/dev/null || die "jq missing: apt-get install jq"
[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "BENCH_FORGET_SNAPSHOTS must be a positive number"
cmake --build "$BUILD" --target mksnapshots >/dev/null || die "cannot build bench/mksnapshots.c"

rm -rf -- "$W"
mkdir -p "$LOGS"
cd "$W"
PASSFILE=$W/password
new_password "$PASSFILE"
export COFFER_PASSWORD_FILE=$PASSFILE
unset COFFER_CONFIG COFFER_REPOSITORY COFFER_PASSWORD
trap 'rm -rf -- "$W/base" "$W/repo"' EXIT
POLICY=(--keep-hourly 24 --keep-daily 30 --keep-weekly 12 --keep-monthly 12 --keep-yearly 7)

log "making $COUNT snapshots"
"$COFFER_BIN" init --repo "$W/base" --kdf interactive >"$W/logs/init.log" 2>&1 || die "coffer init failed"
head -c 1000000 /dev/urandom >"$W/content"
"$COFFER_BIN" backup --repo "$W/base" --stdin --name db --time 2017-01-01T00:00:00Z --quiet <"$W/content" >/dev/null
first=$(date -u -d 2017-01-01 +%s) last=$(date -u -d 2025-12-31 +%s)
"$BUILD/mksnapshots" "$W/base" $((COUNT - 1)) "$first" "$last" 42 >"$W/logs/mksnapshots.log"
total=$(find "$W/base/snapshots" -type f | wc -l)
[ "$total" = "$COUNT" ] || die "expected $COUNT snapshots, found $total"

# Each step runs on a fresh copy of the repository; "cold" drops the page
# cache first (only as root).
step_cold=warm
bench_settle() {
	rm -rf -- "$W/repo"
	cp -a "$W/base" "$W/repo"
	sync
	if [ "$step_cold" = cold ]; then echo 3 >/proc/sys/vm/drop_caches; fi
}
verdict() { at_most "$1" "$LIMIT"; }

is_root=0
[ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ] && is_root=1
timed dry "$COFFER_BIN" forget --repo "$W/repo" "${POLICY[@]}" --dry-run
timed warm "$COFFER_BIN" forget --repo "$W/repo" "${POLICY[@]}"
if [ "$is_root" = 1 ]; then
	step_cold=cold
	timed cold "$COFFER_BIN" forget --repo "$W/repo" "${POLICY[@]}"
else
	WALL[cold]="not run (needs root to drop the page cache)" CPU[cold]=""
fi
summary=$(tail -n 1 "$W/logs/warm.out")
kept=$(find "$W/repo/snapshots" -type f | wc -l)
# The kept snapshots are real: the newest and the oldest kept one restore.
"$COFFER_BIN" restore --repo "$W/repo" latest db --to "$W/restored" --quiet >/dev/null
cmp -s "$W/content" "$W/restored/db" || die "the newest kept snapshot does not restore the content"
oldest=$("$COFFER_BIN" snapshots --repo "$W/repo" --json | jq -r '.[0].id')
rm -rf -- "$W/restored"
"$COFFER_BIN" restore --repo "$W/repo" "$oldest" db --to "$W/restored" --quiet >/dev/null
cmp -s "$W/content" "$W/restored/db" || die "the oldest kept snapshot does not restore the content"

{
	echo "## forget benchmark (bench/forget.sh)"
	echo
	echo "- date: $(date -u +%FT%TZ); host: $(uname -sr), $(nproc) CPUs; $("$COFFER_BIN" --version)"
	echo "- $COUNT snapshots of one source over 2017-01-01 .. 2025-12-31 at irregular times; policy ${POLICY[*]}; result: $summary ($kept snapshot objects left; the newest and oldest kept restore byte-identical)"
	echo
	echo "| step | wall s | CPU s | limit | result |"
	echo "|---|---:|---:|---:|---|"
	echo "| forget --dry-run, warm cache | ${WALL[dry]} | ${CPU[dry]} | $LIMIT | $(verdict "${WALL[dry]}") |"
	echo "| forget, warm cache | ${WALL[warm]} | ${CPU[warm]} | $LIMIT | $(verdict "${WALL[warm]}") |"
	if [ "$is_root" = 1 ]; then
		echo "| forget, cold cache | ${WALL[cold]} | ${CPU[cold]} | $LIMIT | $(verdict "${WALL[cold]}") |"
	else
		echo "| forget, cold cache | ${WALL[cold]} | | $LIMIT | |"
	fi
} >"$RESULTS"
echo
cat "$RESULTS"
