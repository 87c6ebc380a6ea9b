#!/usr/bin/env bash
# bench/chunks.sh - chunk-size and zstd-level sweep for coffer's streams.
#
# For each configuration (average stream chunk size x zstd level) it creates
# a fresh coffer repository, backs up the generated dump from stdin, then
# backs up the changed dump (~1% of rows changed, in clusters by default),
# and records the repository size after the first backup, the growth from
# the second one, and the wall/CPU time and peak RSS of both backups.
# Prints a markdown table, also written to $BENCH_DIR/chunks.md.
# See bench/README.md for the environment variables.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/coffer-bench}
BENCH_SIZE_MB=${BENCH_SIZE_MB:-1024}
BENCH_SEED=${BENCH_SEED:-1}
BENCH_CHANGE_PCT=${BENCH_CHANGE_PCT:-1}
BENCH_CHANGE_MODE=${BENCH_CHANGE_MODE:-clustered}
# "AVG:LEVEL" pairs, in table order
CHUNKS_CONFIGS=${CHUNKS_CONFIGS:-"32K:3 64K:1 64K:2 64K:3 128K:2 128K:3 256K:2 256K:3 1M:2 1M:3"}
COFFER_BIN=${COFFER_BIN:-$ROOT/build/coffer}
TIME=/usr/bin/time

log() { printf '%s\n' "$*" >&2; }
die() { log "chunks.sh: $*"; exit 1; }

