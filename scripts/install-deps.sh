#!/usr/bin/env bash
# install-deps.sh — installs what coffer needs to build and test on Debian 12.
# Run as root (or with sudo). Safe to run again: apt-get skips what is there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config       # compiler and build
  libsodium-dev libzstd-dev libssl-dev   # crypto, compression, SHA-256
  libjansson-dev                         # JSON (snapshots, keys, --json)
  libpq-dev                              # PostgreSQL client library
  libyaml-dev                            # YAML (coffer.yaml)
  libcurl4-openssl-dev                   # HTTP for the S3 store
  libexpat1-dev                          # XML of S3's answers (listings, errors)
  libmicrohttpd-dev                      # the daemon's /metrics for Prometheus
  libcmocka-dev                          # unit tests
  clang libclang-rt-14-dev               # fuzz harnesses (scripts/fuzz.sh: libFuzzer, ASan, UBSan)
  zstd ca-certificates procps util-linux # test helpers: pgrep, setpriv
  jq openssl                             # integration tests: JSON checks, test data
  postgresql-15 postgresql-client-15     # PostgreSQL source and its tests (server started by the tests)
  redis-server redis-tools               # Redis source tests (server started by the tests)
  git                                    # git source and its tests
  curl                                   # tests/s3/selftest.sh
  faketime                               # tests: a process whose clock runs ahead (prunefreeze.sh)
  tzdata                                 # time zones: retention buckets, the schedule's cron times
  prometheus                             # tests: a Prometheus server scraping the daemon, promtool
  systemd                                # tests: systemd-analyze verify and calendar on the units coffer writes
  lintian man-db                         # tests: the .deb (cpack) linted, its man pages found
  python3                                # tests: deeptree.py walks a 10,000-level tree
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The S3 test server (tests/s3: s3rver behind a SigV4-checking proxy) runs
# on node >= 18: Debian's nodejs and npm, unless a node is already there
# (a NodeSource nodejs carries its own npm and conflicts with Debian's).
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
