#!/usr/bin/env bash
# secrets.sh — coffer's secrets stay in coffer, against a real PostgreSQL
# (tests/pg/server.sh) and a command source:
#  - a running command source, pg_dump and pg_restore (caught while they
#    wait on a table lock) have none of COFFER_PASSWORD, AWS_*, PGPASSWORD
#    or the database password in /proc/PID/environ or /proc/PID/cmdline;
#    the password reaches pg_dump as PGPASSFILE=/dev/fd/N, a memory file;
#  - kill -TERM and kill -KILL of coffer mid-backup and mid-restore leave
#    no file holding the password or the dump in $TMPDIR, and a restore
#    sweeps the leftover of a dead process;
#  - coffer runs with a core size limit of 0 and writes no core on SIGABRT;
#  - URLs with a password on the command line, sslpassword= in a URL and a
#    secret-looking name in a command source's env: are refused.
. "$(dirname "$0")/lib.sh"

PG=$REPO_ROOT/tests/pg
export COFFER_PG_DIR=$T/pg COFFER_PG_PORT=${COFFER_PG_SECRETS_PORT:-25447}
"$PG/server.sh" start >/dev/null || fail "cannot start the test PostgreSQL server"
on_exit '"$PG/server.sh" stop >/dev/null 2>&1'
eval "$("$PG/server.sh" env)"
PASSFILE=$COFFER_PG_DIR/password
DBPW=$(cat "$PASSFILE")
URL=postgresql://postgres@127.0.0.1:$COFFER_PG_PORT
MARK=row-marker-$RANDOM$RANDOM

createdb app && psql -d app -qc "CREATE TABLE t (id int PRIMARY KEY, note text);
    INSERT INTO t SELECT g, '$MARK' || g FROM generate_series(1, 20000) g;" || fail "cannot create the test database"

new_repo repo
# The repository passphrase in the environment, as the issue found it, and
# cloud credentials beside it: neither may reach a child.
export COFFER_PASSWORD=$REPO_PW AWS_SECRET_ACCESS_KEY=aws-secret-$RANDOM$RANDOM APP_MODE=on UNLISTED=hidden
unset COFFER_PASSWORD_FILE
mkdir -m 700 "$T/tmp"
export TMPDIR=$T/tmp   # coffer's temporaries (the tests' own mktemp ran already)

cat >"$T/cmd.sh" <<'SH'
#!/bin/sh
echo $$ >"$1/cmd.pid.tmp" && mv "$1/cmd.pid.tmp" "$1/cmd.pid"
sleep 2
echo "output of the command"
SH
cat >"$T/coffer.yaml" <<YAML
sources:
  db:
    type: postgres
    url: $URL/app
    password_file: $PASSFILE
  db_env:
    type: postgres
    url: $URL/app
  cmd:
    type: command
    command: [sh, $T/cmd.sh, $T]
    env: [APP_MODE]
YAML
export COFFER_CONFIG=$T/coffer.yaml

# check_child PID WHAT: its environment and command line hold no secret.
check_child() {
    local pid=$1 what=$2
    tr '\0' '\n' <"/proc/$pid/environ" >"$T/environ.$what" || fail "cannot read /proc/$pid/environ of $what"
    tr '\0' ' ' <"/proc/$pid/cmdline" >"$T/cmdline.$what" || fail "cannot read /proc/$pid/cmdline of $what"
    for s in "$REPO_PW" "$AWS_SECRET_ACCESS_KEY" "$DBPW"; do
        grep -qF -- "$s" "$T/environ.$what" && fail "$what's environment holds a secret"
        grep -qF -- "$s" "$T/cmdline.$what" && fail "$what's command line holds a secret"
    done
    grep -qE '^(COFFER_|AWS_|PGPASSWORD=)' "$T/environ.$what" && fail "$what inherited $(grep -E '^(COFFER_|AWS_|PGPASSWORD=)' "$T/environ.$what" | cut -d= -f1 | tr '\n' ' ')"
    grep -q '^UNLISTED=' "$T/environ.$what" && fail "$what inherited a variable nobody allowed"
    grep -q '^PATH=' "$T/environ.$what" || fail "$what did not get PATH"
    return 0
}

# child_of PARENT NAME: waits (up to 30 s) for PARENT's child NAME; prints its pid.
child_of() {
    local i pid
    for i in $(seq 1 300); do
        pid=$(ps -o pid=,comm= --ppid "$1" 2>/dev/null | awk -v n="$2" '$2 == n {print $1; exit}')
        [ -n "$pid" ] && { echo "$pid"; return 0; }
        sleep 0.1
    done
    return 1
}

