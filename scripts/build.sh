#!/usr/bin/env bash
# Configures, builds and installs rulekeeper (the extension into PostgreSQL's
# directories, rulectl into /usr/local/bin). Build directory: ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
cmake --install build >/dev/null
echo "build: installed $(pg_config --pkglibdir)/rulekeeper.so and $(command -v rulectl || echo /usr/local/bin/rulectl)"
