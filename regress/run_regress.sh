#!/usr/bin/env bash
# Runs pg_regress for rulekeeper on a temporary instance.
# Usage: run_regress.sh PG_REGRESS PG_BINDIR SRC_DIR BUILD_DIR TEST...
# As root, the instance runs as the postgres user (initdb refuses root), so
# inputs are copied to a world-traversable place under /tmp first.
set -euo pipefail
pg_regress=$1 bindir=$2 src=$3 build=$4
shift 4
work=$(mktemp -d /tmp/rulekeeper-regress.XXXXXX)
cp -r "$src/sql" "$src/expected" "$work/"
cat > "$work/temp.conf" <<CONF
shared_preload_libraries = 'rulekeeper'
rulekeeper.site = 'e1'
rulekeeper.environment = 'e1'
rulekeeper.heartbeat_interval = 0
# small, so that bad_input.sql can show the body size limit on a modest body
rulekeeper.max_body_bytes = '64kB'
CONF
run=()
if [ "$(id -u)" = 0 ]; then
  chown -R postgres "$work"
  run=(runuser -u postgres --)
fi
status=0
(cd "$work" && "${run[@]}" "$pg_regress" --temp-instance="$work/instance" --temp-config="$work/temp.conf" \
   --bindir="$bindir" --inputdir="$work" --outputdir="$work" --port=57600 \
   --dbname=rulekeeper_regress "$@") || status=$?
if [ $status -ne 0 ]; then
  echo "---- regression.diffs ----"
  [ -f "$work/regression.diffs" ] && cat "$work/regression.diffs"
  mkdir -p "$build/results"; [ -d "$work/results" ] && cp -r "$work/results/." "$build/results/"
  echo "(results copied to $build/results; the work dir is kept at $work)"
else
  rm -rf "$work"
fi
exit $status
