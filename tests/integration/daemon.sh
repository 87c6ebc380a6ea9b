#!/usr/bin/env bash
# daemon.sh — #15: a real `coffer daemon` process, its clock set (with
# libfaketime) two seconds before a minute so that jobs due every minute
# come at once:
#   - it runs the jobs due, one line each, and sleeps until the next;
#   - SIGHUP with a broken coffer.yaml keeps it running on the old
#     schedule, says so and alerts (a command receiver); SIGHUP with a
#     good one reloads it and resolves the alert;
#   - SIGTERM while idle ends it at once with exit code 0;
#   - SIGTERM during a 200 MB backup stops the backup cleanly within 2 s,
#     exit code 0, no lock left, the run recorded as stopped, and the
#     repository checks clean;
#   - a restart in the same minute runs nothing again (each slot of each
#     job once in the log).
. "$(dirname "$0")/lib.sh"
command -v faketime >/dev/null || fail "faketime is not installed (scripts/install-deps.sh installs it)"
allow_preload # libfaketime, in the ASan run
FAKETIME_LIB=${FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}

new_repo repo
R=$COFFER_REPOSITORY
mkdir -p "$T/small" "$T/big"
printf 'app\n' >"$T/small/app.conf"
gen_random 200000000 big >"$T/big/blob.bin"
cat >"$T/notify.sh" <<SH
#!/bin/sh
cat >>"$T/notices.jsonl"
SH
chmod +x "$T/notify.sh"
cat >"$T/coffer.yaml" <<YAML
state_dir: $T/state
alerts:
  - { type: command, command: [$T/notify.sh] }
sources:
  small: { type: files, paths: [$T/small] }
  big:   { type: files, paths: [$T/big] }
schedule:
  jobs:
    minutely: { cron: "* * * * *", backup: [small], tag: minutely }
    monitor:  { cron: "* * * * *", monitor: true }
    big:      { cron: "*/2 * * * *", backup: [big] }
YAML
cp "$T/coffer.yaml" "$T/good.yaml"
export COFFER_CONFIG=$T/coffer.yaml

# start_daemon "YYYY-MM-DD HH:MM:SS" N : a daemon whose clock starts then; pid in DAEMON
start_daemon() {
    FAKETIME="@$1" NO_FAKE_STAT=1 LD_PRELOAD=$FAKETIME_LIB "$COFFER" daemon >"$T/daemon$2.out" 2>"$T/daemon$2.err" &
    DAEMON=$!
    on_exit "kill -9 $DAEMON 2>/dev/null"
}
locks_left() { find "$R/locks" -type f 2>/dev/null | wc -l; }

# ---------------------------------------------------------------- runs what is due, then sleeps
start_daemon "2026-01-05 03:00:58" 1
wait_for "$T/daemon1.out" "^2026-01-05T03:01:00Z minutely: ok — backup: 1 saved"
wait_for "$T/daemon1.out" "^2026-01-05T03:01:00Z monitor: "
sleep 1
grep -q " big: " "$T/daemon1.out" && fail "the even-minute job ran at an odd minute: $(cat "$T/daemon1.out")"
kill -0 "$DAEMON" || fail "the daemon ended after its runs: $(cat "$T/daemon1.err")"

# ---------------------------------------------------------------- SIGHUP: a broken file is not taken
printf 'schedule: [\n' >"$T/coffer.yaml"
kill -HUP "$DAEMON"
wait_for "$T/daemon1.err" "coffer: daemon: .*coffer.yaml not reloaded, the schedule goes on as before"
kill -0 "$DAEMON" || fail "a SIGHUP with a broken file ended the daemon"
wait_for "$T/notices.jsonl" '"event":"trigger".*"rule":"config"'
jq -e 'select(.rule == "config") | .source == "daemon" and (.what | test("did not reload"))' "$T/notices.jsonl" >/dev/null ||
    fail "the broken reload's alert: $(cat "$T/notices.jsonl")"
cp "$T/good.yaml" "$T/coffer.yaml"
kill -HUP "$DAEMON"
wait_for "$T/daemon1.err" "coffer: daemon: .*coffer.yaml reloaded \(3 jobs\)"
wait_for "$T/notices.jsonl" '"event":"resolved".*"rule":"config"'
[ "$(grep -c '"rule":"config"' "$T/notices.jsonl")" = 2 ] || fail "not one trigger and one resolve: $(cat "$T/notices.jsonl")"

# ---------------------------------------------------------------- SIGTERM while idle
kill -TERM "$DAEMON"
wait_gone "$DAEMON"
[ "$RC" = 0 ] || fail "SIGTERM on an idle daemon: exit $RC: $(cat "$T/daemon1.err")"
[ "$GONE_MS" -lt 2000 ] || fail "an idle daemon took $GONE_MS ms to end"
[ "$(locks_left)" = 0 ] || fail "the idle daemon left a lock"

# ---------------------------------------------------------------- SIGTERM during a 200 MB backup
start_daemon "2026-01-05 03:03:58" 2
wait_for "$T/daemon2.out" "^2026-01-05T03:04:00Z monitor: "
wait_for "$T/state/ledger.json" '"outcome": "running"'
sleep 0.5 # well into the 200 MB
kill -TERM "$DAEMON"
wait_gone "$DAEMON"
[ "$RC" = 0 ] || fail "SIGTERM during the big backup: exit $RC: $(cat "$T/daemon2.err")"
[ "$GONE_MS" -lt 2000 ] || fail "the daemon took $GONE_MS ms to stop its backup"
note "SIGTERM mid-backup: the daemon ended in $GONE_MS ms"
grep -q "^2026-01-05T03:04:00Z big: stopped — backup: " "$T/daemon2.out" || fail "the stopped run is not reported: $(cat "$T/daemon2.out")"
[ "$(locks_left)" = 0 ] || fail "a lock is left after SIGTERM: $(ls "$R/locks")"
jq -e '.jobs.big.outcome == "stopped"' "$T/state/ledger.json" >/dev/null || fail "the ledger: $(cat "$T/state/ledger.json")"
run_c check --read-data # exit 3: the snapshots are dated in January 2026, and big has none
grep -q "no damage" "$T/out" || { _show_last; fail "check --read-data after the stop"; }

# ---------------------------------------------------------------- a restart in the same minute runs nothing again
start_daemon "2026-01-05 03:04:30" 3
sleep 2
kill -TERM "$DAEMON"
wait_gone "$DAEMON"
[ "$RC" = 0 ] || fail "the restarted daemon: exit $RC"
[ ! -s "$T/daemon3.out" ] || fail "a restart in the same minute ran: $(cat "$T/daemon3.out")"
c_ok "log" log --json
jq -e 'group_by([.job, .slot_time]) | all(length == 1)' "$T/out" >/dev/null || fail "a slot ran twice: $(cat "$T/out")"
# Down from 03:01 to 03:03:58, with the next slot 2 s away: 03:02 and 03:03 are missed, not run.
[ "$(jq_out '[.[] | select(.job == "big")] | map(.slot_time + " " + .outcome) | join(",")')" = \
  "2026-01-05T03:02:00Z missed,2026-01-05T03:04:00Z stopped" ] || fail "the big job's runs: $(cat "$T/out")"
[ "$(jq_out '[.[] | select(.job == "minutely")] | map(.outcome) | join(",")')" = ok,missed,ok ] ||
    fail "the minutely job's runs: $(cat "$T/out")"

pass "a daemon runs what is due and sleeps; SIGHUP keeps a good schedule over a broken file; SIGTERM ends it cleanly, mid-backup too; a restart runs no slot twice"
