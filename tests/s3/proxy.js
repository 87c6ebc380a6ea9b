#!/usr/bin/env node
'use strict';
// proxy.js — the front door of coffer's S3 test server.
//
// Listens on 127.0.0.1:COFFER_S3_PORT and forwards to s3rver on
// 127.0.0.1:COFFER_S3_UPSTREAM_PORT. s3rver keeps objects on local disk but
// does not check AWS Signature V4, so this proxy does, the way S3 would:
// every request must carry an `Authorization: AWS4-HMAC-SHA256 ...` header
// whose signature it recomputes with @smithy/signature-v4 from the configured
// key pair, and the body must match x-amz-content-sha256 (a hex digest) or
// that header must be UNSIGNED-PAYLOAD, or the body is aws-chunked
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], STREAMING-UNSIGNED-PAYLOAD-
// TRAILER): then every chunk signature is checked along the chain that starts
// at the request's signature, the decoded length against
// x-amz-decoded-content-length, and s3rver gets the decoded body. Flexible
// checksums (x-amz-checksum-* as a header or an aws-chunked trailer; CRC32,
// CRC32C, CRC64NVME, SHA1, SHA256) are checked against the body and echoed.
// Refusals get S3's status, error code and XML body.
//
// It also covers what s3rver 3.7.1 gets wrong or lacks (see README.md):
//   - ListObjects (V2 and V1) is answered here, from s3rver's data directory:
//     s3rver's own pagination fails (its continuation token needs DES, which
//     OpenSSL 3 no longer offers) and it lists keys out of byte order.
//   - PUT with `If-None-Match: *` / `If-Match: ETAG` is emulated: HEAD the key
//     on s3rver, answer 412 PreconditionFailed (or 404), else forward the PUT.
//     Writes to one key are serialized in this process, so the check and the
//     write are atomic with respect to every other request through the proxy.
//   - Range: suffix ranges (bytes=-N), bytes=0-0 and ranges of empty objects
//     are resolved here (s3rver answers them wrongly); other ranges are
//     forwarded as is.
//   - Storage classes: x-amz-storage-class on PutObject, CopyObject and
//     CreateMultipartUpload is checked against S3's list and kept here, per
//     key, in memory (s3rver knows fewer classes); HEAD and GET report it
//     (x-amz-storage-class, absent for STANDARD), ListObjects in StorageClass.
//   - PUT bodies are read in full (kept in memory as received, or spooled to
//     a file when over COFFER_S3_MEM_BODY_LIMIT, 64 MiB) and checked before
//     s3rver sees them, so a body that fails its checksum, or a client that
//     goes away mid-upload, leaves nothing behind; after s3rver says 200 the
//     proxy waits until the file on disk has its full size (s3rver answers
//     before its write stream flushes). Each body is hashed once, as it
//     arrives, for just the digests its headers ask to be checked.
//
// Fault injection (environment; N counts requests from 1, the health probe
// not included): COFFER_S3_FAULT_ALL=1, COFFER_S3_FAULT_503_EVERY=N,
// COFFER_S3_FAULT_RESET_EVERY=N, COFFER_S3_FAULT_TRUNCATE_EVERY=N; and for
// listings that name a prefix (counted apart, from 1):
// COFFER_S3_FAULT_LIST_HTML=N (200 text/html instead of the listing),
// COFFER_S3_FAULT_LIST_CUT=N (the XML cut mid-way in a complete response),
// COFFER_S3_FAULT_LIST_MATCH=TEXT (only listings whose prefix holds TEXT).
//
// One log line per request goes to COFFER_S3_LOG (stdout if unset). Neither
// the secret nor any signature is ever logged.

const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const os = require('node:os');
const path = require('node:path');
const { once } = require('node:events');

const { SignatureV4, getCanonicalHeaders } = require('@smithy/signature-v4');
const { Hash } = require('@smithy/hash-node');

// ---------------------------------------------------------------- settings

function intEnv(name, dflt) {
	const v = process.env[name];
	if (v === undefined || v === '') return dflt;
	if (!/^\d+$/.test(v)) {
		console.error(`proxy.js: ${name} must be a non-negative integer (got '${v}')`);
		process.exit(2);
	}
	return Number(v);
}

const PORT = intEnv('COFFER_S3_PORT', 27480);
const UPSTREAM_PORT = intEnv('COFFER_S3_UPSTREAM_PORT', PORT + 1);
const HOST = '127.0.0.1';
const DATA_DIR = process.env.COFFER_S3_DATA_DIR || '';
const SPOOL_DIR = process.env.COFFER_S3_SPOOL_DIR || path.join(os.tmpdir(), `coffer-s3-spool-${process.pid}`);
const ACCESS_KEY = process.env.COFFER_S3_TEST_ACCESS_KEY || 'COFFERTESTACCESSKEY1';
const SECRET_KEY = process.env.COFFER_S3_TEST_SECRET_KEY || 'cofferTestSecretKey/0123456789+abcdefghij';
const REGION = process.env.COFFER_S3_REGION || ''; // empty: accept the region of any credential scope
const LOG = process.env.COFFER_S3_LOG || '';
let FAULT_ALL = intEnv('COFFER_S3_FAULT_ALL', 0) !== 0;
let FAULT_503 = intEnv('COFFER_S3_FAULT_503_EVERY', 0);
let FAULT_RESET = intEnv('COFFER_S3_FAULT_RESET_EVERY', 0);
let FAULT_TRUNCATE = intEnv('COFFER_S3_FAULT_TRUNCATE_EVERY', 0);
let FAULT_LIST_HTML = intEnv('COFFER_S3_FAULT_LIST_HTML', 0);
let FAULT_LIST_CUT = intEnv('COFFER_S3_FAULT_LIST_CUT', 0);
let FAULT_LIST_MATCH = process.env.COFFER_S3_FAULT_LIST_MATCH || '';
// Faults can also change while the server runs (so a test keeps its
// data): COFFER_S3_FAULT_FILE names a file of KEY=VALUE lines with the
// same names; when it exists it replaces the environment's settings, when
// it is removed they come back. Read again when its mtime changes.
const FAULT_FILE = process.env.COFFER_S3_FAULT_FILE || '';
const FAULT_DEFAULTS = { all: FAULT_ALL, e503: FAULT_503, reset: FAULT_RESET, truncate: FAULT_TRUNCATE,
	listHtml: FAULT_LIST_HTML, listCut: FAULT_LIST_CUT, listMatch: FAULT_LIST_MATCH };
let faultFileStamp = '';

// COFFER_S3_IGNORE_CONDITIONAL=1: act like an older S3-compatible server
// that ignores If-None-Match / If-Match on PUT and writes anyway.
const IGNORE_CONDITIONAL = intEnv('COFFER_S3_IGNORE_CONDITIONAL', 0) === 1;
const MAX_SKEW_MS = 15 * 60 * 1000;
const MEM_BODY_LIMIT = intEnv('COFFER_S3_MEM_BODY_LIMIT', 64 << 20); // larger bodies are spooled to a file
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const OBJECT_SUFFIX = '._S3rver_object'; // s3rver's file layout: DATA_DIR/bucket/<key>._S3rver_object
const HEALTH_PATH = '/-/health'; // no bucket name starts with '-'

if (!DATA_DIR) {
	console.error('proxy.js: COFFER_S3_DATA_DIR (s3rver\'s data directory) must be set');
	process.exit(2);
}
fs.mkdirSync(SPOOL_DIR, { recursive: true });

// ---------------------------------------------------------------- logging

function logLine(s) {
	const line = `${new Date().toISOString()} ${s}\n`;
	if (LOG) {
		try { fs.appendFileSync(LOG, line); } catch (e) { process.stderr.write(`proxy.js: log: ${e.message}\n`); }
	} else {
		process.stdout.write(line);
	}
}

// A path for the log: presigned-URL parameters that carry a signature or a
// token are blanked (such requests are refused anyway).
function logPath(url) {
	return url.replace(/([?&](?:X-Amz-Signature|X-Amz-Security-Token|X-Amz-Credential|Signature)=)[^&]*/gi, '$1REDACTED')
		.replace(/\s/g, '%20');
}

// ---------------------------------------------------------------- XML and errors

function xmlEscape(s) {
	return String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);
}

function el(name, value) {
	return `<${name}>${xmlEscape(value)}</${name}>`;
}

function newRequestId() {
	return crypto.randomBytes(8).toString('hex').toUpperCase();
}

class S3Err {
	// status, S3 error code, message, extra elements for the XML body, and a
	// reason for the log (never with secrets or signatures).
	constructor(status, code, message, extra = {}, why = '') {
		Object.assign(this, { status, code, message, extra, why });
	}
}

function sendError(ctx, err, headers = {}) {
	const { res, req } = ctx;
	ctx.note(err.why ? `${err.code}: ${err.why}` : err.code);
	if (res.headersSent) { res.destroy(); return; }
	let body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + el('Code', err.code) + el('Message', err.message);
	for (const [k, v] of Object.entries(err.extra)) {
		if (v !== undefined && v !== null) body += el(k, v);
	}
	body += el('RequestId', ctx.requestId) + el('HostId', 'coffer-s3-test-proxy') + '</Error>';
	const buf = Buffer.from(body, 'utf8');
	const h = {
		'content-type': 'application/xml',
		'x-amz-request-id': ctx.requestId,
		'content-length': req.method === 'HEAD' ? 0 : buf.length,
		...headers,
	};
	// A client that asked for 100-continue and did not get it will not send
	// its body: close the connection rather than wait for one.
	if (ctx.expectContinue && !ctx.continued) h.connection = 'close';
	ctx.bytesOut = req.method === 'HEAD' ? 0 : buf.length;
	res.writeHead(err.status, h);
	res.end(req.method === 'HEAD' ? undefined : buf);
}

// ---------------------------------------------------------------- request target

