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
# Every key coffer.yaml takes (read from the loader's tables) is described
# in docs/config.md, and so in coffer.yaml(5), which is made from it.
"$coffer" generate --config-keys | sed 's/ (.*//; s/.*\.//; s/\[\]//' | sort -u >"$tmp/keys"
[ "$(wc -l <"$tmp/keys")" -gt 50 ] || { echo "FAIL: coffer generate --config-keys lists too few keys"; exit 1; }
missing=$(while read -r key; do grep -q "\`$key\`" "$root/docs/config.md" || echo "$key"; done <"$tmp/keys")
if [ -n "$missing" ]; then
  echo "FAIL: keys of coffer.yaml that docs/config.md does not describe: $missing"
  exit 1
fi
echo "PASS: docs/cli.md matches --help; docs/config.md names every key of coffer.yaml"
