#!/usr/bin/env bash
# metrics.sh — #15: the daemon's metrics, as Prometheus sees them.
#   - a daemon (clock set by libfaketime just before a minute) runs a
#     backup, a check and a drill, and serves /metrics: `promtool check
#     metrics` passes, and the values are the snapshot's (time, size,
#     added), the objectives, the drill's, the check's, the runs counted;
#   - the textfile for node_exporter holds the same and passes promtool;
#   - a real Prometheus server (Debian's) scrapes the daemon, and its
#     query API returns the series with the right values;
#   - the example alert rules (contrib/prometheus) pass `promtool test
#     rules`: they fire on a stale source;
#   - a bad listen address, or a port another process holds, is refused at
#     start.
. "$(dirname "$0")/lib.sh"
for tool in promtool prometheus faketime curl; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs it)"
done
allow_preload # libfaketime, in the ASan run
FAKETIME_LIB=${FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}
MPORT=${COFFER_METRICS_TEST_PORT:-29914}
PPORT=$((MPORT + 1))

new_repo repo
mkdir -p "$T/src"
gen_random 300000 m >"$T/src/data.bin"
cat >"$T/coffer.yaml" <<YAML
state_dir: $T/state
objectives: { rpo: 1h, rto: 10m }
metrics:
  listen: 127.0.0.1:$MPORT
  textfile: $T/coffer.prom
sources:
  files: { type: files, paths: [$T/src] }
schedule:
  jobs:
    backup: { cron: "* * * * *", backup: all }
    verify: { cron: "* * * * *", check: { read_data: 100% } }
    drill:  { cron: "* * * * *", drill: all }
YAML
export COFFER_CONFIG=$T/coffer.yaml

FAKETIME="@2026-01-05 03:00:58" NO_FAKE_STAT=1 LD_PRELOAD=$FAKETIME_LIB "$COFFER" daemon >"$T/daemon.out" 2>"$T/daemon.err" &
DAEMON=$!
on_exit "kill -9 $DAEMON 2>/dev/null"
wait_for "$T/daemon.out" "^2026-01-05T03:01:00Z drill: ok"
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$T/metrics.txt" || fail "no /metrics on port $MPORT: $(cat "$T/daemon.err")"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 || fail "promtool check metrics: $(cat "$T/promtool.out")"
value() { awk -v s="$1" '$1 == s { print $2 }' "${2:-$T/metrics.txt}"; }
run_c snapshots --json
expect_ok "snapshots"
snap_time=$(date -u -d "$(jq_out '.[0].time')" +%s)
[ "$snap_time" = 1767582060 ] || fail "the snapshot is not dated by the daemon's clock: $(jq_out '.[0].time')"
for pair in \
    "coffer_last_success_timestamp_seconds{source=\"files\"}=$snap_time" \
    "coffer_snapshot_size_bytes{source=\"files\"}=$(jq_out '.[0].size')" \
    "coffer_snapshot_added_bytes{source=\"files\"}=$(jq_out '.[0].added')" \
    "coffer_last_run_status{source=\"files\"}=1" \
    "coffer_rpo_objective_seconds{source=\"files\"}=3600" \
    "coffer_rto_objective_seconds{source=\"files\"}=600" \
    "coffer_drill_last_success_timestamp_seconds{source=\"files\"}=1767582060" \
    "coffer_check_last_success_timestamp_seconds{repository=\"$COFFER_REPOSITORY\"}=1767582060" \
    "coffer_check_read_coverage_ratio{repository=\"$COFFER_REPOSITORY\"}=1" \
    "coffer_job_runs_total{job=\"backup\",outcome=\"ok\"}=1" \
    "coffer_job_runs_total{job=\"drill\",outcome=\"ok\"}=1"; do
    [ "$(value "${pair%=*}")" = "${pair##*=}" ] || fail "/metrics: ${pair%=*} is $(value "${pair%=*}"), not ${pair##*=}"