// RFC 3986 unreserved characters stay, everything else is %XX (upper case):
// the encoding SigV4 wants in the canonical request.
function uriEscape(s) {
	return encodeURIComponent(s).replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function parseTarget(url) {
	if (!url.startsWith('/')) throw new S3Err(400, 'InvalidURI', "Couldn't parse the specified URI.", {}, 'request target is not a path');
	const qi = url.indexOf('?');
	const rawPath = qi < 0 ? url : url.slice(0, qi);
	const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
	let segments;
	try {
		segments = rawPath.split('/').map(s => decodeURIComponent(s));
	} catch {
		throw new S3Err(400, 'InvalidURI', "Couldn't parse the specified URI.", { URI: rawPath }, 'bad %-encoding in path');
	}
	const canonicalPath = segments.map(uriEscape).join('/');
	const query = {};
	if (rawQuery !== '') {
		for (const part of rawQuery.split('&')) {
			if (part === '') continue;
			const eq = part.indexOf('=');
			let k, v;
			try {
				k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
				v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
			} catch {
				throw new S3Err(400, 'InvalidURI', "Couldn't parse the specified URI.", { URI: url }, 'bad %-encoding in query');
			}
			if (Object.prototype.hasOwnProperty.call(query, k)) {
				query[k] = [].concat(query[k], v);
			} else {
				query[k] = v;
			}
		}
	}
	// path-style: /bucket/key...
	const bucket = segments.length > 1 ? segments[1] : '';
	const key = segments.length > 2 ? segments.slice(2).join('/') : '';
	return { rawPath, rawQuery, canonicalPath, query, bucket, key };
}

function q1(query, name) {
	const v = query[name];
	return Array.isArray(v) ? v[0] : v;
}

// ---------------------------------------------------------------- SigV4

const sha256Ctor = Hash.bind(null, 'sha256');

function parseAmzDate(s) {
	const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
	if (!m) return null;
	const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
	if (isNaN(d) || d.toISOString().replace(/[-:]|\.\d{3}/g, '') !== s) return null;
	return d;
}

function malformed(message, why) {
	return new S3Err(400, 'AuthorizationHeaderMalformed', message, {}, why);
}

// Returns the access key on success; throws an S3Err otherwise.
async function verifySignature(req, t) {
	const q = t.query;
	if ('X-Amz-Algorithm' in q || 'X-Amz-Signature' in q || 'Signature' in q || 'AWSAccessKeyId' in q) {
		throw new S3Err(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented',
			{}, 'query-string (presigned) authentication is not supported by the test proxy');
	}
	const auth = req.headers.authorization;
	if (auth === undefined) {
		throw new S3Err(403, 'AccessDenied', 'Access Denied', {}, 'unsigned request (no Authorization header)');
	}
	const am = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(auth);
	if (!am) {
		throw new S3Err(400, 'InvalidRequest',
			'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.', {},
			`unsupported Authorization scheme '${auth.split(/\s/)[0]}'`);
	}
	const fields = {};
	for (const part of am[1].split(',')) {
		const p = part.trim();
		const eq = p.indexOf('=');
		if (eq > 0) fields[p.slice(0, eq)] = p.slice(eq + 1);
	}
	for (const f of ['Credential', 'SignedHeaders', 'Signature']) {
		if (!fields[f]) {
			throw malformed(`The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.`,
				`Authorization header lacks ${f}`);
		}
	}
	const cred = fields.Credential.split('/');
	if (cred.length !== 5 || cred[4] !== 'aws4_request') {
		throw malformed(`The authorization header is malformed; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`,
			'malformed Credential');
	}
	const [accessKey, scopeDate, region, service] = cred;
	if (accessKey !== ACCESS_KEY) {
		throw new S3Err(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.',
			{ AWSAccessKeyId: accessKey }, `unknown access key '${accessKey}'`);
	}
	const amzDate = req.headers['x-amz-date'];
	const signingDate = parseAmzDate(amzDate);
	if (!signingDate) {
		throw new S3Err(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header', {},
			amzDate === undefined ? 'no x-amz-date header' : `invalid x-amz-date '${amzDate}'`);
	}
	if (scopeDate !== amzDate.slice(0, 8)) {
		throw malformed('The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.',
			`credential scope date ${scopeDate} is not the date of x-amz-date ${amzDate}`);
	}
	if (service !== 's3') {
		throw malformed(`The authorization header is malformed; incorrect service "${service}". This endpoint belongs to "s3".`,
			`credential scope service '${service}'`);
	}
	if (REGION && region !== REGION) {
		throw new S3Err(400, 'AuthorizationHeaderMalformed',
			`The authorization header is malformed; the region '${region}' is wrong; expecting '${REGION}'`,
			{ Region: REGION }, `credential scope region '${region}', expected '${REGION}'`);
	}
	const skew = Math.abs(Date.now() - signingDate.getTime());
	if (skew > MAX_SKEW_MS) {
		throw new S3Err(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.',
			{ RequestTime: amzDate, ServerTime: new Date().toISOString(), MaxAllowedSkewMilliseconds: MAX_SKEW_MS },
			`x-amz-date is ${Math.round(skew / 1000)} s away from now`);
	}
	const payloadHash = req.headers['x-amz-content-sha256'];
	if (payloadHash === undefined) {
		throw new S3Err(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256', {},
			'no x-amz-content-sha256 header');
	}
	if (payloadHash.startsWith('STREAMING-') && !STREAMING_MODES.has(payloadHash)) {
		throw new S3Err(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented',
			{ Header: 'x-amz-content-sha256' }, `'${payloadHash}' (SigV4a aws-chunked upload) is not supported by the test proxy`);
	}
	if (payloadHash !== 'UNSIGNED-PAYLOAD' && !STREAMING_MODES.has(payloadHash) && !/^[0-9a-f]{64}$/.test(payloadHash)) {
		throw new S3Err(400, 'InvalidArgument',
			'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.',
			{ ArgumentName: 'x-amz-content-sha256', ArgumentValue: payloadHash }, 'malformed x-amz-content-sha256');
	}
	const signedList = fields.SignedHeaders.split(';');
	if (!signedList.includes('host')) {
		throw new S3Err(403, 'SignatureDoesNotMatch',
			'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
			{ AWSAccessKeyId: accessKey }, `host is not among the signed headers (${fields.SignedHeaders})`);
	}
	const notSigned = Object.keys(req.headers).filter(h => h.startsWith('x-amz-') && !signedList.includes(h));
	if (notSigned.length > 0) {
		throw new S3Err(403, 'AccessDenied', 'There were headers present in the request which were not signed',
			{ HeadersNotSigned: notSigned.join(', ') }, `x-amz-* headers not signed: ${notSigned.join(', ')}`);
	}

	// The request as the client must have signed it: the signed headers
	// only, repeated headers joined with ',', the canonical path and query.
	const headers = {};
	for (const name of signedList) {
		const v = req.headersDistinct[name];
		if (v !== undefined) headers[name] = v.join(',');
	}
	const toSign = {
		method: req.method,
		protocol: 'http:',
		hostname: HOST,
		port: PORT,
		path: t.canonicalPath,
		query: t.query,
		headers,
	};
	const signer = new SignatureV4({
		credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
		region,
		service: 's3',
		sha256: sha256Ctor,
		uriEscapePath: false, // S3 signs the path encoded once, not normalized
		applyChecksum: false,
	});
	const signableHeaders = new Set(signedList);
	const signed = await signer.sign(toSign, { signingDate, signingRegion: region, signingService: 's3', signableHeaders });
	const expect = /SignedHeaders=([^,]*), Signature=([0-9a-f]+)/.exec(signed.headers.authorization);
	const sameHeaders = expect[1] === fields.SignedHeaders;
	const a = Buffer.from(expect[2]);
	const b = Buffer.from(fields.Signature);
	if (sameHeaders && a.length === b.length && crypto.timingSafeEqual(a, b)) {
		// What an aws-chunked body needs to check its chunk signatures: the
		// seed (this request's signature), the date, the scope and the key.
		return { accessKey, payloadHash, seed: fields.Signature, amzDate, scope: `${scopeDate}/${region}/s3/aws4_request`, region };
	}

	// Mismatch: tell the client what we signed, as S3 does.
	const canonHeaders = getCanonicalHeaders({ headers: { ...headers, 'x-amz-date': amzDate } }, undefined, signableHeaders);
	const canonicalRequest = signer.createCanonicalRequest(toSign, canonHeaders, payloadHash);
	const scope = `${scopeDate}/${region}/s3/aws4_request`;
	const stringToSign = await signer.createStringToSign(amzDate, scope, canonicalRequest, 'AWS4-HMAC-SHA256');
	const crHash = crypto.createHash('sha256').update(canonicalRequest).digest('hex');
	throw new S3Err(403, 'SignatureDoesNotMatch',
		'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
		{ AWSAccessKeyId: accessKey, StringToSign: stringToSign, SignatureProvided: fields.Signature, CanonicalRequest: canonicalRequest },
		sameHeaders
			? `signature differs (signed headers ${fields.SignedHeaders}; our canonical request sha256 ${crHash}: ${JSON.stringify(canonicalRequest)})`
			: `signed header list '${fields.SignedHeaders}' does not match the headers present ('${expect[1]}')`);
}

// ---------------------------------------------------------------- checksums (x-amz-checksum-*)

// The flexible checksums of S3: the value is the base64 of the big-endian
// digest. CRC-32 (zlib's), CRC-32C (Castagnoli), CRC-64/NVME, SHA-1, SHA-256.
const CHECKSUM_ALGS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'];
const CHECKSUM_BYTES = { crc32: 4, crc32c: 4, crc64nvme: 8, sha1: 20, sha256: 32 };

// CRC-32 (zlib's), CRC-32C (Castagnoli) and CRC-64/NVME, reflected, by
// slicing-by-8: table k holds the CRC of a byte followed by k zero bytes, so
// that 8 bytes are folded in with 8 look-ups. The aligned middle of a
// buffer is read as 32-bit words (little-endian hosts); all tables of one
// CRC live in one typed array (fewer registers for V8).
const LITTLE_ENDIAN = os.endianness() === 'LE';

function crc32Tables(poly) { // 8 x 256 entries
	const t = new Int32Array(8 * 256);
	for (let i = 0; i < 256; i++) {
		let c = i;
		for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
		t[i] = c;
	}
	for (let k = 1; k < 8; k++) {
		for (let i = 0; i < 256; i++) {
			const p = t[(k - 1) * 256 + i];
			t[k * 256 + i] = (p >>> 8) ^ t[p & 0xff];
		}
	}
	return t;
}
const CRC32_TABLES = crc32Tables(0xedb88320);
const CRC32C_TABLES = crc32Tables(0x82f63b78);

// CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5), in 32-bit halves so
// that the loops need no BigInt: entry (k, x) has its low half at
// 2 * (256k + x) and its high half next to it.
const CRC64_TABLES = new Int32Array(8 * 256 * 2);
for (let i = 0; i < 256; i++) {
	let c = BigInt(i);
	for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ 0x9a6c9329ac4bc9b5n : c >> 1n;
	CRC64_TABLES[2 * i] = Number(c & 0xffffffffn) | 0;
	CRC64_TABLES[2 * i + 1] = Number(c >> 32n) | 0;
}
for (let k = 1; k < 8; k++) {
	for (let i = 0; i < 256; i++) {
		const plo = CRC64_TABLES[2 * ((k - 1) * 256 + i)];
		const phi = CRC64_TABLES[2 * ((k - 1) * 256 + i) + 1];
		const x = 2 * (plo & 0xff);
		CRC64_TABLES[2 * (k * 256 + i)] = ((plo >>> 8) | (phi << 24)) ^ CRC64_TABLES[x];
		CRC64_TABLES[2 * (k * 256 + i) + 1] = (phi >>> 8) ^ CRC64_TABLES[x + 1];
	}
}

// Feeds buf into the CRC-32 state c (t: CRC32_TABLES or CRC32C_TABLES).
function crc32Update(t, c, buf) {
	const n = buf.length;
	let i = 0;
	while (i < n && ((buf.byteOffset + i) & 3) !== 0) c = t[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
	const words = LITTLE_ENDIAN ? ((n - i) >>> 3) << 1 : 0;
	if (words > 0) {
		const w = new Int32Array(buf.buffer, buf.byteOffset + i, words);
		for (let j = 0; j < words; j += 2) {
			const a = c ^ w[j];
			const b = w[j + 1];
			c = t[1792 + (a & 0xff)] ^ t[1536 + ((a >>> 8) & 0xff)] ^ t[1280 + ((a >>> 16) & 0xff)] ^ t[1024 + (a >>> 24)] ^
				t[768 + (b & 0xff)] ^ t[512 + ((b >>> 8) & 0xff)] ^ t[256 + ((b >>> 16) & 0xff)] ^ t[b >>> 24];
		}
		i += words << 2;
	}
	for (; i < n; i++) c = t[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
	return c;
}

// Feeds buf into the CRC-64/NVME state st = [hi, lo] (updated in place).
function crc64Update(st, buf) {
	const t = CRC64_TABLES;
	const n = buf.length;
	let hi = st[0], lo = st[1];
	let i = 0;
	for (; i < n && ((buf.byteOffset + i) & 3) !== 0; i++) {
		const x = ((lo ^ buf[i]) & 0xff) << 1;
		lo = ((lo >>> 8) | (hi << 24)) ^ t[x];
		hi = (hi >>> 8) ^ t[x + 1];
	}
	const words = LITTLE_ENDIAN ? ((n - i) >>> 3) << 1 : 0;
	if (words > 0) {
		const w = new Int32Array(buf.buffer, buf.byteOffset + i, words);
		for (let j = 0; j < words; j += 2) {
			const a = lo ^ w[j];
			const b = hi ^ w[j + 1];
			const p7 = 3584 + ((a & 0xff) << 1), p6 = 3072 + ((a >>> 7) & 0x1fe);
			const p5 = 2560 + ((a >>> 15) & 0x1fe), p4 = 2048 + ((a >>> 23) & 0x1fe);
			const p3 = 1536 + ((b & 0xff) << 1), p2 = 1024 + ((b >>> 7) & 0x1fe);
			const p1 = 512 + ((b >>> 15) & 0x1fe), p0 = (b >>> 23) & 0x1fe;
			lo = t[p7] ^ t[p6] ^ t[p5] ^ t[p4] ^ t[p3] ^ t[p2] ^ t[p1] ^ t[p0];
			hi = t[p7 + 1] ^ t[p6 + 1] ^ t[p5 + 1] ^ t[p4 + 1] ^ t[p3 + 1] ^ t[p2 + 1] ^ t[p1 + 1] ^ t[p0 + 1];
		}
		i += words << 2;
	}
	for (; i < n; i++) {
		const x = ((lo ^ buf[i]) & 0xff) << 1;
		lo = ((lo >>> 8) | (hi << 24)) ^ t[x];
		hi = (hi >>> 8) ^ t[x + 1];
	}
	st[0] = hi;
	st[1] = lo;
}
const zlibCrc32 = typeof require('node:zlib').crc32 === 'function' ? require('node:zlib').crc32 : null; // node >= 20.15

class Checksum {
	constructor(alg) {
		this.alg = alg;
		if (alg === 'sha1' || alg === 'sha256') this.hash = crypto.createHash(alg);
		else if (alg === 'crc64nvme') this.st = [-1, -1]; // [hi, lo]
		else if (alg === 'crc32' && zlibCrc32) this.z = 0;
		else this.c = -1;
	}

	update(buf) {
		if (this.hash) { this.hash.update(buf); return; }
		if (this.z !== undefined) { this.z = zlibCrc32(buf, this.z); return; }
		if (this.st) { crc64Update(this.st, buf); return; }
		this.c = crc32Update(this.alg === 'crc32c' ? CRC32C_TABLES : CRC32_TABLES, this.c, buf);
	}

	digest() { // base64
		if (this.hash) return this.hash.digest('base64');
		const b = Buffer.alloc(CHECKSUM_BYTES[this.alg]);
		if (this.st) {
			b.writeUInt32BE(~this.st[0] >>> 0, 0);
			b.writeUInt32BE(~this.st[1] >>> 0, 4);
		} else {
			b.writeUInt32BE(this.z !== undefined ? this.z >>> 0 : ~this.c >>> 0, 0);
		}
		return b.toString('base64');
	}
}

function validChecksumValue(alg, v) {
	const b = Buffer.from(v, 'base64');
	return b.length === CHECKSUM_BYTES[alg] && b.toString('base64') === v;
}

const invalidRequest = (message, why) => new S3Err(400, 'InvalidRequest', message, {}, why);

// The checksum a request body comes with: a header x-amz-checksum-ALG, or a
// trailer announced by `x-amz-trailer: x-amz-checksum-ALG` (aws-chunked
// bodies with a -TRAILER x-amz-content-sha256 only). Returns null or
// { alg, header (the name), value (null for a trailer), trailer }.
// x-amz-sdk-checksum-algorithm, if sent, must name the same algorithm.
function requestedChecksum(req, payloadHash) {
	const inHeaders = CHECKSUM_ALGS.filter(a => req.headers[`x-amz-checksum-${a}`] !== undefined);
	const trailerHeader = req.headers['x-amz-trailer'];
	const trailerNames = trailerHeader === undefined ? [] : trailerHeader.split(',').map(s => s.trim().toLowerCase()).filter(Boolean);
	const withTrailer = payloadHash.startsWith('STREAMING-') && payloadHash.endsWith('-TRAILER');
	if (trailerHeader !== undefined && !withTrailer) {
		throw invalidRequest('x-amz-trailer can only be used with a STREAMING-...-TRAILER x-amz-content-sha256.',
			`x-amz-trailer with x-amz-content-sha256 '${payloadHash}'`);
	}
	if (withTrailer && trailerNames.length === 0) {
		throw invalidRequest('Missing required header for this request: x-amz-trailer', `${payloadHash} without x-amz-trailer`);
	}
	for (const n of trailerNames) {
		if (!n.startsWith('x-amz-checksum-') || !CHECKSUM_ALGS.includes(n.slice('x-amz-checksum-'.length))) {
			throw invalidRequest('The value specified in the x-amz-trailer header is not supported', `x-amz-trailer names '${n}'`);
		}
	}
	if (inHeaders.length + trailerNames.length > 1) {
		throw invalidRequest('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
			`checksums: ${[...inHeaders.map(a => `x-amz-checksum-${a}`), ...trailerNames.map(n => `${n} (trailer)`)].join(', ')}`);
	}
	let found = null;
	if (inHeaders.length === 1) {
		const alg = inHeaders[0];
		const header = `x-amz-checksum-${alg}`;
		const value = req.headers[header];
		if (!validChecksumValue(alg, value)) {
			throw invalidRequest(`Value for ${header} header is invalid.`, `${header} is not the base64 of ${CHECKSUM_BYTES[alg]} bytes`);
		}
		found = { alg, header, value, trailer: false };
	} else if (trailerNames.length === 1) {
		found = { alg: trailerNames[0].slice('x-amz-checksum-'.length), header: trailerNames[0], value: null, trailer: true };
	}
	const sdk = req.headers['x-amz-sdk-checksum-algorithm'];
	if (sdk !== undefined) {
		if (!CHECKSUM_ALGS.includes(sdk.toLowerCase())) {
			throw invalidRequest('Value for x-amz-sdk-checksum-algorithm header is invalid.', `x-amz-sdk-checksum-algorithm '${sdk}'`);
		}
		if (!found) {
			throw invalidRequest('x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.',
				`x-amz-sdk-checksum-algorithm '${sdk}' without a checksum`);
		}
		if (sdk.toLowerCase() !== found.alg) {
			throw invalidRequest('Value for x-amz-sdk-checksum-algorithm header is invalid.',
				`x-amz-sdk-checksum-algorithm '${sdk}' but the checksum is ${found.header}`);
		}
	}
	return found;
}

// ---------------------------------------------------------------- aws-chunked bodies

// x-amz-content-sha256 values of an aws-chunked body that the proxy takes.
const STREAMING_MODES = new Set([
	'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
	'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
	'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
]);
const MIN_CHUNK = 8192; // every chunk but the last carries at least this much

function hmac(key, s) {
	return crypto.createHmac('sha256', key).update(s, 'utf8').digest();
}

function signingKey(amzDate, region) {
	return hmac(hmac(hmac(hmac('AWS4' + SECRET_KEY, amzDate.slice(0, 8)), region), 's3'), 'aws4_request');
}

function sameSignature(a, b) {
	const x = Buffer.from(a);
	const y = Buffer.from(b);
	return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function malformedChunk(why) {
	return new S3Err(400, 'InvalidRequest', 'The aws-chunked encoding of the request body is malformed.', {}, why);
}

function incompleteBody(why) {
	return new S3Err(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header', {}, why);
}

// Decodes an aws-chunked body as it arrives:
//   <hex size>;chunk-signature=<sig>\r\n<data>\r\n ... 0;chunk-signature=<sig>\r\n\r\n
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER: no ;chunk-signature). With a -TRAILER
// mode the final 0-size chunk is followed by trailer lines (name:value\r\n,
// then x-amz-trailer-signature:<sig>\r\n if signed) and an empty line.
// Every chunk signature is checked against the chain that starts at the
// request's own (seed) signature:
//   AWS4-HMAC-SHA256-PAYLOAD \n date \n scope \n previous signature \n sha256("") \n sha256(chunk data)
// and the trailer's against
//   AWS4-HMAC-SHA256-TRAILER \n date \n scope \n previous signature \n sha256(trailer lines, each name:value\n)
// push() returns the decoded data in the buffer it is given; it throws an
// S3Err at the first violation.
class AwsChunkedDecoder {
	constructor(auth, decodedLength, trailerNames) {
		this.signed = auth.payloadHash.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
		this.withTrailer = auth.payloadHash.endsWith('-TRAILER');
		this.auth = auth;
		this.key = this.signed ? signingKey(auth.amzDate, auth.region) : null;
		this.prevSig = auth.seed;
		this.expected = decodedLength;
		this.trailerNames = trailerNames;
		this.state = 'size'; // size | data | crlf | trailer | done
		this.line = [];
		this.lineLen = 0;
		this.crlfAt = 0;
		this.left = 0;
		this.chunkSig = null;
		this.chunkHash = null;
		this.chunks = 0; // chunks seen, the final 0-size one included
		this.lastSize = -1;
		this.decoded = 0;
		this.final = false;
		this.trailers = []; // [name, value]
		this.trailerSig = null;
	}

	push(buf) {
		const out = [];
		let i = 0;
		while (i < buf.length) {
			switch (this.state) {
			case 'size':
			case 'trailer': {
				const nl = buf.indexOf(0x0a, i);
				const end = nl < 0 ? buf.length : nl + 1;
				this.line.push(buf.subarray(i, end));
				this.lineLen += end - i;
				i = end;
				if (this.lineLen > 4096) throw malformedChunk(`a ${this.state === 'size' ? 'chunk header' : 'trailer'} line over 4096 bytes`);
				if (nl < 0) break;
				const line = Buffer.concat(this.line).toString('latin1');
				this.line = [];
				this.lineLen = 0;
				if (!line.endsWith('\r\n')) throw malformedChunk(`line ${JSON.stringify(line.slice(0, 80))} does not end in CRLF`);
				if (this.state === 'size') this.chunkHeader(line.slice(0, -2));
				else this.trailerLine(line.slice(0, -2));
				break;
			}
			case 'data': {
				const n = Math.min(this.left, buf.length - i);
				const piece = buf.subarray(i, i + n);
				if (this.chunkHash) this.chunkHash.update(piece);
				out.push(piece);
				this.left -= n;
				i += n;
				if (this.left === 0) { this.chunkDone(); this.state = 'crlf'; }
				break;
			}
			case 'crlf': {
				if (buf[i] !== (this.crlfAt === 0 ? 0x0d : 0x0a)) throw malformedChunk(`chunk ${this.chunks} is not followed by CRLF`);
				i++;
				if (++this.crlfAt === 2) {
					this.crlfAt = 0;
					this.state = this.final ? 'done' : 'size';
				}
				break;
			}
			default:
				throw malformedChunk('data after the end of the aws-chunked body');
			}
		}
		return out;
	}

	chunkHeader(h) {
		const m = this.signed ? /^([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})$/.exec(h)
			: /^([0-9a-fA-F]{1,16})(?:;[^\r\n]*)?$/.exec(h);
		if (!m) {
			if (this.signed && /^[0-9a-fA-F]{1,16}(;|$)/.test(h)) {
				throw new S3Err(403, 'SignatureDoesNotMatch',
					'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
					{ AWSAccessKeyId: this.auth.accessKey }, `chunk ${this.chunks + 1} has no chunk-signature: ${JSON.stringify(h.slice(0, 120))}`);
			}
			throw malformedChunk(`bad chunk header ${JSON.stringify(h.slice(0, 120).replace(/(chunk-signature=)[^;]*/g, '$1REDACTED'))}`);
		}
		const size = parseInt(m[1], 16);
		this.chunks++;
		if (size > 0 && this.lastSize >= 0 && this.lastSize < MIN_CHUNK) {
			throw new S3Err(403, 'InvalidChunkSizeError', 'Only the last chunk is allowed to have a size less than 8192 bytes',
				{ Chunk: this.chunks - 1, BadChunkSize: this.lastSize }, `chunk ${this.chunks - 1} has ${this.lastSize} bytes and is not the last`);
		}
		if (this.decoded + size > this.expected) {
			throw incompleteBody(`the chunks hold more than x-amz-decoded-content-length ${this.expected} bytes`);
		}
		this.decoded += size;
		this.lastSize = size;
		this.left = size;
		this.chunkSig = this.signed ? m[2] : null;
		this.chunkHash = this.signed ? crypto.createHash('sha256') : null;
		if (size > 0) { this.state = 'data'; return; }
		this.final = true;
		this.chunkDone();
		this.state = this.withTrailer ? 'trailer' : 'crlf';
	}

	chunkDone() {
		if (!this.signed) return;
		const sts = ['AWS4-HMAC-SHA256-PAYLOAD', this.auth.amzDate, this.auth.scope, this.prevSig, EMPTY_SHA256,
			this.chunkHash.digest('hex')].join('\n');
		this.check(sts, this.chunkSig, `chunk ${this.chunks} (${this.lastSize} bytes)`);
	}

	check(stringToSign, provided, what) {
		const want = hmac(this.key, stringToSign).toString('hex');
		if (!sameSignature(want, provided)) {
			throw new S3Err(403, 'SignatureDoesNotMatch',
				'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
				{ AWSAccessKeyId: this.auth.accessKey, StringToSign: stringToSign, SignatureProvided: provided },
				// The string to sign holds the previous signature: not for the log.
				`signature of ${what} differs (string to sign ${JSON.stringify(stringToSign.replace(this.prevSig, '<previous signature>'))})`);
		}
		this.prevSig = want;
	}

	trailerLine(line) {
		const bad = why => new S3Err(400, 'MalformedTrailerError',
			'The request contained trailing data that was not well-formed or did not conform to our published schema.', {}, why);
		if (line === '') { this.trailersDone(bad); this.state = 'done'; return; }
		if (this.trailerSig !== null) throw bad('a trailer after x-amz-trailer-signature');
		const c = line.indexOf(':');
		if (c <= 0) throw bad(`trailer line ${JSON.stringify(line.slice(0, 80))} is not name:value`);
		const name = line.slice(0, c).trim().toLowerCase();
		const value = line.slice(c + 1).trim();
		if (name === 'x-amz-trailer-signature') {
			if (!this.signed) throw bad('x-amz-trailer-signature in an unsigned body');
			this.trailerSig = value;
			return;
		}
		if (!this.trailerNames.includes(name)) throw bad(`trailer '${name}' is not named in x-amz-trailer`);
		if (this.trailers.some(([n]) => n === name)) throw bad(`trailer '${name}' twice`);
		this.trailers.push([name, value]);
	}

	trailersDone(bad) {
		for (const n of this.trailerNames) {
			if (!this.trailers.some(([t]) => t === n)) throw bad(`x-amz-trailer names '${n}' but the body has no such trailer`);
		}
		if (!this.signed) return;
		if (this.trailerSig === null) throw bad('no x-amz-trailer-signature');
		const canonical = [...this.trailers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, v]) => `${n}:${v}\n`).join('');
		const sts = ['AWS4-HMAC-SHA256-TRAILER', this.auth.amzDate, this.auth.scope, this.prevSig,
			crypto.createHash('sha256').update(canonical).digest('hex')].join('\n');
		this.check(sts, this.trailerSig, 'the trailer');
	}

	end() {
		if (this.state !== 'done') {
			throw incompleteBody(`the aws-chunked body ends ${this.final ? 'in the trailer' : `in chunk ${this.chunks}`} ` +
				`(${this.decoded - this.left} of ${this.expected} decoded bytes)`);
		}
		if (this.decoded !== this.expected) {
			throw incompleteBody(`the chunks hold ${this.decoded} bytes, x-amz-decoded-content-length says ${this.expected}`);
		}
	}

	trailer(name) {
		const t = this.trailers.find(([n]) => n === name);
		return t ? t[1] : undefined;
	}
}

// ---------------------------------------------------------------- request bodies

// Where a request body goes while it is checked: memory (a list of the
// chunks as they arrived, not copied), or a spool file once it is over
// MEM_BODY_LIMIT. Computes on the way, in one pass, only the digests the
// request asks to be checked: sha256 (for a hex x-amz-content-sha256 and an
// x-amz-checksum-sha256, which share one hash), md5 (for Content-MD5) and
// the flexible checksum.
class BodySink {
	constructor(ctx, { sha256, md5, algs }) {
		this.ctx = ctx;
		this.sha = sha256 || algs.includes('sha256') ? crypto.createHash('sha256') : null;
		this.md5 = md5 ? crypto.createHash('md5') : null;
		this.algs = algs;
		this.sums = algs.filter(a => a !== 'sha256').map(a => new Checksum(a));
		this.length = 0;
		this.chunks = [];
		this.file = null;
		this.ws = null;
	}

	// Returns a promise only when the spool file needs to drain.
	write(chunk) {
		if (chunk.length === 0) return null;
		if (this.sha) this.sha.update(chunk);
		if (this.md5) this.md5.update(chunk);
		for (const s of this.sums) s.update(chunk);
		this.length += chunk.length;
		if (this.ws) return this.ws.write(chunk) ? null : once(this.ws, 'drain');
		this.chunks.push(chunk);
		if (this.length > MEM_BODY_LIMIT) {
			this.file = path.join(SPOOL_DIR, `body-${process.pid}-${this.ctx.n}-${crypto.randomBytes(4).toString('hex')}`);
			this.ws = fs.createWriteStream(this.file, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 });
			// A failed write (or one still in flight when abort() destroys the
			// stream) must not be an unhandled 'error': finish() reports it.
			this.ws.on('error', e => { this.error = this.error || e; });
			this.ws.cork(); // one writev
			let drained = true;
			for (const c of this.chunks) drained = this.ws.write(c);
			this.chunks = [];
			this.ws.uncork();
			if (!drained) return once(this.ws, 'drain');
		}
		return null;
	}

	async finish() {
		if (this.ws) {
			this.ws.end();
			if (!this.ws.closed) await once(this.ws, 'close');
			if (this.error) throw this.error;
		}
		const sha = this.sha ? this.sha.digest() : null;
		const checksums = {};
		for (const s of this.sums) checksums[s.alg] = s.digest();
		if (this.algs.includes('sha256')) checksums.sha256 = sha.toString('base64');
		return {
			length: this.length,
			sha256: sha ? sha.toString('hex') : null, // computed only when a check needs it
			md5: this.md5 ? this.md5.digest('base64') : null, // likewise
			checksums,
			chunks: this.file ? null : this.chunks,
			file: this.file,
		};
	}

	abort() {
		const { ws, file } = this;
		if (!file) return;
		const unlink = () => fsp.unlink(file).catch(() => {});
		if (!ws || ws.closed) { unlink(); return; }
		ws.once('close', unlink); // after the file is opened and closed
		ws.destroy();
	}
}

// Reads the whole request body, through the aws-chunked decoder if there is
// one. A body that breaks a rule is still read to its end (nothing of it is
// kept), so that the client gets the error rather than a reset. Returns
// { length, sha256, md5, checksums, chunks | file }; ctx.bytesIn is the
// length on the wire. sha256 is computed when the body has a hex
// x-amz-content-sha256 (or an x-amz-checksum-sha256), md5 when it has a
// Content-MD5: what checkBody compares.
async function readBody(ctx, decoder, checksum, payloadHash) {
	const { req, res } = ctx;
	if (ctx.expectContinue && !ctx.continued) { res.writeContinue(); ctx.continued = true; }
	const sink = new BodySink(ctx, {
		sha256: !decoder && payloadHash !== 'UNSIGNED-PAYLOAD',
		md5: req.headers['content-md5'] !== undefined,
		algs: checksum ? [checksum.alg] : [],
	});
	let err = null;
	const keep = e => { if (e instanceof S3Err) err = e; else throw e; };
	try {
		for await (const chunk of req) {
			ctx.bytesIn += chunk.length;
			if (err) continue;
			try {
				if (decoder) {
					for (const piece of decoder.push(chunk)) {
						const p = sink.write(piece);
						if (p) await p;
					}
				} else {
					const p = sink.write(chunk);
					if (p) await p;
				}
			} catch (e) { keep(e); }
		}
		if (!err && decoder) { try { decoder.end(); } catch (e) { keep(e); } }
		if (err) throw err;
		return await sink.finish();
	} catch (e) {
		sink.abort();
		throw e;
	}
}

function dropBody(body) {
	if (body && body.file) fsp.unlink(body.file).catch(() => {});
}

// Checks a body read in full against what the request says of it. Returns
// the flexible checksum to echo in the response ({ header, value }) or null.
function checkBody(req, body, payloadHash, decoder, checksum) {
	if (!decoder && payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== body.sha256) {
		throw new S3Err(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.",
			{ ClientComputedContentSHA256: payloadHash, S3ComputedContentSHA256: body.sha256 },
			`body of ${body.length} bytes has sha256 ${body.sha256}, header says ${payloadHash}`);
	}
	const md5h = req.headers['content-md5'];
	if (md5h !== undefined) {
		if (Buffer.from(md5h, 'base64').length !== 16) {
			throw new S3Err(400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.', { 'Content-MD5': md5h }, 'malformed Content-MD5');
		}
		if (md5h !== body.md5) {
			throw new S3Err(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.',
				{ ExpectedDigest: md5h, CalculatedDigest: body.md5 }, 'Content-MD5 does not match the body');
		}
	}
	if (!checksum) return null;
	let value = checksum.value;
	if (checksum.trailer) {
		value = decoder.trailer(checksum.header);
		if (!validChecksumValue(checksum.alg, value)) {
			throw invalidRequest(`Value for ${checksum.header} trailing header is invalid.`,
				`trailer ${checksum.header} is not the base64 of ${CHECKSUM_BYTES[checksum.alg]} bytes`);
		}
	}
	const got = body.checksums[checksum.alg];
	if (value !== got) {
		throw new S3Err(400, 'BadDigest', `The ${checksum.alg.toUpperCase()} you specified did not match the calculated checksum.`, {},
			`${checksum.header}${checksum.trailer ? ' (trailer)' : ''} says ${value}, the body's is ${got}`);
	}
	return { header: checksum.header, value };
}

// ---------------------------------------------------------------- upstream (s3rver)

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

const HOP_HEADERS = new Set(['authorization', 'host', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization',
	'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'content-length']);

// What the proxy deals with itself and s3rver must not see: the storage
// class (s3rver knows fewer), the flexible checksums, the aws-chunked
// framing (the body forwarded is the decoded one).
const PROXY_HEADERS = new Set(['x-amz-storage-class', 'x-amz-decoded-content-length', 'x-amz-trailer',
	'x-amz-sdk-checksum-algorithm', 'x-amz-checksum-mode', ...CHECKSUM_ALGS.map(a => `x-amz-checksum-${a}`)]);

function upstreamHeaders(req, drop = []) {
	const h = {};
	for (const [k, v] of Object.entries(req.headers)) {
		if (!HOP_HEADERS.has(k) && !PROXY_HEADERS.has(k) && !drop.includes(k)) h[k] = v;
	}
	// aws-chunked is the framing of the request, not an encoding of the object.
	if (h['content-encoding'] !== undefined) {
		const rest = h['content-encoding'].split(',').map(s => s.trim()).filter(s => s !== '' && s.toLowerCase() !== 'aws-chunked');
		if (rest.length > 0) h['content-encoding'] = rest.join(','); else delete h['content-encoding'];
	}
	h.host = `${HOST}:${UPSTREAM_PORT}`;
	return h;
}

// Sends a request to s3rver; resolves with its response (body unread).
function upstream(method, urlPath, headers, body) {
	return new Promise((resolve, reject) => {
		const h = { ...headers, host: `${HOST}:${UPSTREAM_PORT}` };
		const hasBody = body && (body.length > 0 || method === 'PUT' || method === 'POST');
		if (hasBody) h['content-length'] = String(body.length);
		const r = http.request({ host: HOST, port: UPSTREAM_PORT, method, path: urlPath, headers: h, agent }, resolve);
		r.on('error', reject);
		if (!hasBody) { r.end(); return; }
		if (body.file) {
			const rs = fs.createReadStream(body.file, { highWaterMark: 1 << 20 });
			rs.on('error', e => r.destroy(e));
			rs.pipe(r);
		} else {
			// The chunks as received, not copied into one buffer: they are
			// queued until the socket is assigned, then written in one writev.
			for (const c of body.chunks) r.write(c);
			r.end();
		}
	});
}

async function upstreamHead(urlPath) {
	const r = await upstream('HEAD', urlPath, {}, null);
	r.resume();
	await once(r, 'end');
	return { status: r.statusCode, etag: r.headers.etag, size: Number(r.headers['content-length'] || 0) };
}

// Relays s3rver's response to the client. opts.truncate: the truncation
// fault (send half the body, then close). opts.limit / opts.rewrite: pass
// only the first `limit` body bytes and replace or add some headers
// (bytes=0-0, storage class, checksum). opts.capture: a function that gets
// the whole body once it is relayed.
async function relay(ctx, up, opts = {}) {
	const { res, req } = ctx;
	const headers = {};
	for (const [k, v] of Object.entries(up.headers)) {
		if (!['connection', 'keep-alive', 'transfer-encoding', 'x-amz-storage-class'].includes(k)) headers[k] = v;
	}
	if (!headers['x-amz-request-id']) headers['x-amz-request-id'] = ctx.requestId;
	Object.assign(headers, opts.rewrite || {});
	let length = headers['content-length'] !== undefined ? Number(headers['content-length']) : -1;
	const noBody = req.method === 'HEAD' || up.statusCode === 204 || up.statusCode === 304;

	if (opts.truncate) {
		// The request has had its effect on s3rver; the client gets a cut
		// response. With no body to cut, it gets no response at all.
		if (noBody || length === 0) {
			up.resume();
			await once(up, 'end').catch(() => {});
			ctx.note(`fault=truncate (no response sent; upstream said ${up.statusCode})`);
			ctx.status = 'CLOSED';
			killSocket(req.socket);
			return;
		}
		res.writeHead(up.statusCode, headers);
		const want = length > 0 ? Math.floor(length / 2) : -1;
		let sent = 0;
		for await (const chunk of up) {
			let c = chunk;
			if (want < 0) c = chunk.subarray(0, Math.max(1, Math.floor(chunk.length / 2)));
			else if (sent + c.length > want) c = c.subarray(0, want - sent);
			if (c.length > 0) {
				sent += c.length;
				if (!res.write(c)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
			}
			if (want < 0 || sent >= want || res.destroyed) break;
		}
		up.destroy();
		ctx.note(`fault=truncate (sent ${sent} of ${length < 0 ? 'unknown' : length} body bytes)`);
		ctx.status = `${up.statusCode}-CUT`;
		ctx.bytesOut = sent;
		// Flush what was written, then close the connection (FIN) short of
		// the promised Content-Length; make sure it goes within 5 s.
		const sock = req.socket;
		if (sock && !sock.destroyed) {
			sock.end();
			setTimeout(() => sock.destroy(), 5000).unref();
		}
		return;
	}

	ctx.status = up.statusCode;
	res.writeHead(up.statusCode, headers);
	if (noBody) { up.resume(); res.end(); return; }
	let sent = 0;
	const limit = opts.limit !== undefined ? opts.limit : Infinity;
	const captured = opts.capture ? [] : null;
	for await (const chunk of up) {
		let c = chunk;
		if (sent + c.length > limit) c = c.subarray(0, limit - sent);
		sent += c.length;
		if (captured) captured.push(c);
		if (!res.write(c)) {
			await Promise.race([once(res, 'drain'), once(res, 'close')]);
			if (res.destroyed) { up.destroy(); ctx.bytesOut = sent; return; }
		}
		if (sent >= limit) { up.destroy(); break; }
	}
	ctx.bytesOut = sent;
	res.end();
	if (captured) opts.capture(Buffer.concat(captured));
}

function killSocket(sock, rst = true) {
	if (!sock || sock.destroyed) return;
	if (rst && typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
	else sock.destroy();
}

// After s3rver's 200 to a PUT, wait until the object file has its full size:
// s3rver answers once its hash stream ends, which can be before its file
// write stream has flushed, and a GET right after would see a short file.
async function settle(bucket, key, length) {
	const file = objectFile(bucket, key);
	for (let i = 0; i < 500; i++) {
		try {
			const st = await fsp.stat(file);
			if (st.size === length && fs.existsSync(file + '.md5')) return true;
		} catch { /* not there yet */ }
		await new Promise(r => setTimeout(r, 10));
	}
	return false;
}

// ---------------------------------------------------------------- per-object metadata (storage class, checksum)

// s3rver knows fewer storage classes than S3 and reports STANDARD in its
// listings, so the proxy keeps the storage class of each object itself (in
// memory, for the life of the proxy), with the flexible checksum it was
// uploaded with. x-amz-storage-class never reaches s3rver.
const STORAGE_CLASSES = new Set(['STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING',
	'GLACIER', 'DEEP_ARCHIVE', 'GLACIER_IR', 'OUTPOSTS', 'SNOW', 'EXPRESS_ONEZONE']);
const objectMeta = new Map(); // "bucket/key" -> { storageClass, checksum: { header, value } | null }
const uploadMeta = new Map(); // multipart UploadId -> { id: "bucket/key", storageClass }

function requestedStorageClass(req) {
	const sc = req.headers['x-amz-storage-class'];
	if (sc === undefined) return 'STANDARD';
	if (!STORAGE_CLASSES.has(sc)) {
		throw new S3Err(400, 'InvalidStorageClass', 'The storage class you specified is not valid', { StorageClassRequested: sc },
			`x-amz-storage-class '${sc}'`);
	}
	return sc;
}

function storageClassOf(bucket, key) {
	const m = objectMeta.get(`${bucket}/${key}`);
	return m ? m.storageClass : 'STANDARD';
}

function forgetBucket(bucket) {
	for (const id of objectMeta.keys()) if (id.startsWith(`${bucket}/`)) objectMeta.delete(id);
	for (const [u, m] of uploadMeta) if (m.id.startsWith(`${bucket}/`)) uploadMeta.delete(u);
}

// x-amz-copy-source: "[/]bucket/key[?versionId=...]", %-encoded.
function copySourceId(v) {
	let s = v.split('?')[0];
	try { s = decodeURIComponent(s); } catch { return null; }
	return s.replace(/^\//, '');
}

function xmlUnescape(s) {
	return s.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e) => {
		if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
		return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e];
	});
}

function objectFile(bucket, key) {
	return path.join(DATA_DIR, bucket, ...key.split('/').slice(0, -1), key.split('/').pop() + OBJECT_SUFFIX);
}

// After a DeleteObjects (POST /bucket?delete): forget the keys it named
// that are gone.
async function forgetDeleted(bucket, body) {
	const xml = body.file ? await fsp.readFile(body.file, 'utf8') : Buffer.concat(body.chunks).toString('utf8');
	for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) {
		const key = xmlUnescape(m[1]);
		if (!fs.existsSync(objectFile(bucket, key))) objectMeta.delete(`${bucket}/${key}`);
	}
}

// ---------------------------------------------------------------- per-key write lock

const locks = new Map();

async function lockKey(id) {
	const prev = locks.get(id) || Promise.resolve();
	let release;
	const mine = new Promise(r => { release = r; });
	const tail = prev.then(() => mine);
	locks.set(id, tail);
	await prev;
	return () => {
		release();
		if (locks.get(id) === tail) locks.delete(id);
	};
}

// ---------------------------------------------------------------- ListObjects (V2 and V1)

const LIST_PARAMS = new Set(['list-type', 'prefix', 'delimiter', 'max-keys', 'continuation-token', 'start-after',
	'fetch-owner', 'encoding-type', 'marker', 'x-id']);

function isListRequest(req, t) {
	return (req.method === 'GET') && t.bucket !== '' && t.key === '' && Object.keys(t.query).every(k => LIST_PARAMS.has(k));
}

function byteCompare(a, b) {
	return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function validBucketName(b) {
	return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(b);
}

// Every key in the bucket that starts with prefix, from s3rver's data dir.
// Objects without their .md5 file are being written by s3rver and are left out.
async function collectKeys(bucketDir, prefix) {
	const out = [];
	async function walk(dir, rel) {
		let entries;
		try { entries = await fsp.readdir(dir, { withFileTypes: true }); } catch (e) {
			if (e.code === 'ENOENT') return;
			throw e;
		}
		const names = new Set(entries.map(e => e.name));
		for (const e of entries) {
			if (e.isDirectory()) {
				const sub = rel + e.name + '/';
				if (sub.startsWith(prefix) || prefix.startsWith(sub)) await walk(path.join(dir, e.name), sub);
			} else if (e.name.endsWith(OBJECT_SUFFIX) && names.has(e.name + '.md5')) {
				const key = rel + e.name.slice(0, -OBJECT_SUFFIX.length);
				if (key.startsWith(prefix)) out.push(key);
			}
		}
	}
	await walk(bucketDir, '');
	return out.sort(byteCompare);
}

const TOKEN_TAG = 'coffer-s3-list:';

function makeToken(kind, value) {
	return Buffer.from(TOKEN_TAG + kind + value, 'utf8').toString('base64');
}

function readToken(token) {
	const s = Buffer.from(token, 'base64').toString('utf8');
	if (!s.startsWith(TOKEN_TAG) || !'KP'.includes(s.charAt(TOKEN_TAG.length)) || s.length <= TOKEN_TAG.length) return null;
	return { kind: s.charAt(TOKEN_TAG.length), value: s.slice(TOKEN_TAG.length + 1) };
}

async function listObjects(ctx, t) {
	const q = t.query;
	const v2 = q1(q, 'list-type') === '2';
	if ('list-type' in q && !v2) {
		throw new S3Err(400, 'InvalidArgument', 'Invalid List Type specified in Request',
			{ ArgumentName: 'list-type', ArgumentValue: q1(q, 'list-type') }, 'list-type is not 2');
	}
	if (!validBucketName(t.bucket)) {
		throw new S3Err(400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: t.bucket }, 'bad bucket name');
	}
	const bucketDir = path.join(DATA_DIR, t.bucket);
	if (!fs.existsSync(bucketDir)) {
		throw new S3Err(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: t.bucket }, '');
	}
	const prefix = q1(q, 'prefix') || '';
	const delimiter = q1(q, 'delimiter') || '';
	const encodingType = q1(q, 'encoding-type');
	if (encodingType !== undefined && encodingType !== 'url') {
		throw new S3Err(400, 'InvalidArgument', 'Invalid Encoding Method specified in Request',
			{ ArgumentName: 'encoding-type', ArgumentValue: encodingType }, 'encoding-type is not url');
	}
	let maxKeys = 1000;
	const mk = q1(q, 'max-keys');
	if (mk !== undefined) {
		if (!/^\d+$/.test(mk) || Number(mk) > 2147483647) {
			throw new S3Err(400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range',
				{ ArgumentName: 'max-keys', ArgumentValue: mk }, 'bad max-keys');
		}
		maxKeys = Math.min(1000, Number(mk));
	}
	let after = ''; // list keys strictly after this
	let skipPrefix = ''; // and not under this common prefix
	const token = q1(q, 'continuation-token');
	const startAfter = q1(q, 'start-after');
	const marker = q1(q, 'marker');
	if (v2) {
		if (marker !== undefined) {
			throw new S3Err(400, 'InvalidArgument', 'Marker unsupported with REST.GET.BUCKET in list-type=2', { ArgumentName: 'marker' }, 'marker with V2');
		}
		if (token !== undefined) {
			const tk = token === '' ? null : readToken(token);
			if (!tk) {
				throw new S3Err(400, 'InvalidArgument', 'The continuation token provided is incorrect',
					{ ArgumentName: 'continuation-token' }, 'bad continuation token');
			}
			after = tk.value;
			if (tk.kind === 'P') skipPrefix = tk.value;
		} else if (startAfter !== undefined) {
			after = startAfter;
		}
	} else {
		if (token !== undefined || startAfter !== undefined) {
			throw new S3Err(400, 'InvalidArgument', 'continuation-token and start-after are only supported with list-type=2',
				{ ArgumentName: token !== undefined ? 'continuation-token' : 'start-after' }, 'V2 parameter in a V1 listing');
		}
		if (marker !== undefined) after = marker;
	}

	const keys = maxKeys === 0 ? [] : await collectKeys(bucketDir, prefix);
	const contents = [];
	const prefixes = [];
	let truncated = false;
	let last = null; // { kind, value } of the last entry returned
	for (const key of keys) {
		if (after !== '' && byteCompare(key, after) <= 0) continue;
		if (skipPrefix !== '' && key.startsWith(skipPrefix)) continue;
		let cp = null;
		if (delimiter !== '') {
			const i = key.indexOf(delimiter, prefix.length);
			if (i >= 0) cp = key.slice(0, i + delimiter.length);
		}
		if (cp !== null && last && last.kind === 'P' && last.value === cp) continue;
		if (cp !== null && marker !== undefined && !v2 && cp === marker) continue;
		if (contents.length + prefixes.length >= maxKeys) { truncated = true; break; }
		if (cp !== null) {
			prefixes.push(cp);
			last = { kind: 'P', value: cp };
		} else {
			contents.push(key);
			last = { kind: 'K', value: key };
		}
	}

	const enc = s => (encodingType === 'url' ? uriEscape(s).replace(/%2F/g, '/') : s);
	const owner = '<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>coffer-test</DisplayName></Owner>';
	const withOwner = v2 ? q1(q, 'fetch-owner') === 'true' : true;
	let xml = '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">';
	xml += el('Name', t.bucket) + el('Prefix', enc(prefix));
	if (v2) {
		if (token !== undefined) xml += el('ContinuationToken', token);
		if (startAfter !== undefined && token === undefined) xml += el('StartAfter', enc(startAfter));
		xml += el('KeyCount', contents.length + prefixes.length);
	} else {
		xml += el('Marker', enc(marker || ''));
	}
	xml += el('MaxKeys', mk !== undefined ? mk : 1000);
	if (delimiter !== '') xml += el('Delimiter', enc(delimiter));
	if (encodingType) xml += el('EncodingType', encodingType);
	xml += el('IsTruncated', truncated ? 'true' : 'false');
	if (truncated && v2) xml += el('NextContinuationToken', makeToken(last.kind, last.value));
	if (truncated && !v2 && delimiter !== '') xml += el('NextMarker', enc(last.value));
	for (const key of contents) {
		const file = objectFile(t.bucket, key);
		let st;
		let md5;
		try {
			st = await fsp.stat(file);
			md5 = (await fsp.readFile(file + '.md5', 'utf8')).trim();
		} catch {
			continue; // deleted since the walk
		}
		xml += '<Contents>' + el('Key', enc(key)) + el('LastModified', st.mtime.toISOString()) + el('ETag', `"${md5}"`) +
			el('Size', st.size) + (withOwner ? owner : '') + el('StorageClass', storageClassOf(t.bucket, key)) + '</Contents>';
	}
	for (const p of prefixes) xml += '<CommonPrefixes>' + el('Prefix', enc(p)) + '</CommonPrefixes>';
	xml += '</ListBucketResult>';
	let buf = Buffer.from(xml, 'utf8');
	if (ctx.listFault === 'cut') {
		// Cut after the last whole <Contents> in the first half (else at
		// the half), and say so in Content-Length: the client gets a
		// complete HTTP answer whose XML just stops, the worst case for a
		// reader that searches for tags, since what it finds looks right.
		const half = Math.floor(buf.length / 2);
		const end = buf.lastIndexOf('</Contents>', half - '</Contents>'.length);
		const cut = end > 0 ? end + '</Contents>'.length : half;
		ctx.note(`fault=list-cut (the XML cut to ${cut} of ${buf.length} bytes, sent as a complete answer)`);
		buf = buf.subarray(0, cut);
	}
	ctx.status = 200;
	ctx.bytesOut = buf.length;
	ctx.note(`listed ${contents.length} keys, ${prefixes.length} prefixes${truncated ? ', truncated' : ''}`);
	ctx.res.writeHead(200, { 'content-type': 'application/xml', 'content-length': buf.length, 'x-amz-request-id': ctx.requestId });
	if (ctx.truncate) {
		const half = Math.floor(buf.length / 2);
		ctx.status = '200-CUT';
		ctx.bytesOut = half;
		ctx.note(`fault=truncate (sent ${half} of ${buf.length} body bytes)`);
		ctx.res.write(buf.subarray(0, half));
		const sock = ctx.req.socket;
		sock.end();
		setTimeout(() => sock.destroy(), 5000).unref();
		return;
	}
	ctx.res.end(buf);
}

// ---------------------------------------------------------------- Range

// Resolves a Range header against the object size. Returns null to ignore
// the header (not a single well-formed byte range: S3 then sends the whole
// object), or { start, end }; throws InvalidRange when unsatisfiable.
function resolveRange(header, size) {
	const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header);
	if (!m || (m[1] === '' && m[2] === '')) return null;
	const unsatisfiable = () => new S3Err(416, 'InvalidRange', 'The requested range is not satisfiable',
		{ RangeRequested: header, ActualObjectSize: size }, `range ${header} of a ${size}-byte object`);
	if (m[1] === '') {
		const n = Number(m[2]);
		if (n === 0 || size === 0) throw unsatisfiable();
		return { start: Math.max(0, size - n), end: size - 1 };
	}
	const start = Number(m[1]);
	if (m[2] !== '' && Number(m[2]) < start) return null;
	if (start >= size) throw unsatisfiable();
	const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
	return { start, end };
}

// ---------------------------------------------------------------- the handler

let counter = 0;

function refreshFaults() {
	if (!FAULT_FILE) return;
	let stamp = '';
	let text = null;
	try {
		const st = fs.statSync(FAULT_FILE);
		stamp = `${st.mtimeMs}:${st.size}`;
		if (stamp !== faultFileStamp) text = fs.readFileSync(FAULT_FILE, 'utf8');
	} catch (e) {
		stamp = '';
	}
	if (stamp === faultFileStamp) return;
	faultFileStamp = stamp;
	const v = {};
	for (const line of (text || '').split('\n')) {
		const m = line.match(/^\s*(COFFER_S3_FAULT_[A-Z0-9_]+)\s*=\s*(\d+)\s*$/);
		if (m) v[m[1]] = parseInt(m[2], 10);
		const text = line.match(/^\s*COFFER_S3_FAULT_LIST_MATCH=(\S+)\s*$/);
		if (text) v.COFFER_S3_FAULT_LIST_MATCH = text[1];
	}
	const has = text !== null;
	FAULT_ALL = has ? (v.COFFER_S3_FAULT_ALL || 0) !== 0 : FAULT_DEFAULTS.all;
	FAULT_503 = has ? v.COFFER_S3_FAULT_503_EVERY || 0 : FAULT_DEFAULTS.e503;
	FAULT_RESET = has ? v.COFFER_S3_FAULT_RESET_EVERY || 0 : FAULT_DEFAULTS.reset;
	FAULT_TRUNCATE = has ? v.COFFER_S3_FAULT_TRUNCATE_EVERY || 0 : FAULT_DEFAULTS.truncate;
	FAULT_LIST_HTML = has ? v.COFFER_S3_FAULT_LIST_HTML || 0 : FAULT_DEFAULTS.listHtml;
	FAULT_LIST_CUT = has ? v.COFFER_S3_FAULT_LIST_CUT || 0 : FAULT_DEFAULTS.listCut;
	FAULT_LIST_MATCH = has ? v.COFFER_S3_FAULT_LIST_MATCH || '' : FAULT_DEFAULTS.listMatch;
	logLine(`faults now: all=${FAULT_ALL ? 1 : 0} 503/${FAULT_503} reset/${FAULT_RESET} truncate/${FAULT_TRUNCATE} ` +
		`list-html/${FAULT_LIST_HTML} list-cut/${FAULT_LIST_CUT}` + (FAULT_LIST_MATCH ? ` list-match=${FAULT_LIST_MATCH}` : ''));
}

function pickFault(n) {
	refreshFaults();
	if (FAULT_ALL) return '503';
	if (FAULT_503 > 0 && n % FAULT_503 === 0) return '503';
	if (FAULT_RESET > 0 && n % FAULT_RESET === 0) return 'reset';
	if (FAULT_TRUNCATE > 0 && n % FAULT_TRUNCATE === 0) return 'truncate';
	return '';
}

// Listings that name a prefix (holding FAULT_LIST_MATCH, if set) are
// counted apart for the listing faults, so that a client's probe of the
// bucket (no prefix) gets through and the fault reaches the listing of the
// folder a test aims at.
let listCounter = 0;

function pickListFault(t) {
	const prefix = q1(t.query, 'prefix') || '';
	if (prefix === '' || (!FAULT_LIST_HTML && !FAULT_LIST_CUT) || !prefix.includes(FAULT_LIST_MATCH)) return '';
	const n = ++listCounter;
	if (FAULT_LIST_HTML > 0 && n % FAULT_LIST_HTML === 0) return 'html';
	if (FAULT_LIST_CUT > 0 && n % FAULT_LIST_CUT === 0) return 'cut';
	return '';
}

// What a captive portal, a misconfigured reverse proxy or a bucket's
// website endpoint answers: 200, but a web page.
const LIST_HTML_PAGE = '<!DOCTYPE html>\n<html><head><title>Welcome</title></head>\n' +
	'<body><h1>It works!</h1><p>This is not the S3 API.</p></body></html>\n';

async function health(req, res) {
	try {
		const up = await upstream('GET', '/', {}, null);
		up.resume();
		await once(up, 'end');
		res.writeHead(up.statusCode === 200 ? 200 : 503, { 'content-type': 'text/plain' });
		res.end(up.statusCode === 200 ? 'ok\n' : `s3rver answered ${up.statusCode}\n`);
	} catch (e) {
		res.writeHead(503, { 'content-type': 'text/plain' });
		res.end(`s3rver does not answer: ${e.code || e.message}\n`);
	}
}

async function handle(req, res, expectContinue) {
	if (req.url === HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) return health(req, res);

	const n = ++counter;
	const t0 = process.hrtime.bigint();
	const notes = [];
	const ctx = {
		n, req, res, expectContinue, continued: false,
		requestId: newRequestId(), status: '-', bytesIn: 0, bytesOut: 0,
		note: s => notes.push(s),
	};
	let logged = false;
	const writeLog = () => {
		if (logged) return;
		logged = true;
		const ms = Number(process.hrtime.bigint() - t0) / 1e6;
		const status = ctx.status !== '-' ? ctx.status : (res.headersSent ? res.statusCode : 'ABORTED');
		logLine(`#${n} ${req.method} ${logPath(req.url)} ${status} in=${ctx.bytesIn} out=${ctx.bytesOut} ${ms.toFixed(1)}ms` +
			(notes.length ? ` | ${notes.join('; ')}` : ''));
	};
	res.on('finish', writeLog);
	res.on('close', writeLog);

	let body = null;
	try {
		const fault = pickFault(n);
		if (fault === '503') {
			ctx.status = 503;
			sendError(ctx, new S3Err(503, 'SlowDown', 'Please reduce your request rate.', {}, 'fault=503'), { 'retry-after': '1' });
			return;
		}
		if (fault === 'reset') {
			ctx.status = 'RESET';
			ctx.note('fault=reset');
			const hasBody = Number(req.headers['content-length'] || 0) > 0 || req.headers['transfer-encoding'] !== undefined;
			if (hasBody) {
				if (expectContinue) { res.writeContinue(); ctx.continued = true; }
				// Wait for the first body bytes so the reset lands mid-upload.
				await Promise.race([once(req, 'data'), once(req, 'end'), once(req, 'close'),
					new Promise(r => setTimeout(r, 2000))]).catch(() => {});
			}
			killSocket(req.socket);
			return;
		}

		const t = parseTarget(req.url);
		const auth = await verifySignature(req, t);
		ctx.note(`key=${auth.accessKey}`);

		const truncate = fault === 'truncate';
		const objectPath = t.rawPath;
		const isObject = t.bucket !== '' && t.key !== '';
		const noSubresource = Object.keys(t.query).every(k => k === 'x-id');
		const copySource = req.headers['x-amz-copy-source'];
		// PutObject, CopyObject and CreateMultipartUpload set a storage class.
		const setsClass = isObject && ((req.method === 'PUT' && noSubresource) || (req.method === 'POST' && 'uploads' in t.query));
		const storageClass = setsClass ? requestedStorageClass(req) : null;

		const hasBody = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) > 0
			: req.headers['transfer-encoding'] !== undefined;
		if (req.method === 'PUT' && req.headers['content-length'] === undefined) {
			throw new S3Err(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.', {}, 'PUT without Content-Length');
		}
		let decoder = null;
		let echo = null; // the flexible checksum to return, { header, value }
		if (hasBody || req.method === 'PUT' || req.method === 'POST') {
			const checksum = requestedChecksum(req, auth.payloadHash);
			if (STREAMING_MODES.has(auth.payloadHash)) {
				const dl = req.headers['x-amz-decoded-content-length'];
				if (dl === undefined) {
					throw new S3Err(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.', {},
						`${auth.payloadHash} without x-amz-decoded-content-length`);
				}
				if (!/^\d{1,15}$/.test(dl)) {
					throw new S3Err(400, 'InvalidArgument', 'x-amz-decoded-content-length is not a valid number',
						{ ArgumentName: 'x-amz-decoded-content-length', ArgumentValue: dl }, 'bad x-amz-decoded-content-length');
				}
				decoder = new AwsChunkedDecoder(auth, Number(dl), checksum && checksum.trailer ? [checksum.header] : []);
			}
			body = await readBody(ctx, decoder, checksum, auth.payloadHash);
			if (decoder) ctx.note(`aws-chunked ${auth.payloadHash}: ${decoder.chunks} chunks, ${body.length} bytes decoded`);
			echo = checkBody(req, body, auth.payloadHash, decoder, checksum);
		} else if (auth.payloadHash !== 'UNSIGNED-PAYLOAD' && auth.payloadHash !== EMPTY_SHA256) {
			throw new S3Err(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.",
				{ ClientComputedContentSHA256: auth.payloadHash, S3ComputedContentSHA256: EMPTY_SHA256 },
				'request has no body but x-amz-content-sha256 is not the hash of nothing');
		}

		if (isListRequest(req, t)) {
			ctx.truncate = truncate;
			ctx.listFault = pickListFault(t);
			if (ctx.listFault === 'html') {
				const page = Buffer.from(LIST_HTML_PAGE, 'utf8');
				ctx.status = 200;
				ctx.bytesOut = page.length;
				ctx.note('fault=list-html (a web page instead of the listing)');
				res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': page.length });
				res.end(page);
				return;
			}
			await listObjects(ctx, t);
			return;
		}

		// Writes to one object go one at a time.
		const writes = isObject && ['PUT', 'DELETE', 'POST'].includes(req.method);
		const release = writes ? await lockKey(`${t.bucket}/${t.key}`) : null;
		try {
			const drop = [];
			if (isObject && req.method === 'PUT') {
				const inm = req.headers['if-none-match'];
				const im = req.headers['if-match'];
				if ((inm !== undefined || im !== undefined) && IGNORE_CONDITIONAL) {
					drop.push('if-none-match', 'if-match');
					ctx.note('conditional headers ignored (COFFER_S3_IGNORE_CONDITIONAL)');
				} else if (inm !== undefined || im !== undefined) {
					drop.push('if-none-match', 'if-match');
					if (inm !== undefined && inm.trim() !== '*') {
						throw new S3Err(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented',
							{ Header: 'If-None-Match' }, `If-None-Match '${inm}' on PUT (only * is supported)`);
					}
					const head = await upstreamHead(objectPath);
					if (inm !== undefined && head.status === 200) {
						throw new S3Err(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold',
							{ Condition: 'If-None-Match' }, 'If-None-Match: * and the key exists (emulated)');
					}
					if (im !== undefined) {
						if (head.status === 404) {
							throw new S3Err(404, 'NoSuchKey', 'The specified key does not exist.', { Key: t.key }, 'If-Match and no such key (emulated)');
						}
						const want = im.split(',').map(s => s.trim());
						if (!want.includes('*') && !want.includes(head.etag)) {
							throw new S3Err(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold',
								{ Condition: 'If-Match' }, `If-Match ${im} but the ETag is ${head.etag} (emulated)`);
						}
					}
					ctx.note('conditional PUT passed (emulated)');
				}
			}

			let rangeOpts = {};
			if (isObject && (req.method === 'GET' || req.method === 'HEAD') && req.headers.range !== undefined) {
				drop.push('range');
				const head = await upstreamHead(objectPath);
				if (head.status === 200) {
					const r = resolveRange(req.headers.range, head.size);
					if (r) {
						if (r.end === 0) {
							// s3rver reads "bytes=0-0" as the whole object: ask for
							// bytes=0- and pass on one byte.
							rangeOpts = { range: 'bytes=0-', limit: 1, rewrite: { 'content-length': '1', 'content-range': `bytes 0-0/${head.size}` } };
						} else {
							rangeOpts = { range: `bytes=${r.start}-${r.end}` };
						}
					} else {
						ctx.note(`range '${req.headers.range}' ignored`);
					}
				}
			}

			const h = upstreamHeaders(req, decoder ? ['x-amz-content-sha256', ...drop] : drop);
			if (rangeOpts.range) h.range = rangeOpts.range;
			const up = await upstream(req.method, req.url, h, body);
			const status = up.statusCode;
			const id = `${t.bucket}/${t.key}`;
			const extra = { ...(rangeOpts.rewrite || {}) };
			let capture;
			if (isObject && req.method === 'PUT' && noSubresource && status === 200) {
				let checksum = echo;
				if (copySource === undefined) {
					if (!(await settle(t.bucket, t.key, body.length))) ctx.note('object file did not reach its size in 5 s');
				} else {
					const src = objectMeta.get(copySourceId(copySource));
					checksum = src ? src.checksum : null;
				}
				objectMeta.set(id, { storageClass, checksum });
				if (storageClass !== 'STANDARD') ctx.note(`storage class ${storageClass}`);
			}
			if (echo && req.method === 'PUT' && status === 200) extra[echo.header] = echo.value;
			if (isObject && (req.method === 'GET' || req.method === 'HEAD') && (status === 200 || status === 206)) {
				const m = objectMeta.get(id);
				if (m && m.storageClass !== 'STANDARD') extra['x-amz-storage-class'] = m.storageClass;
				if (m && m.checksum && status === 200 && String(req.headers['x-amz-checksum-mode']).toUpperCase() === 'ENABLED') {
					extra[m.checksum.header] = m.checksum.value;
				}
			}
			if (isObject && req.method === 'POST' && 'uploads' in t.query && status === 200) {
				capture = buf => {
					const m = /<UploadId>([^<]*)<\/UploadId>/.exec(buf.toString('utf8'));
					if (m) uploadMeta.set(xmlUnescape(m[1]), { id, storageClass });
				};
			}
			const uploadId = q1(t.query, 'uploadId');
			if (isObject && req.method === 'POST' && uploadId !== undefined && status === 200) {
				const u = uploadMeta.get(uploadId);
				objectMeta.set(id, { storageClass: u && u.id === id ? u.storageClass : 'STANDARD', checksum: null });
				uploadMeta.delete(uploadId);
			}
			if (isObject && req.method === 'DELETE' && uploadId !== undefined && status === 204) uploadMeta.delete(uploadId);
			if (isObject && req.method === 'DELETE' && Object.keys(t.query).every(k => k === 'x-id' || k === 'versionId') && status === 204) {
				objectMeta.delete(id);
			}
			if (!isObject && t.bucket !== '' && req.method === 'DELETE' && noSubresource && status === 204) forgetBucket(t.bucket);
			if (!isObject && t.bucket !== '' && req.method === 'POST' && 'delete' in t.query && status === 200 && body) {
				await forgetDeleted(t.bucket, body);
			}
			await relay(ctx, up, { truncate, limit: rangeOpts.limit, rewrite: extra, capture });
		} finally {
			if (release) release();
		}
	} catch (e) {
		if (e instanceof S3Err) {
			ctx.status = e.status;
			if (e.status === 416 && e.extra.ActualObjectSize !== undefined) {
				sendError(ctx, e, { 'content-range': `bytes */${e.extra.ActualObjectSize}` });
			} else {
				sendError(ctx, e);
			}
		} else if (e && (e.code === 'ECONNRESET' || e.code === 'ERR_STREAM_PREMATURE_CLOSE' || e.message === 'aborted')) {
			ctx.status = 'ABORTED';
			ctx.note(`client went away: ${e.code || e.message}`);
			killSocket(req.socket, false);
		} else {
			ctx.status = 500;
			ctx.note(`internal error: ${e && e.stack ? e.stack.split('\n')[0] : e}`);
			sendError(ctx, new S3Err(500, 'InternalError', 'We encountered an internal error. Please try again.'));
		}
	} finally {
		dropBody(body);
		if (res.writableEnded || res.destroyed) writeLog();
	}
}

// ---------------------------------------------------------------- main

// COFFER_S3_TLS_CERT and COFFER_S3_TLS_KEY (PEM files): serve https
// instead, to test a client's certificate checks.
const TLS_CERT = process.env.COFFER_S3_TLS_CERT || '';
const TLS_KEY = process.env.COFFER_S3_TLS_KEY || '';
const SCHEME = TLS_CERT && TLS_KEY ? 'https' : 'http';
const serverOptions = { keepAliveTimeout: 30000, requestTimeout: 0, headersTimeout: 60000 };
const onRequest = (req, res) => handle(req, res, false);
const server = SCHEME === 'https'
	? https.createServer({ ...serverOptions, cert: fs.readFileSync(TLS_CERT), key: fs.readFileSync(TLS_KEY) }, onRequest)
	: http.createServer(serverOptions, onRequest);
server.on('checkContinue', (req, res) => handle(req, res, true));
server.on('clientError', (err, sock) => {
	if (sock.writable && !sock.destroyed) sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
});

server.listen(PORT, HOST, () => {
	const faults = [FAULT_ALL && 'all=503', FAULT_503 && `503 every ${FAULT_503}`, FAULT_RESET && `reset every ${FAULT_RESET}`,
		FAULT_TRUNCATE && `truncate every ${FAULT_TRUNCATE}`, FAULT_LIST_HTML && `listing html every ${FAULT_LIST_HTML}`,
		FAULT_LIST_CUT && `listing cut every ${FAULT_LIST_CUT}`, FAULT_LIST_MATCH && `listing faults on prefixes holding ${FAULT_LIST_MATCH}`].filter(Boolean);
	logLine(`proxy listening on ${SCHEME}://${HOST}:${PORT} -> s3rver on ${HOST}:${UPSTREAM_PORT}; access key ${ACCESS_KEY}; ` +
		`region ${REGION || 'any'}; faults: ${faults.length ? faults.join(', ') : 'none'}`);
});

function shutdown() {
	server.close();
	try { for (const f of fs.readdirSync(SPOOL_DIR)) if (f.startsWith(`body-${process.pid}-`)) fs.unlinkSync(path.join(SPOOL_DIR, f)); } catch { /* */ }
	process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
