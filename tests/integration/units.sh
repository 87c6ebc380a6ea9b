#!/usr/bin/env bash
# units.sh — #15: the schedule as systemd units and crontab lines.
#   - `schedule install --systemd` writes a .timer and a .service per job
#     that `systemd-analyze verify` passes; `--daemon` one coffer.service;
#   - for every job, `systemd-analyze calendar` on the timer's OnCalendar=
#     lines names the same next five times as `coffer schedule list`, in
#     UTC and in Europe/Berlin, the either-day rule included;
#   - the hardening is there (ProtectSystem=strict, ReadWritePaths= the
#     state directory and the repository, NoNewPrivileges, PrivateTmp,
#     Nice, IOSchedulingClass=idle; Persistent=, RandomizedDelaySec= with
#     FixedRandomDelay=);
#   - `--cron` prints a line per job, and that line's command runs the job
#     at its minute whatever the jitter (`daemon --once --job`).
. "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (scripts/install-deps.sh installs systemd)"

new_repo repo
mkdir -p "$T/src" "$T/units" "$T/units-berlin"
printf 'x\n' >"$T/src/x"
write_config() { # write_config FILE ZONE JITTER
    cat >"$1" <<YAML
state_dir: $T/state
sources:
  files: { type: files, paths: [$T/src] }
retention: { last: 100 }
schedule:
  timezone: $2
  jitter: $3
  jobs:
$(runbook_jobs)
    friday13:  { cron: "0 0 13 * 5", monitor: true }
    workdays:  { cron: "45 8-18/2 * 3-11 mon-fri", monitor: true }
YAML
}
write_config "$T/coffer.yaml" UTC 0s
write_config "$T/berlin.yaml" Europe/Berlin 0s
export COFFER_CONFIG=$T/coffer.yaml
jobs="hourly daily weekly monthly retention verify drill monitor friday13 workdays"

