# bench/lib.sh - what the benchmark scripts share; source it after setting
# BENCH_NAME (the script's name, for messages) and LOGS (a directory).
#
#   log MSG / die MSG          to stderr; die exits 1
#   new_password FILE          a random passphrase in FILE (mode 0600), the
#                              only way a secret reaches any tool
#   timed KEY CMD [ARG...]     runs CMD under GNU time after bench_settle
#                              (default: sync); fills WALL[KEY], CPU[KEY]
#                              (user + system s) and RSS[KEY] (KiB); output
#                              in $LOGS/KEY.out and .err; a failure ends the run
#   ratio A B / mb BYTES / mib BYTES / dub PATH
#   at_most VALUE LIMIT        PASS or FAIL
# shellcheck shell=bash

TIME=/usr/bin/time
declare -A WALL CPU RSS

log() { printf '%s\n' "$*" >&2; }
die() { log "$BENCH_NAME: $*"; exit 1; }

new_password() {
	(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1"; echo >>"$1")
}

bench_settle() { sync; }

timed() {
	local key=$1 u s
	shift
	bench_settle
	printf '%q ' "$@" >"$LOGS/$key.cmd"
	if ! "$TIME" -f '%e %U %S %M' -o "$LOGS/$key.time" "$@" >"$LOGS/$key.out" 2>"$LOGS/$key.err"; then
		tail -n 20 "$LOGS/$key.err" >&2
		die "step $key failed (logs in $LOGS/$key.*)"
	fi
	read -r "WALL[$key]" u s "RSS[$key]" <<<"$(tail -n 1 "$LOGS/$key.time")"
	CPU[$key]=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
	log "  $key: wall ${WALL[$key]} s, cpu ${CPU[$key]} s, peak rss $((RSS[$key] / 1024)) MiB"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
dub() { du -sb "$1" | cut -f1; }
at_most() { awk -v r="$1" -v l="$2" 'BEGIN { print (r != "n/a" && r + 0 <= l + 0) ? "PASS" : "FAIL" }'; }
