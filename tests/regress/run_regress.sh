#!/usr/bin/env bash
# Runs pg_regress for rulekeeper on a temporary instance that is site e1 in
# environment e1 (tests/run_pg_tester.sh does the work).
# Usage: run_regress.sh PG_REGRESS PG_BINDIR SRC_DIR BUILD_DIR PORT TEST...
#   PORT: the instance's port (regress in tests/ports.txt).
set -euo pipefail
# max_body_bytes is small so that bad_input.sql can show the body size limit
# on a modest body.
RK_NODE_CONF="rulekeeper.site = 'e1'
rulekeeper.environment = 'e1'
rulekeeper.max_body_bytes = '64kB'" \
  exec "$(dirname "$0")/../run_pg_tester.sh" "$1" "$2" "$3" "$4" "$5" rulekeeper_regress "sql expected" "${@:6}"
