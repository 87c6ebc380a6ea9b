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
# S3 client must. aws-chunked uploads, which curl cannot make, are sent by a
# small node client written to the work directory (the seed signature from
# @smithy/signature-v4, chunk and trailer signatures computed by hand).
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

# ---------------------------------------------------------------- aws-chunked uploads

# A small node client (the proxy's own modules: @smithy/signature-v4 signs
# the request, the chunk and trailer signatures are computed here by hand).
cat >"$WORK/chunked.js" <<'NODE'
// aws-chunked PUT client for selftest.sh:
//   node chunked.js URL FILE [mode=signed|signed-trailer|unsigned-trailer] [chunk=BYTES]
//     [trailer=crc32c|crc64nvme|sha256] [tamper=data|sig|trailer-sig|trailer-value] [decoded=N]
//     [first=BYTES] [cut=BYTES] [sc=STORAGE_CLASS]
// Signs the request with @smithy/signature-v4 (the seed signature) and
// each chunk by hand; writes the response headers to $WORK/headers, the
// body to $WORK/body, prints the status code.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const crypto = require('node:crypto');
const mods = process.env.S3_MODULES;
const { SignatureV4 } = require(`${mods}/@smithy/signature-v4`);
const { Hash } = require(`${mods}/@smithy/hash-node`);

const [url, file, ...rest] = process.argv.slice(2);
const o = { mode: 'signed', chunk: '65536' };
for (const a of rest) { const i = a.indexOf('='); o[a.slice(0, i)] = a.slice(i + 1); }
const data = fs.readFileSync(file);
const u = new URL(url);
const MODES = {
	signed: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
	'signed-trailer': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
	'unsigned-trailer': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
};
const mode = MODES[o.mode];
const signed = o.mode !== 'unsigned-trailer';
const sha256 = b => crypto.createHash('sha256').update(b).digest('hex');
const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();

function checksum(alg, buf) {
	if (alg === 'sha256' || alg === 'sha1') return crypto.createHash(alg).update(buf).digest('base64');
	if (alg === 'crc32c') {
		let c = ~0 >>> 0;
		for (const byte of buf) { c ^= byte; for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1; }
		const out = Buffer.alloc(4); out.writeUInt32BE((~c) >>> 0); return out.toString('base64');
	}
	if (alg === 'crc64nvme') {
		const P = 0x9a6c9329ac4bc9b5n, M = (1n << 64n) - 1n;
		const T = [];
		for (let i = 0n; i < 256n; i++) { let c = i; for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ P : c >> 1n; T.push(c); }
		let c = M;
		for (const byte of buf) c = T[Number((c ^ BigInt(byte)) & 0xffn)] ^ (c >> 8n);
		const out = Buffer.alloc(8); out.writeBigUInt64BE(c ^ M); return out.toString('base64');
	}
	throw new Error(`no checksum ${alg}`);
}

