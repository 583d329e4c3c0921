#!/usr/bin/env bash
# Runs PostgreSQL's isolation tester on rulekeeper's specs, on a temporary
# instance that is site ipc2 in environment e3 (activation, hotfix and
# import all happen there). Like regress/run_regress.sh: as root the instance
# runs as the postgres user, so inputs are copied under /tmp first.
# Usage: run_isolation.sh PG_ISOLATION_REGRESS PG_BINDIR SRC_DIR BUILD_DIR TEST...
set -euo pipefail
isolation_regress=$1 bindir=$2 src=$3 build=$4
shift 4
work=$(mktemp -d /tmp/rulekeeper-isolation.XXXXXX)
cp -r "$src/specs" "$src/expected" "$work/"
cat > "$work/temp.conf" <<CONF
shared_preload_libraries = 'rulekeeper'
rulekeeper.site = 'ipc2'
rulekeeper.environment = 'e3'
rulekeeper.heartbeat_interval = 0
CONF
run=()
if [ "$(id -u)" = 0 ]; then
  chown -R postgres "$work"
  run=(runuser -u postgres --)
fi
status=0
(cd "$work" && "${run[@]}" "$isolation_regress" --temp-instance="$work/instance" --temp-config="$work/temp.conf" \
   --bindir="$bindir" --inputdir="$work" --outputdir="$work" --port=57620 \
   --dbname=rulekeeper_isolation "$@") || status=$?
if [ $status -ne 0 ]; then
  echo "---- regression.diffs ----"
  [ -f "$work/regression.diffs" ] && cat "$work/regression.diffs"
  mkdir -p "$build/results"; [ -d "$work/results" ] && cp -r "$work/results/." "$build/results/"
  echo "(results copied to $build/results; the work dir is kept at $work)"
else
  rm -rf "$work"
fi
exit $status
