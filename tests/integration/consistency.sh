#!/usr/bin/env bash
# consistency.sh — #14 item 4: what coffer says about time and damage is
# the same everywhere.
#   - every --json output (snapshots, check, drill, status, forget, ls, find,
#     diff, unlock) writes times as RFC 3339 UTC strings, never numbers;
#   - backup --time more than 5 minutes ahead is refused (exit 2), a little
#     ahead is taken; a snapshot dated in the future (a host whose clock is
#     days ahead, made with faketime) is a problem in status (exit 3);
#   - a drill of a damaged repository fails, never says its RTO objective
#     was met, says the repository is damaged and names check --read-data;
#     so does restore;
#   - check --json's damage entries are {kind, pack, blob, snapshots, what}
#     naming the snapshots each problem keeps from being restored.
. "$(dirname "$0")/lib.sh"
command -v faketime >/dev/null || fail "faketime is not installed (scripts/install-deps.sh installs it)"
allow_preload # libfaketime, in the ASan run

new_repo repo
mkdir -p "$T/src"
gen_random 2000000 c1 >"$T/src/a.bin"
printf 'hello\n' >"$T/src/b.txt"
cat >"$T/coffer.yaml" <<YAML
sources:
  files: { type: files, paths: [$T/src] }
objectives:
  rto: 10m
state_dir: $T/state
schedule:
  jobs:
    monitor: { cron: "* * * * *", monitor: true }
YAML
export COFFER_CONFIG=$T/coffer.yaml

# ---------------------------------------------------------------- --time in the future
run_c backup files --time "$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)"
expect_rc 2 "backup --time a day ahead"
expect_err_match "--time ahead" "is 1d( 0h)? in the future: a snapshot dated then would count as the newest"
[ "$(snapshot_ids files | wc -l)" = 0 ] || fail "the refused backup saved a snapshot"
c_ok "backup --time two minutes ahead (clocks differ a little)" backup files --time "$(date -u -d '+2 min' +%Y-%m-%dT%H:%M:%SZ)"
c_ok "a second backup" backup files

# ---------------------------------------------------------------- times in --json are RFC 3339 strings
RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'
# every value whose key ends in "time" (or is mtime, refreshed) is a string in RFC 3339
times_are_text() { # WHAT
    jq -e --arg re "$RFC3339" '[paths(scalars) as $p | select(($p[-1] | tostring) | test("(^|_)time$|^mtime$|^refreshed$"))
        | getpath($p)] | (length > 0) and all(type == "string" and test($re))' "$T/out" >/dev/null ||
        fail "$1 --json writes a time that is not an RFC 3339 string: $(head -c 800 "$T/out")"
}
c_ok "check" check --json
times_are_text check
c_ok "drill" drill --json
times_are_text drill
jq -e '.ok == true and .rto_met == true' "$T/out" >/dev/null || fail "the drill of a whole repository failed"
run_c status --json
times_are_text status
run_c daemon --once --now "$(date -u +%Y-%m-%dT%H:%M:00Z)" # a run for coffer log
[ "$RC" = 0 ] || [ "$RC" = 3 ] || { _show_last; fail "daemon --once"; }
for cmd in "snapshots" "ls latest" "find b.txt" "diff latest" "forget --keep-last 5 --dry-run" "log"; do
    c_ok "$cmd --json" $cmd --json
    times_are_text "$cmd"
done

# ---------------------------------------------------------------- the documented keys (docs/json-output.md)
c_ok "tag for the schema check" tag latest --add schema
grep -E '^\| `[a-z]+` \| (array|object) \|' "$REPO_ROOT/docs/json-output.md" >"$T/schema"
[ "$(wc -l <"$T/schema")" -ge 10 ] || fail "docs/json-output.md's table of keys is gone"
while IFS='|' read -r _ cmd shape keys _; do
    cmd=$(echo "$cmd" | tr -d ' `') shape=$(echo "$shape" | tr -d ' ') keys=$(echo "$keys" | tr -d ' ')
    case $cmd in
        ls) args="ls latest" ;; find) args="find b.txt" ;; diff) args="diff latest" ;;
        forget) args="forget --keep-last 5 --dry-run" ;; tag) args="tag latest --add schema2" ;;
        schedule) args="schedule list" ;;
        *) args=$cmd ;;
    esac
    run_c $args --json
    [ "$RC" = 0 ] || [ "$RC" = 3 ] || { _show_last; fail "$args --json failed"; }
    if [ "$shape" = array ]; then filter='if type == "array" and length > 0 then .[0] | keys | join(",") else "not an array" end'
    else filter='if type == "object" then keys | join(",") else "not an object" end'; fi
    got=$(jq -r "$filter" "$T/out")
    [ "$got" = "$keys" ] || fail "$args --json: keys $got, docs/json-output.md says $keys"
done <"$T/schema"