(async () => {
	const size = Number(o.chunk);
	const pieces = [];
	let off = 0;
	if (o.first) { pieces.push(data.subarray(0, Number(o.first))); off = Number(o.first); }
	for (; off < data.length; off += size) pieces.push(data.subarray(off, off + size));
	const trailerName = o.trailer ? `x-amz-checksum-${o.trailer}` : null;
	let trailerValue = trailerName ? checksum(o.trailer, data) : null;
	if (o.tamper === 'trailer-value') trailerValue = checksum(o.trailer, Buffer.concat([data, Buffer.from('x')]));

	// Lengths first: Content-Length is signed.
	const sigLen = signed ? ';chunk-signature='.length + 64 : 0;
	let encodedLen = 0;
	for (const p of [...pieces, Buffer.alloc(0)]) encodedLen += p.length.toString(16).length + sigLen + 2 + p.length + 2;
	let trailerBlock = '';
	if (trailerName) {
		encodedLen -= 2; // the final chunk has no data CRLF: the trailer follows
		trailerBlock = `${trailerName}:${trailerValue}\r\n`;
		if (signed) trailerBlock += `x-amz-trailer-signature:${'0'.repeat(64)}\r\n`;
		trailerBlock += '\r\n';
		encodedLen += trailerBlock.length;
	}
	const headers = {
		host: u.host,
		'content-encoding': 'aws-chunked',
		'content-length': String(o.cut ? Number(o.cut) : encodedLen),
		'x-amz-content-sha256': mode,
		'x-amz-decoded-content-length': o.decoded || String(data.length),
	};
	if (trailerName) headers['x-amz-trailer'] = trailerName;
	if (o.sc) headers['x-amz-storage-class'] = o.sc;
	const signer = new SignatureV4({
		credentials: { accessKeyId: process.env.KEY, secretAccessKey: process.env.SECRET },
		region: 'us-east-1', service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false, applyChecksum: false,
	});
	const req = await signer.sign({ method: 'PUT', protocol: 'http:', hostname: u.hostname, port: Number(u.port),
		path: u.pathname, query: {}, headers }, { signingDate: new Date() });
	const amzDate = req.headers['x-amz-date'];
	const scope = `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
	const key = hmac(hmac(hmac(hmac(`AWS4${process.env.SECRET}`, amzDate.slice(0, 8)), 'us-east-1'), 's3'), 'aws4_request');
	let prev = /Signature=([0-9a-f]{64})/.exec(req.headers.authorization)[1];

	const parts = [];
	pieces.push(Buffer.alloc(0));
	pieces.forEach((p, n) => {
		let sig = '';
		if (signed) {
			sig = hmac(key, ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, prev, sha256(''), sha256(p)].join('\n')).toString('hex');
			prev = sig;
		}
		let body = p;
		if (o.tamper === 'data' && n === 1) { body = Buffer.from(p); body[0] ^= 1; }
		if (o.tamper === 'sig' && n === 1) sig = sig.replace(/^./, c => (c === '0' ? '1' : '0'));
		parts.push(Buffer.from(`${p.length.toString(16)}${signed ? `;chunk-signature=${sig}` : ''}\r\n`), body);
		if (!(trailerName && p.length === 0)) parts.push(Buffer.from('\r\n'));
	});
	if (trailerName) {
		let block = `${trailerName}:${trailerValue}\r\n`;
		if (signed) {
			let sig = hmac(key, ['AWS4-HMAC-SHA256-TRAILER', amzDate, scope, prev, sha256(`${trailerName}:${trailerValue}\n`)].join('\n')).toString('hex');
			if (o.tamper === 'trailer-sig') sig = sig.replace(/^./, c => (c === '0' ? '1' : '0'));
			block += `x-amz-trailer-signature:${sig}\r\n`;
		}
		parts.push(Buffer.from(block + '\r\n'));
	}
	let wire = Buffer.concat(parts);
	if (wire.length !== encodedLen) throw new Error(`encoded ${wire.length} bytes, announced ${encodedLen}`);
	if (o.cut) wire = wire.subarray(0, Number(o.cut));

	const res = await new Promise((resolve, reject) => {
		const r = http.request({ host: u.hostname, port: u.port, method: 'PUT', path: u.pathname, headers: req.headers }, resolve);
		r.on('error', reject);
		r.end(wire);
	});
	const chunks = [];
	for await (const c of res) chunks.push(c);
	fs.writeFileSync(`${process.env.WORK}/body`, Buffer.concat(chunks));
	fs.writeFileSync(`${process.env.WORK}/headers`, Object.entries(res.headers).map(([k, v]) => `${k}: ${v}\r\n`).join(''));
	process.stdout.write(String(res.statusCode));
})().catch(e => { process.stderr.write(`chunked.js: ${e.stack}\n`); process.stdout.write('000'); });
NODE
# chunked URL FILE [key=value...]: an aws-chunked PUT; status to stdout,
# body and headers to $WORK/body and $WORK/headers.
chunked() {
	(
		export WORK KEY SECRET
		S3_MODULES=$HERE/node_modules node "$WORK/chunked.js" "$@" 2>>"$WORK/node.err"
	)
}

head -c 300000 /dev/urandom >"$WORK/chunky"
code=$(chunked "$B/chunked/signed" "$WORK/chunky")
check "aws-chunked PUT (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, 5 signed chunks of 64 KiB and less) -> 200 (got $code)" '[ "$code" = 200 ]'
code=$(s3e GET "$B/chunked/signed")
check "... GET gives the decoded 300000 bytes back, without Content-Encoding aws-chunked (got $code, $(stat -c %s "$WORK/body") bytes)" \
	'[ "$code" = 200 ] && cmp -s "$WORK/body" "$WORK/chunky" && ! grep -qi "^content-encoding:.*aws-chunked" "$WORK/headers"'

code=$(chunked "$B/chunked/bad" "$WORK/chunky" tamper=data)
check "aws-chunked PUT with one byte of chunk 2 changed (signatures as for the original) -> 403 SignatureDoesNotMatch (got $code)" \
	'[ "$code" = 403 ] && body_has "<Code>SignatureDoesNotMatch</Code>" && body_has "AWS4-HMAC-SHA256-PAYLOAD"'
code=$(chunked "$B/chunked/bad" "$WORK/chunky" tamper=sig)
check "aws-chunked PUT with a wrong chunk-signature on chunk 2 -> 403 SignatureDoesNotMatch (got $code)" \
	'[ "$code" = 403 ] && body_has "<Code>SignatureDoesNotMatch</Code>"'
code=$(chunked "$B/chunked/bad" "$WORK/chunky" decoded=299999)
check "aws-chunked PUT whose chunks hold more than x-amz-decoded-content-length -> 400 IncompleteBody (got $code)" \
	'[ "$code" = 400 ] && body_has "<Code>IncompleteBody</Code>"'
code=$(chunked "$B/chunked/bad" "$WORK/chunky" decoded=300001)
check "aws-chunked PUT whose chunks hold less than x-amz-decoded-content-length -> 400 IncompleteBody (got $code)" \
	'[ "$code" = 400 ] && body_has "<Code>IncompleteBody</Code>"'
code=$(chunked "$B/chunked/bad" "$WORK/chunky" first=1000)
check "aws-chunked PUT with a 1000-byte chunk that is not the last -> 403 InvalidChunkSizeError (got $code)" \
	'[ "$code" = 403 ] && body_has "<Code>InvalidChunkSizeError</Code>"'
code=$(chunked "$B/chunked/bad" "$WORK/chunky" cut=70000)
check "aws-chunked PUT whose body stops in chunk 2 -> 400 IncompleteBody (got $code)" \
	'[ "$code" = 400 ] && body_has "<Code>IncompleteBody</Code>"'
code=$(s3e HEAD "$B/chunked/bad" -I)
check "... and none of these stored anything (HEAD -> $code)" '[ "$code" = 404 ]'

code=$(chunked "$B/chunked/trailer" "$WORK/chunky" mode=signed-trailer trailer=crc32c)
crc=$(header x-amz-checksum-crc32c)
check "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with a signed x-amz-checksum-crc32c trailer -> 200, checksum echoed (got $code, $crc)" \
	'[ "$code" = 200 ] && [ -n "$crc" ]'
s3e GET "$B/chunked/trailer" >/dev/null
check "... and the object is the decoded body" 'cmp -s "$WORK/body" "$WORK/chunky"'
code=$(chunked "$B/chunked/trailer" "$WORK/chunky" mode=signed-trailer trailer=crc32c tamper=trailer-sig)
check "... the same with a wrong x-amz-trailer-signature -> 403 SignatureDoesNotMatch (got $code)" \
	'[ "$code" = 403 ] && body_has "<Code>SignatureDoesNotMatch</Code>"'
code=$(chunked "$B/chunked/trailer" "$WORK/chunky" mode=signed-trailer trailer=crc32c tamper=trailer-value)
check "... the same with a signed but wrong CRC32C -> 400 BadDigest (got $code)" \
	'[ "$code" = 400 ] && body_has "<Code>BadDigest</Code>" && body_has "The CRC32C you specified did not match"'
code=$(chunked "$B/chunked/unsigned" "$WORK/chunky" mode=unsigned-trailer trailer=crc64nvme)
check "STREAMING-UNSIGNED-PAYLOAD-TRAILER with an x-amz-checksum-crc64nvme trailer -> 200, checksum echoed (got $code, $(header x-amz-checksum-crc64nvme))" \
	'[ "$code" = 200 ] && [ -n "$(header x-amz-checksum-crc64nvme)" ]'
s3e GET "$B/chunked/unsigned" >/dev/null
check "... and the object is the decoded body" 'cmp -s "$WORK/body" "$WORK/chunky"'
code=$(chunked "$B/chunked/unsigned2" "$WORK/chunky" mode=unsigned-trailer trailer=crc64nvme tamper=trailer-value)
check "... the same with a wrong CRC64NVME -> 400 BadDigest (got $code)" '[ "$code" = 400 ] && body_has "<Code>BadDigest</Code>"'
code=$(s3e HEAD "$B/chunked/unsigned2" -I)
check "... and nothing was stored (HEAD -> $code)" '[ "$code" = 404 ]'

# ---------------------------------------------------------------- x-amz-checksum-sha256

b64sha() { printf '%b' "$(sha256sum "$1" | cut -c1-64 | sed 's/../\\x&/g')" | base64; }
SMALL_B64=$(b64sha "$WORK/small")
code=$(s3 PUT "$B/sum/good" --data-binary @"$WORK/small" -H "x-amz-content-sha256: $SMALL_SHA" -H "x-amz-checksum-sha256: $SMALL_B64")
check "PUT with x-amz-checksum-sha256 (and a hex x-amz-content-sha256) -> 200, x-amz-checksum-sha256 echoed (got $code, $(header x-amz-checksum-sha256))" \
	'[ "$code" = 200 ] && [ "$(header x-amz-checksum-sha256)" = "$SMALL_B64" ]'
code=$(s3 PUT "$B/sum/unsigned" --data-binary @"$WORK/small" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -H "x-amz-checksum-sha256: $SMALL_B64")
check "PUT with x-amz-checksum-sha256 and UNSIGNED-PAYLOAD -> 200 (got $code)" '[ "$code" = 200 ]'
code=$(s3 PUT "$B/sum/bad" --data-binary @"$WORK/small" -H "x-amz-content-sha256: $SMALL_SHA" -H "x-amz-checksum-sha256: $(b64sha "$WORK/other")")
check "PUT whose x-amz-checksum-sha256 does not match the body -> 400 BadDigest 'The SHA256 you specified did not match the calculated checksum.' (got $code)" \
	'[ "$code" = 400 ] && body_has "<Code>BadDigest</Code>" && body_has "The SHA256 you specified did not match the calculated checksum."'
code=$(s3e HEAD "$B/sum/bad" -I)
check "... and nothing was stored (HEAD -> $code)" '[ "$code" = 404 ]'
code=$(s3 PUT "$B/sum/bad" --data-binary @"$WORK/small" -H "x-amz-content-sha256: $SMALL_SHA" -H "x-amz-checksum-sha256: notbase64")
check "PUT with a malformed x-amz-checksum-sha256 -> 400 InvalidRequest (got $code)" '[ "$code" = 400 ] && body_has "<Code>InvalidRequest</Code>"'
code=$(s3e HEAD "$B/sum/good" -I -H "x-amz-checksum-mode: ENABLED")
check "HEAD with x-amz-checksum-mode: ENABLED returns the object's x-amz-checksum-sha256 (got $code, $(header x-amz-checksum-sha256))" \
	'[ "$code" = 200 ] && [ "$(header x-amz-checksum-sha256)" = "$SMALL_B64" ]'

# ---------------------------------------------------------------- storage classes

put_class() { s3 PUT "$B/$1" --data-binary @"$WORK/small" -H "x-amz-content-sha256: $SMALL_SHA" ${2:+-H "x-amz-storage-class: $2"}; }
c1=$(put_class class/glacier GLACIER)
c2=$(put_class class/standard STANDARD)
c3=$(put_class class/none)
c4=$(put_class class/deep DEEP_ARCHIVE)
c5=$(put_class class/express EXPRESS_ONEZONE)
c6=$(put_class class/ir GLACIER_IR)
check "PUTs with x-amz-storage-class GLACIER, STANDARD, none, DEEP_ARCHIVE, EXPRESS_ONEZONE, GLACIER_IR -> 200 (got $c1 $c2 $c3 $c4 $c5 $c6)" \
	'[ "$c1 $c2 $c3 $c4 $c5 $c6" = "200 200 200 200 200 200" ]'
code=$(put_class class/bad FOO)
check "PUT with x-amz-storage-class FOO -> 400 InvalidStorageClass 'The storage class you specified is not valid' (got $code)" \
	'[ "$code" = 400 ] && body_has "<Code>InvalidStorageClass</Code>" && body_has "The storage class you specified is not valid"'
code=$(s3e HEAD "$B/class/bad" -I)
check "... and nothing was stored (HEAD -> $code)" '[ "$code" = 404 ]'
code=$(s3e HEAD "$B/class/glacier" -I)
h1=$(header x-amz-storage-class)
code2=$(s3e GET "$B/class/glacier")
h2=$(header x-amz-storage-class)
check "HEAD and GET of the GLACIER object carry x-amz-storage-class: GLACIER (got $code $h1, $code2 $h2)" \
	'[ "$code $h1 $code2 $h2" = "200 GLACIER 200 GLACIER" ] && cmp -s "$WORK/body" "$WORK/small"'
s3e HEAD "$B/class/standard" -I >/dev/null; h1=$(header x-amz-storage-class)
s3e GET "$B/class/none" >/dev/null; h2=$(header x-amz-storage-class)
check "STANDARD objects (given or not) have no x-amz-storage-class header (got '$h1' '$h2')" '[ -z "$h1" ] && [ -z "$h2" ]'

list_classes() { # prefix, page size: "key=class ..." over all pages
	local token='' q out=''
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		q="list-type=2&max-keys=$2&prefix=$(urlenc "$1")"
		[ -n "$token" ] && q="continuation-token=$(urlenc "$token")&$q"
		s3e GET "$B?$q" >/dev/null
		out+=$(grep -o '<Key>[^<]*</Key>\|<StorageClass>[^<]*' "$WORK/body" | sed 's/<Key>//; s/<\/Key>/=/; s/<StorageClass>//' | paste -d '' - - | tr '\n' ' ')
		token=$(grep -o '<NextContinuationToken>[^<]*' "$WORK/body" | sed 's/.*>//')
		[ -n "$token" ] || break
	done
	printf '%s' "$out"
}
got=$(list_classes class/ 2)
check "ListObjectsV2 (2 keys a page) shows each key's StorageClass, in key order (got: $got)" \
	'[ "$got" = "class/deep=DEEP_ARCHIVE class/express=EXPRESS_ONEZONE class/glacier=GLACIER class/ir=GLACIER_IR class/none=STANDARD class/standard=STANDARD " ]'

c1=$(s3e DELETE "$B/class/glacier")
c2=$(put_class class/glacier)
s3e HEAD "$B/class/glacier" -I >/dev/null; h1=$(header x-amz-storage-class)
got=$(list_classes class/glacier 1000)
check "a GLACIER key deleted and written again without a class is STANDARD (DELETE $c1, PUT $c2, header '$h1', listed $got)" \
	'[ "$c1 $c2" = "204 200" ] && [ -z "$h1" ] && [ "$got" = "class/glacier=STANDARD " ]'

code=$(s3e PUT "$B/class/copy" -H "Content-Length: 0" -H "x-amz-copy-source: /$COFFER_S3_BUCKET/class/deep" -H "x-amz-storage-class: STANDARD_IA")
s3e HEAD "$B/class/copy" -I >/dev/null; h1=$(header x-amz-storage-class)
check "CopyObject with x-amz-storage-class: STANDARD_IA -> 200, the copy is STANDARD_IA (got $code, $h1)" '[ "$code $h1" = "200 STANDARD_IA" ]'

code=$(s3e POST "$B/class/multi?uploads=" -H "x-amz-storage-class: ONEZONE_IA")
upload=$(grep -o '<UploadId>[^<]*' "$WORK/body" | sed 's/.*>//')
c2=$(s3 PUT "$B/class/multi?partNumber=1&uploadId=$(urlenc "$upload")" --data-binary @"$WORK/small" -H "x-amz-content-sha256: $SMALL_SHA")
etag=$(header etag)
printf '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>' "$etag" >"$WORK/complete"
c3=$(s3 POST "$B/class/multi?uploadId=$(urlenc "$upload")" --data-binary @"$WORK/complete" -H "x-amz-content-sha256: $(sha "$WORK/complete")")
s3e HEAD "$B/class/multi" -I >/dev/null; h1=$(header x-amz-storage-class)
check "multipart upload created with x-amz-storage-class: ONEZONE_IA -> the object is ONEZONE_IA (create $code, part $c2, complete $c3, $h1)" \
	'[ "$code $c2 $c3 $h1" = "200 200 200 ONEZONE_IA" ]'

code=$(chunked "$B/class/chunked" "$WORK/chunky" sc=INTELLIGENT_TIERING)
s3e HEAD "$B/class/chunked" -I >/dev/null; h1=$(header x-amz-storage-class)
check "aws-chunked PUT with x-amz-storage-class: INTELLIGENT_TIERING -> 200, HEAD says INTELLIGENT_TIERING (got $code, $h1)" \
	'[ "$code $h1" = "200 INTELLIGENT_TIERING" ]'

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
