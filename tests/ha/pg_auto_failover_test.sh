#!/usr/bin/env bash
# pg_auto_failover with rulekeeper (issue #16 item 5; docs/ha-managers.md
# "pg_auto_failover"): Debian's pg_autoctl runs a monitor and two E3 nodes on
# loopback — ipc2 (node a, primary) and ipc2b (node b, secondary), both with
# rulekeeper preloaded. The primary is killed (keeper and postmaster, as a
# host crash); pg_auto_failover promotes ipc2b by itself; then rulectl's
# status, at-risk and rejoin must give the right answers, and when the
# keeper of ipc2 returns (pg_autoctl rewinds it into a secondary) rejoin has
# nothing left to do.
#
# usage: pg_auto_failover_test.sh RULECTL FIRST_PORT   (ports FIRST..FIRST+2:
# pg_auto_failover in tests/ports.txt). Every daemon it starts is stopped on
# exit, failure included (trap). KEEP=1 keeps the directory for a look.
set -euo pipefail
RULECTL=$1
FIRST=$2
MON_PORT=$FIRST
A_PORT=$((FIRST + 1))
B_PORT=$((FIRST + 2))
BIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$BIN/pg_ctl" ] || BIN=/usr/lib/postgresql/15/bin
command -v pg_autoctl >/dev/null || { echo "FAIL: pg_autoctl not installed (postgresql-15-auto-failover)"; exit 1; }

BASE=$(mktemp -d /tmp/rk-pg-auto-failover.XXXXXX)
chmod 755 "$BASE"
if [ "$(id -u)" = 0 ]; then chown postgres "$BASE"; fi
KEEPERS=()

# pg_autoctl and PostgreSQL refuse root: run as postgres, its config and
# state under $BASE (XDG dirs), nothing in ~postgres.
as_pg() {
  local envs=(env HOME="$BASE" XDG_CONFIG_HOME="$BASE/config" XDG_DATA_HOME="$BASE/share" PATH="$BIN:$PATH" PG_CONFIG="$BIN/pg_config")
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "${envs[@]}" "$@"; else "${envs[@]}" "$@"; fi
}
psql_at() { as_pg "$BIN/psql" -X -At -h 127.0.0.1 -p "$1" -U postgres -d "${3:-rules}" -c "$2"; }

