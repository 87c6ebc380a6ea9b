#!/usr/bin/env bash
# server.sh — a throwaway S3-compatible server for coffer's tests: s3rver
# (objects on local disk) behind proxy.js, which checks AWS Signature V4 the
# way S3 does and can inject faults. See README.md beside this file.
#
#   tests/s3/server.sh start   # start both, wait until they answer, create the bucket, print the endpoint
#   tests/s3/server.sh env     # print export lines for a client (endpoint, key pair, bucket)
#   tests/s3/server.sh stop    # stop both and remove the directory
#
# Settings (environment):
#   COFFER_S3_DIR              its directory (default /tmp/coffer-s3); removed by stop
#   COFFER_S3_PORT             the proxy's TCP port on 127.0.0.1 (default 27480); s3rver gets the next one
#   COFFER_S3_BUCKET           bucket created by start (default coffer-test)
#   COFFER_S3_TEST_ACCESS_KEY  the one access key the proxy accepts (default COFFERTESTACCESSKEY1)
#   COFFER_S3_TEST_SECRET_KEY  its secret (default cofferTestSecretKey/0123456789+abcdefghij)
#   COFFER_S3_REGION           if set, the only region accepted in credential scopes (default: any)
#   COFFER_S3_LOG              the proxy's request log (default $COFFER_S3_DIR/proxy.log)
#   COFFER_S3_FAULT_ALL, COFFER_S3_FAULT_503_EVERY, COFFER_S3_FAULT_RESET_EVERY,
#   COFFER_S3_FAULT_TRUNCATE_EVERY, COFFER_S3_FAULT_LIST_HTML, COFFER_S3_FAULT_LIST_CUT,
#   COFFER_S3_FAULT_LIST_MATCH
#                              fault injection, read by the proxy when start runs it; to change
#                              them while it runs (keeping the data), write the same KEY=VALUE
#                              lines to $COFFER_S3_DIR/faults (remove the file to go back)
#
# start needs node (>= 18) and npm: as root it installs them with apt-get if
# they are missing, and it runs `npm ci` here when node_modules is missing or
# older than package-lock.json. Both servers listen on 127.0.0.1 only.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${COFFER_S3_DIR:-/tmp/coffer-s3}
PORT=${COFFER_S3_PORT:-27480}
BUCKET=${COFFER_S3_BUCKET:-coffer-test}
ACCESS_KEY=${COFFER_S3_TEST_ACCESS_KEY:-COFFERTESTACCESSKEY1}
SECRET_KEY=${COFFER_S3_TEST_SECRET_KEY:-cofferTestSecretKey/0123456789+abcdefghij}
MARKER=.coffer-s3

