#!/usr/bin/env bash
# Builds rulekeeper.so a second time with -DUSE_ASSERT_CHECKING, so that
# PostgreSQL's Assert() in the server headers' inline functions and macros,
# and our own (extension/guard.hpp: pg_call only inside a guarded body), are
# live; then loads it into a throwaway server of the stock PostgreSQL and
# runs pg_regress tests against it.
#
# Why not a --enable-cassert server: Debian's source package can be had here
# (apt-get source postgresql-15 once a deb-src entry is added: 24 MB), but
# building the server would cost every CI run an estimated 10-15 minutes of
# both cores (not measured: the cores are shared) plus its build
# dependencies, and tests on it run slower, in a 90-minute budget whose tests
# already take ~15 minutes.
# An assertion-enabled extension in a non-cassert server is sound: Assert()
# calls ExceptionalCondition, which every PostgreSQL build exports; the
# headers' assert-only externs (AssertCouldGetRelation, ...) are only called
# from server code; and USE_ASSERT_CHECKING's side effects
# (MEMORY_CONTEXT_CHECKING, CLOBBER_FREED_MEMORY) change no structure the
# extension uses. A missing symbol would show as the module failing to load,
# which fails this test. What this does not give is the server's own
# assertions (the transaction state machine's, the memory contexts' checks).
# Cost, measured on two cores: about 15 s to build the module and the core
# from scratch at -O0 (without ccache), 12 s for the regression schedule.
#
#   tests/boundary/run_assert_build.sh SRC_DIR BUILD_DIR PORT [TEST...]
#
# BUILD_DIR is where the assertion build goes (a directory of the main
# build, never a shared path). PORT: boundary_assert in tests/ports.txt.
# TESTs default to the schedule in tests/regress/CMakeLists.txt. Environment:
# RULEKEEPER_CXX (the compiler), RULEKEEPER_LAUNCHER (e.g. ccache),
# RULEKEEPER_SQL_DIR (the main build's assembled install scripts).
# Nothing is installed into the system: PostgreSQL's bin, lib and share
# directories are copied into a private tree under /tmp (PostgreSQL finds its
# lib and share directories relative to its binary) and the module goes there.
set -euo pipefail
src=$(cd "$1" && pwd)
build=$2
port=$3
shift 3
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  read -r -a tests < <(sed -n 's/^set(RULEKEEPER_REGRESS_TESTS \(.*\))$/\1/p' "$src/tests/regress/CMakeLists.txt")
fi

started=$(date +%s)
mkdir -p "$build"
launcher=()
if [ -n "${RULEKEEPER_LAUNCHER:-}" ]; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="$RULEKEEPER_LAUNCHER" -DCMAKE_C_COMPILER_LAUNCHER="$RULEKEEPER_LAUNCHER")
fi
# -O0: it is the assertions that matter here, and it halves the compile time.
cmake -S "$src" -B "$build" -DRULEKEEPER_TESTS=OFF -DRULEKEEPER_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug \
  ${RULEKEEPER_CXX:+-DCMAKE_CXX_COMPILER="$RULEKEEPER_CXX"} "${launcher[@]}" \
  -DCMAKE_C_FLAGS="-DUSE_ASSERT_CHECKING" -DCMAKE_CXX_FLAGS="-DUSE_ASSERT_CHECKING" >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; echo "run_assert_build: configuring $build failed" >&2; exit 1; }
cmake --build "$build" --target rulekeeper -j"$(nproc)" >"$build/build.log" 2>&1 ||
  { tail -n 80 "$build/build.log"; echo "run_assert_build: building failed" >&2; exit 1; }
module=$build/extension/rulekeeper.so
echo "run_assert_build: built in $(($(date +%s) - started)) s"

# Proof that the assertions are compiled in (not a silently ignored flag):
# the module calls ExceptionalCondition, which only Assert() reaches.
# (nm's output is read whole: grep -q closing the pipe early would make nm
# fail under pipefail.)
undefined=$(nm -D --undefined-only "$module")
if ! grep -qw ExceptionalCondition <<<"$undefined"; then
  echo "run_assert_build: $module does not call ExceptionalCondition: USE_ASSERT_CHECKING did not take" >&2
  exit 1
fi

bindir=$(pg_config --bindir) pkglibdir=$(pg_config --pkglibdir) sharedir=$(pg_config --sharedir)
pg_regress="$(dirname "$(pg_config --pgxs)")/../test/regress/pg_regress"
work=$(mktemp -d /tmp/rulekeeper-assert.XXXXXX)
trap 'rm -rf "$work"' EXIT
tree=$work/tree
for d in "$bindir" "$pkglibdir" "$sharedir"; do
  mkdir -p "$tree$(dirname "$d")"
  cp -a "$d" "$tree$(dirname "$d")/"
done
if [ "$("$tree$bindir/pg_config" --pkglibdir)" != "$tree$pkglibdir" ]; then
  echo "run_assert_build: this PostgreSQL is not relocatable; cannot use a private tree" >&2
  exit 1
fi
cp "$module" "$tree$pkglibdir/"
# The install scripts as the main build assembled them (sql/udfs pieces included).
cp "$src/sql/rulekeeper.control" "${RULEKEEPER_SQL_DIR:?set it to the assembled sql directory of the main build}"/rulekeeper--*.sql \
  "$tree$sharedir/extension/"
chmod 755 "$work"

# The regression tests as tests/regress/run_regress.sh runs them, on their own port
# and with the private tree's server.
"$src/tests/regress/run_regress.sh" "$pg_regress" "$tree$bindir" "$src/tests/regress" "$build" "$port" "${tests[@]}"
echo "run_assert_build: done in $(($(date +%s) - started)) s"
