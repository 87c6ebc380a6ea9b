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
// that header must be UNSIGNED-PAYLOAD. Refusals get S3's status, error code
// and XML body.
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
//   - PUT bodies are spooled and checked before s3rver sees them, so a body
//     that fails its checksum, or a client that goes away mid-upload, leaves
//     nothing behind; after s3rver says 200 the proxy waits until the file on
//     disk has its full size (s3rver answers before its write stream flushes).
//
// Fault injection (environment; N counts requests from 1, the health probe
// not included): COFFER_S3_FAULT_ALL=1, COFFER_S3_FAULT_503_EVERY=N,
// COFFER_S3_FAULT_RESET_EVERY=N, COFFER_S3_FAULT_TRUNCATE_EVERY=N.
//
// One log line per request goes to COFFER_S3_LOG (stdout if unset). Neither
// the secret nor any signature is ever logged.

const http = require('node:http');
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
// Faults can also change while the server runs (so a test keeps its
// data): COFFER_S3_FAULT_FILE names a file of KEY=VALUE lines with the
// same names; when it exists it replaces the environment's settings, when
// it is removed they come back. Read again when its mtime changes.
const FAULT_FILE = process.env.COFFER_S3_FAULT_FILE || '';
const FAULT_DEFAULTS = { all: FAULT_ALL, e503: FAULT_503, reset: FAULT_RESET, truncate: FAULT_TRUNCATE };
let faultFileStamp = '';

