#!/usr/bin/env bash
# Runs the pg_regress suite against a PostgreSQL whose every server process
# (postmaster, backends, the heartbeat worker) runs under valgrind memcheck,
# with the rulekeeper.so of a build loaded. See README.md next to this script
# for what this does and does not catch. Not part of ctest (valgrind is not in
# scripts/install-deps.sh, and the run takes minutes); run it by hand:
#
#   tests/sanitize/run_extension_valgrind.sh [BUILD_DIR] [TEST...]
#
# BUILD_DIR is a configured and built main build (default ./build); TESTs
# default to the schedule in tests/regress/CMakeLists.txt. Nothing is installed into
# the system: PostgreSQL's bin, lib and share directories are copied into a
# private tree under /tmp (PostgreSQL finds its lib and share directories
# relative to its binary), rulekeeper is installed there, and `postgres` in
# that tree becomes a wrapper that starts the real one under valgrind.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
shift || true
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  read -r -a tests < <(sed -n 's/^set(RULEKEEPER_REGRESS_TESTS \(.*\))$/\1/p' "$root/tests/regress/CMakeLists.txt")
fi
command -v valgrind >/dev/null || { echo "run_extension_valgrind: valgrind is not installed" >&2; exit 1; }
[ -f "$build/extension/rulekeeper.so" ] || { echo "run_extension_valgrind: no $build/extension/rulekeeper.so" >&2; exit 1; }

bindir=$(pg_config --bindir) pkglibdir=$(pg_config --pkglibdir) sharedir=$(pg_config --sharedir)
pg_regress="$(dirname "$(pg_config --pgxs)")/../test/regress/pg_regress"
work=$(mktemp -d /tmp/rulekeeper-valgrind.XXXXXX)
tree=$work/tree
for d in "$bindir" "$pkglibdir" "$sharedir"; do
  mkdir -p "$tree$(dirname "$d")"
  cp -a "$d" "$tree$(dirname "$d")/"
done
if [ "$("$tree$bindir/pg_config" --pkglibdir)" != "$tree$pkglibdir" ]; then
  echo "run_extension_valgrind: this PostgreSQL is not relocatable; cannot use a private tree" >&2
  exit 1
fi
cp "$build/extension/rulekeeper.so" "$tree$pkglibdir/"
# The assembled scripts (build/sql), not the main files with their #include lines.
cp "$root/sql/rulekeeper.control" "$build"/sql/rulekeeper--*.sql "$tree$sharedir/extension/"

# PostgreSQL's own false positives, as in its src/tools/valgrind.supp (which
# Debian does not ship): WAL records and the relcache init file are written
# with padding bytes that were never set.
cat >"$work/postgres.supp" <<'SUPP'
{
  wal_record_padding
  Memcheck:Param
  pwrite64(buf)
  ...
  fun:XLogFlush
}
{
  wal_record_padding_background
  Memcheck:Param
  pwrite64(buf)
  ...
  fun:XLogBackgroundFlush
}
{
  relcache_init_file_padding
  Memcheck:Param
  write(buf)
  ...
  fun:RelationCacheInitializePhase3
}
SUPP
mv "$tree$bindir/postgres" "$tree$bindir/postgres.real"
cat >"$tree$bindir/postgres" <<WRAP
#!/bin/sh
# Version checks and initdb's bootstrap run directly; servers under valgrind.
real="\$(dirname "\$0")/postgres.real"
case " \$* " in *" -V "*|*" --version "*|*" --boot "*|*" --single "*|*" -C "*|*" --describe-config "*)
  exec "\$real" "\$@";; esac
exec valgrind --quiet --leak-check=no --num-callers=30 --error-limit=no --track-origins=no \\
  --suppressions="$work/postgres.supp" --log-file="$work/valgrind/vg.%p.log" "\$real" "\$@"
WRAP
chmod 755 "$tree$bindir/postgres"

mkdir -p "$work/valgrind"
cp -r "$root/tests/regress/sql" "$root/tests/regress/expected" "$work/"
cat >"$work/temp.conf" <<CONF
shared_preload_libraries = 'rulekeeper'
rulekeeper.site = 'e1'
rulekeeper.environment = 'e1'
rulekeeper.heartbeat_interval = 0
CONF
run=()
if [ "$(id -u)" = 0 ]; then
  chmod 755 "$work"
  chown -R postgres "$work"
  run=(runuser -u postgres --)
fi

started=$(date +%s)
status=0
(cd "$work" && "${run[@]}" env PGCTLTIMEOUT=600 "$pg_regress" --temp-instance="$work/instance" \
   --temp-config="$work/temp.conf" --bindir="$tree$bindir" --inputdir="$work" --outputdir="$work" \
   --port="$("$root/tests/ports.sh" first valgrind)" --dbname=rulekeeper_regress "${tests[@]}") || status=$?
echo "run_extension_valgrind: pg_regress under valgrind took $(($(date +%s) - started)) s"
if [ $status -ne 0 ] && [ -f "$work/regression.diffs" ]; then cat "$work/regression.diffs"; fi

# --quiet: a log holds something only when valgrind reported an error.
reports=0
for f in "$work"/valgrind/vg.*.log; do
  [ -s "$f" ] || continue
  reports=$((reports + 1))
  echo "---- $f"
  cat "$f"
done
echo "run_extension_valgrind: $(ls "$work"/valgrind | wc -l) server processes ran under valgrind;" \
     "$reports reported errors"
if [ $status -eq 0 ] && [ $reports -eq 0 ]; then
  rm -rf "$work"
  exit 0
fi
echo "run_extension_valgrind: FAILED (the work dir is kept at $work)"
exit 1
