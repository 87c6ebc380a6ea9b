#!/usr/bin/env bash
# server.sh — a throwaway redis-server for coffer's tests and benchmarks.
#
#   tests/redis/server.sh start [RDB]  # start (loading RDB if given), wait until it answers
#   tests/redis/server.sh stop         # stop it and remove its directory
#   tests/redis/server.sh kill         # SIGKILL it (the directory stays until stop)
#
# Settings (environment):
#   COFFER_REDIS_DIR        its directory (default /tmp/coffer-redis); removed by stop
#   COFFER_REDIS_PORT       TCP port on 127.0.0.1 (default 26380)
#   COFFER_REDIS_PASSWORD_FILE  if set, requirepass with the password in this file
#
# No snapshots of its own (save ""), no AOF, DEBUG allowed from loopback
# (for DEBUG POPULATE). Debian's own redis-server service, if the package
# started one, is left alone.
set -euo pipefail

DIR=${COFFER_REDIS_DIR:-/tmp/coffer-redis}
PORT=${COFFER_REDIS_PORT:-26380}
MARKER=.coffer-redis

die() { echo "server.sh: $*" >&2; exit 1; }
case "$DIR" in /*) ;; *) die "COFFER_REDIS_DIR must be an absolute path (got '$DIR')" ;; esac
command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server redis-tools)"

cli() {
	if [ -n "${COFFER_REDIS_PASSWORD_FILE:-}" ]; then
		REDISCLI_AUTH=$(cat "$COFFER_REDIS_PASSWORD_FILE") redis-cli -p "$PORT" "$@"
	else
		redis-cli -p "$PORT" "$@"
	fi
}

start() {
	mkdir -p "$DIR"
	touch "$DIR/$MARKER"
	local conf=$DIR/redis.conf
	{
		echo "port $PORT"
		echo "bind 127.0.0.1"
		echo "dir $DIR"
		if [ -n "${1:-}" ]; then echo "dbfilename loaded.rdb"; else echo "dbfilename dump.rdb"; fi
		echo 'save ""'
		echo "appendonly no"
		echo "daemonize yes"
		echo "pidfile $DIR/redis.pid"
		echo "logfile $DIR/redis.log"
		echo "enable-debug-command local"
		if [ -n "${COFFER_REDIS_PASSWORD_FILE:-}" ]; then
			echo "requirepass $(cat "$COFFER_REDIS_PASSWORD_FILE")"
		fi
	} >"$conf"
	chmod 600 "$conf"
	if [ -n "${1:-}" ]; then cp "$1" "$DIR/loaded.rdb"; fi
	redis-server "$conf" || die "redis-server did not start (see $DIR/redis.log)"
	for _ in $(seq 1 600); do
		# LOADING while it reads an RDB: wait for PONG (up to 30 s on a loaded machine)
		if [ "$(cli --no-auth-warning ping 2>/dev/null)" = PONG ]; then return 0; fi
		sleep 0.05
	done
	# The log goes away with the test's directory: show why here.
	tail -n 15 "$DIR/redis.log" >&2 2>/dev/null || true
	die "redis-server on port $PORT does not answer (its log is above)"
}

pid() { cat "$DIR/redis.pid" 2>/dev/null || true; }

stop() {
	local p
	p=$(pid)
	if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
		kill "$p" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null || true
	fi
	if [ -e "$DIR/$MARKER" ]; then rm -rf -- "$DIR"; fi
}

case "${1:-}" in
start) start "${2:-}" ;;
stop) stop ;;
kill) p=$(pid); [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true ;;
*) die "usage: server.sh start [RDB] | stop | kill" ;;
esac
