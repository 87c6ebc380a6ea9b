#!/usr/bin/env bash
# Round trip: awkward file tree and a stdin stream back up and restore
# byte-identical with metadata; snapshots --json fields; dedup of an
# unchanged tree; changed files; --force; ls; dump of one file.
. "$(dirname "$0")/lib.sh"

new_repo repo

# ------------------------------------------------------------ tree backup
SRC=$T/src
make_tree "$SRC"
if [ "$(id -u)" = 0 ]; then
    printf 'owned\n' >"$SRC/owned-by-nobody"
    chown 65534:65534 "$SRC/owned-by-nobody"
    touch -d '2012-12-12 12:12:12' "$SRC/owned-by-nobody" "$SRC"
fi
mkdir "$SRC/many"
for i in $(seq 1 3000); do printf '%s\n' "$i" >"$SRC/many/f$i"; done
touch -d '2014-04-14 14:14:14' "$SRC/many" "$SRC"
cp -a "$SRC" "$T/src-v1"   # reference copy of what backup #1 saw

c_ok "backup of awkward tree" backup --name tree --tag first --tag "two words" "$SRC"
c_ok "restore latest tree" restore latest --source tree --to "$T/r1"
compare_trees "$T/src-v1" "$(restored_path "$T/r1" "$SRC")" "restore of awkward tree"
if [ "$(id -u)" = 0 ]; then
    own=$(stat -c %u:%g "$(restored_path "$T/r1" "$SRC")/owned-by-nobody")
    [ "$own" = 65534:65534 ] || warn "ownership not restored when restoring as root (got $own, want 65534:65534)"
fi
note "awkward tree restored identically"

# ------------------------------------------------------------ stream backup
STREAM_MB=20
gen_text $STREAM_MB 3 >"$T/stream.txt"
want=$(sha_of <"$T/stream.txt")
# feed through a real pipe (non-seekable stdin)
gen_text $STREAM_MB 3 | ct backup --stdin --name stream --quiet >"$T/out" 2>"$T/err"
RC=${PIPESTATUS[1]}; LAST_CMD="gen_text | coffer backup --stdin --name stream --quiet"
expect_ok "stream backup from stdin"
ct dump latest --source stream >"$T/stream.dump" 2>"$T/err"
RC=$?; LAST_CMD="coffer dump latest --source stream"
expect_ok "dump of stream snapshot"
cmp "$T/stream.txt" "$T/stream.dump" || fail "dump of stream differs from the ${STREAM_MB} MB input"
[ "$(sha_of <"$T/stream.dump")" = "$want" ] || fail "stream dump checksum mismatch"
note "stream round trip ok"

# empty stream
ct backup --stdin --name empty-stream --quiet </dev/null >"$T/out" 2>"$T/err"
RC=$?; LAST_CMD="coffer backup --stdin --name empty-stream </dev/null"
expect_ok "backup of empty stream"
ct dump latest --source empty-stream >"$T/empty.dump" 2>"$T/err"
RC=$?; LAST_CMD="coffer dump latest --source empty-stream"
expect_ok "dump of empty stream"
[ -s "$T/empty.dump" ] && fail "dump of empty stream produced $(stat -c %s "$T/empty.dump") bytes"

# ------------------------------------------------------------ snapshots --json
c_ok "snapshots --json" snapshots --json
jq_out 'type' | grep -qx array || fail "snapshots --json is not a JSON array: $(head -c 300 "$T/out")"
[ "$(jq_out 'length')" = 3 ] || fail "snapshots --json: expected 3 snapshots, got $(jq_out length)"
for k in id time source type tags host size added warnings; do
    missing=$(jq_out "[.[] | select(has(\"$k\") | not)] | length")
    [ "$missing" = 0 ] || fail "snapshots --json: $missing object(s) lack field '$k'"
done
[ "$(jq_out '[.[] | select((.warnings|type) != "array" or (.tags|type) != "array")] | length')" = 0 ] ||
    fail "snapshots --json: 'warnings' and 'tags' must be arrays"
[ "$(jq_out '[.[] | select((.size|type) != "number" or (.added|type) != "number")] | length')" = 0 ] ||
    fail "snapshots --json: 'size' and 'added' must be numbers"
[ "$(jq_out '[.[] | select(.source=="tree" and .type=="files")] | length')" = 1 ] ||
    fail "snapshots --json: no single snapshot with source=tree type=files: $(jq -c '[.[]|{source,type}]' "$T/out")"
[ "$(jq_out '[.[] | select(.source=="stream" and .type=="stream")] | length')" = 1 ] ||
    fail "snapshots --json: no single snapshot with source=stream type=stream: $(jq -c '[.[]|{source,type}]' "$T/out")"
