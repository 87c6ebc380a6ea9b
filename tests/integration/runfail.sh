#!/usr/bin/env bash
# runfail.sh — a source that fails in a configured run (`coffer backup`
# with several sources, one repository opened once) leaves nothing that a
# later source of the same run deduplicates against. Both cases back up the
# same bytes twice: first from a `command` source that fails, then from a
# `files` source (stream and file chunks of the same size, so the two cut
# the same chunks). The second snapshot must restore byte-identical in a
# new process and `check --read-data` must pass:
#  1. the command prints 30 MiB, waits, exits 1: its first pack was stored
#     but no index file names it (the run wrote none);
#  2. the first pack write fails (fault shim: EIO) while the command is
#     still printing: every chunk added after the failure was reserved in
#     the index for a blob that was never stored.
# Before the fix the files source deduplicated against both, and its
# snapshot needed blobs no index file listed.
. "$(dirname "$0")/lib.sh"

use_fault_shim

# same_chunks_repo NAME: a repository whose streams and files are cut alike
same_chunks_repo() {
    export COFFER_REPOSITORY=$T/$1
    printf 'run fail %s\n' "$RANDOM" >"$T/$1.pw"
    export COFFER_PASSWORD_FILE=$T/$1.pw
    c_ok "init $1" init --kdf testonly --stream-chunks 1M --file-chunks 1M
}
# restores_as SOURCE FILE WHAT: the newest snapshot of SOURCE holds FILE's bytes
restores_as() {
    rm -rf "$T/restored"
    run_c restore latest --source "$1" --to "$T/restored"
    expect_ok "restore of $1 ($3)"
    cmp -s "$2" "$(restored_path "$T/restored" "$2")" || fail "$1 does not restore as it was backed up ($3)"
}

mkdir -p "$T/one" "$T/two"  # the data; the repositories are $T/repo-one, $T/repo-two
gen_random $((30 << 20)) 31 >"$T/one/big"
gen_random $((40 << 20)) 32 >"$T/two/big"
head -c $((20 << 20)) "$T/two/big" >"$T/two.head"
tail -c +$(((20 << 20) + 1)) "$T/two/big" >"$T/two.tail"

# --- 1. a command that fails after its first pack was stored ---------------
same_chunks_repo repo-one
cat >"$T/one.yaml" <<YAML
sources:
  export: { type: command, command: [sh, -c, "cat '$T/one/big'; sleep 1; echo 'export failed' >&2; exit 1"] }
  files:  { type: files, paths: ['$T/one'] }
YAML
COFFER_CONFIG=$T/one.yaml run_c backup
expect_rc 1 "case 1: a run whose first source fails"
expect_err_match "case 1: a run whose first source fails" "1 of 2 sources failed: export"
restores_as files "$T/one/big" "case 1"
c_ok "check --read-data (case 1)" check --read-data

# --- 2. the first pack write fails while the command still prints ----------
same_chunks_repo repo-two
cat >"$T/two.yaml" <<YAML
sources:
  export: { type: command, command: [sh, -c, "cat '$T/two.head'; sleep 1; cat '$T/two.tail'"] }
  files:  { type: files, paths: ['$T/two'] }
YAML
# (the shim leaves the environment of the programs coffer starts, so it
# must be coffer itself that it is loaded into, not timeout)
COFFER_CONFIG=$T/two.yaml FAULT_OP=write FAULT_PATH=/data/ FAULT_AT=1 FAULT_ACTION=eio FAULT_MARK=$T/mark \
    LD_PRELOAD=$SHIM "$COFFER" backup >"$T/out" 2>"$T/err" </dev/null
RC=$?
LAST_CMD="coffer backup (case 2, under the fault shim)"
[ -f "$T/mark" ] || fail "case 2: the fault shim never failed a pack write"
expect_rc 1 "case 2: a run whose first source cannot store its pack"
expect_err_match "case 2: a run whose first source cannot store its pack" "1 of 2 sources failed: export"
restores_as files "$T/two/big" "case 2"
c_ok "check --read-data (case 2)" check --read-data

pass "a source that fails leaves nothing the next source of the run deduplicates against"
