#!/usr/bin/env bash
# repairdict.sh — repair packs keeps the blobs whose only fault is their
# dictionary, against a real PostgreSQL (tests/pg/, a port of its own).
# A database backup stores a dictionary twice: in the pack with the dump's
# blobs (A) and in a small pack of its own (B). With A's copy damaged and B
# unreadable for a while (a directory in its place: reads fail as an I/O
# error would, and the listing leaves it out), check --read-data records the
# dictionary as damaged, B as missing, and every blob compressed with the
# dictionary as "its dictionary cannot be read". Then:
#  - repair packs salvages A keeping those blobs (sealed bytes as they
#    were): only the dictionary's damaged copy is lost; it leaves B as it is,
#    says so and exits non-zero;
#  - once B can be read, repair packs finds B whole and keeps it;
#    check --read-data passes, and the database snapshot dumps
#    byte-identical to what was backed up. (Before, the blobs were dropped
#    with A, and B with them: the dump was lost for good.)
. "$(dirname "$0")/lib.sh"

PG=$REPO_ROOT/tests/pg
export COFFER_PG_DIR=$T/pg COFFER_PG_PORT=${COFFER_PG_REPAIR_PORT:-25449}
"$PG/server.sh" start >/dev/null || fail "cannot start the test PostgreSQL server"
on_exit '"$PG/server.sh" stop >/dev/null 2>&1'
eval "$("$PG/server.sh" env)"
"$PG/make-db.sh" app 0.2 >/dev/null || fail "cannot generate the test database"

new_repo repo
c_ok "backup of the database" backup --postgres "${COFFER_PG_URL}app" --name db \
    --db-password-file "$COFFER_PG_DIR/password" --quiet
c_ok "dump of the database snapshot" dump latest --source db /db.dump
cp "$T/out" "$T/db.dump"
[ "$(find "$COFFER_REPOSITORY/data" -type f | wc -l)" = 2 ] ||
    fail "expected 2 packs (the dump's, the dictionary's second copy), found $(find "$COFFER_REPOSITORY/data" -type f | wc -l)"
a=$(find "$COFFER_REPOSITORY/data" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2)
b=$(find "$COFFER_REPOSITORY/data" -type f -printf '%s %p\n' | sort -n | head -n 1 | cut -d' ' -f2)
# B holds the dictionary's sealed bytes first: find them in A
dict_at=$(python3 -c 'import sys; a = open(sys.argv[1], "rb").read(); b = open(sys.argv[2], "rb").read(); print(a.find(b[:64]))' "$a" "$b")
[ "$dict_at" -ge 0 ] || fail "the dictionary's copy in the dump's pack was not found"
flip_byte "$a" $((dict_at + 100))
mkdir -p "$T/stash"
mv "$b" "$T/stash/" && mkdir "$b" || fail "cannot hide $b"

run_c check --read-data
expect_rc 1 "check --read-data with the dictionary's copies out of reach"
run_c repair packs
expect_nonzero "repair packs with the dictionary's second copy unreadable"
grep -q "could not be read" "$T/out" || fail "repair packs does not say which pack it could not read: $(cat "$T/out")"
grep -q "saved, 1 lost" "$T/out" || fail "repair packs lost more than the dictionary's damaged copy: $(cat "$T/out")"
rmdir "$b" && mv "$T/stash/$(basename "$b")" "$b" || fail "cannot put $b back"
c_ok "repair packs once the second copy can be read" repair packs
grep -q "it is there and whole" "$T/out" || fail "repair packs does not find the second copy whole: $(cat "$T/out")"
c_ok "check --read-data after the repairs" check --read-data
c_ok "dump after the repairs" dump latest --source db /db.dump
cmp -s "$T/out" "$T/db.dump" || fail "the database snapshot does not dump as it was backed up"

pass "blobs whose only fault is their dictionary survive repair packs and read again once the dictionary can"
