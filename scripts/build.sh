#!/usr/bin/env bash
# build.sh — configures and builds coffer into build/ (release with debug
# info). With --sanitize, into build-asan/ with ASan and UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
  cmake -S . -B build-asan -DCOFFER_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$(nproc)"
else
  cmake -S . -B build >/dev/null
  cmake --build build -j"$(nproc)"
fi
