#!/usr/bin/env bash
# lockjudge.sh — which locks of other processes prune judges "certainly
# gone" (and may then delete condemned packs beside), and which it must
# treat as maybe still running (docs/retention.md, "Locks and deletion").
# Locks are written by hand (tests/tools/putlock, sealed like coffer's)
# with this machine's host name, boot id, machine id and pid namespace,
# or with one of them changed, each expired (2 h old) so that prune runs
# beside it; the pid is one that runs no process here:
#  - same host name, another boot id and another machine id (a cloned VM,
#    two "raspberrypi"s): deletion deferred, the lock kept;
#  - our boot id but another pid namespace (a container): deferred;
#  - a lock of an older coffer (host and pid only): deferred;
#  - all fields ours (fresh, even): gone, removed, the packs deleted;
#  - a real backup run in another pid namespace (unshare, where allowed):
#    its lock is live, prune refuses to run.
# And a lock object that cannot be parsed (garbage, sealed or not) may be
# a live lock of another version: prune and backup refuse to run beside
# it, naming it and `coffer unlock`; nothing is deleted until it is gone.
. "$(dirname "$0")/lib.sh"

PUTLOCK=${PUTLOCK:-$(dirname "$COFFER")/tests/tools/putlock}
[ -x "$PUTLOCK" ] || fail "the putlock test tool is not built ($PUTLOCK)"

host=$(uname -n)
boot=$(cat /proc/sys/kernel/random/boot_id)
machine=$(cat /etc/machine-id 2>/dev/null || cat /var/lib/dbus/machine-id 2>/dev/null || true)
pidns=$(readlink /proc/self/ns/pid | tr -dc 0-9)
[ -n "$pidns" ] || fail "cannot read this process's pid namespace"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
long_ago=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)

# a pid that runs no process: a shell's, once it has exited
dead_pid() { sh -c 'echo $$'; }

# lock_json PID TIME BOOT MACHINE PIDNS: a shared lock as coffer writes
# one; a field given as - is left out (as older coffers did)
lock_json() {
    jq -cn --arg host "$host" --argjson pid "$1" --arg time "$2" --arg boot "$3" --arg machine "$4" --arg pidns "$5" \
        '{time: $time, host: $host, pid: $pid, exclusive: false, nonce: "00112233445566778899aabbccddeeff"}
         + (if $boot == "-" then {} else {boot: $boot} end)
         + (if $machine == "-" then {} else {machine: $machine} end)
         + (if $pidns == "-" then {} else {pidns: ($pidns | tonumber)} end)'
}
# plant JSON: writes it as a lock object; LOCK is its file
plant() {
    local name
    name=$(printf '%s' "$1" | "$PUTLOCK" "$COFFER_REPOSITORY") || fail "putlock failed"
    LOCK=$COFFER_REPOSITORY/$name
    [ -f "$LOCK" ] || fail "putlock did not write $LOCK"
}
packs() { find "$COFFER_REPOSITORY/data" -type f | wc -l; }
stream_backup() {
    "$COFFER" backup --stdin --name "$1" --quiet <"$2" >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "backup of $2 failed"; }
}
# deferred WHAT: prune --json deletes nothing, says whose lock held it
# back, and the lock is still there
deferred() {
    local before
    before=$(packs)
    c_ok "prune beside $1" prune --json
    [ "$(jq_out '.packs_deleted')" = 0 ] || fail "prune deleted packs beside $1: $(cat "$T/out")"
    [ "$(packs)" = "$before" ] || fail "prune beside $1 removed files under data/"
    jq -e --arg pid "pid $2" '.deletion_deferred_by | contains($pid)' "$T/out" >/dev/null ||
        fail "prune beside $1 does not say the lock of pid $2 held back the deletion: $(cat "$T/out")"
    [ -f "$LOCK" ] || fail "prune removed $1"
    c_ok "unlock the expired lock ($1)" unlock
    [ -f "$LOCK" ] && fail "unlock left the expired lock ($1)"
}

gen_random 2000000 21 >"$T/x1"
gen_random 2000000 22 >"$T/x2"
gen_random 2000000 23 >"$T/x3"
new_repo repo
stream_backup x "$T/x1"
stream_backup x "$T/x2"
c_ok "forget the first snapshot" forget --keep-last 1 --source x
c_ok "prune that condemns its pack" prune --json
[ "$(jq_out '.packs_condemned')" -ge 1 ] || fail "the first prune condemned nothing: $(cat "$T/out")"

pid=$(dead_pid)
plant "$(lock_json "$pid" "$long_ago" 00000000-1111-2222-3333-444444444444 0123456789abcdef0123456789abcdef "$pidns")"
deferred "a lock of another machine with our host name" "$pid"

pid=$(dead_pid)
plant "$(lock_json "$pid" "$long_ago" "$boot" "$machine" $((pidns + 1)))"
deferred "a lock of another pid namespace on our kernel" "$pid"

