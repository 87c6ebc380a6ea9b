#!/usr/bin/env bash
# populate.sh KEYS — fills the test redis-server (tests/redis/server.sh's
# port) with KEYS keys of every type: strings (with spaces, UTF-8 and some
# binary bytes), hashes, lists, sets and sorted sets, a fifth of them with
# an expiry an hour or more away. Deterministic: the same KEYS gives the
# same data. Keys are named t:<type>:<n>.
set -euo pipefail
KEYS=${1:?usage: populate.sh KEYS}
PORT=${COFFER_REDIS_PORT:-26380}
auth=()
if [ -n "${COFFER_REDIS_PASSWORD_FILE:-}" ]; then auth=(-a "$(cat "$COFFER_REDIS_PASSWORD_FILE")" --no-auth-warning); fi

# RESP commands from awk, loaded with redis-cli --pipe.
LC_ALL=C awk -v n="$KEYS" '
function cmd(a, k,   i, s) {
	s = "*" k "\r\n"
	for (i = 1; i <= k; i++) s = s "$" length(a[i]) "\r\n" a[i] "\r\n"
	printf "%s", s
}
BEGIN {
	srand(42)
	for (i = 0; i < n; i++) {
		t = i % 10
		if (t < 4) {          # 40% strings
			a[1] = "SET"; a[2] = "t:string:" i
			a[3] = "value " i " naïve café ✓ " int(rand() * 1e9) sprintf("%c%c", 1, 255)
			cmd(a, 3)
			key = a[2]
		} else if (t < 6) {   # 20% hashes
			a[1] = "HSET"; a[2] = "t:hash:" i; k = 2
			for (f = 0; f < 5; f++) { a[++k] = "field" f; a[++k] = "v" int(rand() * 1e6) }
			cmd(a, k); key = a[2]
		} else if (t < 8) {   # 20% lists
			a[1] = "RPUSH"; a[2] = "t:list:" i; k = 2
			for (f = 0; f < 6; f++) a[++k] = "item " f " of " i
			cmd(a, k); key = a[2]
		} else if (t < 9) {   # 10% sets
			a[1] = "SADD"; a[2] = "t:set:" i; k = 2
			for (f = 0; f < 5; f++) a[++k] = "m" int(rand() * 1e5)
			cmd(a, k); key = a[2]
		} else {              # 10% sorted sets
			a[1] = "ZADD"; a[2] = "t:zset:" i; k = 2
			for (f = 0; f < 5; f++) { a[++k] = sprintf("%.3f", rand() * 1000); a[++k] = "z" f }
			cmd(a, k); key = a[2]
		}
		if (i % 5 == 0) { b[1] = "EXPIRE"; b[2] = key; b[3] = 3600 + i % 7200; cmd(b, 3) }
	}
}' | redis-cli -p "$PORT" "${auth[@]}" --pipe >/dev/null
