#!/usr/bin/env bash
# alerts.sh — #15: alerts are incidents, not messages. A real redis-server
# and loopback receivers (tests/tools/receiver.py standing in for
# PagerDuty, Slack, healthchecks.io and a webhook; a command) while the
# schedule is walked with `coffer daemon --once --now`:
#   - all well: no incident, healthchecks gets /start and success per run;
#   - Redis stopped: the backup fails, and exactly one PagerDuty trigger
#     (Events API v2 fields, the routing key from its file), one Slack
#     message, one webhook (signature verified by the receiver), one
#     command run, one healthchecks /fail; an hour of monitor runs later
#     still one of each;
#   - Redis back: the next backup resolves it — exactly one resolve each,
#     with the trigger's dedup_key;
#   - a receiver answering 500 gets the notice again later (the outbox);
#   - a broken incident book is put aside and said;
#   - no secret (routing key, Slack URL token, HMAC key) in any output, log,
#     the state directory, or the command receiver's argv and environment.
. "$(dirname "$0")/lib.sh"

RT=$REPO_ROOT/tests/redis
PORT=${COFFER_ALERTS_REDIS_PORT:-26393}
export COFFER_REDIS_DIR=$T/redis COFFER_REDIS_PORT=$PORT
"$RT/server.sh" start >/dev/null || fail "cannot start the test redis-server"
on_exit 'COFFER_REDIS_DIR=$T/redis "$RT/server.sh" stop >/dev/null 2>&1'
redis-cli -p "$PORT" set greeting hello >/dev/null

printf 'pd-routing-%s\n' "$RANDOM$RANDOM" >"$T/pd-key"
printf 'hmac-secret-%s\n' "$RANDOM$RANDOM" >"$T/hmac"
python3 "$REPO_ROOT/tests/tools/receiver.py" "$T/requests.jsonl" "$T/port" "$T/hmac" &
RECEIVER=$!
on_exit "kill $RECEIVER 2>/dev/null"
for _ in $(seq 1 50); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "the receiver did not start"
H=http://127.0.0.1:$(cat "$T/port")
SLACK_TOKEN=T0/B0/slack-token-$RANDOM$RANDOM
printf '%s/slack/%s\n' "$H" "$SLACK_TOKEN" >"$T/slack-url"
cat >"$T/notify.sh" <<SH
#!/bin/sh
cat >>"$T/command.jsonl"
{ echo "\$0 \$*"; env; } >>"$T/notify.env"
SH
chmod +x "$T/notify.sh"

new_repo repo
cat >"$T/coffer.yaml" <<YAML
state_dir: $T/state
health: { max_age: 30d }
sources:
  cache: { type: redis, url: "redis://127.0.0.1:$PORT" }
alerts:
  - { type: pagerduty, routing_key_file: $T/pd-key, url: "$H/pagerduty", severity: critical }
  - { type: slack, url_file: $T/slack-url }
  - { type: healthchecks, url: "$H/hc/0b7e6a1c" }
  - { type: webhook, url: "$H/webhook", secret_file: $T/hmac }
  - { type: command, command: [$T/notify.sh] }
schedule:
  jobs:
    cache:   { cron: "0 2 * * *", backup: [cache] }
    verify:  { cron: "0 1 * * *", check: {} }
    monitor: { cron: "*/15 * * * *", monitor: true }
YAML
export COFFER_CONFIG=$T/coffer.yaml

requests() { # requests PATH-ERE [JQ-FILTER] : how many requests to matching paths (and the filter)
    jq -c --arg re "$1" "select(.path | test(\$re)) ${2:+| select($2)}" "$T/requests.jsonl" 2>/dev/null | wc -l
}
once() {
    run_c daemon --once --now "$1"
    [ "$RC" = 0 ] || [ "$RC" = 3 ] || [ "$RC" = 1 ] || { _show_last; fail "daemon --once --now $1: exit $RC"; }
    cat "$T/out" "$T/err" >>"$T/daemon.log"
}

