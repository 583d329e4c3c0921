#!/usr/bin/env bash
# Fails when a file in tests/regress/sql is not in the schedule (tests/regress/CMakeLists.txt)
# or has no expected output.
set -euo pipefail
src=$1; shift
listed=" $* "
status=0
for f in "$src"/sql/*.sql; do
  name=$(basename "$f" .sql)
  case "$listed" in *" $name "*) ;; *) echo "tests/regress/sql/$name.sql is not in RULEKEEPER_REGRESS_TESTS"; status=1;; esac
  [ -f "$src/expected/$name.out" ] || { echo "tests/regress/expected/$name.out is missing"; status=1; }
done
exit $status