const MAX_SKEW_MS = 15 * 60 * 1000;
const MEM_BODY_LIMIT = 1 << 20; // larger bodies are spooled to a file
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
	if (payloadHash.startsWith('STREAMING-')) {
		throw new S3Err(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented',
			{ Header: 'x-amz-content-sha256' }, `'${payloadHash}' (aws-chunked upload) is not supported by the test proxy`);
	}
	if (payloadHash !== 'UNSIGNED-PAYLOAD' && !/^[0-9a-f]{64}$/.test(payloadHash)) {
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
	if (sameHeaders && a.length === b.length && crypto.timingSafeEqual(a, b)) return { accessKey, payloadHash };

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

// ---------------------------------------------------------------- request bodies

// Reads the whole request body, hashing it as it comes. Small bodies stay in
// memory, larger ones go to a spool file. Returns
// { length, sha256, md5, buffer | file }.
async function readBody(ctx) {
	const { req, res } = ctx;
	if (ctx.expectContinue && !ctx.continued) { res.writeContinue(); ctx.continued = true; }
	const sha = crypto.createHash('sha256');
	const md5 = crypto.createHash('md5');
	let length = 0;
	let chunks = [];
	let file = null;
	let ws = null;
	try {
		for await (const chunk of req) {
			sha.update(chunk);
			md5.update(chunk);
			length += chunk.length;
			if (ws) {
				if (!ws.write(chunk)) await once(ws, 'drain');
			} else {
				chunks.push(chunk);
				if (length > MEM_BODY_LIMIT) {
					file = path.join(SPOOL_DIR, `body-${process.pid}-${ctx.n}-${crypto.randomBytes(4).toString('hex')}`);
					ws = fs.createWriteStream(file, { flags: 'wx', mode: 0o600 });
					for (const c of chunks) ws.write(c);
					chunks = [];
				}
			}
		}
		if (ws) { ws.end(); await once(ws, 'close'); }
	} catch (e) {
		if (ws) ws.destroy();
		if (file) fsp.unlink(file).catch(() => {});
		throw e;
	}
	return {
		length,
		sha256: sha.digest('hex'),
		md5: md5.digest('base64'),
		buffer: file ? null : Buffer.concat(chunks),
		file,
	};
}

function dropBody(body) {
	if (body && body.file) fsp.unlink(body.file).catch(() => {});
}

function checkBody(req, body, payloadHash) {
	if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== body.sha256) {
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
}

// ---------------------------------------------------------------- upstream (s3rver)

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

const HOP_HEADERS = new Set(['authorization', 'host', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization',
	'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'content-length']);

function upstreamHeaders(req, drop = []) {
	const h = {};
	for (const [k, v] of Object.entries(req.headers)) {
		if (!HOP_HEADERS.has(k) && !drop.includes(k)) h[k] = v;
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
			const rs = fs.createReadStream(body.file);
			rs.on('error', e => r.destroy(e));
			rs.pipe(r);
		} else {
			r.end(body.buffer);
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
// only the first `limit` body bytes and replace some headers (bytes=0-0).
async function relay(ctx, up, opts = {}) {
	const { res, req } = ctx;
	const headers = {};
	for (const [k, v] of Object.entries(up.headers)) {
		if (!['connection', 'keep-alive', 'transfer-encoding'].includes(k)) headers[k] = v;
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
	for await (const chunk of up) {
		let c = chunk;
		if (sent + c.length > limit) c = c.subarray(0, limit - sent);
		sent += c.length;
		if (!res.write(c)) {
			await Promise.race([once(res, 'drain'), once(res, 'close')]);
			if (res.destroyed) { up.destroy(); ctx.bytesOut = sent; return; }
		}
		if (sent >= limit) { up.destroy(); break; }
	}
	ctx.bytesOut = sent;
	res.end();
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
	const file = path.join(DATA_DIR, bucket, ...key.split('/').slice(0, -1), key.split('/').pop() + OBJECT_SUFFIX);
	for (let i = 0; i < 500; i++) {
		try {
			const st = await fsp.stat(file);
			if (st.size === length && fs.existsSync(file + '.md5')) return true;
		} catch { /* not there yet */ }
		await new Promise(r => setTimeout(r, 10));
	}
	return false;
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
		const file = path.join(bucketDir, ...key.split('/').slice(0, -1), key.split('/').pop() + OBJECT_SUFFIX);
		let st;
		let md5;
		try {
			st = await fsp.stat(file);
			md5 = (await fsp.readFile(file + '.md5', 'utf8')).trim();
		} catch {
			continue; // deleted since the walk
		}
		xml += '<Contents>' + el('Key', enc(key)) + el('LastModified', st.mtime.toISOString()) + el('ETag', `"${md5}"`) +
			el('Size', st.size) + (withOwner ? owner : '') + el('StorageClass', 'STANDARD') + '</Contents>';
	}
	for (const p of prefixes) xml += '<CommonPrefixes>' + el('Prefix', enc(p)) + '</CommonPrefixes>';
	xml += '</ListBucketResult>';
	const buf = Buffer.from(xml, 'utf8');
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
	}
	const has = text !== null;
	FAULT_ALL = has ? (v.COFFER_S3_FAULT_ALL || 0) !== 0 : FAULT_DEFAULTS.all;
	FAULT_503 = has ? v.COFFER_S3_FAULT_503_EVERY || 0 : FAULT_DEFAULTS.e503;
	FAULT_RESET = has ? v.COFFER_S3_FAULT_RESET_EVERY || 0 : FAULT_DEFAULTS.reset;
	FAULT_TRUNCATE = has ? v.COFFER_S3_FAULT_TRUNCATE_EVERY || 0 : FAULT_DEFAULTS.truncate;
	logLine(`faults now: all=${FAULT_ALL ? 1 : 0} 503/${FAULT_503} reset/${FAULT_RESET} truncate/${FAULT_TRUNCATE}`);
}

function pickFault(n) {
	refreshFaults();
	if (FAULT_ALL) return '503';
	if (FAULT_503 > 0 && n % FAULT_503 === 0) return '503';
	if (FAULT_RESET > 0 && n % FAULT_RESET === 0) return 'reset';
	if (FAULT_TRUNCATE > 0 && n % FAULT_TRUNCATE === 0) return 'truncate';
	return '';
}

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

		const hasBody = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) > 0
			: req.headers['transfer-encoding'] !== undefined;
		if (req.method === 'PUT' && req.headers['content-length'] === undefined) {
			throw new S3Err(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.', {}, 'PUT without Content-Length');
		}
		if (hasBody || req.method === 'PUT' || req.method === 'POST') {
			body = await readBody(ctx);
			ctx.bytesIn = body.length;
			checkBody(req, body, auth.payloadHash);
		} else if (auth.payloadHash !== 'UNSIGNED-PAYLOAD' && auth.payloadHash !== EMPTY_SHA256) {
			throw new S3Err(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.",
				{ ClientComputedContentSHA256: auth.payloadHash, S3ComputedContentSHA256: EMPTY_SHA256 },
				'request has no body but x-amz-content-sha256 is not the hash of nothing');
		}

		const truncate = fault === 'truncate';
		const objectPath = t.rawPath;
		const isObject = t.bucket !== '' && t.key !== '';
		const noSubresource = Object.keys(t.query).every(k => k === 'x-id');

		if (isListRequest(req, t)) {
			ctx.truncate = truncate;
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
				if (inm !== undefined || im !== undefined) {
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

			const h = upstreamHeaders(req, drop);
			if (rangeOpts.range) h.range = rangeOpts.range;
			const up = await upstream(req.method, req.url, h, body);
			if (isObject && req.method === 'PUT' && noSubresource && up.statusCode === 200 &&
				req.headers['x-amz-copy-source'] === undefined) {
				if (!(await settle(t.bucket, t.key, body.length))) ctx.note('object file did not reach its size in 5 s');
			}
			await relay(ctx, up, { truncate, limit: rangeOpts.limit, rewrite: rangeOpts.rewrite });
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

const server = http.createServer({ keepAliveTimeout: 30000, requestTimeout: 0, headersTimeout: 60000 }, (req, res) => {
	handle(req, res, false);
});
server.on('checkContinue', (req, res) => handle(req, res, true));
server.on('clientError', (err, sock) => {
	if (sock.writable && !sock.destroyed) sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
});

server.listen(PORT, HOST, () => {
	const faults = [FAULT_ALL && 'all=503', FAULT_503 && `503 every ${FAULT_503}`, FAULT_RESET && `reset every ${FAULT_RESET}`,
		FAULT_TRUNCATE && `truncate every ${FAULT_TRUNCATE}`].filter(Boolean);
	logLine(`proxy listening on http://${HOST}:${PORT} -> s3rver on ${HOST}:${UPSTREAM_PORT}; access key ${ACCESS_KEY}; ` +
		`region ${REGION || 'any'}; faults: ${faults.length ? faults.join(', ') : 'none'}`);
});

function shutdown() {
	server.close();
	try { for (const f of fs.readdirSync(SPOOL_DIR)) if (f.startsWith(`body-${process.pid}-`)) fs.unlinkSync(path.join(SPOOL_DIR, f)); } catch { /* */ }
	process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
