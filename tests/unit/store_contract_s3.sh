#!/usr/bin/env bash
# store_contract_s3.sh BINARY — runs test_store_contract with its S3 cases
# on: starts the loopback S3 server of tests/s3 (port COFFER_S3_TEST_PORT),
# points COFFER_TEST_S3_STORE at its bucket, stops the server afterwards.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$1
export COFFER_S3_DIR
COFFER_S3_DIR=$(mktemp -d "${TMPDIR:-/tmp}/coffer-contract-s3.XXXXXX")
export COFFER_S3_PORT=${COFFER_S3_TEST_PORT:-27560} COFFER_S3_BUCKET=coffer-test
trap '"$HERE/../s3/server.sh" stop >/dev/null 2>&1 || true' EXIT
"$HERE/../s3/server.sh" start >/dev/null
eval "$("$HERE/../s3/server.sh" env)"
COFFER_TEST_S3_STORE=s3://$COFFER_S3_BUCKET/contract "$BIN"