done
stored=$(value "coffer_repository_stored_bytes{repository=\"$COFFER_REPOSITORY\"}")
packs=$(find "$COFFER_REPOSITORY/data" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
[ "$stored" = "$packs" ] || fail "coffer_repository_stored_bytes is $stored, the packs hold $packs"
rto=$(value 'coffer_drill_rto_seconds{source="files"}')
awk -v r="$rto" 'BEGIN { exit !(r > 0 && r < 60) }' || fail "coffer_drill_rto_seconds is $rto"
grep -Eq '="[0-9a-f]{8,}"' "$T/metrics.txt" && fail "a label holds a snapshot id: $(grep -E '="[0-9a-f]{8,}"' "$T/metrics.txt")"
grep -v '^#' "$T/metrics.txt" | grep -Eo '\{[^}]*\}' | grep -Eo '[a-z_]+=' | sort -u | paste -sd, - | grep -qx 'job=,outcome=,repository=,source=' ||
    fail "labels other than job, outcome, repository, source: $(grep -v '^#' "$T/metrics.txt" | grep -Eo '[a-z_]+=' | sort -u)"
promtool check metrics <"$T/coffer.prom" >"$T/promtool.out" 2>&1 || fail "promtool check metrics on the textfile: $(cat "$T/promtool.out")"
[ "$(value 'coffer_job_runs_total{job="verify",outcome="ok"}' "$T/coffer.prom")" = 1 ] || fail "the textfile lacks the runs"
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/other" | grep -q 404 || fail "a path other than /metrics is not 404"

# ---------------------------------------------------------------- a real Prometheus scrapes it
cat >"$T/prometheus.yml" <<YAML
global: { scrape_interval: 1s }
scrape_configs:
  - job_name: coffer
    static_configs: [{ targets: ["127.0.0.1:$MPORT"] }]
YAML
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" --web.listen-address="127.0.0.1:$PPORT" \
    >"$T/prometheus.log" 2>&1 &
PROM=$!
on_exit "kill $PROM 2>/dev/null; wait $PROM 2>/dev/null"
got=
for _ in $(seq 1 150); do
    got=$(curl -sf "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode 'query=coffer_last_success_timestamp_seconds{source="files"}' |
        jq -r '.data.result[0].value[1] // empty' 2>/dev/null)
    [ -n "$got" ] && break
    sleep 0.2
done
[ "$got" = "$snap_time" ] || fail "Prometheus's query API gives '$got' for coffer_last_success_timestamp_seconds, not $snap_time: $(tail -n 5 "$T/prometheus.log")"
up=$(curl -sf "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode 'query=up{job="coffer"}' | jq -r '.data.result[0].value[1]')
[ "$up" = 1 ] || fail "Prometheus does not see the daemon up"
runs=$(curl -sf "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode 'query=sum(coffer_job_runs_total)' | jq -r '.data.result[0].value[1]')
[ "$runs" = 3 ] || fail "Prometheus counts $runs runs, not 3"
kill -TERM "$DAEMON"
wait_gone "$DAEMON"
[ "$RC" = 0 ] || fail "the daemon did not end cleanly: $RC"

# ---------------------------------------------------------------- a restarted daemon starts from the repository
# (--once, nothing due: the textfile holds only what the seed read from the snapshots and events)
rm -f "$T/coffer.prom"
run_c daemon --once --now 2026-01-05T03:01:30Z
expect_ok "daemon --once with nothing due"
for pair in \
    "coffer_last_success_timestamp_seconds{source=\"files\"}=$snap_time" \
    "coffer_repository_stored_bytes{repository=\"$COFFER_REPOSITORY\"}=$packs" \
    "coffer_drill_last_success_timestamp_seconds{source=\"files\"}=1767582060" \
    "coffer_check_last_success_timestamp_seconds{repository=\"$COFFER_REPOSITORY\"}=1767582060"; do
    [ "$(value "${pair%=*}" "$T/coffer.prom")" = "${pair##*=}" ] ||
        fail "the seeded textfile: ${pair%=*} is $(value "${pair%=*}" "$T/coffer.prom"), not ${pair##*=}"
done

# ---------------------------------------------------------------- the example rules, and a bad address
promtool test rules "$REPO_ROOT/tests/prometheus/coffer-rules.test.yml" >"$T/rules.out" 2>&1 ||
    fail "promtool test rules: $(cat "$T/rules.out")"
python3 -m http.server --bind 127.0.0.1 "$MPORT" >/dev/null 2>&1 &
HOLDER=$!
on_exit "kill $HOLDER 2>/dev/null"
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$MPORT/" && break; sleep 0.1; done
run_c daemon
expect_rc 1 "a daemon whose metrics port is taken"
expect_err_match "port taken" "metrics: cannot listen on 127.0.0.1:$MPORT"
kill "$HOLDER"
sed -i "s|listen: 127.0.0.1:$MPORT|listen: nowhere:80|" "$T/coffer.yaml"
run_c daemon
expect_rc 2 "a daemon with a bad listen address"
expect_err_match "bad listen" "metrics: listen: \"nowhere:80\" names no address"

pass "/metrics and the textfile pass promtool with the run's values; a real Prometheus scrapes them; the example rules fire on a stale source"
