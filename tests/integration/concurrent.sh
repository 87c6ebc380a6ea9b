#!/usr/bin/env bash
# Concurrency: backups running at the same time into one repository all
# succeed and all restore byte-identical; check --read-data passes.
# Rounds: two streams; a stream and a tree; two trees holding the SAME new
# data (both processes store identical chunks at the same time).
. "$(dirname "$0")/lib.sh"

new_repo repo
MB=${CONCURRENT_MB:-64}

# bg_backup LABEL ARGS... : start coffer in the background, stdin from $T/in.LABEL if present
declare -A PIDS
bg_backup() {
    local label=$1; shift
    local in=/dev/null
    [ -e "$T/in.$label" ] && in=$T/in.$label
    ct "$@" <"$in" >"$T/out.$label" 2>"$T/err.$label" &
    PIDS[$label]=$!
}
wait_ok() { # wait_ok LABEL WHAT
    wait "${PIDS[$1]}"; local rc=$?
    if [ "$rc" != 0 ]; then
        echo "  --- stderr of $1 ---" >&2; head -n 20 "$T/err.$1" >&2
        fail "$2: concurrent backup '$1' exited $rc"
    fi
}
verify_stream() { # verify_stream SOURCE FILE
    ct dump latest --source "$1" >"$T/dumped" 2>"$T/err"; RC=$?; LAST_CMD="coffer dump latest --source $1"
    expect_ok "dump of $1"
    cmp -s "$T/dumped" "$2" || fail "stream $1 does not dump byte-identical"
}
verify_tree() { # verify_tree SOURCE REFCOPY ORIGPATH
    rm -rf "$T/rt"
    c_ok "restore of $1" restore latest --source "$1" --to "$T/rt"
    compare_trees "$2" "$(restored_path "$T/rt" "$3")" "tree $1"
    rm -rf "$T/rt"
}

# ------------------------------------------------------------ round 1: two streams
gen_random $((MB * 1048576)) s1 >"$T/in.s1"
gen_text "$MB" 77 >"$T/in.s2"
bg_backup s1 backup --stdin --name s1 --quiet
bg_backup s2 backup --stdin --name s2 --quiet
wait_ok s1 "round 1"; wait_ok s2 "round 1"
verify_stream s1 "$T/in.s1"
verify_stream s2 "$T/in.s2"
note "round 1 (two streams) ok"

# ------------------------------------------------------------ round 2: stream + tree
make_tree "$T/tree1"
cp -a "$T/tree1" "$T/tree1.ref"
gen_random $((MB * 1048576)) s3 >"$T/in.s3"
bg_backup t1 backup --name t1 --quiet "$T/tree1"
bg_backup s3 backup --stdin --name s3 --quiet
wait_ok t1 "round 2"; wait_ok s3 "round 2"
verify_tree t1 "$T/tree1.ref" "$T/tree1"
verify_stream s3 "$T/in.s3"
note "round 2 (tree + stream) ok"

# ------------------------------------------------------------ round 3: identical new data, twice at once
for d in x y; do
    mkdir -p "$T/same-$d"
    for i in 1 2 3 4 5 6; do gen_random $((3 * 1048576 + i)) "same$i" >"$T/same-$d/f$i"; done
    printf '%s\n' "$d" >"$T/same-$d/which"
    touch -d '2019-09-09 09:09:09' "$T/same-$d"/* "$T/same-$d"
done
bg_backup x backup --name same-x --quiet "$T/same-x"
bg_backup y backup --name same-y --quiet "$T/same-y"
wait_ok x "round 3"; wait_ok y "round 3"
verify_tree same-x "$T/same-x" "$T/same-x"
verify_tree same-y "$T/same-y" "$T/same-y"
note "round 3 (two trees with identical new data) ok"

# ------------------------------------------------------------ round 4: three at once, plus snapshots listing while they run
gen_random $((MB * 1048576)) s4 >"$T/in.s4"
gen_random $((MB * 1048576)) s5 >"$T/in.s5"
printf 'late\n' >>"$T/tree1/a/hello.txt"; cp -a "$T/tree1" "$T/tree1.ref2"
bg_backup s4 backup --stdin --name s4 --quiet
bg_backup s5 backup --stdin --name s5 --quiet
bg_backup t2 backup --name t1 --quiet "$T/tree1"
sleep 0.3
c_ok "snapshots while three backups run" snapshots --json
wait_ok s4 "round 4"; wait_ok s5 "round 4"; wait_ok t2 "round 4"
verify_stream s4 "$T/in.s4"
verify_stream s5 "$T/in.s5"
verify_tree t1 "$T/tree1.ref2" "$T/tree1"
note "round 4 (three at once) ok"

# everything still there
verify_stream s1 "$T/in.s1"
verify_stream s2 "$T/in.s2"
c_ok "snapshots --json" snapshots --json
[ "$(jq_out length)" = 9 ] || fail "expected 9 snapshots after 4 rounds, got $(jq_out length)"
c_ok "check --read-data after concurrent backups" check --read-data
pass "concurrent backups"
