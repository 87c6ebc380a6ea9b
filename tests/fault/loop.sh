#!/usr/bin/env bash
# loop.sh — seeded fault injection for one coffer command.
#
#   tests/fault/loop.sh COMMAND [SEEDS [FIRST]]     COMMAND: backup prune forget copy repair
#
# Builds a small repository once (two tree snapshots and two stream
# snapshots; for copy also a destination holding the older two), counts
# the calls the command makes (the shim's FAULT_COUNT_ONLY), then for each
# seed FIRST..FIRST+SEEDS-1 restores the pristine copy, lets the seed pick
# an operation, its k-th call and an action (kill, torn write, EIO, ENOSPC,
# power loss), runs the command under the shim (tests/fault/shim.c) and
# proves: the repository opens; `check --read-data` passes or names only
# objects the interrupted command itself created; every snapshot that must
# exist is listed and every listed snapshot restores byte-identical to what
# was backed up; running the command again completes, after which the
# check passes outright and the snapshots still restore. One line per
# seed, a summary, exit 1 on any failure (with the seed to reproduce:
# `tests/fault/loop.sh COMMAND 1 SEED`; KEEP_TMP=1 keeps the files).
#
# Environment: COFFER (the binary), FAULT_SHIM (default: libfaultshim.so
# in the build tree beside COFFER), FAULT_ACTIONS (default "kill torn eio
# enospc powerloss"). Adding a command (repair, say): a case in
# setup_pristine, command_args, must_exist and run_seed's round 2.
. "$(dirname "$0")/../integration/lib.sh"

CMD=${1:?usage: loop.sh COMMAND [SEEDS [FIRST]]}
SEEDS=${2:-50}
FIRST=${3:-1}
TEST_NAME=fault-$CMD
case $CMD in backup | prune | forget | copy | repair) ;; *) fail "unknown command $CMD (backup, prune, forget, copy, repair)" ;; esac

SHIM=${FAULT_SHIM:-$(dirname "$COFFER")/tests/fault/libfaultshim.so}
[ -f "$SHIM" ] || fail "fault shim not found: $SHIM (build the faultshim target, or set FAULT_SHIM)"
read -r -a ACTIONS <<<"${FAULT_ACTIONS:-kill torn eio enospc powerloss}"
OPS=(write fsync rename link unlink mkdir open any)
# The shim stands in front of ASan's interceptors; ASan must not object.
FAULT_ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
CMD_TIMEOUT=${CMD_TIMEOUT:-120}

W=$T/w            # the repositories the command works on
PRISTINE=$T/pristine
EXPECT=$T/expect  # what each snapshot held: <id>/ (tree) or <id>.sha (stream)
MAP=$T/map        # "source time id" of every snapshot made in setup
SRC=$T/src        # the tree source (its path is the same in every snapshot)
mkdir -p "$EXPECT" "$T/stash"
: >"$MAP"

printf 'source pass %s\n' "$RANDOM" >"$T/repo.pw"
printf 'destination pass %s\n' "$RANDOM" >"$T/dst.pw"
export COFFER_PASSWORD_FILE=$T/repo.pw COFFER_REPOSITORY=$W/repo
unset COFFER_PASSWORD COFFER_NEW_PASSWORD COFFER_TO_PASSWORD_FILE

# ---------------------------------------------------------------- data
tree_v1() {
    mkdir -p "$SRC/dir/sub" "$SRC/empty dir"
    gen_random 150000 t1 >"$SRC/dir/random.bin"
    gen_text 1 3 | head -c 120000 >"$SRC/text.txt"
    printf 'small\n' >"$SRC/dir/sub/small"
    printf 'spaced\n' >"$SRC/name with spaces"
    : >"$SRC/empty"
    ln -s dir/sub/small "$SRC/link"
    chmod 0600 "$SRC/dir/sub/small"
}
tree_v2() {
    gen_text 1 4 | head -c 100000 >"$SRC/text.txt"
    gen_random 120000 t2 >"$SRC/dir/new.bin"
    rm -f "$SRC/name with spaces"
}
tree_v3() {
    gen_random 90000 t3 >"$SRC/dir/sub/third.bin"
    printf 'changed\n' >>"$SRC/dir/sub/small"
}
stream_v() { # stream_v N : the Nth version of the stream on stdout
    { gen_random 100000 s1; gen_text 1 "$1" | head -c $((60000 + 20000 * $1)); }
}

