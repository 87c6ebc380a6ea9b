# shellcheck shell=bash
# Shared helpers for coffer integration tests.  Source this from a test
# script; it sets up a private temp dir (removed on exit unless KEEP_TMP=1),
# locates the binary ($COFFER, default <repo>/build/coffer) and provides
# assertions and tree generation/comparison helpers.

set -uo pipefail
export LC_ALL=C

TEST_NAME=$(basename "${0}" .sh)
IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$IT_DIR/../.." && pwd)

COFFER=${COFFER:-$REPO_ROOT/build/coffer}
# Repositories new_repo makes use the test-only key-derivation level
# (crypto.h): thousands of opens would otherwise spend most of the suite's
# time in Argon2. Tests of the real levels say --kdf interactive.
export COFFER_TESTONLY_WEAK_KDF=1
case $COFFER in /*) ;; *) COFFER=$PWD/$COFFER ;; esac

fail() {
    echo "FAIL [$TEST_NAME]: $*" >&2
    exit 1
}

note() { echo "  [$TEST_NAME] $*"; }
warn() { echo "  [$TEST_NAME] WARN: $*" >&2; }
pass() { echo "PASS [$TEST_NAME]${1:+: $1}"; }

[ -x "$COFFER" ] || fail "coffer binary not found or not executable: $COFFER (set COFFER=...)"
command -v jq >/dev/null 2>&1 || command -v python3 >/dev/null 2>&1 ||
    fail "need jq or python3 to parse JSON output"

# ---------------------------------------------------------------- temp dir
T=$(mktemp -d "${TMPDIR:-/tmp}/coffer-it-$TEST_NAME.XXXXXX") || fail "mktemp failed"
chmod 755 "$T"
_cleanup_hooks=()
_cleanup() {
    local rc=$? h
    for h in "${_cleanup_hooks[@]+"${_cleanup_hooks[@]}"}"; do eval "$h" || true; done
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "  [$TEST_NAME] keeping temp dir $T" >&2
    else
        chmod -R u+rwx "$T" 2>/dev/null
        rm -rf "$T"
    fi
    exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM
on_exit() { _cleanup_hooks+=("$1"); }

# ---------------------------------------------------------------- running coffer
# run_c ARGS...   runs coffer, stdout -> $T/out, stderr -> $T/err, rc -> $RC.
# Never aborts; use the expect_* helpers afterwards.
# Every run is bounded by CMD_TIMEOUT seconds (default 300); a hang is a failure.
RC=0
CMD_TIMEOUT=${CMD_TIMEOUT:-300}
run_c() {
    timeout -k 5 "$CMD_TIMEOUT" "$COFFER" "$@" >"$T/out" 2>"$T/err" </dev/null
    RC=$?
    LAST_CMD="coffer $*"
    _check_hang
    return 0
}
# Same, but stdin from file $1.
run_c_in() {
    local in=$1; shift
    timeout -k 5 "$CMD_TIMEOUT" "$COFFER" "$@" >"$T/out" 2>"$T/err" <"$in"
    RC=$?
    LAST_CMD="coffer $* < $in"
    _check_hang
    return 0
}
# ct ARGS... : run coffer with the timeout, caller handles redirections;
# afterwards do: RC=$?; LAST_CMD=...; expect_...
ct() { timeout -k 5 "$CMD_TIMEOUT" "$COFFER" "$@"; }
_check_hang() {
    if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
        _show_last
        fail "'$LAST_CMD' did not finish within ${CMD_TIMEOUT}s (hung?)"
    fi
    if [ "$RC" -gt 128 ]; then
        _show_last
        fail "'$LAST_CMD' died from signal $((RC - 128)) (crash)"
    fi
}

_show_last() {
    echo "  command: $LAST_CMD" >&2
    echo "  exit code: $RC" >&2
    echo "  --- stderr (first 20 lines) ---" >&2
    head -n 20 "$T/err" >&2
    echo "  --- stdout (first 20 lines) ---" >&2
    head -n 20 "$T/out" | cut -c1-300 >&2
}

expect_rc() { # expect_rc CODE WHAT
    _check_hang
    if [ "$RC" != "$1" ]; then
        _show_last
        fail "$2: expected exit code $1, got $RC"
    fi
}
expect_ok() { expect_rc 0 "$1"; }
expect_nonzero() {
    _check_hang
    if [ "$RC" = 0 ]; then
        _show_last
        fail "$1: expected non-zero exit code, got 0"
    fi
}
# c_ok WHAT ARGS...  : run coffer and require exit 0
c_ok() {
    local what=$1; shift
    run_c "$@"
    expect_ok "$what"
}
# the one-clear-line-on-stderr convention for errors
expect_err_line() { # expect_err_line WHAT  (stderr has a line starting "coffer: ")
    if ! grep -q '^coffer: ' "$T/err"; then
        _show_last
        fail "$1: stderr has no line starting with 'coffer: '"
    fi
}
expect_err_match() { # expect_err_match WHAT ERE (case-insensitive, stderr)
    if ! grep -Eqi -- "$2" "$T/err"; then
        _show_last
        fail "$1: stderr does not match /$2/"
    fi
}
expect_no_output_match() { # WHAT FIXED-STRING: neither stdout nor stderr contains it
    if grep -Fq -- "$2" "$T/out" "$T/err"; then
        _show_last
        fail "$1: output contains '$2'"
    fi
}

# ---------------------------------------------------------------- repository
# new_repo NAME [PASSWORD] : init a repository at $T/NAME with password file
# s3_test_server : starts the loopback S3 server of tests/s3 for this test
# (port COFFER_S3_TEST_PORT, default 27480; its files under $T/s3), stops it
# on exit, and exports its endpoint and keys (tests/s3/server.sh env).
s3_test_server() {
    [ -n "${_S3_STARTED:-}" ] && return 0
    export COFFER_S3_DIR=$T/s3 COFFER_S3_PORT=${COFFER_S3_TEST_PORT:-27480} COFFER_S3_BUCKET=coffer-test
    "$REPO_ROOT/tests/s3/server.sh" start >/dev/null || fail "cannot start the test S3 server"
    on_exit '"$REPO_ROOT/tests/s3/server.sh" stop >/dev/null 2>&1'
    eval "$("$REPO_ROOT/tests/s3/server.sh" env)"
    _S3_STARTED=1
}

# new_repo NAME [PASSPHRASE] : a new repository, $T/NAME; with COFFER_TEST_S3=1
# s3://coffer-test/NAME on the loopback S3 server instead, so that the same
# test proves the same behaviour on S3.
new_repo() {
    local name=$1 pw=${2:-correct horse battery staple $RANDOM}
    export COFFER_REPOSITORY=$T/$name
    if [ "${COFFER_TEST_S3:-0}" = 1 ]; then
        s3_test_server
        export COFFER_REPOSITORY=s3://$COFFER_S3_BUCKET/$name
    fi
    printf '%s\n' "$pw" >"$T/$name.pw"
    export COFFER_PASSWORD_FILE=$T/$name.pw
    unset COFFER_PASSWORD COFFER_NEW_PASSWORD
    c_ok "init repository $name" init --kdf testonly
    case $COFFER_REPOSITORY in
        s3://*) [ -f "$(repo_files "$COFFER_REPOSITORY")/config._S3rver_object" ] ;;
        *) [ -f "$COFFER_REPOSITORY/config" ] ;;
    esac || fail "init: $COFFER_REPOSITORY/config missing"
    REPO_PW=$pw
}

# repo_files REPOSITORY : the directory holding its objects (for S3: the
# test server's files, one "<name>._S3rver_object" per object)
repo_files() {
    case $1 in
        s3://*) local rest=${1#s3://}; printf '%s/data/%s' "$COFFER_S3_DIR" "$rest" ;;
        *) printf '%s' "$1" ;;
    esac
}
# repo_bytes REPOSITORY : bytes stored (for S3: the objects' bytes only)
repo_bytes() {
    case $1 in
        s3://*) find "$(repo_files "$1")" -name "*._S3rver_object" -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }' ;;
        *) du -sb "$1" | cut -f1 ;;
    esac
}

# ---------------------------------------------------------------- JSON
# jq_out FILTER [FILE]  (file defaults to $T/out); prints raw values
jq_out() {
    local f=${2:-$T/out}
    if command -v jq >/dev/null 2>&1; then
        jq -r "$1" "$f"
    else
        fail "jq not installed (needed for: $1)"
    fi
}
# snapshot ids (newest last as printed by coffer) for --source NAME
snapshot_ids() { # snapshot_ids SOURCE
    run_c snapshots --source "$1" --json
    expect_ok "snapshots --source $1 --json"
    jq_out '.[].id'
}

# ---------------------------------------------------------------- data generators
# gen_text MB SEED : deterministic, compressible-but-not-trivial text on stdout
gen_text() {
    local mb=$1 seed=${2:-1}
    awk -v seed="$seed" 'BEGIN {
        srand(seed);
        split("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega backup restore chunk pack index snapshot", w, " ");
        for (;;) {
            line = sprintf("%d", int(rand()*1000000));
            n = 4 + int(rand()*10);
            for (i = 0; i < n; i++) line = line " " w[1 + int(rand()*32)];
            print line;
        }
    }' | head -c "$((mb * 1024 * 1024))"
}
# flip_byte FILE OFFSET : xor one byte with 0x5a
flip_byte() {
    local f=$1 off=$2 b
    b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
    [ -n "$b" ] || fail "flip_byte: cannot read offset $off of $f"
    printf "\\$(printf '%03o' $(((b ^ 0x5a) & 255)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
    [ "$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')" != "$b" ] || fail "flip_byte did not change $f"
}

# repo_snapshot SOURCE : the id of the newest snapshot of SOURCE
repo_snapshot() { # newest snapshot id of source $1
    run_c snapshots --json --source "$1"
    expect_ok "snapshots of $1"
    jq_out '.[-1].id'
}
# restores_tree SNAPSHOT WHAT : the snapshot of source "files" restores as
# the tree $D is now; pack_of_newest : the pack file of the local
# repository written last
restores_tree() { # restores_tree SNAPSHOT WHAT
    rm -rf "$T/restored"
    run_c restore "$1" --source files --to "$T/restored"
    expect_ok "restore of files $1 ($2)"
    diff -r "$D" "$T/restored$D" >/dev/null || fail "snapshot $1 of files does not restore as it was ($2)"
}
pack_of_newest() { # the pack file written last
    find "$COFFER_REPOSITORY/data" -type f -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2
}

# gen_random BYTES SEED : deterministic incompressible bytes on stdout
# runbook_jobs : the runbook's schedule (#15) as the job lines of a
# coffer.yaml schedule: (source "files" hourly, every source daily, weekly
# and monthly, retention, a partial check, a drill, the monitor)
runbook_jobs() {
    cat <<'YAML'
    hourly:    { cron: "0 * * * *",  backup: [files], tag: hourly }
    daily:     { cron: "0 2 * * *",  backup: all,  tag: daily }
    weekly:    { cron: "0 3 * * 0",  backup: all,  tag: weekly }
    monthly:   { cron: "0 4 1 * *",  backup: all,  tag: monthly }
    retention: { cron: "30 5 * * *", forget: true, prune: true }
    verify:    { cron: "0 6 * * *",  check: { read_data: 10% } }
    drill:     { cron: "0 3 * * 0",  drill: all }
    monitor:   { cron: "*/15 * * * *", monitor: true }