# no_secret_files WHAT: nothing in $TMPDIR holds the password or the dump.
no_secret_files() {
    local hits
    hits=$(grep -rlF -e "$DBPW" -e "$MARK" "$TMPDIR" 2>/dev/null)
    [ -z "$hits" ] || fail "$1: $hits holds the database password or dump"
    [ -z "$(find "$TMPDIR" -mindepth 1 2>/dev/null)" ] || fail "$1: left $(find "$TMPDIR" -mindepth 1 | head -3)"
}

# hold_lock DB: a session holding an exclusive lock on t (pid in LOCK_PID).
hold_lock() {
    psql -d "$1" -qc "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);" >/dev/null 2>&1 &
    LOCK_PID=$!
    for _ in $(seq 1 100); do
        [ "$(psql -d "$1" -tAc "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
             WHERE c.relname = 't' AND l.mode = 'AccessExclusiveLock' AND l.granted")" -ge 1 ] && return 0
        sleep 0.1
    done
    fail "the lock on $1.t was not taken"
}
release_lock() {
    psql -qtAc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()" >/dev/null
    wait "$LOCK_PID" 2>/dev/null
}
# wait_gone PID: the orphaned tool has finished.
wait_gone() { for _ in $(seq 1 300); do [ -d "/proc/$1" ] || return 0; sleep 0.1; done; fail "pid $1 did not end"; }

# --- a command source ----------------------------------------------------------
rm -f "$T/cmd.pid"
"$COFFER" backup cmd >"$T/bg.out" 2>"$T/bg.err" </dev/null &
cpid=$!
for _ in $(seq 1 100); do [ -f "$T/cmd.pid" ] && break; sleep 0.1; done
[ -f "$T/cmd.pid" ] || fail "the command source did not start"
check_child "$(cat "$T/cmd.pid")" command
grep -q '^APP_MODE=on$' "$T/environ.command" || fail "the command did not get APP_MODE, which its env: lists"
coffer_pid=$cpid
grep -q "^Max core file size *0 *0 " "/proc/$coffer_pid/limits" ||
    fail "coffer runs with core dumps allowed: $(grep core "/proc/$coffer_pid/limits")"
wait "$cpid"; RC=$?; LAST_CMD="coffer backup cmd"
expect_ok "backup of the command source"

cat >"$T/bad-env.yaml" <<YAML
sources:
  cmd:
    type: command
    command: [true]
    env: [APP_MODE, MY_API_TOKEN]
YAML
run_c backup --config "$T/bad-env.yaml" cmd
expect_nonzero "a command source whose env: lists a secret"
expect_err_match "a command source whose env: lists a secret" "MY_API_TOKEN|env.*secret"

