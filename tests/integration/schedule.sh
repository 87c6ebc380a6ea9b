#!/usr/bin/env bash
# schedule.sh — #15: the schedule of coffer.yaml run by `coffer daemon
# --once --now`, walking through days of it in seconds.
#   - a week, invoked every hour: the snapshots of each tag and the runs of
#     each job are exactly what the cron lines imply (168 hourly, 7 daily,
#     1 weekly on the Sunday, 1 monthly on the 1st, a drill on the Sunday,
#     a check and a retention run each day, a monitor run each hour);
#   - a 30-hour gap (the daemon "down"): one run per job whose time passed,
#     standing for all the slots missed; a job whose next run is near is
#     recorded as missed and not run; the same invocation again runs
#     nothing (a restart never runs a slot twice);
#   - a job due while its previous run (another process, frozen mid-backup)
#     still runs is skipped and recorded; the frozen run finishes; with
#     overlap: queue the slot waits for it instead and runs after;
#   - a broken ledger is put aside and said, a full disk when a slot is to
#     be taken runs nothing and exits 1, an uncreatable state_dir is named;
#   - schedule list shows the next times; log filters; bad input refused.
. "$(dirname "$0")/lib.sh"
use_fault_shim

new_repo repo
mkdir -p "$T/src"
printf 'config\n' >"$T/src/app.conf"
cat >"$T/coffer.yaml" <<YAML
state_dir: $T/state
sources:
  files: { type: files, paths: [$T/src] }
retention: { last: 10000 }
schedule:
  timezone: UTC
  jobs:
$(runbook_jobs)
YAML
export COFFER_CONFIG=$T/coffer.yaml

at_hour() { date -u -d "2026-01-01T00:00:00Z + $1 hours" +%Y-%m-%dT%H:%M:%SZ; }
tag_count() { jq_out "[.[] | select(.tags | index(\"$1\"))] | length"; }
runs_of() { jq -r --arg job "$1" '[.[] | select(.job == $job)] | length' "$T/log.json"; }

# ---------------------------------------------------------------- a week, hour by hour
# 2026-01-01 is a Thursday: the week holds the 1st (monthly) and Sunday the 4th (weekly, drill).
for h in $(seq 0 167); do
    echo "daily change $h" >"$T/src/changes.log"
    run_c daemon --once --now "$(at_hour "$h")"
    [ "$RC" = 0 ] || [ "$RC" = 3 ] || { _show_last; fail "daemon --once at hour $h: exit $RC"; }
done
run_c snapshots --json
expect_ok "snapshots"
for pair in hourly:168 daily:7 weekly:1 monthly:1; do
    [ "$(tag_count "${pair%%:*}")" = "${pair#*:}" ] || fail "a week gave $(tag_count "${pair%%:*}") ${pair%%:*} snapshots, not ${pair#*:}"
done
[ "$(jq_out 'length')" = 177 ] || fail "a week gave $(jq_out 'length') snapshots, not 177"
[ "$(jq_out '[.[] | select(.tags | index("weekly"))][0].time')" = 2026-01-04T03:00:00Z ] ||
    fail "the weekly snapshot is not dated Sunday 03:00"
c_ok "log --json" log --json
cp "$T/out" "$T/log.json"
for pair in hourly:168 daily:7 weekly:1 monthly:1 retention:7 verify:7 drill:1 monitor:168; do
    [ "$(runs_of "${pair%%:*}")" = "${pair#*:}" ] || fail "a week gave $(runs_of "${pair%%:*}") runs of ${pair%%:*}, not ${pair#*:}"
done
[ "$(jq -r '[.[] | select(.outcome == "failed")] | length' "$T/log.json")" = 0 ] ||
    fail "runs failed in the week: $(jq -c '[.[] | select(.outcome == "failed")][0]' "$T/log.json")"
[ "$(jq -r '[.[] | select(.job == "monitor") | .passed] | unique | join(",")' "$T/log.json")" = "1,4" ] ||
    fail "monitor runs do not each stand for the four quarter hours before"
