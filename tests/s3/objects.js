// objects.js — a small S3 client for tests that need a bucket filled the way
// an application fills it (the bucket source's tests): PUT and DELETE of
// objects by key, signed with AWS Signature V4 (@smithy/signature-v4, as the
// proxy checks it), eight requests in flight.
//
//   node objects.js ENDPOINT BUCKET < COMMANDS
//
// COMMANDS: one per line, fields separated by a tab:
//   put <TAB> KEY <TAB> FILE     the file's bytes become the object KEY
//   delete <TAB> KEY
// Keys are bytes as given (UTF-8), any but tab and newline. The keys come
// from COFFER_S3_TEST_ACCESS_KEY / COFFER_S3_TEST_SECRET_KEY (server.sh's
// defaults otherwise). Exits 1 naming the first request that failed.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const crypto = require('node:crypto');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Hash } = require('@smithy/hash-node');

const [endpoint, bucket] = process.argv.slice(2);
if (!endpoint || !bucket) {
	process.stderr.write('usage: node objects.js ENDPOINT BUCKET < COMMANDS\n');
	process.exit(2);
}
const signer = new SignatureV4({
	credentials: {
		accessKeyId: process.env.COFFER_S3_TEST_ACCESS_KEY || 'COFFERTESTACCESSKEY1',
		secretAccessKey: process.env.COFFER_S3_TEST_SECRET_KEY || 'cofferTestSecretKey/0123456789+abcdefghij',
	},
	region: 'us-east-1',
	service: 's3',
	sha256: Hash.bind(null, 'sha256'),
	uriEscapePath: false, // the path is escaped already (encodeKey), as S3 wants it signed
	applyChecksum: false,
});
const base = new URL(endpoint);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

// S3's encoding of a key in a path: every byte but unreserved ones and '/'.
function encodeKey(key) {
	return Buffer.from(key, 'utf8').toString('latin1').split('').map(c => {
		const b = c.charCodeAt(0);
		return /[A-Za-z0-9\-._~/]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
	}).join('');
}

async function send(method, key, body) {
	const path = `/${bucket}/${encodeKey(key)}`;
	const hash = crypto.createHash('sha256').update(body || '').digest('hex');
	const request = {
		method,
		protocol: base.protocol,
		hostname: base.hostname,
		port: base.port,
		path,
		headers: { host: base.host, 'x-amz-content-sha256': hash, 'content-length': String(body ? body.length : 0) },
		query: {},
	};
	const signed = await signer.sign(request);
	return new Promise((resolve, reject) => {
		const req = http.request({ agent, method, host: base.hostname, port: base.port, path, headers: signed.headers },
			res => {
				const chunks = [];
				res.on('data', c => chunks.push(c));
				res.on('end', () => res.statusCode < 300 ? resolve()
					: reject(new Error(`${method} ${key}: ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 300)}`)));
			});
		req.on('error', reject);
		req.end(body || undefined);
	});
}

(async () => {
	const lines = fs.readFileSync(0, 'utf8').split('\n').filter(l => l.length);
	let next = 0;
	async function worker() {
		while (next < lines.length) {
			const [verb, key, file] = lines[next++].split('\t');
			if (verb === 'put') await send('PUT', key, fs.readFileSync(file));
			else if (verb === 'delete') await send('DELETE', key, null);
			else throw new Error(`unknown command '${verb}'`);
		}
	}
	await Promise.all(Array.from({ length: 8 }, worker));
	agent.destroy();
})().catch(e => {
	process.stderr.write(`objects.js: ${e.message}\n`);
	process.exit(1);
});