YAML
}

gen_random() {
    openssl enc -aes-128-ctr -nosalt -pass "pass:coffer-seed-$2" -pbkdf2 -iter 1 \
        </dev/zero 2>/dev/null | head -c "$1"
}

# make_tree DIR : awkward test tree
make_tree() {
    local d=$1
    mkdir -p "$d" || fail "mkdir $d"
    mkdir -p "$d/a/b/c/d/e/f" "$d/empty dir" "$d/ro-dir" "$d/private-dir"
    : >"$d/empty-file"
    : >"$d/a/b/c/d/e/f/deep-empty"
    printf 'hello\n' >"$d/a/hello.txt"
    printf 'nested\n' >"$d/a/b/c/d/e/f/leaf.txt"
    printf 'secret\n' >"$d/mode0600"; chmod 0600 "$d/mode0600"
    printf '#!/bin/sh\necho hi\n' >"$d/mode0755.sh"; chmod 0755 "$d/mode0755.sh"
    printf 'ro\n' >"$d/mode0444"; chmod 0444 "$d/mode0444"
    printf 'x' >"$d/no-newline-one-byte"
    printf 'spaces\n' >"$d/name with  spaces "
    printf 'newline\n' >"$d/name with"$'\n'"newline"
    printf 'ff\n' >"$d/bad-utf8-"$'\xff'"-name"
    mkdir "$d/dir-"$'\xfe\xff'; printf 'in bad dir\n' >"$d/dir-"$'\xfe\xff'"/f"
    printf 'utf8\n' >"$d/ünïcödé-日本"
    printf 'dash\n' >"$d/-starts-with-dash"
    printf 'glob\n' >"$d/glob*?[x]"
    printf 'quote\n' >"$d/quo'te\"back\\slash"
    printf 'tab\n' >"$d/tab"$'\t'"name"
    printf 'in ro dir\n' >"$d/ro-dir/file"
    printf 'p\n' >"$d/private-dir/file"
    ln -s a/hello.txt "$d/link-rel"
    ln -s /nonexistent/target "$d/link-dangling"
    ln -s "a/b" "$d/link-to-dir"
    ln -s "name with  spaces " "$d/link to spaces"
    gen_text 5 42 >"$d/a/big-5mb.txt"
    gen_random $((3 * 1024 * 1024 + 12345)) 7 >"$d/a/b/random.bin"
    # a block of zeros
    dd if=/dev/zero of="$d/zeros" bs=1k count=300 status=none
    # fixed mtimes (including sub-second) bottom-up so dirs keep theirs
    touch -h -d '2001-02-03 04:05:06' "$d/link-rel"
    touch -d '1999-12-31 23:59:59.123456789' "$d/a/hello.txt"
    touch -d '2020-06-15 12:00:00' "$d/mode0600" "$d/mode0755.sh" "$d/empty-file"
    touch -d '2010-01-01 00:00:01.5' "$d/a/big-5mb.txt"
    touch -d '1985-05-05 05:05:05' "$d/a/b/c/d/e/f/leaf.txt" "$d/a/b/c/d/e/f"
    touch -d '2015-03-03 03:03:03' "$d/empty dir" "$d/a/b/c"
    touch -d '2016-04-04 04:04:04' "$d/ro-dir/file" "$d/ro-dir"
    chmod 0555 "$d/ro-dir"
    chmod 0700 "$d/private-dir"
    touch -d '2017-07-07 07:07:07' "$d/private-dir"
    touch -d '2018-08-08 08:08:08' "$d"
}

