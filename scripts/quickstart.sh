#!/usr/bin/env bash
# The first quick-start command: install what is missing, build, start the
# local sandbox (e1, e2, ipc2 and its streaming standby ipc1) and show it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
rulectl sandbox up
export RULECTL_CONFIG=/tmp/rulekeeper-sandbox/rulectl.toml
echo
echo "== a first rule at e1 =="
psql -X -q -h 127.0.0.1 -p 54311 -U postgres -d rules -v ON_ERROR_STOP=1 <<'SQL'
SELECT rulekeeper.create_rule('pricing.discount', 'pricing', 'discount by tier')
 WHERE NOT EXISTS (SELECT 1 FROM rulekeeper.rule WHERE rule_key = 'pricing.discount');
SELECT rulekeeper.create_version('pricing.discount', '{"rate": 0.1, "tiers": [100, 500]}') AS new_version;
SELECT rule_key, label, qualification, left(content_sha256, 16) AS content_sha256 FROM rulekeeper.rule_version;
SELECT rulekeeper.version_vector(), rulekeeper.snapshot_checksum();
SQL
echo
set +e
rulectl status
rc=$?
set -e
# Exit 4 means a site is unreachable: the table above says which.
[ $rc -eq 0 ] || echo "rulectl status exited $rc"

echo
echo "The sandbox keeps running. Try:"
echo "  export RULECTL_CONFIG=$RULECTL_CONFIG; rulectl status"
echo "  psql -h 127.0.0.1 -p 54311 -U postgres rules   # e1 (54312 e2, 54313 ipc2, 54314 ipc1)"
echo "  rulectl sandbox down"
