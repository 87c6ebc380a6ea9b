#!/usr/bin/env python3
"""receiver.py — a loopback HTTP server standing in for PagerDuty, Slack,
healthchecks.io and a webhook in tests/integration/alerts.sh.

Usage: receiver.py LOG PORTFILE [SECRET_FILE]

Listens on 127.0.0.1 (a free port, written to PORTFILE), and appends one
JSON line per request to LOG: method, path, query, headers, body, and for
requests with X-Coffer-Signature whether it is the HMAC-SHA-256 of the body
under SECRET_FILE's first line (signature_ok). Paths under /flaky/N/ answer
500 to their first N requests, then 200; /pagerduty answers 202 as the
Events API does; everything else 200.
"""
import hashlib
import hmac
import http.server
import json
import sys
import urllib.parse

LOG, PORTFILE = sys.argv[1], sys.argv[2]
SECRET = open(sys.argv[3]).readline().rstrip("\n").encode() if len(sys.argv) > 3 else None
seen = {}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        url = urllib.parse.urlsplit(self.path)
        entry = {"method": "POST", "path": url.path, "query": url.query,
                 "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode("utf-8", "replace")}
        signature = self.headers.get("X-Coffer-Signature")
        if signature is not None and SECRET is not None:
            want = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
            entry["signature_ok"] = hmac.compare_digest(want, signature)
        status = 202 if url.path.startswith("/pagerduty") else 200
        parts = url.path.split("/")
        if len(parts) > 2 and parts[1] == "flaky":
            seen[url.path] = seen.get(url.path, 0) + 1
            if seen[url.path] <= int(parts[2]):
                status = 500
        entry["status"] = status
        with open(LOG, "a") as log:
            log.write(json.dumps(entry) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
