#!/usr/bin/env bash
# The second quick-start command, and what CI runs: install what is missing,
# build, and run every test (GoogleTest unit tests, pg_regress, integration
# tests on real clusters, the benchmark smoke run). Ends with CTest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 "$@"