# ---------------------------------------------------------------- all well
c_ok "the first backup" backup cache --time 2026-01-05T00:30:00Z
once 2026-01-05T01:00:00Z
[ "$(requests '^/(pagerduty|slack|webhook)')" = 0 ] || fail "alerts while all is well: $(cat "$T/requests.jsonl")"
[ ! -s "$T/command.jsonl" ] || fail "the command ran while all is well"
[ "$(requests '^/hc/0b7e6a1c/start$')" = 2 ] || fail "healthchecks did not get a /start per run (verify, monitor)"
[ "$(requests '^/hc/0b7e6a1c$')" = 2 ] || fail "healthchecks did not get a success per run"
rid=$(jq -r 'select(.path == "/hc/0b7e6a1c/start") | .query' "$T/requests.jsonl" | head -n 1)
[[ $rid =~ ^rid=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || fail "the run id is not a UUID: $rid"
[ "$(jq -r "select(.query == \"$rid\") | .path" "$T/requests.jsonl" | sort | paste -sd, -)" = /hc/0b7e6a1c,/hc/0b7e6a1c/start ] ||
    fail "a run's start and end pings do not share its rid"

# ---------------------------------------------------------------- Redis stopped: one incident
"$RT/server.sh" stop >/dev/null
once 2026-01-05T02:00:00Z
grep -q "cache: failed — backup: " "$T/out" || fail "the backup of a stopped Redis did not fail: $(cat "$T/out")"
for t in 02:15 02:30 02:45 03:00; do once "2026-01-05T$t:00Z"; done
[ "$(requests '^/pagerduty$' '.body | fromjson | .event_action == "trigger"')" = 1 ] ||
    fail "not exactly one PagerDuty trigger: $(grep pagerduty "$T/requests.jsonl")"
# (jq -s: with -e, jq 1.6 judges by the last input, which a select may have dropped)
jq -s -e --arg key "$(cat "$T/pd-key")" 'map(select(.path == "/pagerduty"))[0].body | fromjson |
        .routing_key == $key and .event_action == "trigger" and (.dedup_key | test("^coffer-[0-9a-f]{32}$"))
        and (.payload.summary | test("job cache: failed")) and .payload.source != null and .payload.severity == "critical"' \
    "$T/requests.jsonl" >/dev/null || fail "the PagerDuty trigger lacks Events API v2 fields: $(grep pagerduty "$T/requests.jsonl")"
[ "$(requests '^/slack/')" = 1 ] || fail "not exactly one Slack message"
[ "$(requests '^/webhook$' '.signature_ok == true')" = 1 ] || fail "not exactly one signed webhook: $(grep webhook "$T/requests.jsonl")"
[ "$(requests '^/webhook$' '.signature_ok != true')" = 0 ] || fail "a webhook with a bad signature"
[ "$(wc -l <"$T/command.jsonl")" = 1 ] || fail "the command did not run exactly once"
jq -e '.event == "trigger" and .source == "job cache" and .rule == "failed"' "$T/command.jsonl" >/dev/null ||
    fail "the command's stdin: $(cat "$T/command.jsonl")"
[ "$(requests '^/hc/0b7e6a1c/fail$')" = 1 ] || fail "not exactly one healthchecks /fail"
jq -s -e 'map(select(.path == "/hc/0b7e6a1c/fail"))[0].body | test("cache: failed")' "$T/requests.jsonl" >/dev/null ||
    fail "the /fail ping does not carry the run's log"
dedup=$(jq -r 'select(.path == "/pagerduty") | .body | fromjson | .dedup_key' "$T/requests.jsonl")
run_c status --json
expect_rc 3 "status with an open incident"
jq -e --arg d "$dedup" '.daemon.incidents | length == 1 and .[0].source == "job cache" and .[0].rule == "failed"
        and .[0].key == $d' "$T/out" >/dev/null || fail "status --json lacks the open incident: $(jq -c .daemon "$T/out")"
jq -e '[.daemon.jobs[] | {(.job): .last.outcome}] | add | .cache == "failed" and .monitor == "ok"' "$T/out" >/dev/null ||
    fail "status --json jobs: $(jq -c .daemon.jobs "$T/out")"
run_c status
grep -q "INCIDENT job cache: failed: " "$T/out" || fail "status does not show the incident: $(cat "$T/out")"
grep -Eq "^  cache +next [0-9-]+T02:00:00Z, last failed: " "$T/out" || fail "status does not show the job's next run and failure: $(cat "$T/out")"

# ---------------------------------------------------------------- Redis back: one resolve
"$RT/server.sh" start >/dev/null
once 2026-01-06T02:00:00Z
grep -q "cache: ok" "$T/out" || fail "the backup with Redis back: $(cat "$T/out")"
[ "$(requests '^/pagerduty$' '.body | fromjson | .event_action == "resolve"')" = 1 ] || fail "not exactly one PagerDuty resolve"
jq -s -e --arg d "$dedup" 'map(select(.path == "/pagerduty") | .body | fromjson | select(.event_action == "resolve"))
        | length == 1 and .[0].dedup_key == $d' "$T/requests.jsonl" >/dev/null || fail "the resolve does not carry the trigger's dedup_key"
[ "$(requests '^/slack/' '.body | fromjson | .text | startswith("Resolved: ")')" = 1 ] || fail "not exactly one Slack resolve"
[ "$(requests '^/webhook$' '.body | fromjson | .event == "resolved"')" = 1 ] || fail "not exactly one webhook resolve"
[ "$(jq -r .event "$T/command.jsonl" | paste -sd, -)" = trigger,resolved ] || fail "the command's notices: $(cat "$T/command.jsonl")"
[ "$(requests '^/(pagerduty|slack|webhook)')" = 6 ] || fail "more than a trigger and a resolve each: $(cat "$T/requests.jsonl")"
jq -e '.open == []' "$T/state/incidents.json" >/dev/null || fail "incidents left open: $(cat "$T/state/incidents.json")"
run_c status --json
jq -e '.daemon.incidents == []' "$T/out" >/dev/null || fail "status still shows an incident: $(jq -c .daemon "$T/out")"

# ---------------------------------------------------------------- a receiver that fails gets it later
sed -i "s|url: \"$H/webhook\"|url: \"$H/flaky/1/webhook\"|" "$T/coffer.yaml"
"$RT/server.sh" stop >/dev/null
once 2026-01-07T02:00:00Z
grep -q "alert not delivered, tried again in a minute: alerts\[3\] (webhook): the receiver answered HTTP 500" "$T/out" ||
    fail "the failed delivery is not said: $(cat "$T/out")"
[ "$(requests '^/flaky/1/webhook$')" = 1 ] || fail "the flaky webhook was not tried"
once 2026-01-07T02:15:00Z # the monitor run, a quarter hour on: the outbox is tried again
[ "$(requests '^/flaky/1/webhook$' '.status == 200')" = 1 ] || fail "the notice was not delivered on the next try"
jq -e '.outbox == [] and .failures >= 1' "$T/state/incidents.json" >/dev/null || fail "the outbox: $(cat "$T/state/incidents.json")"

# ---------------------------------------------------------------- a broken incident book
printf 'not json' >"$T/state/incidents.json"
once 2026-01-07T02:30:00Z
grep -q "warning: the incident book $T/state/incidents.json could not be read .* kept as $T/state/incidents.json.bad" "$T/out" ||
    fail "a broken incident book is not said: $(cat "$T/out")"
jq -e '.version == 1' "$T/state/incidents.json" >/dev/null || fail "no new incident book was started"

# ---------------------------------------------------------------- no secret anywhere
c_ok "log" log --json
cat "$T/out" >>"$T/daemon.log"
[ -s "$T/notify.env" ] || fail "the command receiver's arguments and environment were not recorded"
for secret in "$(cat "$T/pd-key")" "$SLACK_TOKEN" "$(cat "$T/hmac")"; do
    grep -rqF "$secret" "$T/daemon.log" "$T/state" "$T/command.jsonl" "$T/notify.env" &&
        fail "a secret is in the output, the log, the state, or the command receiver's arguments or environment"
done

pass "one trigger and one resolve per incident to PagerDuty, Slack, a signed webhook and a command; healthchecks pings per run with /fail once; a failed delivery is tried again; no secret leaks"
