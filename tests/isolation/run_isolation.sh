#!/usr/bin/env bash
# Runs PostgreSQL's isolation tester on rulekeeper's specs, on a temporary
# instance that is site ipc2 in environment e3 (activation, hotfix and import
# all happen there); tests/run_pg_tester.sh does the work.
# Usage: run_isolation.sh PG_ISOLATION_REGRESS PG_BINDIR SRC_DIR BUILD_DIR PORT TEST...
#   PORT: the instance's port (isolation in tests/ports.txt).
set -euo pipefail
RK_NODE_CONF="rulekeeper.site = 'ipc2'
rulekeeper.environment = 'e3'" \
  exec "$(dirname "$0")/../run_pg_tester.sh" "$1" "$2" "$3" "$4" "$5" rulekeeper_isolation "specs expected" "${@:6}"
