#!/usr/bin/env bash
# Builds the Debian packages postgresql-15-rulekeeper and rulekeeper-tools
# from the one CMake build (CPack DEB, packaging/CMakeLists.txt) into
# BUILD/packages/. Usage: scripts/package.sh [BUILD_DIR] (default: build).
# Prints the .deb paths, one a line, last.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath -m "${1:-build}")
jobs=$(nproc 2>/dev/null || echo 2)
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$jobs" --target rulekeeper rulekeeper_sql rulectl rulectl_docs rulekeeper_changelog >/dev/null

# An install() without COMPONENT would be in no package: refuse to build
# packages that silently lack a file.
stray=$(mktemp -d)
trap 'rm -rf "$stray"' EXIT
DESTDIR=$stray cmake --install "$build" --component Unspecified >/dev/null
if [ -n "$(find "$stray" -type f -print -quit)" ]; then
  echo "package: these files are installed without a COMPONENT (extension or tools), so no package holds them:" >&2
  (cd "$stray" && find . -type f | sed 's|^\.||') >&2
  exit 1
fi

rm -rf "$build/packages" "$build/_CPack_Packages_out"
(cd "$build" && cpack -G DEB --config CPackConfig.cmake >/dev/null)
ls -1 "$build"/packages/*.deb