c_ok "install --systemd" schedule install --systemd --dir "$T/units" --user root
[ "$(ls "$T/units" | wc -l)" = 20 ] || fail "not a timer and a service per job: $(ls "$T/units")"
grep -q "systemctl daemon-reload && systemctl enable --now coffer-hourly.timer" "$T/out" || fail "no systemctl line: $(cat "$T/out")"
systemd-analyze verify --man=no "$T"/units/*.timer "$T"/units/*.service >"$T/verify.out" 2>&1 ||
    fail "systemd-analyze verify: $(cat "$T/verify.out")"
for key in "ProtectSystem=strict" "NoNewPrivileges=yes" "PrivateTmp=yes" "Nice=10" "IOSchedulingClass=idle" \
           "ReadWritePaths=$T/state $COFFER_REPOSITORY" "ExecStart=$COFFER daemon --once --job daily --config $T/coffer.yaml" \
           "SuccessExitStatus=3" "User=root"; do
    grep -qxF "$key" "$T/units/coffer-daily.service" || fail "coffer-daily.service lacks $key: $(cat "$T/units/coffer-daily.service")"
done
grep -qx "Persistent=true" "$T/units/coffer-daily.timer" || fail "the timer is not Persistent"

# systemd-analyze calendar and schedule list name the same times
same_times() { # same_times CONFIG UNITS BASE
    local base=$3 job
    COFFER_CONFIG=$1 run_c schedule list --json --now "$base"
    expect_ok "schedule list --json"
    cp "$T/out" "$T/list.json"
    for job in $jobs; do
        grep '^OnCalendar=' "$2/coffer-$job.timer" | cut -d= -f2- | while read -r expr; do
            TZ=UTC systemd-analyze calendar --iterations=5 --base-time="$(date -u -d "$base" '+%Y-%m-%d %H:%M:%S UTC')" "$expr" |
                sed -n 's/^ *\(Next elapse\|Iter. #[0-9]*\): [A-Z][a-z][a-z] \(.*\) UTC$/\2/p'
        done | sort -u | head -n 5 | while read -r d t; do echo "${d}T${t}Z"; done | paste -sd, - >"$T/systemd.times"
        want=$(jq -r --arg job "$job" '.[] | select(.job == $job) | .next | join(",")' "$T/list.json")
        [ "$(cat "$T/systemd.times")" = "$want" ] ||
            fail "job $job ($1): systemd-analyze calendar says $(cat "$T/systemd.times"), schedule list says $want"
    done
}
same_times "$T/coffer.yaml" "$T/units" 2026-01-01T00:30:00Z
COFFER_CONFIG=$T/berlin.yaml run_c schedule install --systemd --dir "$T/units-berlin" --user root
expect_ok "install --systemd, Europe/Berlin"
grep -qx "OnCalendar=\*-\*-\* 02:00:00 Europe/Berlin" "$T/units-berlin/coffer-daily.timer" || fail "the zone is not in OnCalendar"
grep -qx "OnCalendar=Fri \*-\*-\* 00:00:00 Europe/Berlin" "$T/units-berlin/coffer-friday13.timer" &&
    grep -qx "OnCalendar=\*-\*-13 00:00:00 Europe/Berlin" "$T/units-berlin/coffer-friday13.timer" ||
    fail "the either-day rule is not two OnCalendar lines: $(cat "$T/units-berlin/coffer-friday13.timer")"
same_times "$T/berlin.yaml" "$T/units-berlin" 2026-06-10T12:00:00Z

# jitter: systemd's own delay, fixed per machine
write_config "$T/jitter.yaml" UTC 5m
COFFER_CONFIG=$T/jitter.yaml run_c schedule install --systemd --dir "$T/units-jitter" --user root
expect_ok "install --systemd with jitter"
grep -qx "RandomizedDelaySec=300" "$T/units-jitter/coffer-daily.timer" && grep -qx "FixedRandomDelay=true" "$T/units-jitter/coffer-daily.timer" ||
    fail "no RandomizedDelaySec= with FixedRandomDelay=: $(cat "$T/units-jitter/coffer-daily.timer")"

c_ok "install --systemd --daemon" schedule install --systemd --daemon --dir "$T/units-daemon" --user root
systemd-analyze verify --man=no "$T/units-daemon/coffer.service" >"$T/verify.out" 2>&1 || fail "verify coffer.service: $(cat "$T/verify.out")"
grep -qx "ExecReload=/bin/kill -HUP \$MAINPID" "$T/units-daemon/coffer.service" || fail "coffer.service cannot reload"

# ---------------------------------------------------------------- crontab lines
COFFER_CONFIG=$T/jitter.yaml run_c schedule install --cron
expect_ok "install --cron"
grep -qxF "0 2 * * *      $COFFER daemon --once --quiet --job daily --config $T/jitter.yaml" "$T/out" || fail "the daily crontab line: $(cat "$T/out")"
[ "$(grep -c -- '--job' "$T/out")" = 10 ] || fail "not a crontab line per job"
# The line's command at the job's minute runs it, jitter or not; the plain --once would wait for the jitter.
COFFER_CONFIG=$T/jitter.yaml run_c daemon --once --job daily --now 2026-01-01T02:00:00Z
grep -q "daily: ok — backup: 1 saved" "$T/out" || fail "daemon --once --job daily at 02:00 did not run it: $(cat "$T/out")"
grep -qv "daily" "$T/out" && fail "daemon --once --job daily ran other jobs: $(cat "$T/out")"
COFFER_CONFIG=$T/jitter.yaml run_c daemon --once --job nosuch
expect_rc 2 "--job of no job"
run_c schedule install --systemd --dir /proc/nowhere
expect_rc 1 "install into a directory that cannot be written"
expect_err_match "unwritable" "give --dir a directory you may write"
run_c schedule install
expect_rc 2 "install without --systemd or --cron"

pass "units that systemd-analyze verifies, whose times systemd-analyze calendar agrees with (UTC, Europe/Berlin, either-day); crontab lines that run their job"
