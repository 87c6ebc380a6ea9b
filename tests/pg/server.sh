#!/usr/bin/env bash
# server.sh — a throwaway PostgreSQL 15 cluster for coffer's tests.
#
#   tests/pg/server.sh start   # install if missing, initdb, start, wait until ready
#   tests/pg/server.sh env     # print export lines: eval "$(tests/pg/server.sh env)"
#   tests/pg/server.sh status  # exit 0 if our cluster is running
#   tests/pg/server.sh stop    # stop the cluster and remove its directory
#
# Settings (environment):
#   COFFER_PG_DIR   cluster directory (default /tmp/coffer-pg); removed by stop
#   COFFER_PG_PORT  TCP port on 127.0.0.1 (default 25432)
#
# The cluster listens on 127.0.0.1 only, its unix socket lives in
# $COFFER_PG_DIR/sock, TCP logins need the superuser password
# (scram-sha-256); the password is in $COFFER_PG_DIR/password and, in
# .pgpass form, in $COFFER_PG_DIR/pgpass (both 0600). The server runs as the
# `postgres` user when the caller is root (PostgreSQL refuses to run as root),
# otherwise as the caller. Debian's own cluster (port 5432), if the package
# install started one, is left alone.
#
# The cluster is tuned for throwaway test data: fsync, synchronous_commit and
# full_page_writes are off. Never point this at data you care about.
set -euo pipefail

PG_BIN=/usr/lib/postgresql/15/bin
DIR=${COFFER_PG_DIR:-/tmp/coffer-pg}
PORT=${COFFER_PG_PORT:-25432}
MARKER=.coffer-pg-cluster   # only a directory holding this file is ever removed

DATA=$DIR/data
SOCK=$DIR/sock
LOG=$DIR/server.log

die() { echo "server.sh: $*" >&2; exit 1; }
say() { echo "server.sh: $*" >&2; }

