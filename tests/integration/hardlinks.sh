#!/usr/bin/env bash
# hardlinks.sh — a file with three links (one in another directory)
# restores as one inode with link count 3 and its bytes, after a first
# backup and after an unchanged second one; a file with one link and a
# copy of the same bytes stay separate files; restoring one directory
# alone gives the link inside it as a plain file. (Before, every link
# restored as a separate file.)
. "$(dirname "$0")/lib.sh"

new_repo repo
SRC=$T/src
mkdir -p "$SRC/sub" "$SRC/other"
gen_random 300000 7 >"$SRC/a"
ln "$SRC/a" "$SRC/b"
ln "$SRC/a" "$SRC/sub/c"
cp "$SRC/a" "$SRC/other/copy"   # the same bytes, another inode
printf 'single\n' >"$SRC/single"
[ "$(stat -c %h "$SRC/a")" = 3 ] || fail "the test tree's file does not have 3 links"

check_links() { # check_links RESTORED WHAT
    local r=$1 what=$2
    [ "$(stat -c %h "$r/a")" = 3 ] || fail "$what: a has $(stat -c %h "$r/a") links, want 3"
    [ "$(stat -c %i "$r/a")" = "$(stat -c %i "$r/b")" ] || fail "$what: a and b are different inodes"
    [ "$(stat -c %i "$r/a")" = "$(stat -c %i "$r/sub/c")" ] || fail "$what: a and sub/c are different inodes"
    [ "$(stat -c %i "$r/a")" != "$(stat -c %i "$r/other/copy")" ] || fail "$what: the copy was linked to a"
    [ "$(stat -c %h "$r/single")" = 1 ] || fail "$what: single has links"
    cmp -s "$r/a" "$SRC/a" || fail "$what: the linked file's bytes differ"
    cmp -s "$r/other/copy" "$SRC/a" || fail "$what: the copy's bytes differ"
}

c_ok "backup of a tree with hard links" backup --name links "$SRC"
c_ok "restore" restore latest links --to "$T/r1"
check_links "$(restored_path "$T/r1" "$SRC")" "first backup"
compare_trees "$SRC" "$(restored_path "$T/r1" "$SRC")" "tree with hard links"

c_ok "unchanged second backup" backup --name links "$SRC"
c_ok "restore of the second" restore latest links --to "$T/r2"
check_links "$(restored_path "$T/r2" "$SRC")" "second backup"

c_ok "restore of sub alone" restore latest links --path "$SRC/sub" --to "$T/r3"
R3=$(restored_path "$T/r3" "$SRC")/sub/c
[ -f "$R3" ] || fail "sub/c alone was not restored"
[ "$(stat -c %h "$R3")" = 1 ] || fail "sub/c alone has links"
cmp -s "$R3" "$SRC/a" || fail "sub/c alone: bytes differ"
c_ok "check --read-data" check --read-data
pass "hard links"
