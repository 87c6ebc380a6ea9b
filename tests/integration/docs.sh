#!/usr/bin/env bash
# docs.sh — docs/cli.md is exactly what the binary's --help says, and every
# command answers --help with exit code 0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
coffer=${COFFER:-$root/build/coffer}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for cmd in init backup snapshots ls restore dump check key; do
  "$coffer" "$cmd" --help > /dev/null || { echo "FAIL: coffer $cmd --help exited non-zero"; exit 1; }
done
(cd "$tmp" && mkdir docs && "$root/scripts/gen-cli-doc.sh" "$coffer")
if ! diff -u "$root/docs/cli.md" "$tmp/docs/cli.md"; then
  echo "FAIL: docs/cli.md is out of date: run scripts/gen-cli-doc.sh"
  exit 1
fi
echo "PASS: docs/cli.md matches --help"