# ---------------------------------------------------------------- tree comparison
# tree_listing DIR : one line per entry: name (shell-quoted) type mode size mtime link
# (directory sizes and symlink mtimes are not compared; mtimes at 1 s resolution)
tree_listing() {
    local y m sz t p l
    (cd "$1" && find . -printf '%y %m %s %Ts\0%p\0%l\0') |
        while IFS=' ' read -r -d '' y m sz t && IFS= read -r -d '' p && IFS= read -r -d '' l; do
            case $y in
                d) printf '%q dir %s - %s\n' "$p" "$m" "$t" ;;
                l) printf '%q symlink -> %q\n' "$p" "$l" ;;
                f) printf '%q file %s %s %s\n' "$p" "$m" "$sz" "$t" ;;
                *) printf '%q other-%s %s\n' "$p" "$y" "$m" ;;
            esac
        done | sort
}
# content_manifest DIR : sha256 of every regular file, sorted by name
content_manifest() {
    (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum --)
}
# tree_listing_ns DIR : regular files / dirs with full-resolution mtime
tree_listing_ns() {
    local root=$1
    (cd "$root" && find . \( -type f -o -type d \) -printf '%P %T@\n') | LC_ALL=C sort
}

# compare_trees EXPECTED ACTUAL WHAT : fail on any difference in names, types,
# modes, sizes, mtimes, symlink targets or file bytes
compare_trees() {
    local a=$1 b=$2 what=$3 p
    [ -d "$b" ] || fail "$what: restored directory $b does not exist"
    tree_listing "$a" >"$T/list.expected"
    tree_listing "$b" >"$T/list.actual"
    if ! diff -u "$T/list.expected" "$T/list.actual" >"$T/list.diff"; then
        echo "  --- tree listing diff (expected vs restored), first 40 lines ---" >&2
        head -n 40 "$T/list.diff" >&2
        fail "$what: restored tree differs from source (names/types/modes/sizes/mtimes/symlinks)"
    fi
    content_manifest "$a" >"$T/sums.expected"
    content_manifest "$b" >"$T/sums.actual"
    if ! cmp -s "$T/sums.expected" "$T/sums.actual"; then
        while IFS= read -r -d '' p; do
            cmp -s -- "$a/$p" "$b/$p" || fail "$what: content differs: $(printf '%q' "$p")"
        done < <(cd "$a" && find . -type f -print0)
        fail "$what: content checksums differ"
    fi
    if ! diff -q <(tree_listing_ns "$a") <(tree_listing_ns "$b") >/dev/null; then
        warn "$what: sub-second mtimes not preserved exactly:"
        diff <(tree_listing_ns "$a") <(tree_listing_ns "$b") | head -n 6 | sed 's/^/      /' >&2
    fi
    return 0
}