tags=$(jq -c '[.[] | select(.source=="tree")][0].tags | sort' "$T/out")
[ "$tags" = '["first","two words"]' ] || fail "snapshots --json: tree tags are $tags, want [\"first\",\"two words\"]"
[ "$(jq_out '[.[] | select((.warnings|length) != 0)] | length')" = 0 ] ||
    fail "snapshots --json: unexpected warnings: $(jq -c '[.[].warnings]' "$T/out")"
host=$(jq_out '.[0].host')
[ -n "$host" ] && [ "$host" != null ] || fail "snapshots --json: empty host"
stream_size=$(jq_out '[.[] | select(.source=="stream")][0].size')
[ "$stream_size" = $((STREAM_MB * 1048576)) ] ||
    fail "snapshots --json: stream size is $stream_size, want $((STREAM_MB * 1048576)) (bytes of the stream)"
tree_size=$(jq_out '[.[] | select(.source=="tree")][0].size')
src_bytes=$(find "$T/src-v1" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
[ "$tree_size" -ge "$src_bytes" ] 2>/dev/null ||
    fail "snapshots --json: tree size $tree_size < $src_bytes bytes of regular files"
tree_id=$(jq_out '[.[] | select(.source=="tree")][0].id')
[ "${#tree_id}" -ge 8 ] || fail "snapshots --json: implausible id '$tree_id'"
# --source filter
c_ok "snapshots --source stream --json" snapshots --source stream --json
[ "$(jq_out '[.[].source] | unique | join(",")')" = stream ] ||
    fail "snapshots --source stream returned other sources: $(jq -c '[.[].source]' "$T/out")"
# plain listing mentions the id prefix
c_ok "snapshots (text)" snapshots
grep -q "${tree_id:0:8}" "$T/out" || fail "snapshots text output does not show id ${tree_id:0:8}"

# --time
c_ok "stream backup with --time" backup --stdin --name timed --time 2025-01-05T02:00:00Z </dev/null
run_c snapshots --source timed --json
t=$(jq_out '.[0].time')
case $t in 2025-01-05T02:00:00*) ;; *) fail "--time 2025-01-05T02:00:00Z stored as time '$t'" ;; esac

# ------------------------------------------------------------ dedup of unchanged tree
du_before=$(repo_bytes "$COFFER_REPOSITORY")
c_ok "second backup of unchanged tree" backup --name tree --json "$SRC"
jq . "$T/out" >/dev/null 2>&1 || fail "backup --json output is not valid JSON: $(head -c 300 "$T/out")"
du_after=$(repo_bytes "$COFFER_REPOSITORY")
run_c snapshots --source tree --json
n=$(jq_out length)
if [ "$n" = 2 ]; then
    added=$(jq_out "[.[] | select(.id != \"$tree_id\")][0].added")
    [ "$added" -lt 262144 ] || fail "unchanged tree re-backup: added=$added bytes (want < 256 KiB of ~9 MB tree)"
    note "unchanged re-backup added $added bytes"
elif [ "$n" = 1 ]; then
    note "unchanged re-backup created no new snapshot"
else
    fail "snapshots --source tree: expected 1 or 2 snapshots, got $n"
fi
grow=$((du_after - du_before))
[ "$grow" -lt 1048576 ] || fail "unchanged tree re-backup grew repository by $grow bytes (want < 1 MiB)"

# ------------------------------------------------------------ changed tree
# snapshot times have 1 s resolution; keep backups restored as "latest" in
# distinct seconds here ("latest" among same-second snapshots is tested below)
sleep 1
chmod u+w "$SRC/ro-dir"
printf 'appended line\n' >>"$SRC/a/hello.txt"
printf 'brand new\n' >"$SRC/ro-dir/new file"
rm "$SRC/mode0444"
chmod 0640 "$SRC/mode0600"
gen_random 4096 99 | dd of="$SRC/a/big-5mb.txt" bs=1 seek=1000000 conv=notrunc status=none
ln -sfn a/b/c "$SRC/link-rel"
touch -d '2021-01-01 00:00:00' "$SRC/a/hello.txt" "$SRC/a/big-5mb.txt"
chmod 0555 "$SRC/ro-dir"
touch -d '2022-02-02 02:02:02' "$SRC/ro-dir" "$SRC/a" "$SRC"
c_ok "backup of changed tree" backup --name tree "$SRC"
cp -a "$SRC" "$T/src-v2"
c_ok "restore changed tree" restore latest --source tree --to "$T/r2"
compare_trees "$T/src-v2" "$(restored_path "$T/r2" "$SRC")" "restore after changes"
# the first snapshot, by id prefix, still restores the old state
c_ok "restore first snapshot by id prefix" restore "${tree_id:0:8}" --to "$T/r1b"
compare_trees "$T/src-v1" "$(restored_path "$T/r1b" "$SRC")" "restore of first snapshot by id prefix"
note "changed tree ok"

