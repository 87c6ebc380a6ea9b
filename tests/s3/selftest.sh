#!/usr/bin/env bash
# selftest.sh — proves that tests/s3/server.sh gives a working, strict S3
# test server: starts it, drives it with curl's own SigV4 signing
# (`curl --aws-sigv4`), prints one PASS/FAIL line per check, stops the
# server and exits non-zero if any check failed.
#
# It uses its own directory and ports so that it never touches a server
# started by hand with the defaults:
#   COFFER_S3_SELFTEST_DIR   (default /tmp/coffer-s3-selftest)
#   COFFER_S3_SELFTEST_PORT  (default: the first of 27484, 27486, ... 27498
#                            whose pair of ports is free; s3rver on the next port)
#
# curl 7.88 signs the query string as written and does not add
# x-amz-content-sha256 by itself: every request here therefore writes its
# query in canonical form (sorted, %-encoded) and sends that header, as an
# S3 client must.
#
# The conditions given to check are single-quoted strings run with eval, so
# the variables they use are expanded then (SC2016) and are used (SC2034).
# shellcheck disable=SC2016,SC2034

set -uo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVER=$HERE/server.sh
export COFFER_S3_DIR=${COFFER_S3_SELFTEST_DIR:-/tmp/coffer-s3-selftest}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -n "${COFFER_S3_SELFTEST_PORT:-}" ]; then
	COFFER_S3_PORT=$COFFER_S3_SELFTEST_PORT
else
	COFFER_S3_PORT=
	for p in 27484 27486 27488 27490 27492 27494 27496 27498; do
		if ! port_busy "$p" && ! port_busy $((p + 1)); then COFFER_S3_PORT=$p; break; fi
	done
	[ -n "$COFFER_S3_PORT" ] || { echo "selftest.sh: no free port pair in 27484..27499 (set COFFER_S3_SELFTEST_PORT)" >&2; exit 1; }
fi
export COFFER_S3_PORT
export COFFER_S3_BUCKET=coffer-selftest
export COFFER_S3_LOG=$COFFER_S3_DIR/proxy.log
unset COFFER_S3_REGION COFFER_S3_FAULT_ALL COFFER_S3_FAULT_503_EVERY COFFER_S3_FAULT_RESET_EVERY COFFER_S3_FAULT_TRUNCATE_EVERY
unset COFFER_S3_TEST_ACCESS_KEY COFFER_S3_TEST_SECRET_KEY

WORK=$(mktemp -d /tmp/coffer-s3-selftest-work.XXXXXX)
cleanup() {
	"$SERVER" stop >/dev/null 2>&1 || true
	rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

npass=0
nfail=0
pass() { echo "PASS: $*"; npass=$((npass + 1)); }
fail() {
	echo "FAIL: $*"
	nfail=$((nfail + 1))
	if [ -s "$COFFER_S3_LOG" ]; then
		echo "      last proxy log lines:"
		tail -n 3 "$COFFER_S3_LOG" | cut -c1-300 | sed 's/^/      /'
	fi
}
# check DESCRIPTION CONDITION: PASS if the shell condition (one string,
# run with eval) succeeds.
check() {
	if eval "$2"; then pass "$1"; else fail "$1"; fi
}

sha() { sha256sum "$1" | cut -c1-64; }
EMPTY_SHA=$(printf '' | sha256sum | cut -c1-64)

# %-encode a query value the SigV4 way (unreserved characters stay).
urlenc() {
	local s=$1 out='' c i h
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9._~-]) out+=$c ;;
		*) printf -v h '%%%02X' "'$c"; out+=$h ;;
		esac
	done
	printf '%s' "$out"
}

start_server() {
	if ! ENDPOINT=$("$SERVER" start); then
		fail "server.sh start${1:+ ($1)}"
		return 1
	fi
	eval "$("$SERVER" env)"
	KEY=$AWS_ACCESS_KEY_ID
	SECRET=$AWS_SECRET_ACCESS_KEY
	B=$COFFER_S3_ENDPOINT/$COFFER_S3_BUCKET
	pass "server.sh start${1:+ ($1)} -> $ENDPOINT"
}