case "$DIR" in
  /*) ;;
  *) die "COFFER_PG_DIR must be an absolute path (got '$DIR')" ;;
esac
DIR=${DIR%/}
[ -n "$DIR" ] && [ "$DIR" != / ] || die "refusing COFFER_PG_DIR=/"
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65535 ] \
  || die "COFFER_PG_PORT must be a number in 1024..65535 (got '$PORT')"
# unix socket paths are limited to 107 bytes
[ ${#SOCK} -le 80 ] || die "COFFER_PG_DIR is too long for a unix socket path: $DIR"

# The port a cluster was created with wins over the environment afterwards.
if [ -f "$DIR/port" ]; then PORT=$(cat "$DIR/port"); fi

# Who runs the server: postgres when we are root, else ourselves.
if [ "$(id -u)" -eq 0 ]; then
  RUN_AS=postgres
  as_server() { runuser -u postgres -- "$@"; }
else
  RUN_AS=$(id -un)
  as_server() { "$@"; }
fi

install_packages() {
  local missing=() p
  for p in postgresql-15 postgresql-client-15; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; run as root to install them"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # May create and start Debian's default cluster on 5432; we leave it be.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  [ -x "$PG_BIN/initdb" ] || die "$PG_BIN/initdb not found after install"
  id "$RUN_AS" >/dev/null 2>&1 || die "user $RUN_AS does not exist"
}

is_running() {
  [ -f "$DATA/PG_VERSION" ] && as_server "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

write_pgpass() { # .pgpass for the caller, 0600; libpq ignores it if group/other can read
  local pw
  pw=$(cat "$DIR/password")
  (umask 077
   printf '127.0.0.1:%s:*:postgres:%s\nlocalhost:%s:*:postgres:%s\n%s:%s:*:postgres:%s\n' \
     "$PORT" "$pw" "$PORT" "$pw" "$SOCK" "$PORT" "$pw" >"$DIR/pgpass.tmp")
  chmod 0600 "$DIR/pgpass.tmp"
  mv -f "$DIR/pgpass.tmp" "$DIR/pgpass"
}

create_cluster() {
  if [ -e "$DIR" ]; then
    if [ -f "$DIR/$MARKER" ]; then
      say "removing incomplete cluster directory $DIR"
      rm -rf -- "$DIR"
    elif [ -d "$DIR" ] && [ -z "$(ls -A "$DIR")" ]; then
      rmdir -- "$DIR"
    else
      die "$DIR exists and is not a coffer test cluster; remove it or set COFFER_PG_DIR"
    fi
  fi
  mkdir -p -- "$DIR"
  touch "$DIR/$MARKER"
  chmod 0755 "$DIR"   # clients must reach the socket directory
  mkdir "$SOCK"
  chown -R "$RUN_AS:" "$DIR"
  as_server test -w "$DIR" -a -x "$DIR" \
    || die "user $RUN_AS cannot reach $DIR (a parent directory is closed to it); choose another COFFER_PG_DIR"

  # Random superuser password, 48 hex digits (nothing .pgpass would need escaped).
  (umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$DIR/password"; echo >>"$DIR/password")
  chown "$RUN_AS:" "$DIR/password"
  chmod 0600 "$DIR/password"

  as_server "$PG_BIN/initdb" -D "$DATA" -U postgres --pwfile="$DIR/password" \
    --auth-host=scram-sha-256 --auth-local=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }

  # Settings appended to postgresql.conf (later lines win).
  as_server tee -a "$DATA/postgresql.conf" >/dev/null <<EOF

# --- coffer test cluster (tests/pg/server.sh) ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
password_encryption = 'scram-sha-256'
max_connections = 50
shared_buffers = 256MB
maintenance_work_mem = 256MB
work_mem = 64MB
max_wal_size = 4GB
checkpoint_timeout = 30min
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
datestyle = 'iso, mdy'
lc_messages = 'C'
EOF
  # Only our own loopback port: TCP from 127.0.0.1 with a password, and the
  # unix socket (in our directory) with a password too.
  as_server tee "$DATA/pg_hba.conf" >/dev/null <<EOF
# coffer test cluster
local   all   all                 scram-sha-256
host    all   all   127.0.0.1/32  scram-sha-256
EOF
  echo "$PORT" >"$DIR/port"
}

cmd_start() {
  install_packages
  if is_running; then
    write_pgpass
    say "already running on 127.0.0.1:$PORT (data $DATA)"
    wait_ready
    return 0
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    create_cluster
  fi
  # A stale postmaster.pid from a killed server is handled by pg_ctl itself.
  # The server must not inherit our lock (fd 9), or it would hold it forever.
  if ! as_server "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null 9>&-; then
    tail -n 30 "$LOG" >&2 || true
    die "pg_ctl start failed (is port $PORT taken? see $LOG)"
  fi
  wait_ready
  write_pgpass
  say "running on 127.0.0.1:$PORT (data $DATA); eval \"\$($0 env)\""
}

wait_ready() {
  for _ in $(seq 1 120); do
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 2; then return 0; fi
    sleep 0.5
  done
  tail -n 30 "$LOG" >&2 || true
  die "server did not become ready on 127.0.0.1:$PORT"
}

cmd_stop() {
  if [ ! -e "$DIR" ]; then
    say "nothing at $DIR"
    return 0
  fi
  [ -f "$DIR/$MARKER" ] || die "$DIR is not a coffer test cluster; not touching it"
  if [ -f "$DATA/postmaster.pid" ]; then
    if ! as_server "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1; then
      say "fast shutdown failed; trying immediate"
      as_server "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    # Last resort: the postmaster we started, by the pid it recorded.
    if [ -f "$DATA/postmaster.pid" ]; then
      local pid
      pid=$(head -n 1 "$DATA/postmaster.pid")
      if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
         && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$PG_BIN/postgres" ]; then
        say "killing postmaster $pid"
        kill -KILL "$pid" || true
        sleep 1
      fi
    fi
  fi
  rm -rf -- "$DIR"
  say "stopped; removed $DIR"
}

cmd_env() {
  [ -f "$DIR/password" ] || die "no cluster at $DIR; run: $0 start"
  [ -f "$DIR/pgpass" ] || write_pgpass
  cat <<EOF
export PGHOST=127.0.0.1
export PGPORT=$PORT
export PGUSER=postgres
export PGPASSFILE=$DIR/pgpass
export PGDATABASE=postgres
export COFFER_PG_DIR=$DIR
export COFFER_PG_PORT=$PORT
export COFFER_PG_URL=postgresql://postgres@127.0.0.1:$PORT/
export PATH=$PG_BIN:\$PATH
EOF
}

# start and stop hold a lock beside the directory, so that parallel callers
# (say, several test scripts each running `start`) do not race.
lock() {
  exec 9>>"$DIR.lock"
  flock -w 120 9 || die "timed out waiting for $DIR.lock"
}

case "${1:-}" in
  start) lock; cmd_start ;;
  stop) lock; cmd_stop; rm -f -- "$DIR.lock" ;;
  env) cmd_env ;;
  status) if is_running; then echo "running on 127.0.0.1:$PORT"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|env|status" >&2; exit 2 ;;
esac
