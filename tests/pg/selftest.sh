#!/usr/bin/env bash
# selftest.sh [SCALE...] — checks this directory end to end, without coffer:
# for each SCALE (default: 1) make a database, run one day of activity,
# pg_dump -Fc -Z0 it, pg_restore --no-owner into a new database, and require
# identical checksum.sh output and no orphans. Prints plain-dump size and
# timings per scale, and ends with "N passed, N failed".
# Starts the test server if it is not running, and then stops it at the end.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- 1

started=0
if ! "$here/server.sh" status >/dev/null 2>&1; then
  "$here/server.sh" start || { echo "0 passed, 1 failed"; exit 1; }
  started=1
fi
work=$(mktemp -d)
cleanup() {
  rm -rf -- "$work"
  if [ "$started" = 1 ]; then "$here/server.sh" stop; fi
}
trap cleanup EXIT
eval "$("$here/server.sh" env)"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

passed=0 failed=0
for scale in "$@"; do
  tag=${scale//./_}
  src=coffer_selftest_src_$tag dst=coffer_selftest_dst_$tag
  ok=1
  t0=$(now)
  "$here/make-db.sh" "$src" "$scale" || ok=0
  t1=$(now)
  "$here/make-activity.sh" "$src" 1 || ok=0
  t2=$(now)
  plain=$(pg_dump "$src" | wc -c)
  t3=$(now)
  pg_dump -Fc -Z0 -f "$work/db.dump" "$src" || ok=0
  custom=$(stat -c %s "$work/db.dump" 2>/dev/null || echo 0)
  t4=$(now)
  PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$dst"
  createdb "$dst" && pg_restore --no-owner --exit-on-error -d "$dst" "$work/db.dump" || ok=0
  t5=$(now)
  "$here/checksum.sh" "$src" >"$work/src.sum" || ok=0
  "$here/checksum.sh" "$dst" >"$work/dst.sum" || ok=0
  t6=$(now)
  if ! diff -u "$work/src.sum" "$work/dst.sum"; then ok=0; fi
  grep -q '^orphan_messages 0$' "$work/dst.sum" || ok=0
  rows=$(awk 'NF == 3 && $2 ~ /^[0-9]+$/ && $1 != "schema" { n += $2 } END { print n + 0 }' "$work/src.sum")
  printf 'scale %s: %s rows; plain dump %s bytes (%.1f MB), -Fc -Z0 %s bytes; generate %ss, activity %ss, plain dump %ss, -Fc dump %ss, restore %ss, checksums %ss: %s\n' \
    "$scale" "$rows" "$plain" "$(awk -v b="$plain" 'BEGIN { print b / 1e6 }')" "$custom" \
    "$(secs "$t0" "$t1")" "$(secs "$t1" "$t2")" "$(secs "$t2" "$t3")" "$(secs "$t3" "$t4")" \
    "$(secs "$t4" "$t5")" "$(secs "$t5" "$t6")" "$([ $ok = 1 ] && echo identical || echo FAILED)"
  if [ $ok = 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  dropdb "$src"; dropdb "$dst"; rm -f "$work/db.dump"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