# records the newest snapshot of SOURCE in the map with what it must hold
record() { # record REPO_DIR SOURCE KIND(tree|stream) [STREAM_FILE]
    run_c snapshots --repo "$1" --source "$2" --json
    expect_ok "snapshots after a setup backup"
    local id time
    id=$(jq_out '.[-1].id')
    time=$(jq_out '.[-1].time')
    echo "$2 $time $id" >>"$MAP"
    if [ "$3" = tree ]; then
        cp -a "$SRC" "$EXPECT/$id"
    else
        sha_of <"$4" >"$EXPECT/$id.sha"
    fi
}
backup_tree() { c_ok "setup backup of the tree" backup --repo "$1" --name files "$SRC" --quiet; record "$1" files tree; }
backup_stream() { # backup_stream REPO N
    stream_v "$2" >"$T/stream$2"
    run_c_in "$T/stream$2" backup --repo "$1" --stdin --name db --quiet
    expect_ok "setup backup of stream $2"
    record "$1" db stream "$T/stream$2"
}

# ---------------------------------------------------------------- pristine repositories
# Leaves $PRISTINE holding the w/ directory each seed starts from.
setup_pristine() {
    mkdir -p "$W"
    run_c init --kdf testonly --quiet
    expect_ok "init of the repository"
    tree_v1
    backup_tree "$W/repo"
    backup_stream "$W/repo" 1
    if [ "$CMD" = copy ]; then
        run_c init --repo "$W/dst" --password-file "$T/dst.pw" --kdf testonly --quiet
        expect_ok "init of the destination"
        c_ok "setup copy" copy --to "$W/dst" --to-password-file "$T/dst.pw" --quiet
    fi
    tree_v2
    backup_tree "$W/repo"
    backup_stream "$W/repo" 2
    [ "$CMD" = prune ] && c_ok "setup forget" forget --keep-last 1 --quiet
    tree_v3 # what a backup under test saves
    stream_v 3 >"$T/stream3"
    sha_of <"$T/stream3" >"$T/stream3.sha"
    cp -a "$SRC" "$T/src3"
    cp -a "$W" "$PRISTINE"
}

# command_args VARIANT : the command under test
command_args() {
    case $CMD in
        backup) if [ "$1" = 0 ]; then ARGS=(backup --name files "$SRC" --quiet); IN=/dev/null
                else ARGS=(backup --stdin --name db --quiet); IN=$T/stream3; fi ;;
        prune) ARGS=(prune --quiet); IN=/dev/null ;;
        forget) ARGS=(forget --keep-last 1 --prune --quiet); IN=/dev/null ;;
        copy) ARGS=(copy --to "$W/dst" --to-password-file "$T/dst.pw" --quiet); IN=/dev/null ;;
        # repair index rewrites every index file from the packs' headers;
        # repair packs, on a repository whose packs check found whole, only
        # reads: the index rebuild is the one that can lose something.
        repair) ARGS=(repair index --quiet); IN=/dev/null ;;
    esac
}
variants() { [ "$CMD" = backup ] && echo 0 1 || echo 0; }

# must_exist REPO_NAME ROUND : ids (of the map) that must be listed in
# w/REPO_NAME before (ROUND=1) and after (ROUND=2) the command is run again
must_exist() {
    local newest_files newest_db
    newest_files=$(awk '$1 == "files" { id = $3 } END { print id }' "$MAP")
    newest_db=$(awk '$1 == "db" { id = $3 } END { print id }' "$MAP")
    case $CMD:$1:$2 in
        backup:repo:*) awk '{ print $3 }' "$MAP" ;;
        prune:repo:* | forget:repo:*) echo "$newest_files $newest_db" ;;
        copy:repo:* | repair:repo:*) awk '{ print $3 }' "$MAP" ;;
        copy:dst:1) awk '$1 == "files" { print $3; exit }' "$MAP"; awk '$1 == "db" { print $3; exit }' "$MAP" ;;
        copy:dst:2) awk '{ print $3 }' "$MAP" ;;
    esac
}
repos() { [ "$CMD" = copy ] && echo repo dst || echo repo; }
repo_pw() { [ "$1" = dst ] && echo "$T/dst.pw" || echo "$T/repo.pw"; }

