#!/usr/bin/env bash
# Checks that our C and C++ sources are formatted as .clang-format says
# (clang-format --dry-run -Werror): core include extension controlplane podclient tests
# bench, without tests/fuzz/corpus (fuzzer inputs, not code) and without
# anything generated (that lives in the build directory). CTest runs it as
# the test `format`; CONTRIBUTING.md says how to fix what it reports.
# Usage: scripts/check_format.sh [--fix] [SOURCE_DIR]
#   --fix   rewrite the files in place instead of checking them
#   CLANG_FORMAT=path picks the binary (default: clang-format, Debian's 14).
set -euo pipefail
fix=0
if [ "${1:-}" = --fix ]; then fix=1; shift; fi
src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
clang_format=${CLANG_FORMAT:-clang-format}
command -v "$clang_format" >/dev/null ||
  { echo "check_format: $clang_format not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
cd "$src"
files=()
while IFS= read -r -d '' f; do files+=("$f"); done < <(
  find core include extension controlplane podclient tests bench \
    -path tests/fuzz/corpus -prune -o \
    -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' -o -name '*.cpp' -o -name '*.hpp' \) -print0 | sort -z)
[ ${#files[@]} -gt 0 ] || { echo "check_format: no sources found under $src" >&2; exit 1; }
if [ $fix = 1 ]; then
  "$clang_format" -i --style=file "${files[@]}"
  echo "check_format: formatted ${#files[@]} files"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  "$clang_format" --dry-run -Werror --style=file "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  printf 'not formatted: %s\n' "${bad[@]}"
  echo "check_format: ${#bad[@]} of ${#files[@]} files are not formatted as .clang-format says;" \
       "see one with: clang-format --dry-run FILE; fix all with: scripts/check_format.sh --fix"
  exit 1
fi
echo "check_format: all ${#files[@]} files formatted"
