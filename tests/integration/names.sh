#!/usr/bin/env bash
# names.sh — names a snapshot cannot hold are refused when writing, by the
# rule the reader applies: `backup --stdin --name` and a command source's
# `name:` of "../x", "a/../b", "/abs", "a//b", "./x", "x/" or with a part
# over 255 bytes fail, naming it, and store nothing; a 255-byte name and a
# relative path ("exports/a.txt") are stored and restore under their
# whole names. (Before, all of these exited 0 and made snapshots that
# restore and check called malformed, or restored a shortened name.)
. "$(dirname "$0")/lib.sh"

new_repo repo
printf 'payload\n' >"$T/data"
long=$(printf 'n%.0s' $(seq 1 256))
name255=${long:1}

for bad in "../x" "a/../b" "/abs" "a//b" "./x" "x/" "$long" "ok/$long"; do
    run_c_in "$T/data" backup --stdin --name "$bad"
    expect_rc 2 "backup --stdin --name '${bad:0:40}'"
    grep -qF -- "\"$bad\"" "$T/err" || { _show_last; fail "the refusal does not name '${bad:0:40}'"; }
done
c_ok "snapshots after the refused names" snapshots --json
[ "$(jq_out length)" = 0 ] || fail "a refused name left a snapshot"
note "--name refuses 8 names a snapshot cannot hold"

run_c_in "$T/data" backup --stdin --name "$name255"
expect_ok "backup --stdin of a 255-byte name"
run_c_in "$T/data" backup --stdin --name "exports/a.txt"
expect_ok "backup --stdin --name exports/a.txt"
c_ok "restore of the 255-byte name" restore latest "$name255" --to "$T/r"
cmp -s "$T/r/$name255" "$T/data" || fail "the 255-byte name did not restore whole with its bytes"
c_ok "restore of exports/a.txt" restore latest exports/a.txt --to "$T/r2"
cmp -s "$T/r2/exports/a.txt" "$T/data" || fail "exports/a.txt did not restore"
c_ok "check of the stored names" check --read-data

# Command sources: the same rule for `name:` in coffer.yaml.
for bad in "../up" "a/../b" "/abs" "a//b" "./x" "$long"; do
    cat >"$T/coffer.yaml" <<YAML
repository: $COFFER_REPOSITORY
sources:
  out: { type: command, command: [echo, hello], name: "$bad" }
YAML
    COFFER_CONFIG=$T/coffer.yaml run_c backup
    expect_nonzero "command source named '${bad:0:40}'"
    expect_err_match "command source named '${bad:0:40}'" "sources\.out\.name"
done
c_ok "snapshots after the refused command names" snapshots --json
[ "$(jq_out length)" = 2 ] || fail "a refused command name left a snapshot"
note "command sources refuse 6 names"

pass "names on write"