die() { echo "server.sh: $*" >&2; exit 1; }
case "$DIR" in /*) ;; *) die "COFFER_S3_DIR must be an absolute path (got '$DIR')" ;; esac
case "$PORT" in '' | *[!0-9]*) die "COFFER_S3_PORT must be a number (got '$PORT')" ;; esac
if [ "$PORT" -lt 1024 ] || [ "$PORT" -gt 32766 ]; then die "COFFER_S3_PORT must be in 1024..32766 (got $PORT)"; fi
UPORT=$((PORT + 1))
[[ "$BUCKET" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "COFFER_S3_BUCKET is not a valid bucket name: '$BUCKET'"
LOG=${COFFER_S3_LOG:-$DIR/proxy.log}

ensure_node() {
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		[ "$(id -u)" = 0 ] || die "node and npm are not installed (apt-get install nodejs npm)"
		echo "server.sh: installing nodejs and npm with apt-get" >&2
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
	fi
	local major
	major=$(node -p 'process.versions.node.split(".")[0]')
	[ "$major" -ge 18 ] || die "node $(node --version) is too old: 18 or later is needed"
	if [ ! -d "$HERE/node_modules" ] || [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
		echo "server.sh: npm ci in $HERE" >&2
		(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed"
	fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pidof_file() { cat "$1" 2>/dev/null || true; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

kill_pid() {
	local p=$1
	if alive "$p"; then
		kill "$p" 2>/dev/null || true
		for _ in $(seq 1 100); do alive "$p" || return 0; sleep 0.05; done
		kill -9 "$p" 2>/dev/null || true
	fi
}

show_logs() {
	for f in "$DIR/s3rver.out" "$DIR/proxy.out" "$LOG"; do
		[ -s "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
	done
	return 0
}

start() {
	ensure_node
	command -v curl >/dev/null || die "curl is not installed (apt-get install curl)"
	if alive "$(pidof_file "$DIR/proxy.pid")" || alive "$(pidof_file "$DIR/s3rver.pid")"; then
		die "already running from $DIR (run: $0 stop)"
	fi
	for p in "$PORT" "$UPORT"; do
		if port_busy "$p"; then die "port $p on 127.0.0.1 is already in use (set COFFER_S3_PORT)"; fi
	done
	mkdir -p "$DIR/data" "$DIR/spool"
	touch "$DIR/$MARKER"

	# COFFER_S3_TLS=1: the proxy serves https with a certificate for
	# 127.0.0.1 from a CA made here ($DIR/tls/ca.pem), which no client
	# trusts unless told.
	local tls_cert="" tls_key="" scheme=http probe_ca=()
	if [ "${COFFER_S3_TLS:-}" = 1 ]; then
		make_tls "$DIR/tls" || die "cannot make the test certificates (openssl)"
		tls_cert=$DIR/tls/cert.pem tls_key=$DIR/tls/key.pem scheme=https probe_ca=(--cacert "$DIR/tls/ca.pem")
	fi
	echo "$scheme" >"$DIR/scheme"

	nohup node "$HERE/node_modules/s3rver/bin/s3rver.js" --directory "$DIR/data" --address 127.0.0.1 \
		--port "$UPORT" --no-vhost-buckets --silent >"$DIR/s3rver.out" 2>&1 </dev/null &
	echo $! >"$DIR/s3rver.pid"

	COFFER_S3_PORT=$PORT COFFER_S3_UPSTREAM_PORT=$UPORT \
		COFFER_S3_DATA_DIR="$DIR/data" COFFER_S3_SPOOL_DIR="$DIR/spool" COFFER_S3_LOG="$LOG" \
		COFFER_S3_FAULT_FILE="$DIR/faults" \
		COFFER_S3_TEST_ACCESS_KEY="$ACCESS_KEY" COFFER_S3_TEST_SECRET_KEY="$SECRET_KEY" \
		COFFER_S3_REGION="${COFFER_S3_REGION:-}" \
		COFFER_S3_FAULT_ALL="${COFFER_S3_FAULT_ALL:-}" \
		COFFER_S3_FAULT_503_EVERY="${COFFER_S3_FAULT_503_EVERY:-}" \
		COFFER_S3_FAULT_RESET_EVERY="${COFFER_S3_FAULT_RESET_EVERY:-}" \
		COFFER_S3_FAULT_TRUNCATE_EVERY="${COFFER_S3_FAULT_TRUNCATE_EVERY:-}" \
		COFFER_S3_FAULT_LIST_HTML="${COFFER_S3_FAULT_LIST_HTML:-}" \
		COFFER_S3_FAULT_LIST_CUT="${COFFER_S3_FAULT_LIST_CUT:-}" \
		COFFER_S3_FAULT_LIST_MATCH="${COFFER_S3_FAULT_LIST_MATCH:-}" \
		COFFER_S3_TLS_CERT="$tls_cert" COFFER_S3_TLS_KEY="$tls_key" \
		nohup node "$HERE/proxy.js" >"$DIR/proxy.out" 2>&1 </dev/null &
	echo $! >"$DIR/proxy.pid"

	# The proxy's health probe asks s3rver in turn; it is not counted for
	# fault injection and not logged.
	local ok=
	for _ in $(seq 1 600); do
		if [ "$(curl -s "${probe_ca[@]}" -o /dev/null -w '%{http_code}' --max-time 2 "$scheme://127.0.0.1:$PORT/-/health")" = 200 ]; then
			ok=1
			break
		fi
		if ! alive "$(pidof_file "$DIR/proxy.pid")" || ! alive "$(pidof_file "$DIR/s3rver.pid")"; then break; fi
		sleep 0.05
	done
	if [ -z "$ok" ]; then
		show_logs
		stop_servers
		die "the S3 test server on port $PORT does not answer (logs above)"
	fi

	# The bucket is made on s3rver directly, so that fault injection cannot
	# get in the way. 409 (already there, from an earlier start) is fine.
	local code
	code=$(curl -s -o "$DIR/mkbucket.out" -w '%{http_code}' -X PUT "http://127.0.0.1:$UPORT/$BUCKET")
	case "$code" in
	200 | 409) ;;
	*) cat "$DIR/mkbucket.out" >&2; stop_servers; die "creating bucket $BUCKET failed (HTTP $code)" ;;
	esac
	echo "$scheme://127.0.0.1:$PORT"
}

# make_tls DIR: a CA (ca.pem) and a certificate for IP 127.0.0.1 it signed
# (cert.pem, key.pem).
make_tls() {
	local d=$1
	mkdir -p "$d" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/ca.key" \
			-out "$d/ca.pem" -days 2 -subj "/CN=coffer S3 test CA" 2>/dev/null &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/key.pem" \
			-out "$d/req.csr" -subj "/CN=127.0.0.1" 2>/dev/null &&
		printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$d/ext.cnf" &&
		openssl x509 -req -in "$d/req.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-out "$d/cert.pem" -days 2 -extfile "$d/ext.cnf" 2>/dev/null
}

stop_servers() {
	kill_pid "$(pidof_file "$DIR/proxy.pid")"
	kill_pid "$(pidof_file "$DIR/s3rver.pid")"
	rm -f "$DIR/proxy.pid" "$DIR/s3rver.pid"
}

stop() {
	stop_servers
	if [ -e "$DIR/$MARKER" ]; then rm -rf -- "$DIR"; fi
}

env_lines() {
	local scheme
	scheme=$(cat "$DIR/scheme" 2>/dev/null || echo http)
	printf 'export COFFER_S3_ENDPOINT=%q\n' "$scheme://127.0.0.1:$PORT"
	[ "$scheme" = https ] && printf 'export COFFER_S3_TEST_CA=%q\n' "$DIR/tls/ca.pem"
	printf 'export AWS_ACCESS_KEY_ID=%q\n' "$ACCESS_KEY"
	printf 'export AWS_SECRET_ACCESS_KEY=%q\n' "$SECRET_KEY"
	printf 'export AWS_REGION=%q\n' "${COFFER_S3_REGION:-us-east-1}"
	printf 'export COFFER_S3_BUCKET=%q\n' "$BUCKET"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) env_lines ;;
*) die "usage: server.sh start | stop | env" ;;
esac
