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
BENCH_DIR=${BENCH_DIR:-/tmp/coffer-bench}
COUNT=${BENCH_FORGET_SNAPSHOTS:-10000}
BUILD=${COFFER_BUILD_DIR:-$ROOT/build}
COFFER_BIN=${COFFER_BIN:-$BUILD/coffer}
TIME=/usr/bin/time
LIMIT=2
log() { printf '%s\n' "$*" >&2; }
die() { log "forget.sh: $*"; exit 1; }
[ -x "$COFFER_BIN" ] || die "coffer not built ($COFFER_BIN missing); run: cmake --build build -j2"
[ -x "$TIME" ] || die "GNU time missing: apt-get install time"
[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "BENCH_FORGET_SNAPSHOTS must be a positive number"
cmake --build "$BUILD" --target mksnapshots >/dev/null || die "cannot build bench/mksnapshots.c"

W=$BENCH_DIR/forget-run
RESULTS=$BENCH_DIR/forget-results.md
rm -rf -- "$W"
mkdir -p "$W/logs"
cd "$W"
PASSFILE=$W/password
(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PASSFILE"; echo >>"$PASSFILE")
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

declare -A WALL CPU
timed() { # timed KEY [cold] -- COFFER-ARGS...
	local key=$1 cold=$2; shift 3
	rm -rf -- "$W/repo"
	cp -a "$W/base" "$W/repo"
	sync
	if [ "$cold" = cold ]; then echo 3 >/proc/sys/vm/drop_caches; fi
	"$TIME" -f '%e %U %S' -o "$W/logs/$key.time" "$COFFER_BIN" "$@" >"$W/logs/$key.out" 2>"$W/logs/$key.err" ||
		{ cat "$W/logs/$key.err" >&2; die "step $key failed"; }
	local u s
	read -r "WALL[$key]" u s <"$W/logs/$key.time"
	CPU[$key]=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
	log "  $key: wall ${WALL[$key]} s, cpu ${CPU[$key]} s"
}
verdict() { awk -v w="$1" -v l="$LIMIT" 'BEGIN { print (w < l) ? "PASS" : "FAIL" }'; }

is_root=0
[ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ] && is_root=1
timed dry warm -- forget --repo "$W/repo" "${POLICY[@]}" --dry-run
timed warm warm -- forget --repo "$W/repo" "${POLICY[@]}"
if [ "$is_root" = 1 ]; then
	timed cold cold -- forget --repo "$W/repo" "${POLICY[@]}"
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
