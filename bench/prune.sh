#!/usr/bin/env bash
# bench/prune.sh - `coffer prune` against `restic prune` on the same data
# with the same garbage, in one run (issue target: coffer's wall time at
# most 0.5x restic's on a ~10 GiB repository with 30% garbage).
#
#  1. A file tree from bench/gendump.c (`gendump tree`: text, logs, CSV,
#     incompressible binary, ~8% duplicates), BENCH_PRUNE_TREE_MB MiB
#     (default 22528, which both tools store in about 10 GiB).
#  2. Snapshot 1 of the whole tree by each tool; then files making up
#     BENCH_PRUNE_GARBAGE_PCT percent (default 30) of the bytes, picked at
#     random all over the tree, are deleted, and snapshot 2 is taken; then
#     forget --keep-last 1. The deleted files' data is now garbage,
#     scattered through nearly every pack, so both prunes must rewrite
#     packs, not just delete them: the expensive case.
#  3. prune --dry-run (what each would free and rewrite), then prune, each
#     on a cold page cache when run as root (a nightly prune meets a cold
#     repository) and with its default 5% --max-unused.
#  4. coffer check, and the kept snapshot restores equal to the tree.
# The tree is deleted once both snapshots exist; peak disk use is about
# the tree plus twice a repository plus a third of one. Prints a markdown
# table, also written to $BENCH_DIR/prune-results.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=prune.sh
BENCH_DIR=${BENCH_DIR:-/tmp/coffer-bench}
TREE_MB=${BENCH_PRUNE_TREE_MB:-22528}
GARBAGE=${BENCH_PRUNE_GARBAGE_PCT:-30}
COFFER_BIN=${COFFER_BIN:-$ROOT/build/coffer}
W=$BENCH_DIR/prune-run
LOGS=$W/logs
RESULTS=$BENCH_DIR/prune-results.md
. "$ROOT/bench/lib.sh"

[[ $TREE_MB =~ ^[1-9][0-9]*$ ]] || die "BENCH_PRUNE_TREE_MB must be a positive number"
[[ $GARBAGE =~ ^[1-9][0-9]?$ ]] || die "BENCH_PRUNE_GARBAGE_PCT must be 1 .. 99"
[ -x "$COFFER_BIN" ] || die "coffer not built ($COFFER_BIN missing); run: cmake --build build -j2"
for p in restic jq cc python3; do command -v "$p" >/dev/null || die "$p missing: apt-get install $p"; done
[ -x "$TIME" ] || die "GNU time missing: apt-get install time"

rm -rf -- "$W"
mkdir -p "$LOGS" "$W/cache"
cd "$W"
export RESTIC_CACHE_DIR=$W/cache/restic XDG_CACHE_HOME=$W/cache
unset COFFER_CONFIG COFFER_PASSWORD COFFER_REPOSITORY RESTIC_PASSWORD RESTIC_REPOSITORY
PASSFILE=$W/password
new_password "$PASSFILE"
export COFFER_PASSWORD_FILE=$PASSFILE RESTIC_PASSWORD_FILE=$PASSFILE
CREPO=$W/coffer-repo RREPO=$W/restic-repo TREE=$W/tree
trap 'rm -rf -- "$CREPO" "$RREPO" "$TREE" "$W/restored" "$W/cache" "$PASSFILE"' EXIT

avail_mb=$(($(df -Pk "$BENCH_DIR" | awk 'NR == 2 { print $4 }') / 1024))
need_mb=$((TREE_MB * 3 / 2))
[ "$avail_mb" -ge "$need_mb" ] || die "$avail_mb MiB free in $BENCH_DIR, about $need_mb MiB are needed (or lower BENCH_PRUNE_TREE_MB)"

is_root=0
[ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ] && is_root=1
cold=warm
# Before each timed step: dirty pages written, and (as root) the page cache
# dropped, so neither tool finds the other's or its own data in memory.
bench_settle() { sync; if [ "$is_root" = 1 ]; then echo 3 >/proc/sys/vm/drop_caches; fi; }
[ "$is_root" = 1 ] && cold=cold

t_start=$(date +%s)
log "generating a $TREE_MB MiB tree"
cc -O2 -Wall -o "$W/gendump" "$ROOT/bench/gendump.c" -lm
"$W/gendump" tree "$TREE" -s "$TREE_MB" >"$LOGS/gendump.log"
tree_bytes=$(dub "$TREE") tree_files=$(find "$TREE" -type f | wc -l)

log "snapshot 1 (the whole tree)"
"$COFFER_BIN" init --repo "$CREPO" --kdf interactive >"$LOGS/coffer-init.log" 2>&1 || die "coffer init failed"
restic init --repository-version 2 -r "$RREPO" >"$LOGS/restic-init.log" 2>&1 || die "restic init failed"
timed coffer-b1 "$COFFER_BIN" backup --repo "$CREPO" --name tree --quiet "$TREE"
timed restic-b1 restic -r "$RREPO" backup --host bench --quiet "$TREE"

