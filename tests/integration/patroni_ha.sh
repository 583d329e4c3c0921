#!/usr/bin/env bash
# Patroni as E3's HA engine, with the real thing (issue #16 item 3;
# docs/failover.md "With Patroni"): `rulectl sandbox up --ha patroni` makes
# IPC2 (Patroni cluster ipc2: ipc2 + ipc2b, synchronous_mode) and IPC1 (a
# Patroni standby cluster) with one etcd on loopback, then:
#   1. kill -9 of IPC2's leader postmaster: Patroni promotes ipc2b; nothing
#      acknowledged is lost, effective_rules answers the same there, `rulectl
#      status` names ipc2b, IPC1 follows it; the on_role_change callback
#      recorded the promotion in rulectl's state;
#   2. IPC2 lost with a change IPC1 never got: `rulectl failover --to ipc1`
#      refuses (exit 3) without --force, then promotes IPC1 THROUGH Patroni
#      (its standby_cluster removed) with --force;
#   3. IPC2 returns (Patroni promotes a member on return: timeline 3, like
#      IPC1's, with another history): `rulectl rejoin --site ipc2` fences it
#      through Patroni, has Patroni move it past IPC1's timeline and fences it
#      again (Patroni compares timeline IDs only), captures the orphan, makes
#      it a standby cluster of IPC1 (Patroni rewinds it); `rulectl reconcile`
#      brings the orphan back.
# Patroni, etcd and PostgreSQL are stopped on every exit (trap), and the
# test fails if any process of its directory is left.
#
# usage: patroni_ha.sh RULECTL PORT_FIRST
set -euo pipefail
RULECTL=$1
P=$2
BASE=/tmp/rk-patroni-ctest
export RULECTL_CONFIG=$BASE/rulectl.toml
E1=$P; IPC2=$((P + 2)); IPC1=$((P + 3)); IPC2B=$((P + 4))
REST_IPC2=$((P + 5)); REST_IPC1=$((P + 6))
started=$SECONDS

