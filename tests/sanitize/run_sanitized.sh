#!/usr/bin/env bash
# Builds the core unit tests and rulectl with AddressSanitizer +
# UndefinedBehaviorSanitizer (g++, a separate build under /tmp) and runs them:
# every core unit test, and the rulectl checks that need no server (help,
# usage errors, bad config files, unreachable sites). Any sanitizer report
# fails the run (-fno-sanitize-recover=all, leaks included). What was possible
# for the extension itself is in README.md next to this script.
#
#   tests/sanitize/run_sanitized.sh
#
# Environment: RULEKEEPER_ASAN_BUILD (build dir, default /tmp/build-asan).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${RULEKEEPER_ASAN_BUILD:-/tmp/build-asan}
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

export ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

started=$(date +%s)
mkdir -p "$build"
# -O0: half the compile time of -O1 (the CLI's header-heavy files
# dominate), and the tests it runs are short.
# PRE_TEST: gtest_discover_tests would otherwise run the instrumented binary
# at build time just to list its tests.
cmake -S "$root" -B "$build" -DRULEKEEPER_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
  -DCMAKE_C_FLAGS="-O0 -g $flags" -DCMAKE_CXX_FLAGS="-O0 -g $flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; echo "run_sanitized: configuring $build failed" >&2; exit 1; }
cmake --build "$build" --target core_unit_tests rulectl -j"$(nproc)" >"$build/build.log" 2>&1 ||
  { tail -n 80 "$build/build.log"; echo "run_sanitized: building failed" >&2; exit 1; }
echo "run_sanitized: built in $(($(date +%s) - started)) s"

failed=0
fail() { echo "run_sanitized: FAILED: $*"; failed=1; }

# 1. The core unit tests.
unit=$(find "$build" -name core_unit_tests -type f -perm -u+x | head -n 1)
if "$unit" --gtest_brief=1 >"$build/unit.log" 2>&1; then
  echo "run_sanitized: core_unit_tests ok ($(grep -o '[0-9]* tests\? from [0-9]* test suites\? ran' "$build/unit.log" || echo '?'))"
else
  cat "$build/unit.log"
  fail "core_unit_tests"
fi

# 2. rulectl without a server: each case is expected exit code, then args.
rulectl=$(find "$build" -name rulectl -type f -perm -u+x | head -n 1)
work=$(mktemp -d /tmp/rulekeeper-asan.XXXXXX)
trap 'rm -rf "$work"' EXIT
printf '[sites.e1\nconninfo = 1\n' >"$work/unparsable.toml"
printf '[sites.e1]\nconninfo = "port=1"\nenvironment = "e4"\n' >"$work/bad_value.toml"
printf '[rulectl]\nstate_dir = 3\n[sites.e1]\nconninfo = "port=1"\nenvironment = "e1"\n' >"$work/bad_type.toml"
# Port 1 on loopback: nothing listens there, so the connection is refused at once.
cat >"$work/unreachable.toml" <<EOF
[rulectl]
state_dir = "$work/state"
[sites.e1]
conninfo = "host=127.0.0.1 port=1 dbname=rules connect_timeout=3"
environment = "e1"
[sites.ipc2]
conninfo = "host=127.0.0.1 port=1 dbname=rules connect_timeout=3"
environment = "e3"
[sites.ipc1]
conninfo = "host=127.0.0.1 port=1 dbname=rules connect_timeout=3"
environment = "e3"
dr = true
EOF

check() {
  local want=$1 name=$2
  shift 2
  local got=0
  (cd "$work" && "$rulectl" "$@") >"$work/out" 2>"$work/err" || got=$?
  if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work/err"; then
    cat "$work/err"
    fail "rulectl $name: sanitizer report"
  elif [ "$got" != "$want" ]; then
    sed 's/^/    /' "$work/err"
    fail "rulectl $name: exit $got, expected $want"
  else
    echo "run_sanitized: rulectl $name ok (exit $got)"
  fi
}
check 0 "--help" --help
check 2 "without a verb"
check 2 "with an unknown verb" no-such-verb
check 2 "with an unknown flag" status --no-such-flag
check 2 "with a missing config file" --config "$work/none.toml" status
check 2 "with an unparsable config" --config "$work/unparsable.toml" status
check 2 "with a bad config value" --config "$work/bad_value.toml" status
check 2 "with a bad config type" --config "$work/bad_type.toml" status
check 4 "status, sites unreachable" --config "$work/unreachable.toml" status
check 4 "status --json, sites unreachable" --config "$work/unreachable.toml" status --json
if ! python3 -c 'import json, sys; json.load(sys.stdin)' <"$work/out" 2>/dev/null; then
  fail "rulectl status --json: stdout is not one JSON document"
fi
check 4 "compare, sites unreachable" --config "$work/unreachable.toml" compare ipc2 ipc1
check 4 "at-risk, sites unreachable" --config "$work/unreachable.toml" at-risk --primary ipc2 --standby ipc1

echo "run_sanitized: done in $(($(date +%s) - started)) s"
exit $failed