[ "$(jq -r '[.[] | select(.job == "drill")][0].actions[0].outcome' "$T/log.json")" = ok ] || fail "the drill did not pass"

# ---------------------------------------------------------------- a 30-hour gap
# The last run was at hour 167 (Jan 7 23:00); the next invocation is 30 h later, Jan 9 05:00.
gap=$(at_hour 197)
run_c daemon --once --now "$gap"
cp "$T/out" "$T/gap.out"
c_ok "log --since the gap" log --json --since "$gap"
cp "$T/out" "$T/log.json"
for pair in hourly:1 daily:1 retention:1 verify:1 monitor:1 weekly:0 monthly:0 drill:0; do
    [ "$(runs_of "${pair%%:*}")" = "${pair#*:}" ] || fail "after the gap: $(runs_of "${pair%%:*}") runs of ${pair%%:*}, not ${pair#*:}: $(cat "$T/gap.out")"
done
jq -e '[.[] | select(.job == "hourly")][0] | .outcome == "ok" and .passed == 30' "$T/log.json" >/dev/null ||
    fail "the hourly catch-up does not stand for the 30 slots missed: $(cat "$T/gap.out")"
jq -e '[.[] | select(.job == "daily")][0] | .outcome == "ok" and .passed == 2' "$T/log.json" >/dev/null ||
    fail "the daily catch-up does not stand for its 2 slots: $(cat "$T/gap.out")"
jq -e '[.[] | select(.job == "monitor")][0].passed == 120' "$T/log.json" >/dev/null || fail "monitor catch-up"
# Retention (05:30) and verify (06:00) are due again within a quarter of a day: missed, not run.
for job in retention verify; do
    jq -e --arg job "$job" '[.[] | select(.job == $job)][0] | .outcome == "missed" and (.actions | length) == 0
        and (.why | test("next .* is near"))' "$T/log.json" >/dev/null || fail "$job after the gap is not a missed slot: $(cat "$T/gap.out")"
done
before=$(jq -r length "$T/log.json")
run_c daemon --once --now "$gap"
expect_ok "the same time again"
[ ! -s "$T/out" ] || fail "the same --now again ran something: $(cat "$T/out")"
c_ok "log" log --json --since "$gap"
[ "$(jq_out length)" = "$before" ] || fail "the same --now again recorded runs"
# An hour later (06:00) the missed jobs run for their next slots (05:30, 06:00), each once, as usual.
run_c daemon --once --now "$(at_hour 198)"
for job in hourly retention verify; do
    [ "$(grep -c "^$(at_hour 198) $job: ok" "$T/out")" = 1 ] || fail "the hour after the gap, $job: $(cat "$T/out")"
done
grep -q warning "$T/out" && fail "a run after a prune in the same daemon warns: $(cat "$T/out")"

# ---------------------------------------------------------------- a job whose previous run still runs
# Another daemon --once, frozen in its hourly backup's write of a pack, holds that job's run lock.
FROZEN_OUT=$T/frozen.out frozen write "$COFFER_REPOSITORY/data/" 1 daemon --once --now "$(at_hour 199)"
run_c daemon --once --now "$(at_hour 200)"
grep -q "hourly: skipped — its previous run still runs" "$T/out" || fail "the hourly job beside its running previous run: $(cat "$T/out")"
grep -q "monitor: " "$T/out" || fail "the other jobs did not run beside the frozen one: $(cat "$T/out")"
jq -e '.jobs.hourly.outcome == "skipped" and .jobs.hourly.skipped_in_a_row == 1' "$T/state/ledger.json" >/dev/null ||
    fail "the ledger does not record the skip: $(cat "$T/state/ledger.json")"
