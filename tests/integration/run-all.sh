#!/usr/bin/env bash
# Run every integration script (or those named) and print a summary line.
# usage: tests/integration/run-all.sh [NAME...]   (COFFER=path/to/coffer)
cd "$(dirname "$0")" || exit 1
scripts=("$@")
[ ${#scripts[@]} -gt 0 ] || scripts=(roundtrip errors corruption keys concurrent killnine)
passed=0 failed=0 failed_names=()
for s in "${scripts[@]}"; do
    s=${s%.sh}
    echo "=== $s"
    start=$SECONDS
    if bash "./$s.sh"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names+=("$s"); fi
    echo "=== $s: $((SECONDS - start)) s"
done
[ $failed = 0 ] || echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
