#!/usr/bin/env bash
# deeptree.sh — a tree 10,000 directories deep (files on the way and at the
# bottom, a symlink near it) and a file whose absolute path is exactly
# 4,096 bytes (PATH_MAX) go through every command that walks trees: backup,
# ls, restore (every entry's depth, name, type, mode, size, mtime, target
# and bytes equal), check --read-data, forget + prune, copy to a second
# repository and restore from there. Before the walks were iterative,
# backup died of a stack overflow at 1,900 levels, restore at 1,400.
. "$(dirname "$0")/lib.sh"

LEVELS=${DEEP_LEVELS:-10000}
HELPER=$IT_DIR/deeptree.py

new_repo repo
SRC=$T/src
len=$(python3 "$HELPER" make "$SRC" "$LEVELS") || fail "cannot build the deep tree"
[ "$len" = 4096 ] || fail "the long path is $len bytes, not 4096"
want=$(python3 "$HELPER" list "$SRC") || fail "cannot list the source tree"
case $want in "$((LEVELS + 34)) entries, $((LEVELS + 1)) levels, "*) ;; *) fail "unexpected source listing: $want" ;; esac
note "source: $want"

c_ok "backup of a $LEVELS-level tree" backup --name deep "$SRC"
first=$(cat "$T/out")

run_c ls latest deep
expect_ok "ls of the deep tree"
[ "$(wc -l <"$T/out")" = "$(($(echo "$SRC" | tr -cd / | wc -c) + LEVELS + 34))" ] ||
    fail "ls lists $(wc -l <"$T/out") entries"
grep -q "/bottom.txt\$" "$T/out" || fail "ls does not list the bottom file"
deepest=$(awk '{ print length($0) }' "$T/out" | sort -n | tail -1)
[ "$deepest" -gt $((2 * LEVELS)) ] || fail "ls's longest path is $deepest bytes"
grep -q "/LLL*\$" "$T/out" || fail "ls does not list the file of the 4096-byte path"

c_ok "restore of the deep tree" restore latest deep --to "$T/r1"
got=$(python3 "$HELPER" list "$(restored_path "$T/r1" "$SRC")") || fail "cannot list the restored tree"
[ "$got" = "$want" ] || fail "restored tree differs: $got, want $want"
note "restored identically"

c_ok "check --read-data with the deep tree" check --read-data

# A second snapshot, then forget the first and prune: the kept one restores.
printf 'changed\n' >"$SRC/new-file"
c_ok "second backup" backup --name deep "$SRC"
want=$(python3 "$HELPER" list "$SRC")
c_ok "forget all but the newest" forget --keep-last 1
c_ok "prune" prune
c_ok "check --read-data after prune" check --read-data
rm -rf "$T/r1"
c_ok "restore after prune" restore latest deep --to "$T/r2"
got=$(python3 "$HELPER" list "$(restored_path "$T/r2" "$SRC")")
[ "$got" = "$want" ] || fail "restored tree after prune differs: $got, want $want"
rm -rf "$T/r2"
note "forget + prune kept the deep snapshot whole"

# Copy to a second repository and restore from it.
printf 'other\n' >"$T/dest.pw"
COFFER_PASSWORD_FILE=$T/dest.pw c_ok "init the copy's destination" init --repo "$T/dest" --kdf testonly
c_ok "copy the deep snapshot" copy --to "$T/dest" --to-password-file "$T/dest.pw"
COFFER_PASSWORD_FILE=$T/dest.pw c_ok "restore from the copy" restore --repo "$T/dest" latest deep --to "$T/r3"
got=$(python3 "$HELPER" list "$(restored_path "$T/r3" "$SRC")")
[ "$got" = "$want" ] || fail "tree restored from the copy differs: $got, want $want"
COFFER_PASSWORD_FILE=$T/dest.pw c_ok "check --read-data of the copy" check --repo "$T/dest" --read-data

pass "deep trees and long paths"