# ---------------------------------------------------------------- verification (in a subshell: fail ends the seed)
# verify_repo NAME ROUND WHICH : lists and checks w/NAME and restores its
# snapshots: WHICH=all every listed one, must the ones that must exist and
# any new ones, new only the ones the setup did not make
verify_repo() {
    local name=$1 round=$2 which=$3 repo=$W/$1 pw line src time id expect_id
    pw=$(repo_pw "$name")
    run_c snapshots --repo "$repo" --password-file "$pw" --json
    expect_ok "the repository $name opens (round $round)"
    jq_out '.[] | "\(.source) \(.time) \(.id)"' >"$T/listed"
    for id in $(must_exist "$name" "$round"); do
        line=$(grep " $id\$" "$MAP")
        grep -qF -- "${line% *} " "$T/listed" || fail "snapshot $id (${line% *}) is missing from $name (round $round)"
    done
    check_data "$name" "$round"
    must_exist "$name" "$round" | tr ' ' '\n' >"$T/musts"
    while read -r src time id; do
        expect_id=$(awk -v s="$src" -v t="$time" '$1 == s && $2 == t { print $3 }' "$MAP")
        case $which in
            new) [ -n "$expect_id" ] && continue ;;
            must) [ -n "$expect_id" ] && ! grep -qx "$expect_id" "$T/musts" && continue ;;
        esac
        rm -rf "$T/r"
        if [ -n "$expect_id" ] && [ "$src" = files ]; then
            restore_tree "$repo" "$pw" "$id" "$EXPECT/$expect_id" "$name snapshot $id (round $round)"
        elif [ -n "$expect_id" ]; then
            dump_stream "$repo" "$pw" "$id" "$(cat "$EXPECT/$expect_id.sha")" "$name snapshot $id (round $round)"
        elif [ "$CMD" = backup ] && [ "$src" = files ]; then
            restore_tree "$repo" "$pw" "$id" "$T/src3" "the new snapshot $id (round $round)"
        elif [ "$CMD" = backup ] && [ "$src" = db ]; then
            dump_stream "$repo" "$pw" "$id" "$(cat "$T/stream3.sha")" "the new snapshot $id (round $round)"
        else
            fail "$name lists a snapshot nobody made: $src $time $id (round $round)"
        fi
    done <"$T/listed"
}
restore_tree() { # REPO PW ID EXPECTED_DIR WHAT
    run_c restore "$3" --repo "$1" --password-file "$2" --to "$T/r" --quiet
    expect_ok "restore of $5"
    compare_trees "$4" "$T/r$SRC" "$5" >/dev/null
}
dump_stream() { # REPO PW ID SHA WHAT
    timeout -k 5 "$CMD_TIMEOUT" "$COFFER" dump "$3" --repo "$1" --password-file "$2" 2>"$T/err" | sha_of >"$T/dump.sha"
    local rcs=("${PIPESTATUS[@]}")
    RC=${rcs[0]}
    LAST_CMD="coffer dump $3"
    expect_ok "dump of $5"
    [ "$(cat "$T/dump.sha")" = "$4" ] || fail "$5 dumps other bytes than were backed up"
}
# check --read-data passes; in round 1 it may instead fail naming only
# objects that did not exist before the command ran.
check_data() { # NAME ROUND
    local repo=$W/$1 pw tok
    pw=$(repo_pw "$1")
    run_c check --read-data --repo "$repo" --password-file "$pw"
    [ "$RC" = 0 ] && return 0
    if [ "$2" = 1 ] && [ "$RC" = 1 ]; then
        (cd "$repo" && find . -type f | sort) >"$T/files-after.$1"
        comm -13 "$T/files-before.$1" "$T/files-after.$1" | xargs -r -n1 basename >"$T/new.$1"
        grep -v '^checked ' "$T/err" | grep -oE '\b[0-9a-f]{8,64}\b' | sort -u >"$T/named.$1"
        if [ -s "$T/named.$1" ]; then
            local is_own=1
            while read -r tok; do grep -q "^$tok" "$T/new.$1" || is_own=0; done <"$T/named.$1"
            if [ "$is_own" = 1 ]; then
                echo "check of $1 names only the interrupted command's objects: $(tr '\n' ' ' <"$T/named.$1")"
                return 0
            fi
        fi
    fi
    _show_last
    fail "check --read-data of $1 fails (round $2)"
}

