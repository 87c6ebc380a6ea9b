#!/usr/bin/env bash
# browse.sh — `coffer diff` and `coffer find` (#14 item 3) on file trees,
# judged against what the tree held at each backup (listings and sha256
# kept beside the repository), not against coffer's own output:
#   - diff of consecutive and distant snapshots gives exactly the added,
#     removed, changed and retyped paths; metadata-only changes are counted
#     and listed with --metadata; one SNAPSHOT compares with the one before;
#     the same snapshot twice has no change; --json has the documented keys;
#   - find gives exactly the matching paths of every snapshot, also for a
#     subtree copied under a new name (the same tree id at another path:
#     what find's "nothing matched here last time" memory must not skip);
#     --source, --snapshot, --json; no match exits 1, a bad pattern 2.
. "$(dirname "$0")/lib.sh"

new_repo repo
D=$T/data
mkdir -p "$D/static" "$D/conf" "$D/uploads"
for i in $(seq 1 30); do
    mkdir -p "$D/static/d$i"
    for j in $(seq 1 20); do printf 'static %s %s\n' "$i" "$j" >"$D/static/d$i/f$j.css"; done
done
printf 'A=1\n' >"$D/conf/app.env"
printf 'B=1\n' >"$D/conf/worker.env"
printf 'key\n' >"$D/conf/id_rsa"
for j in $(seq 1 10); do gen_random $((j * 1000)) "up$j" >"$D/uploads/img $j.png"; done
ln -s conf/app.env "$D/current.env"

# state N: every entry as "type path" and every file's sha256, at backup N
save_state() {
    (find "$D" -printf '%y %p\n'; find "$D" -type f -exec sha256sum {} + | sed 's/^\([0-9a-f]*\)  /sha \1 /') |
        LC_ALL=C sort >"$T/state$1"
}
backup_state() {
    c_ok "backup $1" backup "$D" --time "2026-11-0$1T10:00:00Z"
    save_state "$1"
    ids[$1]=$(repo_snapshot files)
}
declare -a ids
backup_state 1
# 2: one file changed, one removed, a directory added, a symlink became a
# file, a mode changed (metadata only)
printf 'A=2\n' >"$D/conf/app.env"
rm "$D/uploads/img 3.png"
mkdir -p "$D/uploads/2026/11"
printf 'new\n' >"$D/uploads/2026/11/new.png"
printf 'new env\n' >"$D/uploads/2026/11/stray.env"
rm "$D/current.env"
printf 'now a file\n' >"$D/current.env"
chmod 0600 "$D/conf/id_rsa"
backup_state 2
# 3: a directory moved (the same tree at another path: the case find's
# memory of barren trees must key by path too), static copied under a new
# name, a file became a directory, a whole directory removed
mkdir "$D/archive"
mv "$D/static/d5" "$D/archive/d5"
cp -a "$D/static" "$D/static-copy"
rm "$D/conf/worker.env"
mkdir "$D/conf/worker.env"
printf 'inside\n' >"$D/conf/worker.env/inner"
rm -r "$D/uploads/2026"
backup_state 3
# 4: the same tree again
backup_state 4

# expected_diff A B : the lines coffer diff prints for states A -> B (sorted)
expected_diff() {
    local a=$T/state$1 b=$T/state$2
    awk '
        FNR == NR { if ($1 == "sha") sha_a[$3] = $2; else type_a[substr($0, 3)] = $1; next }
        { if ($1 == "sha") sha_b[$3] = $2; else type_b[substr($0, 3)] = $1 }
        function shown(p, t) { return t == "d" ? p "/" : p }
        function name(t) { return t == "d" ? "dir" : t == "l" ? "symlink" : "file" }
        END {
            for (p in type_b)
                if (!(p in type_a)) print "+ " shown(p, type_b[p])
                else if (type_a[p] != type_b[p]) print "T " p "  (" name(type_a[p]) " -> " name(type_b[p]) ")"
                else if (type_b[p] == "f" && sha_a[p] != sha_b[p]) print "M " p
            for (p in type_a)
                if (!(p in type_b)) print "- " shown(p, type_a[p])
        }' "$a" "$b" | LC_ALL=C sort
}
# coffer_diff ARGS... : the change lines of coffer diff (sorted)
coffer_diff() {
    run_c diff "$@"
    expect_ok "diff $*"
    grep -E '^[-+MTU] ' "$T/out" | LC_ALL=C sort
}

for pair in "1 2" "2 3" "1 3" "3 4" "1 4"; do
    set -- $pair
    expected_diff "$1" "$2" >"$T/diff.expected"
    coffer_diff "${ids[$1]}" "${ids[$2]}" >"$T/diff.actual"
    diff -u "$T/diff.expected" "$T/diff.actual" >&2 || fail "diff of snapshots $1 and $2 is not what changed"
done
[ -s "$T/diff.expected" ] || fail "the test compared nothing"
[ "$(expected_diff 1 2 | wc -l)" -ge 6 ] || fail "the test's changes from 1 to 2 went missing"

# the summary of 1 -> 2, and the metadata-only change
run_c diff "${ids[1]}" "${ids[2]}"
grep -q "^comparing ${ids[1]:0:8} (files, 2026-11-01T10:00:00Z) with ${ids[2]:0:8} (files, 2026-11-02T10:00:00Z)$" "$T/out" ||
    fail "diff has no heading: $(head -1 "$T/out")"
