#!/usr/bin/env bash
# bench/s3.sh - a backup to S3 against the same backup to a local directory
# and against restic's S3 backend, in one run (issue #7 targets: coffer to
# S3 at most 1.3x coffer to a local directory, and at most 0.6x restic to
# the same server).
#
# The input is bench/gendump.c's 1 GiB dump-like stream (BENCH_S3_MB), read
# from a file in the page cache. The server is tests/s3/server.sh (s3rver
# behind the signature-checking proxy) on port BENCH_S3_PORT (default
# 27580), stopped at the end. Each tool gets a fresh repository; the wall
# time of the first backup is compared. Prints a markdown table, also
# written to $BENCH_DIR/s3-results.md.
#
# restic (minio-go) uploads over plain http as aws-chunked streaming
# uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): the proxy checks every chunk
# signature, as it checks the whole-body hash of coffer's uploads. Both
# copies are dumped back and compared with the input after the timed runs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=s3.sh
BENCH_DIR=${BENCH_DIR:-/tmp/coffer-bench}
MB=${BENCH_S3_MB:-1024}
COFFER_BIN=${COFFER_BIN:-$ROOT/build/coffer}
W=$BENCH_DIR/s3-run
LOGS=$W/logs
RESULTS=$BENCH_DIR/s3-results.md
. "$ROOT/bench/lib.sh"

[[ $MB =~ ^[1-9][0-9]*$ ]] || die "BENCH_S3_MB must be a positive number"
[ -x "$COFFER_BIN" ] || die "coffer not built ($COFFER_BIN missing); run: cmake --build build -j2"
for p in restic cc; do command -v "$p" >/dev/null || die "$p missing: apt-get install $p"; done
[ -x "$TIME" ] || die "GNU time missing: apt-get install time"

rm -rf -- "$W"
mkdir -p "$LOGS" "$W/cache"
cd "$W"
export COFFER_S3_DIR=$W/s3 COFFER_S3_PORT=${BENCH_S3_PORT:-27580} COFFER_S3_BUCKET=bench
export RESTIC_CACHE_DIR=$W/cache/restic XDG_CACHE_HOME=$W/cache
unset COFFER_CONFIG COFFER_PASSWORD COFFER_REPOSITORY RESTIC_PASSWORD RESTIC_REPOSITORY
new_password "$W/password"
export COFFER_PASSWORD_FILE=$W/password RESTIC_PASSWORD_FILE=$W/password
trap '"$ROOT/tests/s3/server.sh" stop >/dev/null 2>&1 || true; rm -rf -- "$W/local" "$W/input" "$W/cache" "$W/password"' EXIT
"$ROOT/tests/s3/server.sh" start >/dev/null
eval "$("$ROOT/tests/s3/server.sh" env)"

log "generating $MB MiB of input"
cc -O2 -o "$W/gendump" "$ROOT/bench/gendump.c" -lm
"$W/gendump" dump -s "$MB" >"$W/input" 2>"$LOGS/gendump.log"
cat "$W/input" >/dev/null # in the page cache for every tool alike

"$COFFER_BIN" init --repo "$W/local" --kdf interactive >"$LOGS/init-local.log" 2>&1 || die "coffer init (local) failed"
"$COFFER_BIN" init --repo "s3://$COFFER_S3_BUCKET/coffer" --kdf interactive >"$LOGS/init-s3.log" 2>&1 ||
	{ cat "$LOGS/init-s3.log" >&2; die "coffer init (S3) failed"; }
RESTIC_REPO=s3:$COFFER_S3_ENDPOINT/$COFFER_S3_BUCKET/restic
restic init -r "$RESTIC_REPO" >"$LOGS/init-restic.log" 2>&1 ||
	{ tail -n 5 "$LOGS/init-restic.log" >&2; tail -n 3 "$COFFER_S3_DIR/proxy.log" >&2 || true
	  die "restic init (S3) failed: the proxy refused restic's requests (logs above, $LOGS/init-restic.log)"; }

# The test server shares the machine's CPUs with the client: its CPU time
# during each step is reported beside the client's (proxy.js and s3rver).
declare -A SRV
server_ticks() {
	local t=0 f u st
	for f in "$COFFER_S3_DIR/proxy.pid" "$COFFER_S3_DIR/s3rver.pid"; do
		read -r u st < <(cut -d' ' -f14,15 "/proc/$(cat "$f")/stat")
		t=$((t + u + st))
	done
	echo "$t"
}
timed_s3() { # timed_s3 KEY ARGS...: timed, plus the server's CPU seconds in SRV[KEY]
	local key=$1 before
	before=$(server_ticks)
	timed "$@"
	SRV[$key]=$(awk -v t=$(($(server_ticks) - before)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')
}

timed_s3 coffer-local bash -c '"$0" backup --repo "$1" --stdin --name dump --quiet <"$2"' "$COFFER_BIN" "$W/local" "$W/input"
timed_s3 coffer-s3 bash -c '"$0" backup --repo "$1" --stdin --name dump --quiet <"$2"' "$COFFER_BIN" \
	"s3://$COFFER_S3_BUCKET/coffer" "$W/input"
timed_s3 restic-s3 bash -c 'restic -r "$0" backup --stdin --stdin-filename dump.sql --quiet <"$1"' "$RESTIC_REPO" "$W/input"

# The S3 copies restore what went in.
"$COFFER_BIN" dump --repo "s3://$COFFER_S3_BUCKET/coffer" latest --source dump | cmp -s - "$W/input" ||
	die "the stream coffer dumped from S3 differs from the input"
restic -r "$RESTIC_REPO" dump latest dump.sql 2>"$LOGS/restic-dump.err" | cmp -s - "$W/input" ||
	die "the stream restic dumped from S3 differs from the input ($LOGS/restic-dump.err)"
r_local=$(ratio "${WALL[coffer-s3]}" "${WALL[coffer-local]}")
r_restic=$(ratio "${WALL[coffer-s3]}" "${WALL[restic-s3]}")
{
	echo "## S3 benchmark (bench/s3.sh)"
	echo
	echo "- date: $(date -u +%FT%TZ); host: $(uname -sr), $(nproc) CPUs; $("$COFFER_BIN" --version); $(restic version | cut -d' ' -f1-2)"
	echo "- input: gendump dump -s $MB ($(mib "$(stat -c %s "$W/input")") MiB) from the page cache; server: s3rver behind tests/s3/proxy.js (signature checked on every request) on loopback; both S3 copies (coffer's, restic's aws-chunked uploads) dump back identical"
	echo
	echo "| step | wall s | CPU s | peak RSS MiB | test server CPU s |"
	echo "|---|---:|---:|---:|---:|"
	for k in coffer-local coffer-s3 restic-s3; do
		echo "| $k | ${WALL[$k]} | ${CPU[$k]} | $((RSS[$k] / 1024)) | ${SRV[$k]} |"
	done
	echo
	echo "| target | ratio | limit | result |"
	echo "|---|---:|---:|---|"
	echo "| coffer to S3 / coffer to a local directory | $r_local | 1.3 | $(at_most "$r_local" 1.3) |"
	echo "| coffer to S3 / restic to S3 | $r_restic | 0.6 | $(at_most "$r_restic" 0.6) |"
} >"$RESULTS"
echo
cat "$RESULTS"