# --- pg_dump while it runs, and coffer killed mid-backup -----------------------
# A slow pipe holds pg_dump: a pg_dump first in PATH runs the real one into
# a reader that waits 4 s, so the real one blocks on its full pipe (the
# dump is 600 KiB) with the environment and descriptors coffer gave it.
mkdir "$T/bin"
REAL_PG_DUMP=$(command -v pg_dump)
cat >"$T/bin/pg_dump" <<SH
#!/bin/sh
[ "\$1" = --version ] && exec $REAL_PG_DUMP "\$@"
$REAL_PG_DUMP "\$@" | { sleep 4; cat; }
SH
chmod +x "$T/bin/pg_dump"
for sig in TERM KILL; do
    PATH=$T/bin:$PATH "$COFFER" backup db >"$T/bg.out" 2>"$T/bg.err" </dev/null &
    cpid=$!
    coffer_pid=$cpid
    sleep 0.5   # past the version probe
    slow_pid=$(child_of "$coffer_pid" pg_dump) || { cat "$T/bg.err" >&2; fail "pg_dump did not start"; }
    dump_pid=$(child_of "$slow_pid" pg_dump) || fail "the real pg_dump did not start"
    sleep 1   # it has connected, read the password and filled its pipe
    check_child "$dump_pid" "pg_dump.$sig"
    passfile=$(grep '^PGPASSFILE=' "$T/environ.pg_dump.$sig" | cut -d= -f2-)
    case $passfile in /dev/fd/*) ;; *) fail "pg_dump's PGPASSFILE is '$passfile', not an inherited descriptor" ;; esac
    target=$(readlink "/proc/$dump_pid/fd/${passfile#/dev/fd/}")
    case $target in /memfd:*) ;; *) fail "pg_dump's password file is $target, not a memory file" ;; esac
    no_secret_files "backup while pg_dump runs"
    kill -$sig "$coffer_pid"
    wait "$cpid" 2>/dev/null
    no_secret_files "backup killed with SIG$sig"
    wait_gone "$dump_pid"
    no_secret_files "backup killed with SIG$sig, once pg_dump ended"
done
note "pg_dump: no secret in its environment or command line; nothing left after TERM and KILL"

c_ok "backup of the database" backup db
# PGPASSWORD in coffer's environment reaches pg_dump the same way, not as itself.
PGPASSWORD=$DBPW PGPASSFILE=/nonexistent run_c backup db_env
expect_ok "backup with the password in PGPASSWORD only"

# --- pg_restore --jobs (the whole dump staged in $TMPDIR), killed mid-restore ---
c_ok "a first restore into target" restore latest db --to "$URL/target" --db-password-file "$PASSFILE"
for sig in TERM KILL; do
    hold_lock target
    "$COFFER" restore latest db --to "$URL/target" --force --jobs 2 --db-password-file "$PASSFILE" >"$T/bg.out" 2>"$T/bg.err" </dev/null &
    cpid=$!
    coffer_pid=$cpid
    restore_pid=$(child_of "$coffer_pid" pg_restore) || { cat "$T/bg.err" >&2; fail "pg_restore did not start"; }
    check_child "$restore_pid" "pg_restore.$sig"
    grep -q ' /dev/fd/[0-9]' "$T/cmdline.pg_restore.$sig" ||
        fail "pg_restore reads $(tr ' ' '\n' <"$T/cmdline.pg_restore.$sig" | tail -1), not an inherited descriptor"
    no_secret_files "restore while pg_restore runs"
    kill -$sig "$coffer_pid"
    wait "$cpid" 2>/dev/null
    no_secret_files "restore killed with SIG$sig"
    release_lock
    wait_gone "$restore_pid"
done
note "pg_restore --jobs: the dump and the password never had a name in \$TMPDIR"

# A leftover of a dead restore (the fallback's name, left between create and
# unlink) is swept by the next restore; a live process's is kept.
dead=4000000
while [ -d "/proc/$dead" ]; do dead=$((dead + 1)); done
touch "$TMPDIR/coffer-restore-$dead-abcdef" "$TMPDIR/coffer-restore-$$-abcdef"
c_ok "restore after a crashed one" restore latest db --to "$URL/target2" --db-password-file "$PASSFILE"
[ -e "$TMPDIR/coffer-restore-$dead-abcdef" ] && fail "the dead restore's leftover was not swept"
[ -e "$TMPDIR/coffer-restore-$$-abcdef" ] || fail "the sweep removed a live process's file"
rm -f "$TMPDIR/coffer-restore-$$-abcdef"
[ "$(psql -d target2 -tAc "SELECT count(*) FROM t")" = 20000 ] || fail "the restored table lacks rows"

# --- no core dump -------------------------------------------------------------
mkdir "$T/core" && cd "$T/core" || fail "cannot make the core directory"
python3 - "$COFFER" <<'PY' || fail "coffer wrote a core dump on SIGABRT"
import os, resource, signal, subprocess, sys, time
r, w = os.pipe()   # stdin that never ends: the backup waits
p = subprocess.Popen([sys.argv[1], "backup", "--stdin", "--name", "core"], stdin=r,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2))
os.close(r)
time.sleep(1.5)
os.kill(p.pid, signal.SIGABRT)
_, status = os.waitpid(p.pid, 0)
cores = [f for f in os.listdir(".") if f.startswith("core")]
sys.exit(1 if os.WCOREDUMP(status) or cores else 0)
PY
cd "$T" || fail "cd"

# --- passwords on the command line and sslpassword are refused ----------------
CLI_PW=cli-secret-$RANDOM$RANDOM
run_c backup --postgres "postgresql://postgres:$CLI_PW@127.0.0.1:$COFFER_PG_PORT/app"
expect_rc 2 "--postgres with a password in the URL"
expect_err_match "--postgres with a password in the URL" "password_file|--db-password-file"
expect_no_output_match "--postgres refusal must not echo the password" "$CLI_PW"
run_c backup --postgres "$URL/app?sslpassword=$CLI_PW"
expect_rc 2 "--postgres with sslpassword= in the URL"
run_c backup --redis "redis://:$CLI_PW@127.0.0.1:1"
expect_rc 2 "--redis with a password in the URL"
expect_no_output_match "--redis refusal must not echo the password" "$CLI_PW"
run_c restore latest db --to "postgresql://postgres:$CLI_PW@127.0.0.1:$COFFER_PG_PORT/x"
expect_rc 2 "restore --to a URL with a password"
cat >"$T/ssl.yaml" <<YAML
sources:
  db:
    type: postgres
    url: $URL/app?sslmode=require&sslpassword=$CLI_PW
YAML
run_c backup --config "$T/ssl.yaml" db
expect_nonzero "a configured URL with sslpassword="
expect_err_match "a configured URL with sslpassword=" "sslpassword"
expect_no_output_match "the sslpassword refusal must not echo it" "$CLI_PW"
pass "no secret in a child's environment or command line, no password or dump file left by TERM or KILL, no core dump, command-line passwords refused"