# ---------------------------------------------------------------- a snapshot from a clock days ahead
printf 'later\n' >"$T/src/c.txt"
NO_FAKE_STAT=1 FAKETIME='+3d' LD_PRELOAD=${FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1} \
    timeout 120 "$COFFER" backup files >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "backup under faketime +3d"; }
run_c status
expect_rc 3 "status with a snapshot dated 3 days ahead"
grep -Eq "PROBLEM  future: the newest snapshot is dated .*, (2d 23h|3d)[^,]* in the future" "$T/out" ||
    fail "status does not flag the future-dated snapshot: $(cat "$T/out")"
grep -q "to do: check the clock of" "$T/out" || fail "status does not say what to do about it"
run_c status --json
[ "$(jq_out '[.sources[0].problems[].rule] | index("future") != null')" = true ] || fail "status --json lacks the future problem"

# ---------------------------------------------------------------- a drill of a damaged repository
c_ok "forget the future-dated snapshot" forget "$(repo_snapshot files)" --force
for p in $(find "$COFFER_REPOSITORY/data" -type f); do mv "$p" "$p.gone"; done
run_c drill
expect_rc 1 "drill of a repository whose packs are gone"
grep -q "RTO objective 10m: met" "$T/out" && fail "a failed drill says its RTO objective was met"
grep -q "FAILED in .* (RTO objective 10m: not met: nothing usable was restored)" "$T/out" ||
    fail "the failed drill does not say the objective was not met: $(cat "$T/out")"
grep -q "because the repository lacks or holds damaged data the snapshot needs: run .coffer check --read-data." "$T/out" ||
    fail "the drill does not say the repository is damaged and name check --read-data: $(cat "$T/out")"
run_c drill --json
jq -e '.ok == false and .rto_met == false' "$T/out" >/dev/null || fail "drill --json of a failed drill: $(cat "$T/out")"
run_c restore latest --source files --to "$T/restored"
expect_rc 1 "restore from a repository whose packs are gone"
expect_err_match "restore of damaged data" "because the repository lacks or holds damaged data the snapshot needs: run .coffer check --read-data."

# ---------------------------------------------------------------- damage entries are objects
# {kind, pack, blob, snapshots, what}: a missing pack names every snapshot
# that needs it; each such snapshot is a problem of its own.
all_ids=$(snapshot_ids files | sort | paste -sd, -)
run_c check --json
expect_rc 1 "check of a repository whose packs are gone"
jq -e 'all(.damage[]; (keys == ["blob", "kind", "pack", "snapshots", "what"]) and (.snapshots | type) == "array"
        and (.what | type) == "string")' "$T/out" >/dev/null || fail "check --json damage entries are not {kind, pack, blob, snapshots, what}: $(head -c 800 "$T/out")"
[ "$(jq_out '[.damage[] | select(.kind == "pack_missing") | .pack | test("^[0-9a-f]{64}$")] | (length > 0 and all)')" = true ] ||
    fail "check --json names no missing pack by its id: $(head -c 800 "$T/out")"
[ "$(jq_out '[.damage[] | select(.kind == "pack_missing") | .snapshots[]] | unique | join(",")')" = "$all_ids" ] ||
    fail "the missing packs do not name the snapshots that need them ($all_ids): $(head -c 800 "$T/out")"
[ "$(jq_out '[.damage[] | select(.kind == "snapshot") | .snapshots[0]] | sort | join(",")')" = "$all_ids" ] ||
    fail "each snapshot that cannot be restored is not a problem naming it: $(head -c 800 "$T/out")"
run_c status --json
[ "$(jq_out '[.sources[0].problems[] | select(.rule == "damage") | .what | test("missing from the repository")] | any')" = true ] ||
    fail "status does not quote the first damage of the last check: $(head -c 800 "$T/out")"

# One damaged blob (a byte of a.bin's data flipped in its pack): a
# blob_damaged entry names the pack, the blob and both snapshots holding
# a.bin; the other blobs of the pack hurt nobody.
for p in $(find "$COFFER_REPOSITORY/data" -type f -name '*.gone'); do mv "$p" "${p%.gone}"; done
c_ok "check once the packs are back" check
big=$(find "$COFFER_REPOSITORY/data" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2)
printf '\xff' | dd of="$big" bs=1 seek=4096 conv=notrunc status=none
run_c check --read-data --json
expect_rc 1 "check --read-data of a flipped byte"
jq -e --arg pack "$(basename "$big")" --arg ids "$all_ids" '[.damage[] | select(.kind == "blob_damaged")] |
        length == 1 and .[0].pack == $pack and (.[0].blob | test("^[0-9a-f]{64}$"))
        and (.[0].snapshots | sort | join(",")) == $ids' "$T/out" >/dev/null ||
    fail "the damaged blob is not one entry naming its pack, itself and both snapshots: $(head -c 1200 "$T/out")"

pass "times in every --json are RFC 3339; --time ahead refused; a future-dated snapshot is a status problem; a drill of damaged data fails and says so; damage entries are objects naming pack, blob and snapshots"
