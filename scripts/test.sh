#!/usr/bin/env bash
# The second quick-start command, and what CI runs: install what is missing,
# build, and run every test (GoogleTest unit tests, pg_regress, integration
# tests on real clusters, the benchmark smoke run). Ends with CTest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
# The tests' servers listen on fixed loopback ports (tests/ports.txt), most of
# them inside the kernel's ephemeral range; reserve every range of the table so
# that no client socket (say, one in TIME_WAIT after a benchmark) is ever given
# one of them (root only; harmless).
reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
if [ -w "$reserved" ]; then
  ours=$(tests/ports.sh ranges)
  current=$(cat "$reserved")
  echo "${current:+$current,}$ours" > "$reserved"
fi
cd build
ctest --output-on-failure --timeout 900 "$@"
