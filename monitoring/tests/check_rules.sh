#!/usr/bin/env bash
# `promtool check rules` and `promtool test rules` on monitoring/: the alert
# rules parse, and each alert fires and stays quiet as its test says
# (rulekeeper.rules.test.yml). Usage: check_rules.sh [PROMTOOL]
set -euo pipefail
promtool=${1:-promtool}
here=$(cd "$(dirname "$0")" && pwd)
echo "== promtool check rules monitoring/rulekeeper.rules.yml"
"$promtool" check rules "$here/../rulekeeper.rules.yml"
echo "== promtool test rules monitoring/tests/rulekeeper.rules.test.yml (each alert firing and not firing)"
"$promtool" test rules "$here/rulekeeper.rules.test.yml"
# Every alert of the rules file has a test.
missing=0
for alert in $(sed -n 's/^ *- alert: *//p' "$here/../rulekeeper.rules.yml"); do
  if ! grep -q "alertname: $alert\$" "$here/rulekeeper.rules.test.yml"; then
    echo "alert $alert has no test in rulekeeper.rules.test.yml"
    missing=$((missing + 1))
  fi
done
[ "$missing" = 0 ] || { echo "FAILED: $missing alert(s) without a test"; exit 1; }
echo "every alert has a test"