case $BENCH_SIZE_MB in '' | *[!0-9]* | 0) die "BENCH_SIZE_MB must be a positive integer" ;; esac
case $BENCH_DIR in /*) ;; *) die "BENCH_DIR must be an absolute path" ;; esac
[ "$BENCH_DIR" != / ] || die "BENCH_DIR must not be /"
case $BENCH_CHANGE_MODE in clustered | uniform) ;; *) die "BENCH_CHANGE_MODE must be clustered or uniform" ;; esac
[ -x "$COFFER_BIN" ] || die "coffer not built ($COFFER_BIN missing)"
for c in $CHUNKS_CONFIGS; do
	case $c in *[0-9KMkm]:*[0-9]) ;; *) die "bad entry in CHUNKS_CONFIGS: $c (want AVG:LEVEL, e.g. 64K:3)" ;; esac
done

need=()
[ -x "$TIME" ] || need+=(time)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing packages (${need[*]}); install them or run as root"
	log "installing: ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# ------------------------------------------------------------ layout
# Everything lives under chunks-* names, so run.sh's data cache, repos and
# results are left alone.
DATA=$BENCH_DIR/data
BASE=$DATA/chunks-dump.sql
CHANGED=$DATA/chunks-dump-changed.sql
STAMP=$DATA/chunks-stamp
REPO=$BENCH_DIR/chunks-repo
HOMEDIR=$BENCH_DIR/chunks-home
LOGS=$BENCH_DIR/chunks-logs
PWFILE=$BENCH_DIR/chunks-password
TSV=$BENCH_DIR/chunks.tsv
OUT=$BENCH_DIR/chunks.md
mkdir -p "$BENCH_DIR/bin" "$DATA"
rm -rf "$LOGS"
mkdir -p "$LOGS"

avail_kb=$(df -Pk "$BENCH_DIR" | awk 'NR == 2 { print $4 }')
if [ "$avail_kb" -lt $((BENCH_SIZE_MB * 1024 * 3)) ]; then
	log "warning: only $((avail_kb / 1024)) MiB free in $BENCH_DIR, about $((BENCH_SIZE_MB * 3)) MiB are needed"
fi

# ------------------------------------------------------------ data
GEN=$BENCH_DIR/bin/gendump-chunks
cc -O2 -Wall -o "$GEN" "$ROOT/bench/gendump.c" -lm

src=$(sha256sum "$ROOT/bench/gendump.c" | cut -c1-16)
stamp="size=$BENCH_SIZE_MB seed=$BENCH_SEED src=$src change=$BENCH_CHANGE_PCT mode=$BENCH_CHANGE_MODE"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$stamp" ] && [ -f "$BASE" ] && [ -f "$CHANGED" ]; then
	log "reusing $BASE and $CHANGED"
else
	log "generating $BASE and $CHANGED ($BENCH_SIZE_MB MiB, $BENCH_CHANGE_PCT% of rows changed, $BENCH_CHANGE_MODE)"
	rm -f "$STAMP" "$BASE" "$CHANGED"
	"$GEN" dump -s "$BENCH_SIZE_MB" -S "$BENCH_SEED" >"$BASE" 2>"$DATA/chunks-dump.info"
	"$GEN" dump -s "$BENCH_SIZE_MB" -S "$BENCH_SEED" -c "$BENCH_CHANGE_PCT" -m "$BENCH_CHANGE_MODE" \
		>"$CHANGED" 2>"$DATA/chunks-dump-changed.info"
	sync
	echo "$stamp" >"$STAMP"
fi

# ------------------------------------------------------------ environment
printf 'coffer-chunks-%s\n' "$BENCH_SEED" >"$PWFILE"
chmod 600 "$PWFILE"
export COFFER_PASSWORD_FILE=$PWFILE COFFER_REPOSITORY=$REPO
export XDG_CACHE_HOME=$HOMEDIR/xdg-cache XDG_CONFIG_HOME=$HOMEDIR/xdg-config
export LC_ALL=C

# backup NAME FILE: time one stream backup (input through a pipe, as with
# "pg_dump | coffer backup --stdin"); sets WALL CPU RSS_KB
backup() {
	local name=$1 in=$2 tf=$LOGS/$1.time lg=$LOGS/$1.log ps
	cat "$in" >/dev/null # page cache, so every configuration starts warm
	sync
	printf '%q ' "$COFFER_BIN" backup --quiet --stdin --name db >"$lg"
	echo "< $in" >>"$lg"
	: >"$tf"
	set +e
	# shellcheck disable=SC2002
	cat "$in" | "$TIME" -f '%e %U %S %M' -o "$tf" "$COFFER_BIN" backup --quiet --stdin --name db >/dev/null 2>>"$lg"
	ps=("${PIPESTATUS[@]}")
	set -e
	if [ "${ps[1]}" != 0 ]; then
		tail -n 5 "$lg" | sed 's/^/    /' >&2
		die "$name: coffer backup failed (exit ${ps[1]}), see $lg"
	fi
	sync
	read -r WALL u s RSS_KB < <(tail -n 1 "$tf")
	CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
}

repo_bytes() { du -sb "$REPO" | cut -f1; }

# ------------------------------------------------------------ sweep
base_bytes=$(stat -c %s "$BASE")
changed_bytes=$(stat -c %s "$CHANGED")
printf 'avg\tlevel\trepo_a\tgrowth_c\twall_a\tcpu_a\trss_a_kb\twall_c\tcpu_c\n' >"$TSV"
for c in $CHUNKS_CONFIGS; do
	avg=${c%%:*} level=${c##*:}
	rm -rf "$REPO" "$HOMEDIR"
	mkdir -p "$HOMEDIR"
	"$COFFER_BIN" init --quiet --kdf interactive --stream-chunks "$avg" --compression "$level" \
		</dev/null >"$LOGS/$avg-$level-init.log" 2>&1 ||
		{ cat "$LOGS/$avg-$level-init.log" >&2; die "coffer init --stream-chunks $avg --compression $level failed"; }
	backup "$avg-$level-A" "$BASE"
	wall_a=$WALL cpu_a=$CPU rss_a=$RSS_KB
	ra=$(repo_bytes)
	backup "$avg-$level-C" "$CHANGED"
	wall_c=$WALL cpu_c=$CPU
	rc=$(repo_bytes)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$avg" "$level" "$ra" "$((rc - ra))" \
		"$wall_a" "$cpu_a" "$rss_a" "$wall_c" "$cpu_c" >>"$TSV"
	log "$(awk -v a="$avg" -v l="$level" -v ra="$ra" -v g="$((rc - ra))" -v w="$wall_a" -v cpu="$cpu_a" \
		'BEGIN { printf "  %-5s zstd %-2s  repo %6.1f MiB  growth %6.1f MiB (%4.1f%%)  first backup wall %6.2f s cpu %6.2f s", a, l, ra / 1048576, g / 1048576, 100 * g / ra, w, cpu }')"
	rm -rf "$REPO" "$HOMEDIR"
done

# ------------------------------------------------------------ report
{
	echo "# coffer stream chunk size and zstd level"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)"
	echo "- host: $(uname -srm), $(nproc) CPUs; cpu: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "- $("$COFFER_BIN" --version 2>/dev/null | head -n 1 || echo 'coffer (version unknown)')"
	echo "- base dump: $base_bytes bytes, $(sed 's/^gendump: //' "$DATA/chunks-dump.info")"
	echo "- changed dump: $changed_bytes bytes, $(sed 's/^gendump: //' "$DATA/chunks-dump-changed.info")"
	echo "- chunk sizes: min = avg/4, max = 4 x avg; each row is a fresh repository (\`init --kdf interactive\`)"
	echo "- A = first backup of the base dump, C = backup of the changed dump into the same repository; input through a pipe"
	echo
	echo "| avg chunk | zstd | repo after A | A / input | growth in C | C / repo after A | A wall s | A CPU s | A CPU/wall | A peak RSS MiB | C wall s |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	awk -F'\t' -v in_bytes="$base_bytes" 'NR > 1 {
		mib = 1048576
		printf "| %s | %s | %.1f MiB | %.1f%% | %.1f MiB | %.1f%% | %.2f | %.2f | %.2f | %.0f | %.2f |\n",
			$1, $2, $3 / mib, 100 * $3 / in_bytes, $4 / mib, 100 * $4 / $3,
			$5, $6, ($5 > 0 ? $6 / $5 : 0), $7 / 1024, $8
	}' "$TSV"
} >"$OUT"
cat "$OUT"
log "results: $OUT (raw: $TSV, logs: $LOGS)"
