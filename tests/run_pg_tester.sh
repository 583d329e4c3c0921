#!/usr/bin/env bash
# Runs one of PostgreSQL's test drivers (pg_regress or pg_isolation_regress)
# on a temporary instance with rulekeeper preloaded: the one runner behind
# tests/regress/run_regress.sh and tests/isolation/run_isolation.sh.
# As root the instance runs as the postgres user (initdb refuses root), so the
# inputs are copied to a world-traversable place under /tmp first. On failure
# the diffs are printed, the results copied to BUILD_DIR/results and the work
# dir kept.
# Usage: run_pg_tester.sh DRIVER PG_BINDIR SRC_DIR BUILD_DIR PORT DBNAME "INPUT_DIRS" TEST...
#   INPUT_DIRS: the subdirectories of SRC_DIR the driver reads ("sql expected").
#   RK_NODE_CONF: this node's rulekeeper settings, one per line (site,
#   environment, ...), appended to the instance's configuration.
set -euo pipefail
driver=$1 bindir=$2 src=$3 build=$4 port=$5 dbname=$6 inputs=$7
shift 7
work=$(mktemp -d /tmp/rulekeeper-pgtest.XXXXXX)
for dir in $inputs; do cp -r "$src/$dir" "$work/"; done
# The instance's signing key (docs/keys.md): tests that import bundles trust
# it for the environment they play and sign hand-built bundles with
# rulekeeper.sign_bundle(). Readable only by the server's OS user.
(umask 077 && openssl genpkey -algorithm ed25519 -out "$work/signing_key.pem" 2>/dev/null)
{
  echo "shared_preload_libraries = 'rulekeeper'"
  echo "rulekeeper.heartbeat_interval = 0"
  echo "rulekeeper.signing_key_file = '$work/signing_key.pem'"
  echo "${RK_NODE_CONF:-}"
} > "$work/temp.conf"
run=()
if [ "$(id -u)" = 0 ]; then
  chown -R postgres "$work"
  run=(runuser -u postgres --)
fi
status=0
(cd "$work" && "${run[@]}" "$driver" --temp-instance="$work/instance" --temp-config="$work/temp.conf" \
   --bindir="$bindir" --inputdir="$work" --outputdir="$work" --port="$port" \
   --dbname="$dbname" "$@") || status=$?
if [ $status -ne 0 ]; then
  echo "---- regression.diffs ----"
  [ -f "$work/regression.diffs" ] && cat "$work/regression.diffs"
  mkdir -p "$build/results"; [ -d "$work/results" ] && cp -r "$work/results/." "$build/results/"
  echo "(results copied to $build/results; the work dir is kept at $work)"
else
  rm -rf "$work"
fi
exit $status