pid=$(dead_pid)
plant "$(lock_json "$pid" "$long_ago" - - -)"
deferred "a lock of an older coffer with our host name" "$pid"

pid=$(dead_pid)
plant "$(lock_json "$pid" "$now" "$boot" "$machine" "$pidns")"
c_ok "prune beside a lock of ours whose process is gone" prune --json
[ "$(jq_out '.packs_deleted')" -ge 1 ] || fail "prune deleted nothing beside a lock certainly gone: $(cat "$T/out")"
[ "$(jq_out '.deletion_deferred_by // ""')" = "" ] || fail "prune deferred deletion beside a lock certainly gone: $(cat "$T/out")"
[ -f "$LOCK" ] && fail "prune left the lock of a process certainly gone"

# --- a real coffer in another pid namespace (a container on this kernel) ---
# Its pid there (1) runs another process here, started at another time:
# it must not look gone. Where unshare is not allowed, the planted lock
# above stands for it.
if unshare --pid --fork --kill-child --mount-proc true 2>/dev/null; then
    mkfifo "$T/input"
    exec 3<>"$T/input"
    unshare --pid --fork --kill-child --mount-proc "$COFFER" backup --stdin --name y --quiet <&3 >/dev/null 2>&1 &
    HOLDER=$!
    on_exit "kill -9 $HOLDER 2>/dev/null"
    # A lock is written to "NAME.tmp-*" and renamed: wait for the renamed
    # one (the temporary name is gone a moment later).
    lock_files() { find "$COFFER_REPOSITORY/locks" -type f ! -name '*.tmp-*'; }
    for _ in $(seq 1 200); do [ -n "$(lock_files)" ] && break; sleep 0.05; done
    LOCK=$(lock_files | head -n 1)
    [ -n "$LOCK" ] || fail "the backup in another pid namespace took no lock"
    run_c prune --json
    expect_rc 11 "prune beside a live backup in another pid namespace"
    expect_err_match "prune beside a backup in another pid namespace" "locked: a shared lock held by pid 1 "
    [ -f "$LOCK" ] || fail "prune removed the lock of a live backup in another pid namespace"
    kill -9 "$HOLDER" # unshare waits out a TERM; its death kills the backup (--kill-child)
    wait "$HOLDER" 2>/dev/null
    exec 3>&-
    c_ok "unlock --remove-all after the backup in another pid namespace" unlock --remove-all
else
    note "unshare --pid is not allowed here: no real coffer in another pid namespace"
fi

# --- locks that cannot be parsed -------------------------------------------
stream_backup x "$T/x3"
c_ok "forget the second snapshot" forget --keep-last 1 --source x
c_ok "prune that condemns its pack" prune --json
[ "$(jq_out '.packs_condemned')" -ge 1 ] || fail "the second prune condemned nothing: $(cat "$T/out")"
before=$(packs)
for kind in sealed raw; do
    if [ $kind = sealed ]; then
        plant 'not a lock {'
    else
        name=$(head -c 100 /dev/urandom | "$PUTLOCK" "$COFFER_REPOSITORY" --raw) || fail "putlock --raw failed"
        LOCK=$COFFER_REPOSITORY/$name
    fi
    name=${LOCK#"$COFFER_REPOSITORY/"}
    run_c prune --json
    expect_rc 11 "prune beside an unparseable lock ($kind)"
    expect_err_match "prune beside an unparseable lock ($kind)" "locked: $name cannot be read.*coffer unlock --remove-all"
    [ "$(packs)" = "$before" ] || fail "prune beside an unparseable lock ($kind) removed files under data/"
    run_c backup --stdin --name y --quiet
    expect_rc 11 "backup beside an unparseable lock ($kind)"
    expect_err_match "backup beside an unparseable lock ($kind)" "locked: $name cannot be read"
    c_ok "unlock beside an unparseable lock ($kind)" unlock
    grep -q "kept unreadable lock" "$T/out" || fail "unlock does not show the unparseable lock ($kind): $(cat "$T/out")"
    [ -f "$LOCK" ] || fail "unlock without --remove-all removed the unparseable lock ($kind)"
    c_ok "unlock --remove-all ($kind)" unlock --remove-all
    [ -f "$LOCK" ] && fail "unlock --remove-all left the unparseable lock ($kind)"
done
c_ok "prune once the unparseable locks are gone" prune --json
[ "$(jq_out '.packs_deleted')" -ge 1 ] || fail "prune deleted nothing once the unparseable locks were gone: $(cat "$T/out")"
dumps() { run_c dump latest --source x; expect_ok "dump"; cmp -s "$T/out" "$1" || fail "the newest snapshot does not dump as $1"; }
dumps "$T/x3"
c_ok "check --read-data" check --read-data

pass "locks of another machine, pid namespace or older coffer defer deletion; ours of a gone process do not; unparseable locks block"
