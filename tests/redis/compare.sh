#!/usr/bin/env bash
# compare.sh PORT_A PORT_B [SAMPLE] — checks that two redis-servers hold the
# same data: equal DBSIZE, and for SAMPLE keys (default 1000, picked
# deterministically from server A) the same TYPE, value and EXPIRETIME.
# Values are compared in a canonical form (set members sorted; DUMP would
# differ with the order of a reloaded hash table). Prints what differs and
# exits 1 on a difference.
# Uses COFFER_REDIS_PASSWORD_FILE for both servers when set.
set -euo pipefail
A=${1:?usage: compare.sh PORT_A PORT_B [SAMPLE]}
B=${2:?usage: compare.sh PORT_A PORT_B [SAMPLE]}
SAMPLE=${3:-1000}
auth=()
if [ -n "${COFFER_REDIS_PASSWORD_FILE:-}" ]; then auth=(-a "$(cat "$COFFER_REDIS_PASSWORD_FILE")" --no-auth-warning); fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

size_a=$(redis-cli -p "$A" "${auth[@]}" dbsize)
size_b=$(redis-cli -p "$B" "${auth[@]}" dbsize)
[ "$size_a" = "$size_b" ] || { echo "DBSIZE differs: $size_a against $size_b"; exit 1; }
[ "$size_a" -gt 0 ] || { echo "no keys to compare"; exit 1; }

redis-cli -p "$A" "${auth[@]}" --scan | sort | awk -v n="$SAMPLE" -v total="$size_a" \
	'BEGIN { step = total / n; if (step < 1) step = 1; next_pick = 0 } NR - 1 >= next_pick { print; next_pick += step }' |
	head -n "$SAMPLE" >"$tmp/keys"
sed 's/^/TYPE /' "$tmp/keys" | redis-cli -p "$A" "${auth[@]}" >"$tmp/types"
paste -d' ' "$tmp/types" "$tmp/keys" | awk '{
	type = $1; key = $2
	print "TYPE " key
	if (type == "string") print "GET " key
	else if (type == "hash") print "HGETALL " key
	else if (type == "list") print "LRANGE " key " 0 -1"
	else if (type == "set") print "SORT " key " ALPHA"
	else if (type == "zset") print "ZRANGE " key " 0 -1 WITHSCORES"
	else print "DUMP " key
	print "EXPIRETIME " key
}' >"$tmp/commands"
redis-cli -p "$A" "${auth[@]}" --no-raw <"$tmp/commands" >"$tmp/a"
redis-cli -p "$B" "${auth[@]}" --no-raw <"$tmp/commands" >"$tmp/b"
if ! cmp -s "$tmp/a" "$tmp/b"; then
	echo "values differ (type, value, expiry of $(wc -l <"$tmp/keys") keys):"
	diff "$tmp/a" "$tmp/b" | head -20
	exit 1
fi
echo "equal: $size_a keys, $(wc -l <"$tmp/keys") compared by type, value and expiry"