# ------------------------------------------------------------ --force
# same size, same mtime, different content: only a forced re-read must see it
f=$SRC/a/b/c/d/e/f/leaf.txt
m=$(stat -c %y "$f")
printf 'NESTED\n' >"$f"
touch -d "$m" "$f"
touch -d '1985-05-05 05:05:05' "$SRC/a/b/c/d/e/f"
run_c snapshots --source tree --json; before=$(jq_out length)
sleep 1
c_ok "backup --force" backup --name tree --force "$SRC"
run_c snapshots --source tree --json; after=$(jq_out length)
[ "$after" -gt "$before" ] || fail "backup --force did not create a snapshot ($before -> $after)"
c_ok "restore after --force" restore latest --source tree --to "$T/r3"
compare_trees "$SRC" "$(restored_path "$T/r3" "$SRC")" "restore of --force backup (same size+mtime change)"
note "--force ok"

# ------------------------------------------------------------ ls
c_ok "ls latest" ls latest --source tree
for p in "$SRC/a/hello.txt" "$SRC/a/b/c/d/e/f/leaf.txt" "$SRC/empty dir" "$SRC/empty-file" \
         "$SRC/name with  spaces " "$SRC/ro-dir/new file" "$SRC/link-dangling" "$SRC/a/b/random.bin"; do
    grep -Fxq -- "$p" "$T/out" || fail "ls latest: path not listed: $(printf '%q' "$p")"
done
grep -Fq -- "$SRC/mode0444" "$T/out" && fail "ls latest lists deleted file $SRC/mode0444"
c_ok "ls first snapshot" ls "${tree_id:0:8}"
grep -Fxq -- "$SRC/mode0444" "$T/out" || fail "ls of first snapshot does not list $SRC/mode0444"
nl=$(grep -c '' "$T/out")
want_n=$(find "$T/src-v1" -mindepth 1 | wc -l)   # lower bound; newline name may span lines
[ "$nl" -ge "$want_n" ] || fail "ls of first snapshot printed $nl lines, tree has $want_n entries"

# ------------------------------------------------------------ dump of one file
ct dump latest --source tree "$SRC/a/big-5mb.txt" >"$T/one" 2>"$T/err"
RC=$?; LAST_CMD="coffer dump latest --source tree $SRC/a/big-5mb.txt"
expect_ok "dump one file"
cmp -s "$T/one" "$SRC/a/big-5mb.txt" || fail "dump of $SRC/a/big-5mb.txt differs from the file"
ct dump latest --source tree "$SRC/bad-utf8-"$'\xff'"-name" >"$T/one" 2>"$T/err"
RC=$?; LAST_CMD="coffer dump latest --source tree <non-UTF-8 name>"
expect_ok "dump file with 0xff in its name"
cmp -s "$T/one" "$SRC/bad-utf8-"$'\xff'"-name" || fail "dump of non-UTF-8-named file differs"
ct dump "${tree_id:0:8}" "$SRC/a/hello.txt" >"$T/one" 2>"$T/err"
RC=$?; LAST_CMD="coffer dump ${tree_id:0:8} $SRC/a/hello.txt"
expect_ok "dump one file of first snapshot"
cmp -s "$T/one" "$T/src-v1/a/hello.txt" || fail "dump of old hello.txt does not match first version"
run_c dump latest --source tree "$SRC/does-not-exist"
expect_nonzero "dump of a path not in the snapshot"
expect_err_line "dump of a path not in the snapshot"

# ------------------------------------------------------------ "latest" = most recently made
# several backups within the same second: latest must be the last one made
for i in 1 2 3 4 5 6; do
    printf 'version %s\n' "$i" >"$T/v.in"
    run_c_in "$T/v.in" backup --stdin --name quick --quiet
    expect_ok "quick backup $i"
    ct dump latest --source quick >"$T/v.out" 2>"$T/err"; RC=$?; LAST_CMD="coffer dump latest --source quick"
    expect_ok "dump latest after quick backup $i"
    cmp -s "$T/v.in" "$T/v.out" ||
        fail "'dump latest --source quick' right after backup #$i returned '$(head -c 40 "$T/v.out")', not the newest snapshot 'version $i' (snapshots made in the same second)"
done

c_ok "check" check
pass "tree + stream round trip, json fields, dedup, changes, --force, ls, dump"