# s3 METHOD URL [curl args...]: a signed request. The body goes to
# $WORK/body, the headers to $WORK/headers, the status code to stdout,
# curl's exit code to $WORK/rc (read it with curl_rc).
s3() {
	local method=$1 url=$2
	shift 2
	local code
	code=$(curl -sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$KEY:$SECRET" -X "$method" "$@" "$url" 2>"$WORK/curl.err")
	echo $? >"$WORK/rc"
	printf '%s' "$code"
}
# Same, for requests without a body.
s3e() {
	local method=$1 url=$2
	shift 2
	s3 "$method" "$url" -H "x-amz-content-sha256: $EMPTY_SHA" "$@"
}
curl_rc() { cat "$WORK/rc"; }
header() { grep -i "^$1:" "$WORK/headers" | tail -n 1 | cut -d: -f2- | tr -d ' \r'; }
body_has() { grep -q -- "$1" "$WORK/body"; }

# ---------------------------------------------------------------- the server

echo "== starting the server (directory $COFFER_S3_DIR, port $COFFER_S3_PORT)"
start_server || exit 1

# ---------------------------------------------------------------- a 20 MiB object

head -c $((20 * 1024 * 1024)) /dev/urandom >"$WORK/big"
BIG_SHA=$(sha "$WORK/big")
code=$(s3 PUT "$B/big/object.bin" -T "$WORK/big" -H "x-amz-content-sha256: $BIG_SHA")
check "PUT of a 20 MiB object (streamed, Expect: 100-continue) -> 200 (got $code)" '[ "$code" = 200 ]'

code=$(s3e GET "$B/big/object.bin")
check "GET of the 20 MiB object -> 200 (got $code)" '[ "$code" = 200 ]'
check "GET returns the same 20 MiB (sha256 $BIG_SHA)" '[ "$(sha "$WORK/body")" = "$BIG_SHA" ]'

code=$(s3e HEAD "$B/big/object.bin" -I)
check "HEAD -> 200 and Content-Length 20971520 (got $code, $(header content-length))" \
	'[ "$code" = 200 ] && [ "$(header content-length)" = 20971520 ]'

# ---------------------------------------------------------------- ranges

code=$(s3e GET "$B/big/object.bin" -r 1048570-1049609)
dd if="$WORK/big" of="$WORK/want" bs=1 skip=1048570 count=1040 status=none
check "ranged GET bytes=1048570-1049609 -> 206, Content-Range, the right 1040 bytes (got $code)" \
	'[ "$code" = 206 ] && [ "$(header content-range)" = "bytes1048570-1049609/20971520" ] && cmp -s "$WORK/body" "$WORK/want"'

code=$(s3e GET "$B/big/object.bin" -r -1000)
tail -c 1000 "$WORK/big" >"$WORK/want"
check "suffix range bytes=-1000 -> 206, the last 1000 bytes (got $code)" \
	'[ "$code" = 206 ] && cmp -s "$WORK/body" "$WORK/want"'

code=$(s3e GET "$B/big/object.bin" -r 0-0)
head -c 1 "$WORK/big" >"$WORK/want"
check "range bytes=0-0 -> 206, exactly the first byte (got $code, $(stat -c %s "$WORK/body") bytes)" \
	'[ "$code" = 206 ] && cmp -s "$WORK/body" "$WORK/want"'

code=$(s3e GET "$B/big/object.bin" -r 20971520-)
check "range past the end -> 416 InvalidRange (got $code)" '[ "$code" = 416 ] && body_has "<Code>InvalidRange</Code>"'

# ---------------------------------------------------------------- listing > 1000 keys

printf 'small object\n' >"$WORK/small"
SMALL_SHA=$(sha "$WORK/small")
N=1050
# One curl, one connection, 1050 signed PUTs (URL globbing).
curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$KEY:$SECRET" -X PUT --data-binary @"$WORK/small" \
	-H "x-amz-content-sha256: $SMALL_SHA" -H "Content-Type: application/octet-stream" \
	-w '%{http_code}\n' "$B/many/obj-[0000-1049]" >"$WORK/codes" 2>"$WORK/curl.err"
nok=$(grep -c '^200$' "$WORK/codes")
check "$N PUTs under many/ -> all 200 ($nok of $N)" '[ "$nok" = "$N" ]'

printf 'many/obj-%04d\n' $(seq 0 $((N - 1))) >"$WORK/want_keys"
: >"$WORK/got_keys"
token=''
pages=0
page_ok=1
while :; do
	q="list-type=2&max-keys=1000&prefix=$(urlenc many/)"
	[ -n "$token" ] && q="continuation-token=$(urlenc "$token")&$q"
	code=$(s3e GET "$B?$q")
	pages=$((pages + 1))
	if [ "$code" != 200 ]; then page_ok=''; break; fi
	grep -o '<Key>[^<]*</Key>' "$WORK/body" | sed 's/<[^>]*>//g' >"$WORK/page"
	cat "$WORK/page" >>"$WORK/got_keys"
	count=$(wc -l <"$WORK/page")
	truncated=$(grep -o '<IsTruncated>[a-z]*' "$WORK/body" | sed 's/.*>//')
	token=$(grep -o '<NextContinuationToken>[^<]*' "$WORK/body" | sed 's/.*>//')
	echo "      page $pages: $count keys, IsTruncated=$truncated${token:+, NextContinuationToken=$token}"
	[ "$pages" = 1 ] && { [ "$count" = 1000 ] && [ "$truncated" = true ] && [ -n "$token" ] || page_ok=''; }
	[ "$truncated" = true ] || break
	[ "$pages" -lt 10 ] || { page_ok=''; break; }
done
check "ListObjectsV2 with max-keys=1000: first page 1000 keys and a continuation token, $pages pages in all" \
	'[ -n "$page_ok" ] && [ "$pages" = 2 ]'
check "the pages together hold all $N keys, once each, in order ($(wc -l <"$WORK/got_keys") listed)" \
	'cmp -s "$WORK/got_keys" "$WORK/want_keys"'

# s3rver lists keys in its file-system order ("a/b" before "a-1"); the
# proxy lists in S3's byte order and pages without losing keys.
for k in order/b order/a/b order/a.x order/a-1 order/a; do
	s3 PUT "$B/$k" --data-binary @"$WORK/small" -H "x-amz-content-sha256: $SMALL_SHA" >/dev/null
done
: >"$WORK/got_keys"
token=''
for _ in 1 2 3 4 5; do
	q="list-type=2&max-keys=2&prefix=$(urlenc order/)"
	[ -n "$token" ] && q="continuation-token=$(urlenc "$token")&$q"
	s3e GET "$B?$q" >/dev/null
	grep -o '<Key>[^<]*</Key>' "$WORK/body" | sed 's/<[^>]*>//g' >>"$WORK/got_keys"
	token=$(grep -o '<NextContinuationToken>[^<]*' "$WORK/body" | sed 's/.*>//')
	[ -n "$token" ] || break
done
got=$(tr '\n' ' ' <"$WORK/got_keys")
check "listing 2 keys a page gives byte order: order/a order/a-1 order/a.x order/a/b order/b (got: $got)" \
	'[ "$got" = "order/a order/a-1 order/a.x order/a/b order/b " ]'

s3e GET "$B?delimiter=$(urlenc /)&list-type=2&prefix=$(urlenc order/)" >/dev/null
got=$(grep -o '<Key>[^<]*</Key>\|<CommonPrefixes><Prefix>[^<]*</Prefix>' "$WORK/body" | sed 's/<[^>]*>//g' | tr '\n' ' ')
check "delimiter=/ gives keys and CommonPrefixes (got: $got)" '[ "$got" = "order/a order/a-1 order/a.x order/b order/a/ " ]'

# ---------------------------------------------------------------- DELETE

code=$(s3e DELETE "$B/big/object.bin")
check "DELETE -> 204 (got $code)" '[ "$code" = 204 ]'
code=$(s3e HEAD "$B/big/object.bin" -I)
check "HEAD after DELETE -> 404 (got $code)" '[ "$code" = 404 ]'
code=$(s3e GET "$B/big/object.bin")
check "GET after DELETE -> 404 NoSuchKey (got $code)" '[ "$code" = 404 ] && body_has "<Code>NoSuchKey</Code>"'

# ---------------------------------------------------------------- authentication

code=$(curl -sS -o "$WORK/body" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user "$KEY:wrong-$SECRET" \
	-H "x-amz-content-sha256: $EMPTY_SHA" "$B/many/obj-0000")
check "request signed with a wrong secret -> 403 SignatureDoesNotMatch (got $code)" \
	'[ "$code" = 403 ] && body_has "<Code>SignatureDoesNotMatch</Code>"'

code=$(curl -sS -o "$WORK/body" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user "NOSUCHKEY0000000000:$SECRET" \
	-H "x-amz-content-sha256: $EMPTY_SHA" "$B/many/obj-0000")
check "request with an unknown access key -> 403 InvalidAccessKeyId (got $code)" \
	'[ "$code" = 403 ] && body_has "<Code>InvalidAccessKeyId</Code>"'

code=$(curl -sS -o "$WORK/body" -w '%{http_code}' "$B/many/obj-0000")
check "unsigned GET -> 403 AccessDenied (got $code)" '[ "$code" = 403 ] && body_has "<Code>AccessDenied</Code>"'
code=$(curl -sS -o "$WORK/body" -w '%{http_code}' -X PUT --data-binary @"$WORK/small" "$B/unsigned")
check "unsigned PUT -> 403 (got $code)" '[ "$code" = 403 ]'

code=$(s3 GET "$B/many/obj-0000")
check "signed request without x-amz-content-sha256 -> 400 InvalidRequest (got $code)" \
	'[ "$code" = 400 ] && body_has "<Code>InvalidRequest</Code>"'

code=$(s3e GET "$B?prefix=$(urlenc many/)&list-type=2")
check "query signed out of canonical order -> 403 SignatureDoesNotMatch (got $code)" \
	'[ "$code" = 403 ] && body_has "<Code>SignatureDoesNotMatch</Code>"'

printf 'something else\n' >"$WORK/other"
code=$(s3 PUT "$B/tampered" --data-binary @"$WORK/small" -H "x-amz-content-sha256: $(sha "$WORK/other")")
check "PUT whose body does not match x-amz-content-sha256 -> 400 XAmzContentSHA256Mismatch (got $code)" \
	'[ "$code" = 400 ] && body_has "<Code>XAmzContentSHA256Mismatch</Code>"'
code=$(s3e HEAD "$B/tampered" -I)
check "... and nothing was stored (HEAD -> $code)" '[ "$code" = 404 ]'

code=$(s3 PUT "$B/unsigned-payload" --data-binary @"$WORK/small" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
check "PUT with x-amz-content-sha256: UNSIGNED-PAYLOAD -> 200 (got $code)" '[ "$code" = 200 ]'

# ---------------------------------------------------------------- If-None-Match: * (emulated)

code=$(s3 PUT "$B/many/obj-0001" --data-binary @"$WORK/other" -H "x-amz-content-sha256: $(sha "$WORK/other")" -H "If-None-Match: *")
check "PUT If-None-Match: * on an existing key -> 412 PreconditionFailed (got $code)" \
	'[ "$code" = 412 ] && body_has "<Code>PreconditionFailed</Code>"'
s3e GET "$B/many/obj-0001" >/dev/null
check "... and the object is unchanged" 'cmp -s "$WORK/body" "$WORK/small"'

code=$(s3 PUT "$B/fresh/key" --data-binary @"$WORK/other" -H "x-amz-content-sha256: $(sha "$WORK/other")" -H "If-None-Match: *")
check "PUT If-None-Match: * on a new key -> 200 (got $code)" '[ "$code" = 200 ]'
s3e GET "$B/fresh/key" >/dev/null
check "... and the object is there" 'cmp -s "$WORK/body" "$WORK/other"'

# ---------------------------------------------------------------- fault injection

list_code() { s3e GET "$B?list-type=2&max-keys=1"; }

echo "== restarting with COFFER_S3_FAULT_503_EVERY=3"
"$SERVER" stop
if COFFER_S3_FAULT_503_EVERY=3 start_server "COFFER_S3_FAULT_503_EVERY=3"; then
	codes=''
	slowdown=1
	for i in 1 2 3 4 5 6 7 8 9; do
		c=$(list_code)
		codes+="$c "
		if [ "$c" = 503 ] && ! body_has '<Code>SlowDown</Code>'; then slowdown=''; fi
	done
	check "COFFER_S3_FAULT_503_EVERY=3: every third request gets 503 SlowDown (got: $codes)" \
		'[ "$codes" = "200 200 503 200 200 503 200 200 503 " ] && [ -n "$slowdown" ]'
	"$SERVER" stop
fi

echo "== restarting with COFFER_S3_FAULT_ALL=1"
if COFFER_S3_FAULT_ALL=1 start_server "COFFER_S3_FAULT_ALL=1"; then
	codes="$(list_code) $(list_code) $(list_code)"
	check "COFFER_S3_FAULT_ALL=1: every request gets 503 (got: $codes)" '[ "$codes" = "503 503 503" ]'
	"$SERVER" stop
fi

echo "== restarting with COFFER_S3_FAULT_RESET_EVERY=2"
if COFFER_S3_FAULT_RESET_EVERY=2 start_server "COFFER_S3_FAULT_RESET_EVERY=2"; then
	c1=$(s3 PUT "$B/r/one" --data-binary @"$WORK/small" -H "x-amz-content-sha256: $SMALL_SHA"); rc1=$(curl_rc)
	c2=$(s3 PUT "$B/r/two" --data-binary @"$WORK/small" -H "x-amz-content-sha256: $SMALL_SHA"); rc2=$(curl_rc)
	c3=$(s3e HEAD "$B/r/two" -I)
	check "COFFER_S3_FAULT_RESET_EVERY=2: request 1 -> $c1, request 2 -> no response (curl exit $rc2), and it stored nothing (HEAD -> $c3)" \
		'[ "$c1" = 200 ] && [ "$rc1" = 0 ] && [ "$c2" = 000 ] && [ "$rc2" != 0 ] && [ "$c3" = 404 ]'
	"$SERVER" stop
fi

echo "== restarting with COFFER_S3_FAULT_TRUNCATE_EVERY=2"
if COFFER_S3_FAULT_TRUNCATE_EVERY=2 start_server "COFFER_S3_FAULT_TRUNCATE_EVERY=2"; then
	head -c $((1024 * 1024)) /dev/urandom >"$WORK/mid"
	c1=$(s3 PUT "$B/t/obj" --data-binary @"$WORK/mid" -H "x-amz-content-sha256: $(sha "$WORK/mid")")
	c2=$(s3e GET "$B/t/obj"); rc2=$(curl_rc); got2=$(stat -c %s "$WORK/body")
	c3=$(s3e GET "$B/t/obj"); rc3=$(curl_rc)
	check "COFFER_S3_FAULT_TRUNCATE_EVERY=2: GET (request 2) is cut short (curl exit $rc2, $got2 of 1048576 bytes)" \
		'[ "$c1" = 200 ] && [ "$c2" = 200 ] && [ "$rc2" = 18 ] && [ "$got2" -lt 1048576 ]'
	check "... and request 3 gets the whole object (got $c3, curl exit $rc3)" \
		'[ "$c3" = 200 ] && [ "$rc3" = 0 ] && cmp -s "$WORK/body" "$WORK/mid"'
	"$SERVER" stop
fi

echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
