#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/CMakeLists.txt, clang) under /tmp
# and runs each for SECONDS, starting from a copy of its checked-in seed
# corpus (new corpus files never land in the repository). Fails on any crash,
# leak, sanitizer report, timeout or out-of-memory, and prints the input that
# caused it and the command that reproduces it.
#
#   tests/fuzz/run_fuzz.sh SECONDS
#
# Environment: RULEKEEPER_FUZZ_BUILD (build dir, default /tmp/build-fuzz),
# RULEKEEPER_FUZZ_ARTIFACTS (where crash inputs go, default
# /tmp/rulekeeper-fuzz-artifacts), CXX (default clang++). The targets run at
# the same time, one process each, so the wall-clock cost is about SECONDS.
set -euo pipefail

if [ $# -ne 1 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 SECONDS" >&2
  exit 2
fi
seconds=$1
here=$(cd "$(dirname "$0")" && pwd)
build=${RULEKEEPER_FUZZ_BUILD:-/tmp/build-fuzz}
artifacts_root=${RULEKEEPER_FUZZ_ARTIFACTS:-/tmp/rulekeeper-fuzz-artifacts}
cxx=${CXX:-clang++}
case "$(basename "$cxx")" in clang++*) ;; *) cxx=clang++ ;; esac  # the main build's CXX may be g++

if ! command -v "$cxx" >/dev/null; then
  echo "run_fuzz: $cxx not found; install clang and libclang-rt-14-dev (scripts/install-deps.sh)" >&2
  exit 1
fi

# target -> the longest input worth trying: a bundle can be large; JSON texts
# past a few kilobytes only make each run slower, not new code reachable.
declare -A max_len=([fuzz_bundle]=65536 [fuzz_canonical_json]=16384 [fuzz_json_diff]=16384)
targets=(fuzz_bundle fuzz_canonical_json fuzz_json_diff)

started=$(date +%s)
mkdir -p "$build"
cmake -S "$here" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; echo "run_fuzz: configuring $build failed" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1 ||
  { cat "$build/build.log"; echo "run_fuzz: building the fuzz targets failed" >&2; exit 1; }
built=$(date +%s)
echo "run_fuzz: built in $((built - started)) s; running ${targets[*]} for $seconds s each"

work=$(mktemp -d /tmp/rulekeeper-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
run_id=$(date +%Y%m%d-%H%M%S)-$$
declare -A pid
for t in "${targets[@]}"; do
  mkdir -p "$work/$t" "$artifacts_root/$run_id/$t"
  cp "$here/corpus/$t/"* "$work/$t/"
  # -timeout: one input running this long is a hang, a finding in itself.
  # -detect_leaks is libFuzzer's default with ASan; said here for the reader.
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="${max_len[$t]}" -timeout=25 \
      -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$artifacts_root/$run_id/$t/" "$work/$t" \
      >"$work/$t.log" 2>&1 &
  pid[$t]=$!
done

failed=0
for t in "${targets[@]}"; do
  if wait "${pid[$t]}"; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || echo '?')
    corpus=$(ls "$work/$t" | wc -l)
    echo "run_fuzz: $t ok: $runs inputs in $seconds s, corpus $(ls "$here/corpus/$t" | wc -l) -> $corpus"
    rm -rf "$artifacts_root/$run_id/$t"
  else
    failed=1
    echo "run_fuzz: $t FAILED:"
    grep -m 5 -E -A 1 '==fuzz finding==|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' \
      "$work/$t.log" | sed 's/^/    /' || true
    echo "run_fuzz: the end of its log:"
    tail -n 60 "$work/$t.log" | sed 's/^/    /'
    for f in "$artifacts_root/$run_id/$t"/*; do
      [ -e "$f" ] || continue
      echo "run_fuzz: $t: crash input $f"
      echo "run_fuzz:   reproduce with: $build/$t $f"
    done
  fi
done
rmdir "$artifacts_root/$run_id" 2>/dev/null || true
rmdir "$artifacts_root" 2>/dev/null || true
echo "run_fuzz: done in $(($(date +%s) - started)) s"
exit $failed
