#!/usr/bin/env bash
# keepgood.sh — retention keeps the last good copy after a shrink (issue
# #14 item 1). Three complete backups of one hour, then one that lost most
# of the data: the runbook's policy kept only the shrunken one of that
# hour before; now the hour also keeps its newest complete snapshot, the
# newest healthy snapshot of a source is kept whatever the policy (unless
# --force), `forget --dry-run` says why each is kept, and the advice
# `coffer check` prints after the shrink is a command that works: run as
# printed, it tags the snapshot before, which --keep-tag then keeps.
# Also `coffer tag` (--add, --remove, --set; ids unchanged; a typo changes
# nothing) and `coffer forget ID...`.
. "$(dirname "$0")/lib.sh"

new_repo repo
mkdir -p "$T/data"
gen_text 2 5 >"$T/data/big.txt"
backup_at() { # backup_at TIME
    run_c backup "$T/data" --name app --quiet --time "$1"
    expect_ok "backup at $1"
}
id_at() { # the id of app's snapshot taken at TIME (from $T/list.json)
    jq -r --arg t "$1" '.[] | select(.source == "app" and (.time | startswith($t))) | .id' "$T/list.json"
}
list() { run_c snapshots --json; expect_ok "snapshots"; cp "$T/out" "$T/list.json"; }

backup_at 2026-11-02T09:00:00Z
backup_at 2026-11-02T09:20:00Z
backup_at 2026-11-02T09:40:00Z
: >"$T/data/big.txt" # most of the source is gone
printf 'x\n' >"$T/data/small.txt"
backup_at 2026-11-02T09:50:00Z
list
complete=$(id_at 2026-11-02T09:40) shrunk=$(id_at 2026-11-02T09:50)
[ -n "$complete" ] && [ -n "$shrunk" ] || fail "cannot find the snapshots by time"

# --- check names the snapshot before, with a command that works --------------------
cat >"$T/coffer.yaml" <<YAML
retention: { hourly: 24, daily: 30, weekly: 12, monthly: 12, yearly: 7 }
sources:
  app: { type: files, paths: [$T/data] }
YAML
export COFFER_CONFIG=$T/coffer.yaml
run_c check
grep -q "shrink_alert" "$T/out" "$T/err" || fail "check does not report the shrink"
hint=$(grep -ho '`coffer tag [^`]*`' "$T/out" "$T/err" | head -1 | tr -d '`')
[ -n "$hint" ] || fail "check's advice after a shrink names no coffer tag command"
case $hint in "coffer tag ${complete:0:8} --add keep") ;; *) fail "the advice names another snapshot: $hint" ;; esac

# --- the runbook's policy: the hour keeps its newest complete snapshot -------------
c_ok "forget --dry-run" forget --dry-run
grep -E "keep +${shrunk:0:8} .*unhealthy: .*[0-9]+% of the" "$T/out" >/dev/null ||
    fail "--dry-run does not say the shrunken snapshot is unhealthy and why"
grep -E "keep +${complete:0:8} .*hourly" "$T/out" >/dev/null ||
    fail "--dry-run does not keep the complete snapshot of the hour as its hourly one"
c_ok "forget with the runbook's policy" forget
list
[ "$(jq -r '[.[].id] | sort | join(" ")' "$T/list.json")" = "$(printf '%s\n' "$complete" "$shrunk" | sort | paste -sd' ')" ] ||
    fail "the runbook's policy kept $(jq -c '[.[].time]' "$T/list.json"), not the complete 09:40 and the shrunken 09:50"
restored=$T/restored
c_ok "restore the complete snapshot" restore "$complete" --to "$restored"
cmp -s "$(restored_path "$restored" "$T/data")/big.txt" <(gen_text 2 5) || fail "the kept complete snapshot does not restore the data"
unset COFFER_CONFIG

# --- a policy that keeps only the shrunken one: the newest healthy stays -----------
backup_at 2026-11-02T10:10:00Z # as small as 09:50: healthy against it
backup_at 2026-11-02T10:20:00Z
list
c_ok "forget --keep-within 300s --dry-run" forget --keep-within 300s --dry-run
grep -E "keep +$(id_at 2026-11-02T10:20 | cut -c1-8) " "$T/out" >/dev/null || fail "within 300s does not keep the newest"
grep -E "would remove +$(id_at 2026-11-02T10:10 | cut -c1-8) " "$T/out" >/dev/null || fail "within 300s keeps 10:10"

# --- tag as check advised, then --keep-tag keeps it --------------------------------
# shellcheck disable=SC2086
run_c ${hint#coffer }
expect_ok "the advice as printed: $hint"
list
[ "$(jq -r --arg id "$complete" '.[] | select(.id == $id) | .tags | join(",")' "$T/list.json")" = keep ] ||
    fail "coffer tag did not add the tag, or changed the id"
c_ok "forget --keep-last 1 --keep-tag keep" forget --keep-last 1 --keep-tag keep
list
jq -e --arg id "$complete" 'any(.[]; .id == $id)' "$T/list.json" >/dev/null || fail "--keep-tag keep removed the tagged snapshot"
[ "$(jq length "$T/list.json")" = 2 ] || fail "keep-last 1 + keep-tag keep left $(jq length "$T/list.json") snapshots, not 2"

c_ok "tag --set" tag "$complete" --set a,b --set c
list
[ "$(jq -r --arg id "$complete" '.[] | select(.id == $id) | .tags | join(",")' "$T/list.json")" = a,b,c ] || fail "--set a,b --set c"
c_ok "tag --remove" tag "${complete:0:10}" --remove b
list
[ "$(jq -r --arg id "$complete" '.[] | select(.id == $id) | .tags | join(",")' "$T/list.json")" = a,c ] || fail "--remove b"
run_c tag "$complete" nosuch --add z
expect_rc 2 "tag with an unknown snapshot"
expect_err_match "tag names the snapshot it cannot find" "nosuch"
list
[ "$(jq -r --arg id "$complete" '.[] | select(.id == $id) | .tags | join(",")' "$T/list.json")" = a,c ] ||
    fail "a failed tag changed a snapshot it found"
run_c tag "$complete"
expect_rc 2 "tag with nothing to change"

# --- forget by id -------------------------------------------------------------------
newest=$(id_at 2026-11-02T10:20)
run_c forget nosuch
expect_rc 2 "forget of an unknown id"
run_c forget "$newest" --keep-last 1
expect_rc 2 "forget with ids and --keep-* together"
# Left: the complete 09:40 and the small 10:20, which against it is a
# shrink: 09:40 is the newest healthy snapshot, and stays unless forced.
run_c forget "${complete:0:12}"
expect_rc 2 "forget ID of the newest healthy snapshot"
expect_err_match "the refusal names it and --force" "${complete:0:8} is the newest healthy snapshot.*--force"
c_ok "forget ID --force --dry-run" forget "${complete:0:12}" --force --dry-run
grep -E "would remove +${complete:0:8}" "$T/out" >/dev/null || fail "forget ID --force --dry-run does not name it"
c_ok "forget ID" forget "$newest"
list
jq -e --arg id "$newest" 'any(.[]; .id == $id) | not' "$T/list.json" >/dev/null || fail "forget ID did not remove it"
[ "$(jq length "$T/list.json")" = 1 ] || fail "forget ID removed more than it was given"
run_c forget "$complete"
expect_rc 2 "forget ID of a source's last snapshot"
expect_err_match "the refusal says --force" "remove all 1 snapshots of source app; add --force"
c_ok "check after all that" check --read-data
pass "the complete snapshot of the shrunken hour kept; check's advice runs; tag and forget ID"
