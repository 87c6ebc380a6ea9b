#!/usr/bin/env bash
# bench/redis.sh - Redis benchmark: coffer's backup of a Redis dataset
# against `redis-cli --rdb FILE` (the floor: the RDB transfer alone), in one
# run on one machine, with its own redis-server (tests/redis/server.sh),
# stopped and removed at the end.
#
# The dataset is DEBUG POPULATE of BENCH_REDIS_KEYS keys (default 6,000,000
# of 100-byte values: about 1 GiB of used_memory). redis-cli is timed twice:
# with the server's defaults (Redis 7: diskless transfer after
# repl-diskless-sync-delay, 5 s) and with repl-diskless-sync no (the server
# writes the RDB to disk first, as it does for coffer, which does not ask for
# diskless transfers). Prints a markdown table, also written to
# $BENCH_DIR/redis-results.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/coffer-bench}
KEYS=${BENCH_REDIS_KEYS:-6000000}
PORT=${BENCH_REDIS_PORT:-26450}
COFFER_BIN=${COFFER_BIN:-$ROOT/build/coffer}
TIME=/usr/bin/time
log() { printf '%s\n' "$*" >&2; }
die() { log "redis.sh: $*"; exit 1; }
[ -x "$COFFER_BIN" ] || die "coffer not built ($COFFER_BIN missing)"
command -v redis-server >/dev/null || die "redis-server missing: apt-get install redis-server redis-tools"
[ -x "$TIME" ] || die "GNU time missing: apt-get install time"

W=$BENCH_DIR/redis-run
RESULTS=$BENCH_DIR/redis-results.md
rm -rf -- "$W"
mkdir -p "$W/logs"
export COFFER_REDIS_DIR=$W/server COFFER_REDIS_PORT=$PORT
PASSFILE=$W/password
(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PASSFILE"; echo >>"$PASSFILE")
export COFFER_PASSWORD_FILE=$PASSFILE
cleanup() { "$ROOT/tests/redis/server.sh" stop >/dev/null 2>&1 || true; rm -rf -- "$W/repo" "$W"/*.rdb; }
trap cleanup EXIT

"$ROOT/tests/redis/server.sh" start >/dev/null
log "populating $KEYS keys"
redis-cli -p "$PORT" DEBUG POPULATE "$KEYS" key 100 >/dev/null
used=$(redis-cli -p "$PORT" INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')

declare -A WALL CPU
timed() { # timed KEY COMMAND...
	local key=$1; shift
	sync
	"$TIME" -f '%e %U %S' -o "$W/logs/$key.time" "$@" >"$W/logs/$key.out" 2>"$W/logs/$key.err" ||
		{ cat "$W/logs/$key.err" >&2; die "step $key failed"; }
	local u s
	read -r "WALL[$key]" u s <"$W/logs/$key.time"
	CPU[$key]=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
	log "  $key: wall ${WALL[$key]} s, cpu ${CPU[$key]} s"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" 'BEGIN { print (r <= 1.3) ? "PASS" : "FAIL" }'; }

timed cli_default redis-cli -p "$PORT" --rdb "$W/default.rdb"
redis-cli -p "$PORT" CONFIG SET repl-diskless-sync no >/dev/null
timed cli_disk redis-cli -p "$PORT" --rdb "$W/disk.rdb"
"$COFFER_BIN" init --repo "$W/repo" --kdf interactive >"$W/logs/init.log" 2>&1 || die "coffer init failed"
timed coffer "$COFFER_BIN" backup --repo "$W/repo" --redis "redis://127.0.0.1:$PORT" --name cache --quiet
rdb_bytes=$(stat -c %s "$W/disk.rdb")
repo_bytes=$(du -sb "$W/repo" | cut -f1)
r_default=$(ratio "${WALL[coffer]}" "${WALL[cli_default]}")
r_disk=$(ratio "${WALL[coffer]}" "${WALL[cli_disk]}")

{
	echo "## Redis benchmark (bench/redis.sh)"
	echo
	echo "- date: $(date -u +%FT%TZ); host: $(uname -sr), $(nproc) CPUs"
	echo "- $(redis-server --version | cut -d' ' -f1-3); $KEYS keys (DEBUG POPULATE, 100-byte values), used_memory $used B; RDB $rdb_bytes B; coffer repository after the backup $repo_bytes B"
	echo
	echo "| step | wall s | CPU s |"
	echo "|---|---:|---:|"
	echo "| redis-cli --rdb FILE, server defaults (diskless, 5 s delay) | ${WALL[cli_default]} | ${CPU[cli_default]} |"
	echo "| redis-cli --rdb FILE, repl-diskless-sync no | ${WALL[cli_disk]} | ${CPU[cli_disk]} |"
	echo "| coffer backup --redis | ${WALL[coffer]} | ${CPU[coffer]} |"
	echo
	echo "| target | ratio | limit | result |"
	echo "|---|---:|---:|---|"
	echo "| coffer / redis-cli --rdb (server defaults) | $r_default | 1.3 | $(verdict "$r_default") |"
	echo "| coffer / redis-cli --rdb (both from disk) | $r_disk | 1.3 | $(verdict "$r_disk") |"
} | tee "$RESULTS"