kill -CONT "$FROZEN"
wait "$FROZEN" || fail "the frozen run failed once let go: $(cat "$T/frozen.err")"
grep -q "$(at_hour 199) hourly: ok" "$T/frozen.out" || fail "the frozen run did not finish its backup: $(cat "$T/frozen.out")"
c_ok "log of the skip" log --json --job hourly --since "$(at_hour 200)"
jq -e 'length == 1 and .[0].outcome == "skipped" and .[0].why == "its previous run still runs"' "$T/out" >/dev/null ||
    fail "the skip is not in the log: $(cat "$T/out")"
run_c check --read-data # exit 3: the snapshots are dated in January, far older than max_age
grep -q "no damage" "$T/out" || { _show_last; fail "check after all that"; }

# With overlap: queue the slot waits for the previous run instead, and the other jobs go on.
sed -i 's|    hourly:    { cron: "0 \* \* \* \*",  backup: \[files\], tag: hourly }|    hourly:    { cron: "0 * * * *",  backup: [files], tag: hourly, overlap: queue }|' "$T/coffer.yaml"
grep -q "overlap: queue" "$T/coffer.yaml" || fail "the test could not set overlap: queue"
FROZEN_OUT=$T/frozen.out frozen write "$COFFER_REPOSITORY/data/" 1 daemon --once --now "$(at_hour 201)"
run_c daemon --once --now "$(at_hour 202)"
grep -q "hourly" "$T/out" && fail "a queued job ran or was skipped beside its previous run: $(cat "$T/out")"
grep -q "monitor: " "$T/out" || fail "the other jobs did not run beside the queued one: $(cat "$T/out")"
kill -CONT "$FROZEN"
wait "$FROZEN" || fail "the frozen run failed once let go: $(cat "$T/frozen.err")"
run_c daemon --once --now "$(at_hour 202)"
grep -q "^$(at_hour 202) hourly: ok" "$T/out" || fail "the queued slot did not run once its previous run ended: $(cat "$T/out")"

# ---------------------------------------------------------------- schedule list, log, bad input
c_ok "schedule list" schedule list --now 2026-01-01T00:30:00Z
grep -q "^weekly  (0 3 \* \* 0)  backup all (tag weekly)" "$T/out" || fail "schedule list: $(cat "$T/out")"
grep -q "next  Sun 2026-01-04 03:00 UTC, Sun 2026-01-11 03:00 UTC" "$T/out" || fail "schedule list next times: $(cat "$T/out")"
c_ok "schedule list --json" schedule list --json --now 2026-01-01T00:30:00Z
[ "$(jq_out '.[] | select(.job == "monthly") | .next | join(",")')" = \
  2026-01-01T04:00:00Z,2026-02-01T04:00:00Z,2026-03-01T04:00:00Z,2026-04-01T04:00:00Z,2026-05-01T04:00:00Z ] ||
    fail "schedule list --json monthly: $(cat "$T/out")"
[ "$(jq_out '.[] | select(.job == "hourly") | .last.outcome')" = ok ] || fail "schedule list shows no last run"
c_ok "log --failed" log --failed --json
jq -e 'all(.[]; .outcome != "ok")' "$T/out" >/dev/null || fail "log --failed shows ok runs"
c_ok "log --source" log --source files --json --job daily
[ "$(jq_out length)" = 8 ] || fail "log --source files --job daily: $(jq_out length) runs, not 8"
run_c log --since soon
expect_rc 2 "log --since soon"
expect_err_match "bad --since" "bad --since \"soon\": give a duration"
run_c daemon --now "$(at_hour 300)"
expect_rc 2 "daemon --now without --once"
run_c daemon --once --now "$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)"
expect_rc 2 "daemon --now a day ahead"
printf 'sources:\n  files: { type: files, paths: [%s] }\n' "$T/src" >"$T/plain.yaml"
COFFER_CONFIG=$T/plain.yaml run_c daemon --once
expect_rc 2 "daemon without a schedule"
expect_err_match "no schedule" "has no schedule: with jobs"

