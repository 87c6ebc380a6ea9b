#!/usr/bin/env bash
# bench/daemon.sh - what `coffer daemon` costs (issue #15 targets):
#   - idle: CPU over 60 s below 0.1% of a core, RSS below 20 MiB, for a
#     daemon whose next job is far away, serving /metrics, after it read a
#     repository of 10,000 snapshots and 5,000 events to seed its metrics;
#   - its own cost per job run (ledger, locks, event, metrics, alert
#     evaluation: a step's time minus its actions', from COFFER_DEBUG=1's
#     line) below 50 ms, on that repository;
#   - from a failure to the alert: a Redis backup whose server is down,
#     with a PagerDuty receiver on loopback: from the job's start to the
#     trigger's arrival, below 10 s.
# Prints a markdown table, also written to $BENCH_DIR/daemon-results.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=daemon.sh
BENCH_DIR=${BENCH_DIR:-/tmp/coffer-bench}
BUILD=${COFFER_BUILD_DIR:-$ROOT/build}
COFFER_BIN=${COFFER_BIN:-$BUILD/coffer}
SNAPSHOTS=${BENCH_DAEMON_SNAPSHOTS:-10000}
EVENTS=${BENCH_DAEMON_EVENTS:-5000}
IDLE_SECONDS=${BENCH_DAEMON_IDLE:-60}
RUNS=${BENCH_DAEMON_RUNS:-20}
W=$BENCH_DIR/daemon-run
LOGS=$W/logs
RESULTS=$BENCH_DIR/daemon-results.md
. "$ROOT/bench/lib.sh"
[ -x "$COFFER_BIN" ] || die "coffer not built ($COFFER_BIN missing); run: cmake --build build -j2"
cmake --build "$BUILD" --target mksnapshots >/dev/null || die "cannot build mksnapshots"
rm -rf "$W" && mkdir -p "$LOGS" "$W/src"
export COFFER_REPOSITORY=$W/repo COFFER_PASSWORD_FILE=$W/pass COFFER_CONFIG=$W/coffer.yaml
new_password "$W/pass"
printf 'tiny\n' >"$W/src/tiny"
MPORT=29934
cat >"$W/coffer.yaml" <<YAML
state_dir: $W/state
sources:
  tiny: { type: files, paths: [$W/src] }
  cache: { type: redis, url: "redis://127.0.0.1:1" }
metrics: { listen: "127.0.0.1:$MPORT" }
schedule:
  jobs:
    tiny:  { cron: "0 * * * *", backup: [tiny] }
    never: { cron: "0 0 1 1 *", monitor: true }
YAML
"$COFFER_BIN" init --quiet
"$COFFER_BIN" backup tiny --quiet --time 2026-01-01T00:00:00Z
log "filling the repository: $SNAPSHOTS snapshots, $EVENTS events"
"$BUILD/mksnapshots" "$W/repo" "$SNAPSHOTS" 1451606400 1767225600 7 "$EVENTS" >&2

# ---- the daemon's own cost per run
: >"$W/overhead.txt"
for i in $(seq 1 "$RUNS"); do
    now=$(date -u -d "2026-02-01T00:00:00Z + $i hours" +%Y-%m-%dT%H:%M:%SZ)
    COFFER_DEBUG=1 "$COFFER_BIN" daemon --once --now "$now" >"$LOGS/run$i.out" 2>"$LOGS/run$i.err" || true
    sed -n 's/.*daemon: job tiny: step \([0-9.]*\) ms, of which its actions \([0-9.]*\) ms, the daemon.s own \([0-9.]*\) ms.*/\1 \2 \3/p' \
        "$LOGS/run$i.err" >>"$W/overhead.txt"
done
[ "$(wc -l <"$W/overhead.txt")" -ge "$RUNS" ] || die "no step timings in the debug output (logs in $LOGS)"
read -r step_ms action_ms own_ms own_max <<<"$(awk '{ s += $1; a += $2; o += $3; if ($3 > m) m = $3 } END {
    printf "%.1f %.1f %.1f %.1f", s / NR, a / NR, o / NR, m }' "$W/overhead.txt")"
log "  per run: step $step_ms ms, actions $action_ms ms, the daemon's own $own_ms ms (max $own_max)"

# ---- idle
"$COFFER_BIN" daemon --quiet >"$LOGS/idle.out" 2>"$LOGS/idle.err" &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$MPORT/metrics" >/dev/null && break; sleep 0.1; done
sleep 2
ticks=$(getconf CLK_TCK)
cpu0=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
sleep "$IDLE_SECONDS"
cpu1=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
rss_kib=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID/status")
idle_pct=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$ticks" -v s="$IDLE_SECONDS" 'BEGIN { printf "%.3f", 100 * (b - a) / t / s }')
kill -TERM "$PID"; wait "$PID" || true
trap - EXIT
log "  idle: ${idle_pct}% of a core over $IDLE_SECONDS s, RSS $((rss_kib / 1024)) MiB"

# ---- from a failure to the alert
printf 'bench-key\n' >"$W/pd-key"
python3 "$ROOT/tests/tools/receiver.py" "$W/requests.jsonl" "$W/port" &
RECEIVER=$!
trap 'kill $RECEIVER 2>/dev/null' EXIT
for _ in $(seq 1 50); do [ -s "$W/port" ] && break; sleep 0.1; done
cat >>"$W/coffer.yaml" <<YAML
alerts:
  - { type: pagerduty, routing_key_file: $W/pd-key, url: "http://127.0.0.1:$(cat "$W/port")/pagerduty" }
YAML
sed -i 's|    never: { cron: "0 0 1 1 \*", monitor: true }|    never: { cron: "0 0 1 1 *", monitor: true }\n    cache: { cron: "0 3 * * *", backup: [cache] }|' "$W/coffer.yaml"
start=$(date +%s%N)
"$COFFER_BIN" daemon --once --job cache --now 2026-03-01T03:00:00Z >"$LOGS/alert.out" 2>"$LOGS/alert.err" || true
for _ in $(seq 1 200); do [ -s "$W/requests.jsonl" ] && break; sleep 0.05; done
arrived=$(date -r "$W/requests.jsonl" +%s%N) # the receiver wrote its line as the request came
alert_s=$(awk -v a="$start" -v b="$arrived" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
grep -q 'event_action.*trigger' "$W/requests.jsonl" || die "no trigger arrived (logs in $LOGS)"
kill "$RECEIVER"; trap - EXIT
log "  failure to alert: $alert_s s"

rss_mib=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')
{
    echo "| measure | coffer | target | |"
    echo "|---|---|---|---|"
    echo "| idle CPU over ${IDLE_SECONDS} s | ${idle_pct}% of a core | < 0.1% | $(at_most "$idle_pct" 0.1) |"
    echo "| idle RSS ($SNAPSHOTS snapshots, $EVENTS events seeded, /metrics served) | $rss_mib MiB | < 20 MiB | $(at_most "$rss_mib" 20) |"
    echo "| the daemon's own cost per run (mean of $RUNS; max $own_max ms) | $own_ms ms | < 50 ms | $(at_most "$own_ms" 50) |"
    echo "| a run's step (its backup of one file $action_ms ms) | $step_ms ms | | |"
    echo "| from the job's start to the PagerDuty trigger received | $alert_s s | < 10 s | $(at_most "$alert_s" 10) |"
} | tee "$RESULTS"
