#!/usr/bin/env bash
# forget.sh — retention on snapshots backdated over nine years at
# irregular times (bursts, gaps, a dense last day): the set `coffer forget`
# keeps equals what an independent reference written here in jq computes,
# for the runbook's policy from coffer.yaml and for policies given as flags;
# --dry-run removes nothing; a policy that would remove every snapshot of a
# source is refused without --force; a per-source policy replaces the
# top-level one; every kept snapshot still restores.
. "$(dirname "$0")/lib.sh"

new_repo repo
printf 'content\n' >"$T/file"

# Irregular times from 2017 to 2026: steps of minutes to two months, then
# a dense last day (one backup an hour), all distinct.
awk 'BEGIN {
    srand(7); t = 1483228800; end = t + 9 * 365 * 86400
    while (t < end) {
        r = rand()
        t += (r < 0.3) ? int(600 + rand() * 6 * 3600) : (r < 0.7) ? int(5 * 86400 + rand() * 10 * 86400) : int(20 * 86400 + rand() * 40 * 86400)
        if (t < end) print t
    }
    for (h = 1; h <= 30; h++) print end + h * 3600
}' >"$T/times"
count=$(wc -l <"$T/times")
while read -r t; do
    run_c backup "$T/file" --name app --quiet --time "$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)"
    expect_ok "backdated backup"
done <"$T/times"
for day in 05 06 07; do
    run_c backup "$T/file" --name other --quiet --time "2020-05-${day}T05:05:05Z"
    expect_ok "other source's backup"
done
note "$count snapshots of source app over nine years"

# The reference: newest first, each rule keeps the first snapshot of each
# new period name until it has N names.
cat >"$T/reference.jq" <<'JQ'
def period(fmt): .time | sub("\\.[0-9]+"; "") | fromdateiso8601 | strftime(fmt);
def rule(n; fmt):
  if n == 0 then [] else
  reduce .[] as $s ({seen: [], ids: []};
    ($s | period(fmt)) as $p
    | if (.seen | length) < n and ([.seen[] | select(. == $p)] | length) == 0
      then .seen += [$p] | .ids += [$s.id] else . end) | .ids end;
[.[] | select(.source == $source)] | sort_by(.time) | reverse
| [rule($last; "%s"), rule($hourly; "%Y-%m-%d %H"), rule($daily; "%Y-%m-%d"), rule($weekly; "%G-W%V"),
   rule($monthly; "%Y-%m"), rule($yearly; "%Y")] | add | unique | .[]
JQ
reference() { # reference SOURCE LAST HOURLY DAILY WEEKLY MONTHLY YEARLY  (from $T/before.json)
    jq -r --arg source "$1" --argjson last "$2" --argjson hourly "$3" --argjson daily "$4" \
        --argjson weekly "$5" --argjson monthly "$6" --argjson yearly "$7" -f "$T/reference.jq" "$T/before.json" | sort
}
kept_now() { run_c snapshots --json; jq_out ".[] | select(.source == \"$1\") | .id" | sort; }

run_c snapshots --json
cp "$T/out" "$T/before.json"

# --- the runbook's policy from coffer.yaml ----------------------------------------
cat >"$T/coffer.yaml" <<YAML
retention: { hourly: 24, daily: 30, weekly: 12, monthly: 12, yearly: 7 }
sources:
  other: { type: files, paths: [$T/file], retention: { last: 1 } }
YAML
export COFFER_CONFIG=$T/coffer.yaml
c_ok "forget --dry-run with the runbook's policy" forget --dry-run
grep -q "would remove" "$T/out" || fail "--dry-run output does not say what would be removed"
[ "$(kept_now app | wc -l)" = "$count" ] || fail "--dry-run removed snapshots"
c_ok "forget with the runbook's policy" forget
grep -Eq "keep +[0-9a-f]{8} .*(hourly|daily)" "$T/out" || fail "forget does not say which rule kept a snapshot"
reference app 0 24 30 12 12 7 >"$T/want"
kept_now app >"$T/got"
diff -u "$T/want" "$T/got" >&2 || fail "the runbook's policy kept another set than the reference"
note "runbook policy: kept $(wc -l <"$T/got") of $count, as the reference"
[ "$(kept_now other | wc -l)" = 1 ] || fail "the per-source policy (last: 1) did not replace the top-level one (daily: 30 keeps 3)"

# --- policies as flags, on what is left ---------------------------------------------
unset COFFER_CONFIG
run_c snapshots --json
cp "$T/out" "$T/before.json"
c_ok "forget with flags" forget --source app --keep-last 3 --keep-weekly 5 --keep-yearly 2
reference app 3 0 0 5 0 2 >"$T/want"
kept_now app >"$T/got"
diff -u "$T/want" "$T/got" >&2 || fail "--keep-last 3 --keep-weekly 5 --keep-yearly 2 kept another set than the reference"

# --- refusals -----------------------------------------------------------------------
run_c forget --source app --keep-tag no-such-tag
expect_nonzero "a policy that keeps nothing"
expect_err_match "a policy that keeps nothing" "would remove all .* add --force"
[ "$(kept_now app | wc -l)" = "$(wc -l <"$T/got")" ] || fail "a refused forget removed snapshots"
run_c forget
expect_nonzero "forget without a policy"
expect_err_match "forget without a policy" "no policy"
run_c forget --keep-within 3x
expect_nonzero "a bad duration"
expect_err_match "a bad duration" "duration"

# --- what is kept still restores ------------------------------------------------------
for id in $(kept_now app); do
    run_c restore "${id:0:12}" --to "$T/r-$id"
    expect_ok "restore of kept snapshot $id"
    cmp -s "$T/file" "$T/r-$id$T/file" || fail "kept snapshot $id does not restore the file"
done
c_ok "check after forget" check --read-data

pass "runbook policy and flag policies equal the reference over $count snapshots; refusals; kept snapshots restore"