leftovers() { pgrep -f -- "$BASE" || true; }
cleanup() {
  local rc=$?
  if [ $rc != 0 ]; then
    for f in "$BASE"/patroni/*.log; do [ -f "$f" ] && { echo "--- end of $f"; tail -25 "$f"; }; done
  fi
  "$RULECTL" sandbox down --base "$BASE" >/dev/null 2>&1 || true
  local left
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "FAIL: processes of $BASE left after sandbox down:"; ps -o pid,user,args -p "$(echo $left | tr ' ' ,)" || true
    for pid in $left; do kill -9 "$pid" 2>/dev/null || true; done
    rc=1
  fi
  echo "patroni_ha: $((SECONDS - started)) s, exit $rc"
  exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
check() { echo "CHECK: $*"; }
sql() { psql -X -h 127.0.0.1 -p "$1" -U postgres -d rules -Atq -v ON_ERROR_STOP=1 -c "$2"; }
try_sql() { psql -X -h 127.0.0.1 -p "$1" -U postgres -d rules -Atq -c "$2" 2>/dev/null || true; }
# poll_until SECONDS DESCRIPTION COMMAND...: every 0.1 s until COMMAND succeeds.
poll_until() {
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "timed out after ${limit}s waiting for $what"
    sleep 0.1
  done
}
writable() { [ "$(try_sql "$1" 'SELECT NOT pg_is_in_recovery()')" = t ]; }
patch_config() {  # REST_PORT JSON: PATCH /config, as an operator would with curl
  python3 - "$1" "$2" <<'PY'
import sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/config", data=sys.argv[2].encode(), method="PATCH",
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=5).read()
PY
}
rk() { "$RULECTL" "$@"; }
json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {'d': d}))" "$1"; }
kill_host() {  # SITE: kill -9 its Patroni, then its postmaster (the host is gone)
  local pid
  pid=$(cat "$BASE/patroni/$1.pid"); kill -9 "$pid" 2>/dev/null || true
  if [ -f "$BASE/$1/data/postmaster.pid" ]; then
    pid=$(head -1 "$BASE/$1/data/postmaster.pid"); kill -9 "$pid" 2>/dev/null || true
    poll_until 30 "$1's postmaster to be gone" bash -c "! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status"
  fi
}

rk sandbox down --base "$BASE" >/dev/null 2>&1 || true
rk sandbox up --ha patroni --base "$BASE" --port-base "$P" >/dev/null
check "rulectl.toml says ha = patroni for ipc2, ipc2b, ipc1"
[ "$(grep -c '^ha = .patroni.' "$RULECTL_CONFIG")" = 3 ] || fail "rulectl.toml: $(cat "$RULECTL_CONFIG")"
check "ipc2 is Patroni's leader with ipc2b synchronous; ipc1 a standby leader streaming from it"
[ "$(sql $IPC2 "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'ipc2b'")" = sync ] || fail "ipc2b not sync"
poll_until 30 "ipc1 to stream from ipc2" bash -c "[ \"\$(psql -X -h 127.0.0.1 -p $IPC2 -U postgres -d rules -Atqc \"SELECT state FROM pg_stat_replication WHERE application_name = 'ipc1'\")\" = streaming ]"

# A rule active in SL at E3, through the pipeline.
sql $E1 "SELECT rulekeeper.create_rule('pricing.discount', 'pricing', 'discount'), rulekeeper.create_version('pricing.discount', '{\"rate\": 0.1}'), rulekeeper.create_version('pricing.discount', '{\"rate\": 0.2}')" >/dev/null
rk release --from e1 --to e2 >/dev/null
rk validate --site e2 --rule pricing.discount --version 1 --result passed >/dev/null
rk validate --site e2 --rule pricing.discount --version 2 --result passed >/dev/null
rk release --yes --from e2 --to e3 >/dev/null
rk activate --yes --site e3 --channel sl --rule pricing.discount --version 1 >/dev/null
before=$(sql $IPC2 "SELECT rule_key || ' ' || label FROM rulekeeper.effective_rules('sl') ORDER BY 1")
[ "$before" = "pricing.discount 1" ] || fail "effective_rules('sl') at ipc2: '$before'"

echo "== 1. kill -9 of IPC2's leader postmaster"
t=$SECONDS
kill -9 "$(head -1 "$BASE/ipc2/data/postmaster.pid")"
poll_until 60 "Patroni to promote ipc2b" writable $IPC2B
check "ipc2b accepts writes $((SECONDS - t)) s after the kill"
check "effective_rules('sl') answers the same at ipc2b (the acknowledged activation is there)"
[ "$(sql $IPC2B "SELECT rule_key || ' ' || label FROM rulekeeper.effective_rules('sl') ORDER BY 1")" = "$before" ] || fail "ipc2b lost the activation"
check "rulectl status names ipc2b the E3 primary"
status=$(rk status --json || true)
[ "$(echo "$status" | json_field "[s['role'] for s in d['sites'] if s['site'] == 'ipc2b'][0]")" = primary ] || fail "status: $status"
check "the on_role_change callback recorded ipc2b's promotion in rulectl's state"
promoted_by_callback() {
  grep '"action":"on_role_change"' "$BASE/patroni/state/patroni-role-changes.jsonl" 2>/dev/null | grep '"member":"ipc2b"' |
    grep -qE '"role":"(master|primary)"'
}
poll_until 20 "the callback's line for ipc2b's promotion" promoted_by_callback
check "IPC1 follows ipc2b: a change made there reaches ipc1"
rk activate --yes --site e3 --channel sl --rule pricing.discount --version 2 >/dev/null
after1=$(sql $IPC2B "SELECT rule_key || ' ' || label FROM rulekeeper.effective_rules('sl') ORDER BY 1")
[ "$after1" = "pricing.discount 2" ] || fail "activation at ipc2b: '$after1'"
poll_until 60 "ipc1 to replay the activation made at ipc2b" bash -c "[ \"\$(psql -X -h 127.0.0.1 -p $IPC1 -U postgres -d rules -Atqc \"SELECT rule_key || ' ' || label FROM rulekeeper.effective_rules('sl')\" 2>/dev/null)\" = '$after1' ]"
check "the extension recorded Patroni's promotion of ipc2b: one event on its timeline, promoted_by external, old_site ipc2"
tl=$(sql $IPC2B "SELECT timeline_id FROM pg_control_checkpoint()")
event_of_ipc2b() { [ "$(try_sql $IPC2B "SELECT new_site || ' ' || new_timeline || ' ' || promoted_by || ' ' || old_site FROM rulekeeper.failover_events() LIMIT 1")" = "ipc2b $tl external ipc2" ]; }
poll_until 20 "the extension's failover event for ipc2b on timeline $tl" event_of_ipc2b
n=$(sql $IPC2B "SELECT count(*) FROM rulekeeper.failover_event WHERE new_timeline = $tl")
[ "$n" = 1 ] || fail "$n failover events on timeline $tl at ipc2b (exactly one expected)"

echo "== 2. IPC2 lost with a change IPC1 never got: failover --to ipc1 through Patroni"
# 127.0.0.2: nothing listens there (every server binds 127.0.0.1): ipc1 is cut off
patch_config $REST_IPC1 "{\"standby_cluster\": {\"host\": \"127.0.0.2\", \"port\": $IPC2B}}"
poll_until 30 "ipc1 to stop streaming" bash -c "[ -z \"\$(psql -X -h 127.0.0.1 -p $IPC2B -U postgres -d rules -Atqc \"SELECT 1 FROM pg_stat_replication WHERE application_name = 'ipc1'\")\" ]"
rk validate --yes --site e3 --rule pricing.discount --version 2 --result passed >/dev/null
orphan_vector=$(sql $IPC2B "SELECT rulekeeper.version_vector()::text")
kill_host ipc2
kill_host ipc2b
set +e
out=$(rk failover --yes --to ipc1 --json 2>/dev/null); rc=$?
set -e
check "without --force: refused, exit 3 ($rc), ipc1 still a standby"
[ $rc = 3 ] || fail "failover without --force: exit $rc: $out"
writable $IPC1 && fail "ipc1 writable after a refused failover"
out=$(rk failover --yes --to ipc1 --force --json)
check "with --force: Patroni promoted ipc1 (its standby_cluster removed), the failover is recorded"
[ "$(echo "$out" | json_field "d['result']")" = "failed over" ] || fail "$out"
echo "$out" | json_field "[s['step'] for s in d['steps']]" | grep -q "through Patroni" || fail "no Patroni step: $out"
writable $IPC1 || fail "ipc1 not writable"
python3 -c "import json,urllib.request; c=json.load(urllib.request.urlopen('http://127.0.0.1:$REST_IPC1/config')); assert 'standby_cluster' not in c, c"
[ "$(sql $IPC1 "SELECT new_site FROM rulekeeper.latest_failover_event()")" = ipc1 ] || fail "no failover event at ipc1"

echo "== 3. IPC2 returns: rejoin through Patroni, reconcile"
# `sandbox up` starts the Patroni members that do not run (exit 4: its status
# finds IPC2 not answering yet)
rk sandbox up --base "$BASE" >/dev/null || [ $? = 4 ]
# IPC2 comes back as an ordinary Patroni cluster: Patroni promotes a member,
# which takes timeline 3 like ipc1 did, with another history — the one
# divergence Patroni and pg_rewind cannot see (they compare timeline IDs).
# Waiting for that promotion makes the case certain instead of a race.
ipc2_writable() { writable $IPC2 || writable $IPC2B; }
poll_until 90 "Patroni to promote a member of the returning IPC2" ipc2_writable
ipc1_tl=$(sql $IPC1 "SELECT timeline_id FROM pg_control_checkpoint()")
check "a member of IPC2 accepts writes again, on a timeline of its own numbered like ipc1's ($ipc1_tl)"
orphans=$BASE/orphans.json
out=$(rk rejoin --yes --site ipc2 --orphans "$orphans" --json)
check "rejoined: fenced, orphan captured, standby cluster of ipc1"
[ "$(echo "$out" | json_field "d['result']")" = rejoined ] || fail "$out"
n=$(echo "$out" | json_field "d['orphans']['count']")
[ "$n" -ge 1 ] || fail "no orphan captured: $out"
check "$n orphan(s) in $orphans"
check "rejoin saw the standby leader on ipc1's timeline ID and had Patroni move it past, so that Patroni rewound it"
echo "$out" | json_field "[s['step'] for s in d['steps']]" | grep -q "past timeline $ipc1_tl" || fail "no step moving IPC2 past timeline $ipc1_tl: $out"
python3 -c "import json,urllib.request; c=json.load(urllib.request.urlopen('http://127.0.0.1:$REST_IPC2/config')); s=c['standby_cluster']; assert s['port'] == $IPC1 and s['primary_slot_name'] == 'ipc2', c"
for port in $IPC2 $IPC2B; do
  writable $port && fail "a member of IPC2 (port $port) accepts writes after the rejoin"
done
out=$(rk reconcile --yes --bundle "$orphans" --to e3 --json)
check "reconcile brought the orphan back at ipc1"
rk status >/dev/null || true
echo "PASS"