log "deleting $GARBAGE% of the bytes, snapshot 2"
python3 - "$TREE" "$GARBAGE" >"$LOGS/deleted.txt" <<'PY'
import os, random, sys
root, pct = sys.argv[1], int(sys.argv[2])
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
total = sum(os.path.getsize(f) for f in files)
random.Random(30).shuffle(files)
gone = 0
for f in files:
    if gone >= total * pct / 100:
        break
    gone += os.path.getsize(f)
    os.unlink(f)
    print(f)
PY
deleted_files=$(wc -l <"$LOGS/deleted.txt")
kept_bytes=$(dub "$TREE")
(cd "$TREE" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$W/tree.sums"
timed coffer-b2 "$COFFER_BIN" backup --repo "$CREPO" --name tree --quiet "$TREE"
timed restic-b2 restic -r "$RREPO" backup --host bench --quiet "$TREE"
rm -rf -- "$TREE"
"$COFFER_BIN" forget --repo "$CREPO" --keep-last 1 >"$LOGS/coffer-forget.log" || die "coffer forget failed"
restic -r "$RREPO" forget --keep-last 1 >"$LOGS/restic-forget.log" || die "restic forget failed"
coffer_before=$(dub "$CREPO") restic_before=$(dub "$RREPO")

log "prune"
timed coffer-dry "$COFFER_BIN" prune --repo "$CREPO" --dry-run
timed restic-dry restic -r "$RREPO" prune --dry-run
timed coffer-prune "$COFFER_BIN" prune --repo "$CREPO"
timed restic-prune restic -r "$RREPO" prune
# coffer deletes in two prunes (docs/retention.md): the first condemns and
# repacks, the second deletes what the first condemned. The second is timed
# apart; the space is compared after it.
timed coffer-prune2 "$COFFER_BIN" prune --repo "$CREPO"
coffer_after=$(dub "$CREPO") restic_after=$(dub "$RREPO")

log "verifying coffer's repository"
timed coffer-check "$COFFER_BIN" check --repo "$CREPO"
timed coffer-restore "$COFFER_BIN" restore --repo "$CREPO" latest tree --to "$W/restored" --quiet
restored=$(find "$W/restored" -mindepth 1 -maxdepth 8 -type d -name tree -print -quit)
[ -n "$restored" ] || die "the restored tree is not under $W/restored"
verify=identical
(cd "$restored" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$W/restored.sums"
cmp -s "$W/tree.sums" "$W/restored.sums" || verify=FAILED
t_total=$(($(date +%s) - t_start))
r_prune=$(ratio "${WALL[coffer-prune]}" "${WALL[restic-prune]}")

echo "coffer's second prune (deletes what the first condemned): ${WALL[coffer-prune2]} s" >&2
row() { printf '| %s | %s | %s | %s |\n' "$1" "${WALL[$2]}" "${CPU[$2]}" "$((RSS[$2] / 1024))"; }
{
	echo "## Prune benchmark (bench/prune.sh)"
	echo
	echo "- date: $(date -u +%FT%TZ); host: $(uname -sr), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%d MiB RAM", $2 / 1024 }' /proc/meminfo); $("$COFFER_BIN" --version); $(restic version | cut -d' ' -f1-2); run took $t_total s"
	echo "- tree: gendump tree -s $TREE_MB: $tree_files files, $(mib "$tree_bytes") MiB; $deleted_files files deleted before snapshot 2, which holds $(mib "$kept_bytes") MiB; snapshot 1 forgotten"
	echo "- repositories before prune: coffer $(mib "$coffer_before") MiB, restic $(mib "$restic_before") MiB; after: coffer $(mib "$coffer_after") MiB, restic $(mib "$restic_after") MiB"
	echo "- what each would do (dry run): coffer: $(grep -i -m1 'would' "$LOGS/coffer-dry.out" || tail -n 1 "$LOGS/coffer-dry.out"); restic: $(grep -m1 'to repack' "$LOGS/restic-dry.out" | tr -s ' '), $(grep -m1 'this removes' "$LOGS/restic-dry.out" | tr -s ' ')"
	echo "- page cache: $cold before each timed step; coffer check passed; the kept snapshot restores equal to the tree: $verify"
	echo
	echo "| step | wall s | CPU s | peak RSS MiB |"
	echo "|---|---:|---:|---:|"
	row "coffer backup, snapshot 1" coffer-b1
	row "restic backup, snapshot 1" restic-b1
	row "coffer backup, snapshot 2" coffer-b2
	row "restic backup, snapshot 2" restic-b2
	row "coffer prune --dry-run" coffer-dry
	row "restic prune --dry-run" restic-dry
	row "coffer prune" coffer-prune
	row "restic prune" restic-prune
	row "coffer check" coffer-check
	row "coffer restore" coffer-restore
	echo
	echo "| target | ratio | limit | result |"
	echo "|---|---:|---:|---|"
	echo "| coffer prune wall / restic prune wall | $r_prune | 0.5 | $(at_most "$r_prune" 0.5) |"
} >"$RESULTS"
echo
cat "$RESULTS"
[ "$verify" = identical ] || die "the restored tree differs from the tree at snapshot 2"