# restored_path RESTORE_DIR SOURCE_ABS_PATH : where coffer puts a source path
restored_path() { printf '%s/%s' "$1" "${2#/}"; }

sha_of() { sha256sum | cut -d' ' -f1; }

# wait_gone PID : waits up to 20 s for PID to end; its exit code in RC and
# the milliseconds it took in GONE_MS
wait_gone() {
    local pid=$1 start
    start=$(date +%s%3N)
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    GONE_MS=$(($(date +%s%3N) - start))
    kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; fail "coffer did not stop within 20 s of the signal"; }
    wait "$pid"
    RC=$?
}

# wait_for FILE ERE [SECONDS] : waits (default 15 s) until a line of FILE
# matches ERE; fails the test naming what did not come
wait_for() {
    local file=$1 ere=$2 seconds=${3:-15}
    for _ in $(seq 1 $((seconds * 10))); do
        grep -Eq "$ere" "$file" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "no line matching \"$ere\" in $file after ${seconds} s: $(tail -n 5 "$file" 2>/dev/null)"
}

# ---------------------------------------------------------------- the fault shim, and freezing a command mid-work
# allow_preload : tells ASan (in the sanitized run) not to refuse a library
# LD_PRELOADed before it — the fault shim, libfaketime
allow_preload() {
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
}
# use_fault_shim : SHIM is the fault shim (tests/fault/), failing the test if
# it is not built
use_fault_shim() {
    SHIM=${FAULT_SHIM:-$(dirname "$COFFER")/tests/fault/libfaultshim.so}
    [ -f "$SHIM" ] || fail "the fault shim is not built ($SHIM)"
    allow_preload
}
# frozen OP PATH K ARGS... : starts coffer ARGS with the shim stopping it
# (SIGSTOP) at its K-th OP under PATH, and returns once it is stopped there:
# pid in FROZEN, output in ${FROZEN_OUT:-$T/frozen.out} and
# ${FROZEN_ERR:-$T/frozen.err}, stdin from ${FROZEN_STDIN:-/dev/null}
frozen() {
    local op=$1 path=$2 k=$3 err=${FROZEN_ERR:-$T/frozen.err}
    shift 3
    rm -f "$T/mark"
    FAULT_OP=$op FAULT_PATH=$path FAULT_AT=$k FAULT_ACTION=stop FAULT_MARK=$T/mark LD_PRELOAD=$SHIM \
        "$COFFER" "$@" >"${FROZEN_OUT:-$T/frozen.out}" 2>"$err" <"${FROZEN_STDIN:-/dev/null}" &
    FROZEN=$!
    on_exit "kill -CONT $FROZEN 2>/dev/null; kill -9 $FROZEN 2>/dev/null"
    for _ in $(seq 1 600); do
        [ -f "$T/mark" ] && [ "$(awk '{ print $3 }' "/proc/$FROZEN/stat" 2>/dev/null)" = T ] && return 0
        kill -0 "$FROZEN" 2>/dev/null || { cat "$err" >&2; fail "coffer $* ended before its ${k}th $op under $path"; }
        sleep 0.1
    done
    fail "coffer $* never reached its ${k}th $op under $path"
}
