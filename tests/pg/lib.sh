# shellcheck shell=bash
# lib.sh — sourced by the tests/pg scripts: connection settings for the
# test cluster. If PGHOST/PGPASSFILE are not set yet and server.sh's cluster
# exists, its `env` output is used; otherwise libpq's own settings apply.
PG_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -z "${PGPASSFILE:-}" ] && [ -f "${COFFER_PG_DIR:-/tmp/coffer-pg}/password" ]; then
  eval "$("$PG_TESTS_DIR/server.sh" env)"
fi
export PATH=/usr/lib/postgresql/15/bin:$PATH
# shellcheck disable=SC2034  # used by the scripts that source this file
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