cleanup() {
  local rc=$?
  set +e
  for k in "${KEEPERS[@]}"; do kill -TERM "$k" 2>/dev/null; done
  for d in a b monitor; do
    [ -d "$BASE/$d" ] && as_pg pg_autoctl stop --pgdata "$BASE/$d" --immediate >/dev/null 2>&1
  done
  for k in "${KEEPERS[@]}"; do
    for _ in $(seq 100); do kill -0 "$k" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$k" 2>/dev/null
  done
  for d in a b monitor; do
    [ -f "$BASE/$d/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$BASE/$d" -m immediate -w stop >/dev/null 2>&1
  done
  if [ $rc != 0 ]; then
    echo "--- FAILED (exit $rc); the end of each log:"
    for f in "$BASE"/*.log; do echo "--- $f"; tail -n 25 "$f"; done
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $BASE"; else rm -rf "$BASE"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; exit 1; }
check() { echo "check: $*"; }
# until "$@" succeeds, at most $1 seconds (polled every 0.2 s)
wait_for() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.2
  done
}
keeper() {  # starts `pg_autoctl run` for a data directory, in the background
  as_pg setsid pg_autoctl run --pgdata "$BASE/$1" >>"$BASE/$1.log" 2>&1 &
  KEEPERS+=($!)
  eval "KEEPER_$1=$!"
}
state_of() { psql_at "$MON_PORT" "SELECT reportedstate FROM pgautofailover.node WHERE nodename = '$1'" pg_auto_failover; }
is_state() { [ "$(state_of "$1")" = "$2" ]; }
# rulekeeper.site per node: pg_basebackup and pg_rewind copy PGDATA's config
# files from the other node, so on one host each node's identity is written
# after pg_autoctl cloned or rewound it (on separate hosts, an include of
# /etc/postgresql/rulekeeper-site.conf: same path, each host's own content —
# docs/ha-managers.md).
own_site() {
  local d=$1 site=$2 port=$3
  as_pg sed -i '/^rulekeeper\.site/d' "$BASE/$d/postgresql.auto.conf"
  echo "rulekeeper.site = '$site'" | as_pg tee -a "$BASE/$d/postgresql.auto.conf" >/dev/null
  [ -n "$port" ] && psql_at "$port" "SELECT pg_reload_conf()" >/dev/null
  true
}
site_is() { [ "$(psql_at "$1" "SHOW rulekeeper.site")" = "$2" ]; }

echo "== monitor on 127.0.0.1:$MON_PORT"
as_pg pg_autoctl create monitor --pgctl "$BIN/pg_ctl" --pgdata "$BASE/monitor" --pgport "$MON_PORT" \
  --hostname 127.0.0.1 --auth trust --no-ssl >"$BASE/create-monitor.log" 2>&1
keeper monitor
wait_for 60 psql_at "$MON_PORT" "SELECT 1" pg_auto_failover || fail "the monitor does not answer"
# Quick failure detection for the test (defaults: ~20-30 s).
psql_at "$MON_PORT" "ALTER SYSTEM SET pgautofailover.health_check_period = 1000" pg_auto_failover >/dev/null
psql_at "$MON_PORT" "ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000" pg_auto_failover >/dev/null
psql_at "$MON_PORT" "ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1" pg_auto_failover >/dev/null
psql_at "$MON_PORT" "ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 200" pg_auto_failover >/dev/null
psql_at "$MON_PORT" "ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 3000" pg_auto_failover >/dev/null
psql_at "$MON_PORT" "ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 3000" pg_auto_failover >/dev/null
psql_at "$MON_PORT" "SELECT pg_reload_conf()" pg_auto_failover >/dev/null
MONITOR_URI="postgres://autoctl_node@127.0.0.1:$MON_PORT/pg_auto_failover?sslmode=disable"

echo "== node a = ipc2 on :$A_PORT (initdb, rulekeeper preloaded), registered as the primary"
as_pg "$BIN/initdb" -D "$BASE/a" -U postgres --auth=trust >"$BASE/initdb-a.log" 2>&1
cat <<CONF | as_pg tee -a "$BASE/a/postgresql.conf" >/dev/null
# rulekeeper (tests/ha/pg_auto_failover_test.sh)
shared_preload_libraries = 'rulekeeper'
rulekeeper.environment = 'e3'
rulekeeper.database = 'rules'
wal_log_hints = on
CONF
own_site a ipc2 ""
as_pg pg_autoctl create postgres --pgctl "$BIN/pg_ctl" --pgdata "$BASE/a" --pgport "$A_PORT" --hostname 127.0.0.1 \
  --name a --dbname rules --auth trust --no-ssl --monitor "$MONITOR_URI" >"$BASE/create-a.log" 2>&1
keeper a
wait_for 90 is_state a single || fail "node a never reached state single"
wait_for 60 psql_at "$A_PORT" "SELECT 1" || fail "node a does not answer"
psql_at "$A_PORT" "CREATE EXTENSION IF NOT EXISTS rulekeeper" >/dev/null

echo "== node b = ipc2b on :$B_PORT, cloned by pg_autoctl"
as_pg pg_autoctl create postgres --pgctl "$BIN/pg_ctl" --pgdata "$BASE/b" --pgport "$B_PORT" --hostname 127.0.0.1 \
  --name b --dbname rules --auth trust --no-ssl --monitor "$MONITOR_URI" >"$BASE/create-b.log" 2>&1
keeper b
wait_for 120 is_state b secondary || fail "node b never reached state secondary ($(state_of b))"
wait_for 60 is_state a primary || fail "node a never reached state primary ($(state_of a))"
wait_for 60 psql_at "$B_PORT" "SELECT 1" || fail "node b does not answer"
own_site b ipc2b "$B_PORT"
wait_for 30 site_is "$B_PORT" ipc2b || fail "ipc2b's rulekeeper.site did not take"

cat >"$BASE/rulectl.toml" <<TOML
[rulectl]
state_dir = "$BASE/rulectl-state"

[sites.ipc2]
conninfo = "host=127.0.0.1 port=$A_PORT user=postgres dbname=rules connect_timeout=3"
environment = "e3"

[sites.ipc2b]
conninfo = "host=127.0.0.1 port=$B_PORT user=postgres dbname=rules connect_timeout=3"
environment = "e3"
TOML
rk() { "$RULECTL" --config "$BASE/rulectl.toml" "$@"; }

echo "== before: rulectl status"
out=$(rk --json status) || fail "status exit $? before the failover: $out"
check "status names ipc2 the primary, ipc2b its standby"
echo "$out" | python3 -c '
import json, sys
d = {s["site"]: s for s in json.load(sys.stdin)["sites"]}
assert d["ipc2"]["role"] == "primary", d["ipc2"]
assert d["ipc2b"]["role"] == "standby", d["ipc2b"]
'

echo "== kill -9 the primary's keeper and postmaster (a host crash)"
# The keeper is pg_autoctl's supervisor (its PID file) and its services, one
# process group (setsid); the postmaster is named by postmaster.pid.
A_PM=$(head -1 "$BASE/a/postmaster.pid")
A_KEEPER=$(head -1 "$(as_pg pg_autoctl show file --pid --pgdata "$BASE/a")")
A_GROUP=$(ps -o pgid= -p "$A_KEEPER" | tr -d ' ')
[ -n "$A_GROUP" ] && [ "$A_GROUP" != "$(ps -o pgid= -p $$ | tr -d ' ')" ] || fail "no process group for a's keeper"
kill -KILL -- "-$A_GROUP" "$A_PM"
wait_for 30 bash -c "! kill -0 $A_PM 2>/dev/null" || fail "a's postmaster survived SIGKILL"
# wait_primary: promoted, with no secondary to wait for (a is gone).
promoted() { case "$(state_of "$1")" in primary | wait_primary) return 0 ;; *) return 1 ;; esac; }
wait_for 120 promoted b || fail "pg_auto_failover did not promote b ($(state_of b))"
writable() { [ "$(psql_at "$1" 'SELECT pg_is_in_recovery()')" = f ]; }
wait_for 30 writable "$B_PORT" || fail "b is still in recovery"
check "pg_auto_failover promoted ipc2b by itself (monitor: b $(state_of b), a $(state_of a))"

# The extension records the promotion itself (issue #16 item 1), by its
# background worker or the first write, whichever comes first: polled.
event() { psql_at "$B_PORT" "SELECT new_site || ' ' || promoted_by || ' ' || new_timeline FROM rulekeeper.failover_events() LIMIT 1"; }
event_is() { [ "$(event)" = "$1" ]; }
wait_for 60 event_is "ipc2b external 2" || fail "no failover event of the promotion at ipc2b: '$(event)'"
check "rulekeeper recorded pg_auto_failover's promotion at ipc2b: $(event) (new_site promoted_by new_timeline)"

echo "== after: rulectl status / at-risk / rejoin"
set +e
out=$(rk --json status); rc=$?
set -e
check "status exits 4 (ipc2 unreachable) and names ipc2b the primary"
[ $rc = 4 ] || fail "status exit $rc: $out"
echo "$out" | python3 -c '
import json, sys
d = {s["site"]: s for s in json.load(sys.stdin)["sites"]}
assert d["ipc2b"]["role"] == "primary", d["ipc2b"]
assert d["ipc2"]["role"] != "primary", d["ipc2"]
'
set +e
out=$(rk --json at-risk); rc=$?
set -e
echo "$out" >"$BASE/at-risk.json"
check "at-risk: ipc2b is the primary; toward the dead ipc2 the loss is UNKNOWN (exit 3, got $rc)"
python3 - "$BASE/at-risk.json" "$rc" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
rc = int(sys.argv[2])
print("  at-risk:", json.dumps(doc)[:400])
# ipc2 is down: what a failover to it would lose cannot be known (exit 3,
# UNKNOWN), and the primary it is judged against is ipc2b.
assert rc == 3, rc
assert doc["primary"] == "ipc2b", doc
assert "unknown" in json.dumps(doc).lower(), doc
PY

echo "== the keeper of ipc2 returns: pg_autoctl rewinds it into a secondary of ipc2b"
keeper a
wait_for 180 is_state a secondary || fail "node a never came back as secondary ($(state_of a))"
own_site a ipc2 "$A_PORT"
wait_for 30 site_is "$A_PORT" ipc2 || fail "ipc2's rulekeeper.site did not take"
out=$(rk --json rejoin --yes --site ipc2) || fail "rejoin exit $?: $out"
check "rejoin --site ipc2: already a standby of ipc2b, nothing to do"
echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["result"] == "already a standby", d
assert d["primary"] == "ipc2b", d
'
out=$(rk --json status) || fail "status exit $? at the end: $out"
check "status: ipc2b primary, ipc2 its standby"
echo "$out" | python3 -c '
import json, sys
d = {s["site"]: s for s in json.load(sys.stdin)["sites"]}
assert d["ipc2b"]["role"] == "primary", d["ipc2b"]
assert d["ipc2"]["role"] == "standby", d["ipc2"]
'
echo "PASS: pg_auto_failover promoted ipc2b; rulectl status, at-risk and rejoin answered right"