grep -q "^4 added (.*), 1 removed (2.9 KiB), 1 changed, 1 type changed, 1 metadata only (--metadata lists them)$" "$T/out" ||
    fail "diff's summary: $(tail -1 "$T/out")"
grep -q "^U " "$T/out" && fail "diff lists a metadata-only change without --metadata"
run_c diff "${ids[1]}" "${ids[2]}" --metadata
grep -qx "U $D/conf/id_rsa" "$T/out" || fail "diff --metadata does not list the mode change of id_rsa"
grep -q "^U $D/static" "$T/out" && fail "diff --metadata lists untouched files"

# one snapshot: the one before it; the first has none; the same twice: nothing
[ "$(coffer_diff "${ids[3]}")" = "$(expected_diff 2 3)" ] || fail "diff SNAPSHOT does not compare with the one before"
[ "$(coffer_diff latest)" = "" ] || fail "diff latest (as its parent) lists changes"
run_c diff "${ids[1]}"
expect_rc 2 "diff of the first snapshot alone"
expect_err_match "diff of the first" "is the first of files: name two snapshots"
run_c diff "${ids[2]}" "${ids[2]}"
grep -q "^0 added (0 B), 0 removed (0 B), 0 changed, 0 type changed, 0 metadata only$" "$T/out" ||
    fail "diff of a snapshot with itself: $(cat "$T/out")"
run_c diff nosuch
expect_nonzero "diff of an unknown snapshot"

# --json: the documented keys, and the same changes as the text
run_c diff "${ids[1]}" "${ids[2]}" --json
expect_ok "diff --json"
jq -e '(.before | keys) == ["id", "source", "time"] and (.after.time | test("^2026-11-02T10:00:00Z$"))
       and .tables == null and (.summary | keys) == ["added", "added_bytes", "content", "metadata", "removed", "removed_bytes", "type"]
       and all(.changes[]; (keys == ["after", "before", "change", "path"])
           and (.change | IN("added", "removed", "content", "type", "metadata"))
           and (.before == null or (.before | keys) == ["size", "type"]))' "$T/out" >/dev/null ||
    fail "diff --json does not have the documented shape: $(head -c 600 "$T/out")"
[ "$(jq -r '.changes[] | select(.change == "removed") | .path' "$T/out")" = "$D/uploads/img 3.png" ] ||
    fail "diff --json removed: $(cat "$T/out")"
[ "$(jq -r '.summary.removed_bytes' "$T/out")" = 3000 ] || fail "diff --json removed_bytes"

# ---------------------------------------------------------------- find
# expected_find PATTERN-AWK-REGEX : "ID8 path" of every snapshot's matching entries
expected_find() {
    local i
    for i in 1 2 3 4; do
        awk -v id="${ids[$i]:0:8}" -v re="$1" '$1 != "sha" { p = substr($0, 3); if (p ~ re) print id " " p }' "$T/state$i"
    done | LC_ALL=C sort
}
coffer_find() {
    run_c find "$@" --json
    expect_ok "find $*"
    jq -r '.[] | "\(.snapshot[0:8]) \(.path)"' "$T/out" | LC_ALL=C sort
}
check_find() { # check_find PATTERN REGEX
    expected_find "$2" >"$T/find.expected"
    coffer_find "$1" >"$T/find.actual"
    [ -s "$T/find.expected" ] || fail "find $1: the test expects nothing"
    diff -u "$T/find.expected" "$T/find.actual" >&2 || fail "find $1 does not give every snapshot's matches"
}
check_find '*.env' '/[^/]*\.env$'
check_find 'f7.css' '/f7\.css$'
check_find "$D/static-copy/**" "^$D/static-copy/"
check_find "$D/archive/**" "^$D/archive/"
check_find "$D/static/d1*/" "^$D/static/d1[^/]*$"
check_find "**/2026/**" '/2026/'

run_c find 'app.env'
expect_ok "find app.env"
grep -q "^${ids[4]:0:8}  2026-11-04T10:00:00Z  files         $D/conf/app.env$" "$T/out" || fail "find's line: $(cat "$T/out")"
[ "$(tail -1 "$T/out")" = "4 matches in 4 of 4 snapshots" ] || fail "find's summary: $(tail -1 "$T/out")"
[ "$(coffer_find '*.env' --snapshot "${ids[2]:0:8}" | cut -d' ' -f2 | tr '\n' ,)" = \
    "$D/conf/app.env,$D/conf/worker.env,$D/current.env,$D/uploads/2026/11/stray.env," ] || fail "find --snapshot"
[ "$(coffer_find 'worker.env' --snapshot latest --snapshot "${ids[1]}" | wc -l)" = 2 ] || fail "find with two --snapshot"
run_c find --long 'id_rsa' --source files
grep -q "^${ids[1]:0:8}  .*  file    0644            4 .* $D/conf/id_rsa$" "$T/out" || fail "find --long: $(cat "$T/out")"
run_c find 'nothing-like-this*'
expect_rc 1 "find with no match"
expect_err_match "find with no match" 'nothing matches "nothing-like-this\*" in the 4 snapshots searched'
run_c find 'conf/app.env'
expect_rc 2 "find of a relative path"
expect_err_match "find conf/app.env" 'the pattern "conf/app.env": .*start it with / \(or with \*\*/'
run_c find '*.env' --source nosuch
expect_rc 1 "find in a source with no snapshot"

c_ok "check after browsing" check
pass "diff lists exactly what changed between any two of 4 snapshots (and tables, in friction.sh); find gives every snapshot's matches, copied subtrees included"
