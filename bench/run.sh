#!/usr/bin/env bash
# bench/run.sh - compare coffer with restic and borg on the same data.
#
# Generates a PostgreSQL-dump-like stream (plus a variant with ~1% of rows
# changed, in clusters by default) and a file tree with bench/gendump.c, then runs the same backup
# steps with every tool, each with its own fresh repository, and prints a
# markdown table (also written to $BENCH_DIR/results.md).
# See bench/README.md for the environment variables.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/coffer-bench}
BENCH_SIZE_MB=${BENCH_SIZE_MB:-1024}
BENCH_SEED=${BENCH_SEED:-1}
BENCH_CHANGE_PCT=${BENCH_CHANGE_PCT:-1}
BENCH_CHANGE_MODE=${BENCH_CHANGE_MODE:-clustered}
BENCH_TOOLS=${BENCH_TOOLS:-coffer restic borg}
BENCH_VERIFY=${BENCH_VERIFY:-1}
BENCH_RUNS=${BENCH_RUNS:-1}
COFFER_BIN=${COFFER_BIN:-$ROOT/build/coffer}
TIME=/usr/bin/time

log() { printf '%s\n' "$*" >&2; }
die() { log "run.sh: $*"; exit 1; }

case $BENCH_SIZE_MB in '' | *[!0-9]* | 0) die "BENCH_SIZE_MB must be a positive integer" ;; esac
case $BENCH_RUNS in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive integer" ;; esac
case $BENCH_CHANGE_MODE in clustered | uniform) ;; *) die "BENCH_CHANGE_MODE must be clustered or uniform" ;; esac
case $BENCH_DIR in /*) ;; *) die "BENCH_DIR must be an absolute path" ;; esac
[ "$BENCH_DIR" != / ] || die "BENCH_DIR must not be /"

# ------------------------------------------------------------ dependencies
need=()
[ -x "$TIME" ] || need+=(time)
command -v restic >/dev/null 2>&1 || need+=(restic)
command -v borg >/dev/null 2>&1 || need+=(borgbackup)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing packages (${need[*]}); install them or run as root"
	log "installing: ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

tools=()
coffer_note=""
for t in $BENCH_TOOLS; do
	case $t in
	coffer)
		if [ -x "$COFFER_BIN" ]; then
			tools+=(coffer)
		else
			coffer_note="coffer: not built ($COFFER_BIN missing)"
		fi
		;;
	restic | borg) tools+=("$t") ;;
	*) die "unknown tool in BENCH_TOOLS: $t" ;;
	esac
done
[ ${#tools[@]} -gt 0 ] || die "no tool to benchmark"

# ------------------------------------------------------------ layout
DATA=$BENCH_DIR/data
DUMP=$DATA/dump.sql
DUMP2=$DATA/dump-changed.sql
TREE=$DATA/tree
REPOS=$BENCH_DIR/repos
HOMES=$BENCH_DIR/home
LOGS=$BENCH_DIR/logs
PWFILE=$BENCH_DIR/password
TSV=$BENCH_DIR/results.tsv
META=$BENCH_DIR/meta.txt
mkdir -p "$BENCH_DIR/bin" "$DATA"
rm -rf "$LOGS"
mkdir -p "$LOGS"

avail_kb=$(df -Pk "$BENCH_DIR" | awk 'NR == 2 { print $4 }')
if [ "$avail_kb" -lt $((BENCH_SIZE_MB * 1024 * 5)) ]; then
	log "warning: only $((avail_kb / 1024)) MiB free in $BENCH_DIR, about $((BENCH_SIZE_MB * 5)) MiB are needed"
fi

# ------------------------------------------------------------ data
cc -O2 -Wall -o "$BENCH_DIR/bin/gendump" "$ROOT/bench/gendump.c" -lm
GEN=$BENCH_DIR/bin/gendump

# Two stamps: the base stream and the tree depend only on size, seed and
# generator; the changed stream also on the change percentage and mode, so
# switching BENCH_CHANGE_MODE does not regenerate the tree.
src=$(sha256sum "$ROOT/bench/gendump.c" | cut -c1-16)
stamp="size=$BENCH_SIZE_MB seed=$BENCH_SEED src=$src"
stamp2="$stamp change=$BENCH_CHANGE_PCT mode=$BENCH_CHANGE_MODE"
if [ -f "$DATA/stamp" ] && [ "$(cat "$DATA/stamp")" = "$stamp" ] &&
	[ -f "$DUMP" ] && [ -d "$TREE" ]; then
	log "reusing stream and tree in $DATA"
else
	log "generating stream and tree in $DATA ($BENCH_SIZE_MB MiB each)"
	rm -f "$DATA/stamp" "$DATA/stamp-changed" "$DUMP" "$DUMP2" "$DATA"/dump-changed.sha256
	rm -rf "$TREE"
	"$GEN" dump -s "$BENCH_SIZE_MB" -S "$BENCH_SEED" >"$DUMP" 2>"$DATA/dump.info"
	"$GEN" tree "$TREE" -s "$BENCH_SIZE_MB" -S "$BENCH_SEED" 2>"$DATA/tree.info"
	sync
	echo "$stamp" >"$DATA/stamp"
fi
if [ -f "$DATA/stamp-changed" ] && [ "$(cat "$DATA/stamp-changed")" = "$stamp2" ] &&
	[ -f "$DUMP2" ] && [ -f "$DATA/dump-changed.sha256" ]; then
	log "reusing changed stream in $DATA"
else
	log "generating changed stream in $DATA ($BENCH_CHANGE_PCT% of rows, $BENCH_CHANGE_MODE)"
	rm -f "$DATA/stamp-changed" "$DUMP2" "$DATA/dump-changed.sha256"
	"$GEN" dump -s "$BENCH_SIZE_MB" -S "$BENCH_SEED" -c "$BENCH_CHANGE_PCT" -m "$BENCH_CHANGE_MODE" \
		>"$DUMP2" 2>"$DATA/dump-changed.info"
	sha256sum <"$DUMP2" | cut -d' ' -f1 >"$DATA/dump-changed.sha256"
	sync
	echo "$stamp2" >"$DATA/stamp-changed"
fi

warm() { # pull inputs into the page cache so every tool starts warm
	case $1 in
	dump) cat "$DUMP" >/dev/null ;;
	dump2) cat "$DUMP2" >/dev/null ;;
	tree) find "$TREE" -type f -print0 | xargs -0 cat >/dev/null ;;
	esac
}
warm dump
warm dump2
warm tree

# ------------------------------------------------------------ environment
# Passwords only via files / environment, never on argv.
printf 'coffer-bench-%s\n' "$BENCH_SEED" >"$PWFILE"
chmod 600 "$PWFILE"
export RESTIC_PASSWORD_FILE=$PWFILE RESTIC_REPOSITORY=$REPOS/restic
export RESTIC_CACHE_DIR=$HOMES/restic-cache
BORG_PASSPHRASE=$(cat "$PWFILE")
export BORG_PASSPHRASE BORG_BASE_DIR=$HOMES/borg
export BORG_REPO=$REPOS/borg
export COFFER_PASSWORD_FILE=$PWFILE COFFER_REPOSITORY=$REPOS/coffer
export XDG_CACHE_HOME=$HOMES/xdg-cache XDG_CONFIG_HOME=$HOMES/xdg-config
export LC_ALL=C

# cmd TOOL STEP -> sets CMD to the command line for that step
cmd() {
	local tool=$1 step=$2
	local zc=(--compression "zstd,3")
	case $tool:$step in
	coffer:init) CMD=("$COFFER_BIN" init --quiet --kdf interactive) ;;
	coffer:[ABC]) CMD=("$COFFER_BIN" backup --quiet --stdin --name db) ;;
	coffer:[DE]) CMD=("$COFFER_BIN" backup --quiet --name tree "$TREE") ;;
	coffer:F) CMD=("$COFFER_BIN" dump --quiet latest --source db) ;;
	restic:init) CMD=(restic init --quiet --repository-version 2) ;;
	restic:[ABC]) CMD=(restic backup --quiet --host bench --tag db --stdin --stdin-filename db.sql) ;;
	restic:[DE]) CMD=(restic backup --quiet --host bench --tag tree "$TREE") ;;
	restic:F) CMD=(restic dump --quiet --host bench --tag db latest db.sql) ;;
	borg:init) CMD=(borg init --encryption repokey-blake2) ;;
	borg:A) CMD=(borg create "${zc[@]}" --stdin-name db.sql ::db-1 -) ;;
	borg:B) CMD=(borg create "${zc[@]}" --stdin-name db.sql ::db-2 -) ;;
	borg:C) CMD=(borg create "${zc[@]}" --stdin-name db.sql ::db-3 -) ;;
	borg:D) CMD=(borg create "${zc[@]}" ::tree-1 "$TREE") ;;
	borg:E) CMD=(borg create "${zc[@]}" ::tree-2 "$TREE") ;;
	borg:F) CMD=(borg extract --stdout ::db-3) ;; # newest stream, as coffer/restic "latest"
	*) die "no command for $tool $step" ;;
	esac
}

repo_of() { echo "$REPOS/$1"; }

# step input: which data a step reads on stdin (or "-" for none)
input_of() {
	case $1 in
	A | B) echo "$DUMP" ;;
	C) echo "$DUMP2" ;;
	*) echo - ;;
	esac
}

printf 'run\ttool\tstep\twall\tuser\tsys\trss_kb\trepo_bytes\trc\n' >"$TSV"

# run TOOL STEP: time one step, append a line to the TSV
run() {
	local tool=$1 step=$2 in tf lg rc ps
	in=$(input_of "$step")
	tf=$LOGS/$RUN-$tool-$step.time
	lg=$LOGS/$RUN-$tool-$step.log
	cmd "$tool" "$step"
	case $step in
	A | B) warm dump ;;
	C) warm dump2 ;;
	D | E) warm tree ;;
	esac
	sync
	printf '%q ' "${CMD[@]}" >"$lg"
	echo >>"$lg"
	: >"$tf"
	set +e
	if [ "$in" = - ]; then
		"$TIME" -f '%e %U %S %M' -o "$tf" "${CMD[@]}" </dev/null >/dev/null 2>>"$lg"
		rc=$?
	else
		# a pipe, as with "pg_dump | backup-tool"
		# shellcheck disable=SC2002
		cat "$in" | "$TIME" -f '%e %U %S %M' -o "$tf" "${CMD[@]}" >/dev/null 2>>"$lg"
		ps=("${PIPESTATUS[@]}")
		rc=${ps[1]}
	fi
	set -e
	sync
	local wall=0 user=0 sys=0 rss=0 bytes
	if [ -s "$tf" ]; then
		read -r wall user sys rss < <(tail -n 1 "$tf")
	fi
	bytes=$(du -sb "$(repo_of "$tool")" 2>/dev/null | cut -f1)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$RUN" "$tool" "$step" "$wall" "$user" "$sys" "$rss" "${bytes:-0}" "$rc" >>"$TSV"
	if [ "$rc" != 0 ]; then
		log "  $step $tool: FAILED (exit $rc), see $lg:"
		tail -n 5 "$lg" | sed 's/^/    /' >&2
	else
		log "$(awk -v s="$step" -v t="$tool" -v w="$wall" -v u="$user" -v y="$sys" -v m="$rss" -v b="${bytes:-0}" \
			'BEGIN { printf "  %s %-6s wall %7.2f s  cpu %7.2f s  rss %5.0f MiB  repo %d B", s, t, w, u + y, m / 1024, b }')"
	fi
}

# ------------------------------------------------------------ versions, meta
coffer_version=""
if [[ " ${tools[*]} " == *" coffer "* ]]; then
	coffer_version=$("$COFFER_BIN" --version 2>/dev/null | head -n 1 || true)
	coffer_version=${coffer_version:-"coffer (version unknown)"}
fi
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "host=$(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%d MiB RAM", $2 / 1024 }' /proc/meminfo)"
	echo "cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)"
	echo "coffer=${coffer_version:-$coffer_note}"
	echo "restic=$(restic version | head -n 1)"
	echo "borg=$(borg --version)"
	echo "dump=$(stat -c %s "$DUMP") bytes, $(sed 's/^gendump: //' "$DATA/dump.info")"
	echo "dump2=$(sed 's/^gendump: //' "$DATA/dump-changed.info")"
	echo "tree=$(sed 's/^gendump: //' "$DATA/tree.info")"
	echo "tools=${tools[*]}"
	echo "size_mb=$BENCH_SIZE_MB"
	echo "change_pct=$BENCH_CHANGE_PCT"
	echo "change_mode=$BENCH_CHANGE_MODE"
	echo "runs=$BENCH_RUNS"
} >"$META"
sed -n 's/^\(coffer\|restic\|borg\)=//p' "$META" >&2

# ------------------------------------------------------------ benchmark
for RUN in $(seq "$BENCH_RUNS"); do
	[ "$BENCH_RUNS" = 1 ] || log "run $RUN of $BENCH_RUNS"
	# fresh repositories and tool caches for every run
	rm -rf "$REPOS" "$HOMES"
	mkdir -p "$REPOS" "$HOMES"
	for t in "${tools[@]}"; do
		r=$(repo_of "$t")
		cmd "$t" init
		"${CMD[@]}" </dev/null >"$LOGS/$RUN-$t-init.log" 2>&1 || { cat "$LOGS/$RUN-$t-init.log" >&2; die "$t init failed"; }
		printf '%s\t%s\tinit\t0\t0\t0\t0\t%s\t0\n' "$RUN" "$t" "$(du -sb "$r" | cut -f1)" >>"$TSV"
	done
	for step in A B C D E F; do
		for t in "${tools[@]}"; do
			run "$t" "$step"
		done
	done
done

# untimed check: does the stream we dumped in step F match the input?
if [ "$BENCH_VERIFY" = 1 ]; then
	want=$(cat "$DATA/dump-changed.sha256")
	for t in "${tools[@]}"; do
		cmd "$t" F
		got=$("${CMD[@]}" 2>>"$LOGS/$t-verify.log" </dev/null | sha256sum | cut -d' ' -f1) || true
		if [ "$got" = "$want" ]; then
			echo "verify_$t=ok" >>"$META"
		else
			echo "verify_$t=MISMATCH" >>"$META"
			log "verify $t: restored stream differs from input"
		fi
	done
fi

python3 "$ROOT/bench/report.py" "$TSV" "$META" >"$BENCH_DIR/results.md"
cat "$BENCH_DIR/results.md"
log "results: $BENCH_DIR/results.md (raw: $TSV, logs: $LOGS)"