# ---------------------------------------------------------------- the state directory failing
# A ledger that cannot be read is put aside and said; the schedule restarts from now (no catch-up).
before_runs=$(snapshot_ids files | wc -l)
printf '{"version": 1, "jobs": ' >"$T/state/ledger.json"
run_c daemon --once --now "$(at_hour 204)"
grep -q "coffer: daemon: warning: the run ledger $T/state/ledger.json could not be read .* kept as $T/state/ledger.json.bad" "$T/err" ||
    fail "a broken ledger is not said: $(cat "$T/err")"
[ -f "$T/state/ledger.json.bad" ] || fail "the broken ledger was not kept aside"
grep -q "hourly: ok (one run" "$T/out" && fail "a restarted ledger caught up on old slots: $(cat "$T/out")"
[ "$(snapshot_ids files | wc -l)" = $((before_runs + 1)) ] || fail "the restarted schedule did not run the hour's backup once"
# A full disk when the slot is to be taken: nothing runs, the daemon says why (exit 1), the ledger stays whole.
cp "$T/state/ledger.json" "$T/ledger.before"
# (coffer itself under the shim: it takes its variables out of the environment of what it starts, as timeout)
FAULT_OP=write FAULT_PATH=state/ledger.json FAULT_AT=1 FAULT_ACTION=enospc LD_PRELOAD=$SHIM \
    "$COFFER" daemon --once --now "$(at_hour 205)" >"$T/out" 2>"$T/err" </dev/null
RC=$?
LAST_CMD="coffer daemon --once (ENOSPC on the ledger)"
expect_rc 1 "daemon --once with the state directory's disk full"
expect_err_match "full disk" "cannot write the run ledger $T/state/ledger.json: No space left on device"
cmp -s "$T/state/ledger.json" "$T/ledger.before" || fail "a failed ledger write changed the ledger"
[ "$(snapshot_ids files | wc -l)" = $((before_runs + 1)) ] || fail "a job ran although its slot could not be taken"
run_c daemon --once --now "$(at_hour 205)"
[ "$(grep -c "^$(at_hour 205) hourly: ok" "$T/out")" = 1 ] || fail "the hour did not run once the disk had room: $(cat "$T/out")"
# A state directory that cannot be made.
sed "s|^state_dir: .*|state_dir: /proc/coffer-state|" "$T/coffer.yaml" >"$T/nostate.yaml"
COFFER_CONFIG=$T/nostate.yaml run_c daemon --once --now "$(at_hour 205)"
expect_rc 1 "daemon --once with a state directory it cannot create"
expect_err_match "no state dir" "cannot create the state directory /proc/coffer-state: .*set state_dir: in coffer.yaml"

# ---------------------------------------------------------------- the repository's own rules
# health: min_free (a local repository's file system) and max_stored (the packs, at the last check).
sed -i 's|^retention: { last: 10000 }|retention: { last: 10000 }\nhealth: { max_age: 3650d, min_free: 100%, max_stored: 1K }|' "$T/coffer.yaml"
run_c status --json
expect_rc 3 "status with min_free 100% and max_stored 1K"
[ "$(jq_out '[.repository.problems[].rule] | join(",")')" = min_free,max_stored ] ||
    fail "status --json repository problems: $(jq -c .repository "$T/out")"
[ "$(jq_out '.repository.stored_bytes > 1024 and .repository.free_bytes > 0 and .repository.total_bytes > 0')" = true ] ||
    fail "status --json repository sizes: $(jq -c .repository "$T/out")"
run_c status
grep -q "PROBLEM  min_free: the repository's file system has .* free of .*, less than health.min_free 100%" "$T/out" ||
    fail "status does not say the free space is short: $(cat "$T/out")"
run_c daemon --once --now "$(at_hour 206)"
c_ok "log of the monitor" log --json --job monitor --since "$(at_hour 206)"
[ "$(jq_out '[.[0].problems[] | select(.source == "repository") | .rule] | join(",")')" = min_free,max_stored ] ||
    fail "the monitor does not find the repository's problems: $(cat "$T/out")"

pass "a week of schedule gives what the cron lines imply; a 30-hour gap one catch-up per job (missed when the next is near), never twice; a run beside its previous one is skipped and recorded"