# ---------------------------------------------------------------- one seed
# run_seed SEED : prints "op k action persist variant" then the outcome
run_seed() {
    local seed=$1 variant=$2 op=$3 k=$4 action=$5 persist=$6 name
    rm -rf "$W" "$T/stash" "$T/mark"
    mkdir -p "$T/stash"
    cp -a "$PRISTINE" "$W"
    for name in $(repos); do (cd "$W/$name" && find . -type f | sort) >"$T/files-before.$name"; done
    command_args "$variant"
    (cd "$T" && timeout -k 5 "$CMD_TIMEOUT" env LD_PRELOAD="$SHIM" FAULT_OP="$op" FAULT_AT="$k" \
        FAULT_ACTION="$action" FAULT_PERSIST="$persist" FAULT_PATH="$W/" FAULT_MARK="$T/mark" \
        FAULT_STASH="$T/stash" ASAN_OPTIONS="$FAULT_ASAN_OPTIONS" \
        "$COFFER" "${ARGS[@]}" >"$T/out" 2>"$T/err" <"$IN")
    RC=$?
    LAST_CMD="coffer ${ARGS[*]} (under the shim)"
    local fired=no
    [ -f "$T/mark" ] && fired=yes
    echo "faulted run: exit $RC, fault fired: $fired $(cat "$T/mark" 2>/dev/null)"
    case $action:$fired:$RC in
        kill:yes:137 | torn:yes:137 | powerloss:yes:137) ;;
        *:*:124 | *:*:137) _show_last; fail "the command hung" ;;
        *:*:86) _show_last; fail "the sanitizer reported an error" ;;
        *)
            if [ "$RC" -gt 128 ]; then _show_last; fail "the command died of signal $((RC - 128))"; fi
            if [ "$RC" != 0 ] && [ "$fired" = no ]; then _show_last; fail "the command failed with no fault injected"; fi
            if [ "$RC" != 0 ] && ! grep -q '^coffer: ' "$T/err"; then _show_last; fail "the command failed without saying why"; fi
            ;;
    esac
    for name in $(repos); do verify_repo "$name" 1 all; done
    # The command again, undisturbed: it completes and leaves all well.
    command_args "$variant"
    [ "$CMD" = forget ] && ARGS=(prune --quiet)
    run_c_in "$IN" "${ARGS[@]}"
    expect_ok "the command run again after the fault"
    # Round 2 restores what the second run may have changed: a backup
    # adds snapshots, a prune rewrites the kept ones' packs, a copy writes
    # only the destination.
    case $CMD in
        backup) verify_repo repo 2 new ;;
        prune | forget) verify_repo repo 2 must ;;
        repair) verify_repo repo 2 all ;;
        copy) verify_repo dst 2 all ;;
    esac
}

# ---------------------------------------------------------------- main
setup_pristine
declare -A COUNT
for v in $(variants); do
    rm -rf "$W"; cp -a "$PRISTINE" "$W"
    command_args "$v"
    (cd "$T" && env LD_PRELOAD="$SHIM" FAULT_COUNT_ONLY=1 FAULT_COUNT_FILE="$T/counts" FAULT_PATH="$W/" \
        ASAN_OPTIONS="$FAULT_ASAN_OPTIONS" "$COFFER" "${ARGS[@]}" >"$T/out" 2>"$T/err" <"$IN")
    RC=$?
    LAST_CMD="coffer ${ARGS[*]} (counting)"
    expect_ok "the command on the pristine repository"
    [ -s "$T/counts" ] || fail "the shim wrote no counts (is $SHIM loaded?)"
    total=0
    while read -r op n; do
        COUNT[$v:$op]=$n
        total=$((total + n))
    done <"$T/counts"
    COUNT[$v:any]=$total
    note "variant $v (${ARGS[*]}): $(tr '\n' ' ' <"$T/counts")"
done

passed=0 failed=0 failed_seeds=()
for seed in $(seq "$FIRST" $((FIRST + SEEDS - 1))); do
    RANDOM=$((seed * 31 + ${#CMD}))
    vs=($(variants))
    variant=${vs[RANDOM % ${#vs[@]}]}
    usable=()
    for op in "${OPS[@]}"; do [ "${COUNT[$variant:$op]:-0}" -gt 0 ] && usable+=("$op"); done
    op=${usable[RANDOM % ${#usable[@]}]}
    k=$((1 + RANDOM % COUNT[$variant:$op]))
    action=${ACTIONS[RANDOM % ${#ACTIONS[@]}]}
    [ "$action" = torn ] && [ "$op" != write ] && action=kill
    persist=$((RANDOM % 2))
    case $action in eio | enospc) ;; *) persist=0 ;; esac
    label=$CMD
    [ "$CMD" = backup ] && [ "$variant" = 1 ] && label="backup --stdin"
    desc="seed $seed: $label op=$op k=$k action=$action"
    [ "$persist" = 1 ] && desc="$desc (persistent)"
    if (run_seed "$seed" "$variant" "$op" "$k" "$action" "$persist") >"$T/seed.log" 2>&1; then
        passed=$((passed + 1))
        echo "$desc: ok ($(grep -m1 "^faulted run: " "$T/seed.log" | sed 's/^faulted run: //'))$(grep -m1 '^check of ' "$T/seed.log" | sed 's/^/; /')"
    else
        failed=$((failed + 1))
        failed_seeds+=("$seed")
        echo "$desc: FAILED"
        sed 's/^/    /' "$T/seed.log" | tail -n 40
        if [ "${KEEP_TMP:-0}" = 1 ]; then cp -a "$W" "$T/failed-seed-$seed"; fi
    fi
done
echo "$TEST_NAME: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
    echo "reproduce with: COFFER=$COFFER tests/fault/loop.sh $CMD 1 SEED   (SEED: ${failed_seeds[*]})" >&2
    exit 1
fi
exit 0
