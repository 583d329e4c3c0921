#!/usr/bin/env bash
# The pod gateway at scale (issue #18 "Done when", bench/README.md "The pod
# gateway"), with its baseline in the same run:
#   1. a throwaway E3 pair on loopback: ipc2 (primary) and ipc1 (its
#      streaming hot standby), max_connections 400, track_commit_timestamp;
#      a signed release of 20 rules imported at ipc2, active in sl and prod;
#   2. the ipc1 gateway (`rulectl gateway --node ipc1`);
#   3. node connections with 10 pods, then with N pods (default 10,000):
#      client backends on ipc1, from pg_stat_activity;
#   4. N pods (the one-thread load client, bench/gateway/load_client.cpp)
#      following prod by SSE (or long polls: --mode poll); the gateway's CPU
#      and RSS idle over a window of W seconds, and the node's CPU for its
#      connections;
#   5. an activation of prod at ipc2; ipc1's replay of it is timestamped by a
#      tight poll of activation_epoch() on ipc1 (every 2 ms) — each pod's
#      receipt is measured from that moment (and, conservatively, from the
#      activation's commit timestamp at ipc2: that adds streaming and replay);
#      the gateway's CPU and RSS during the burst;
#   6. the baseline: B pods (default 200) each in `CALL
#      rulekeeper.wait_for_epoch(after, timeout_ms)` directly on ipc1; the
#      CPU of their backends over the same window W, then the same kind of
#      activation and their receipt (the node's clock when each CALL returned).
# Prints a report (and --json FILE writes it as JSON); everything it started
# is stopped on exit, also on failure.
#
#   bench/gateway_bench.sh [-b BUILD] [-p PORT] [-n PODS] [-N BASELINE_PODS]
#                          [-w WINDOW_S] [--mode sse|poll] [--nice N] [--poll-interval MS] [--smoke] [--fake] [--json FILE]
#     -p  first of 5 ports: ipc2, ipc1, gateway (default bench_gateway in
#         tests/ports.txt; --smoke: bench_gateway_smoke)
#     --fake   bench/gateway/fake_gateway.cpp following activation_epoch()
#         instead of `rulectl gateway`: checks this script's own steps
#     --nice N  run PostgreSQL, the gateway and the load client at nice N
#         (e.g. -5, as root): on a machine shared with other work, so that the
#         burst measures the gateway rather than the neighbours (the report
#         says how long each waited for a CPU either way)
#     --poll-interval MS  the gateway's poll_interval_ms (default: its own, 100)
#     --smoke  100 pods, 10 baseline pods, 1 s windows; asserts that every pod
#         received the new epoch and that the node saw as many gateway
#         connections with 100 pods as with 10 (no time is asserted)
# Exit 0 when it ran (full run: 3 when a latency target was missed), 1 on an
# error or a failed smoke assertion.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build
PORT=
PODS=10000
BASE_PODS=200
WINDOW=15
MODE=sse
SMOKE=0
FAKE=0
NICE=0
POLL_MS=
JSON_OUT=
while [ $# -gt 0 ]; do
  case "$1" in
    -b) BUILD=$2; shift ;;
    -p) PORT=$2; shift ;;
    -n) PODS=$2; shift ;;
    -N) BASE_PODS=$2; shift ;;
    -w) WINDOW=$2; shift ;;
    --mode) MODE=$2; shift ;;
    --smoke) SMOKE=1 ;;
    --fake) FAKE=1 ;;
    --nice) NICE=$2; shift ;;
    --poll-interval) POLL_MS=$2; shift ;;
    --json) JSON_OUT=$2; shift ;;
    -h|--help) sed -n '2,41p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gateway_bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ $SMOKE = 1 ]; then
  PODS=100 BASE_PODS=10 WINDOW=1
  [ -n "$PORT" ] || PORT=$(tests/ports.sh first bench_gateway_smoke)
fi
[ -n "$PORT" ] || PORT=$(tests/ports.sh first bench_gateway)
IPC2=$PORT IPC1=$((PORT + 1)) GW=$((PORT + 2))
BUILD=$(realpath "$BUILD")
RULECTL=${RULECTL:-$BUILD/controlplane/rulectl}  # RULECTL=path: another build of rulectl
CLIENT=$BUILD/bench/gateway_load_client
[ -x "$RULECTL" ] || { echo "gateway_bench.sh: no $RULECTL (build rulectl)" >&2; exit 1; }
[ -x "$CLIENT" ] || { echo "gateway_bench.sh: no $CLIENT (build gateway_load_client)" >&2; exit 1; }
bindir=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
[ -x "$bindir/initdb" ] || bindir=/usr/lib/postgresql/15/bin
ulimit -n "$(ulimit -Hn)"
CLK_TCK=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/rk-gwbench.XXXXXX)
chmod 755 "$work"
run=()
if [ "$(id -u)" = 0 ]; then chown postgres "$work"; run=(runuser -u postgres --); fi
as_pg() { nice -n "$NICE" "${run[@]}" "$@"; }

pids=()  # every background process we started, stopped by cleanup
GW_PID=
cleanup() {
  local rc=$?
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  as_pg "$bindir/pg_ctl" -D "$work/ipc1" -m immediate stop >/dev/null 2>&1 || true
  as_pg "$bindir/pg_ctl" -D "$work/ipc2" -m immediate stop >/dev/null 2>&1 || true
  if [ "${RULEKEEPER_BENCH_KEEP:-0}" = 1 ] || { [ $rc -ne 0 ] && [ $rc -ne 3 ]; }; then
    echo "gateway_bench.sh: exit $rc; logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

log() { echo "[gateway_bench $(date -u +%H:%M:%S)] $*" >&2; }
die() { echo "gateway_bench.sh: $*" >&2; exit 1; }
psql_at() { "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d rules -c "$2"; }
p2() { psql_at "$IPC2" "$1"; }
p1() { psql_at "$IPC1" "$1"; }
now() { date +%s.%N; }
# Polls COMMAND until it succeeds; fails after SECONDS.
until_ok() {
  local seconds=$1; shift
  local end=$(($(date +%s) + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.05
  done
}
# CPU ticks (user + system) of processes, summed; gone processes count 0.
# CPU ticks (user + system) of processes, summed, read in one pass so that
# every process is sampled at about the same moment; gone processes count 0.
cpu_ticks() {
  [ $# -gt 0 ] || { echo 0; return; }
  local files=() p
  for p in "$@"; do files+=("/proc/$p/stat"); done
  cat "${files[@]}" 2>/dev/null | sed 's/.*) //' | awk '{ s += $12 + $13 } END { print s + 0 }'
}
# Nanoseconds the process's threads spent runnable but waiting for a CPU
# (/proc/PID/task/*/schedstat, 2nd field): what neighbours on a shared
# machine cost it.
runq_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%.0f", s }'; }
kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# Percent of one core: ticks over seconds.
pct() { awk -v t="$1" -v s="$2" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", 100 * t / hz / s }'; }
# pg_stat_activity on ipc1: client backends other than ours.
backends() { p1 "SELECT $1 FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() $2"; }
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }

# ---------------------------------------------------------------------------
# 1. ipc2 and ipc1
# ---------------------------------------------------------------------------
log "cluster in $work: ipc2 port $IPC2, ipc1 port $IPC1; gateway port $GW; $PODS pods ($MODE), baseline $BASE_PODS"
as_pg "$bindir/initdb" -D "$work/ipc2" -E UTF8 --locale=C.UTF-8 -U postgres --auth=trust --no-sync >"$work/initdb.log" 2>&1 ||
  { cat "$work/initdb.log" >&2; exit 1; }
as_pg bash -c "umask 077 && openssl genpkey -algorithm ed25519 -out '$work/signing_key.pem' 2>/dev/null"
as_pg tee -a "$work/ipc2/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
shared_preload_libraries = 'rulekeeper'
rulekeeper.database = 'rules'
rulekeeper.site = 'ipc2'
rulekeeper.environment = 'e3'
rulekeeper.signing_key_file = '$work/signing_key.pem'
wal_level = replica
hot_standby = on
# The baseline's waiting pods are backends: room for them and the gateway.
max_connections = $((BASE_PODS + 100))
# The activation's commit time, read back from ipc2 (pg_xact_commit_timestamp).
track_commit_timestamp = on
CONF
echo "host replication all 127.0.0.1/32 trust" | as_pg tee -a "$work/ipc2/pg_hba.conf" >/dev/null
as_pg "$bindir/pg_ctl" -D "$work/ipc2" -l "$work/ipc2.log" -o "-p $IPC2" -w start >/dev/null
"$bindir/psql" -X -q -h 127.0.0.1 -p "$IPC2" -U postgres -d postgres -c "CREATE DATABASE rules"
p2 "CREATE EXTENSION rulekeeper"
p2 "SELECT rulekeeper.trust_key('e2', public_key, 'bench') FROM rulekeeper.signing_public_key()" >/dev/null
# 20 rules with labels 1 and 2, "from e2", signed as any tool could.
p2 "SELECT rulekeeper.import_release(rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b))))
      ->> 'imported' FROM (
    SELECT jsonb_build_object('format', 'rulekeeper-bundle/1',
             'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),
             'rules', (SELECT jsonb_agg(jsonb_build_object('rule_key', 'r' || r, 'ruleset', 'bench', 'description', ''))
                         FROM generate_series(1, 20) r),
             'versions', (SELECT jsonb_agg(jsonb_build_object('rule_key', 'r' || r, 'label', l::text,
                                     'body', jsonb_build_object('rule', r, 'version', l, 'limit', 100 * l),
                                     'content_sha256', rulekeeper.content_sha256(jsonb_build_object('rule', r, 'version', l, 'limit', 100 * l))))
                            FROM generate_series(1, 20) r, generate_series(1, 2) l)) b) x" >/dev/null
# Label 1 of every rule in prod (the set the pods start with); label 2 of r1
# validated in sl, so that prod can take it.
p2 "SELECT count(*) FROM (SELECT rulekeeper.activate(r.rule_key, '1', 'sl'),
                                 rulekeeper.transition(r.rule_key, '1', 'sl_validated', 'bench'),
                                 rulekeeper.activate(r.rule_key, '1', 'prod') FROM rulekeeper.rule r) x" >/dev/null
p2 "SELECT rulekeeper.activate('r1', '2', 'sl'), rulekeeper.transition('r1', '2', 'sl_validated', 'bench')" >/dev/null
as_pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$IPC2" -U postgres -D "$work/ipc1" -X stream -c fast
as_pg touch "$work/ipc1/standby.signal"
as_pg "$bindir/pg_ctl" -D "$work/ipc1" -l "$work/ipc1.log" -w start \
  -o "-p $IPC1 -c rulekeeper.site=ipc1 -c primary_conninfo='host=127.0.0.1 port=$IPC2 user=postgres application_name=ipc1'" >/dev/null
until_ok 30 p1 "SELECT 1" || die "ipc1 does not answer"
e2now=$(p2 "SELECT rulekeeper.activation_epoch()")
until_ok 30 bash -c "[ \"\$('$bindir/psql' -X -At -h 127.0.0.1 -p $IPC1 -U postgres -d rules -c 'SELECT rulekeeper.activation_epoch()')\" = '$e2now' ]" ||
  die "ipc1 did not replay epoch $e2now"

# ---------------------------------------------------------------------------
# 2. the ipc1 gateway
# ---------------------------------------------------------------------------
cat >"$work/rulectl.toml" <<TOML
# rulectl.toml of bench/gateway_bench.sh: the E3 pair only.
[rulectl]
state_dir = "$work/state"

[sites.ipc2]
conninfo = "host=127.0.0.1 port=$IPC2 user=postgres dbname=rules"
environment = "e3"

[sites.ipc1]
conninfo = "host=127.0.0.1 port=$IPC1 user=postgres dbname=rules"
environment = "e3"
dr = true

[sites.ipc1.gateway]
listen = "127.0.0.1:$GW"
$([ -n "$POLL_MS" ] && echo "poll_interval_ms = $POLL_MS")
TOML
export RULECTL_CONFIG=$work/rulectl.toml
if [ $FAKE = 1 ]; then
  "$BUILD/bench/gateway_fake" --port "$GW" \
    --follow "$bindir/psql -X -At -h 127.0.0.1 -p $IPC1 -U postgres -d rules -c 'SELECT rulekeeper.activation_epoch()'" \
    >"$work/gateway.log" 2>&1 &
else
  nice -n "$NICE" "$RULECTL" gateway --node ipc1 >"$work/gateway.log" 2>&1 &
fi
GW_PID=$!
pids+=("$GW_PID")
healthy() { curl -sf -o /dev/null "http://127.0.0.1:$GW/healthz"; }
end=$(($(date +%s) + 30))
until healthy; do
  kill -0 "$GW_PID" 2>/dev/null || { cat "$work/gateway.log" >&2; die "the gateway exited"; }
  [ "$(date +%s)" -lt "$end" ] || { cat "$work/gateway.log" >&2; die "the gateway did not become healthy on port $GW"; }
  sleep 0.05
done
gw_rss_nopod=$(kb "$GW_PID" VmRSS)
log "gateway pid $GW_PID healthy; RSS $gw_rss_nopod kB with no pod"

# ---------------------------------------------------------------------------
# Load client helpers. Starts in the background; waits for "ready".
# ---------------------------------------------------------------------------
CL_PID=
start_client() {  # NAME PODS
  local name=$1 n=$2
  rm -f "$work/$name.ref"
  nice -n "$NICE" "$CLIENT" --port "$GW" --pods "$n" --mode "$MODE" --pod-prefix "$name-" --timeout 120 --ready-timeout 300 \
    --reference-file "$work/$name.ref" --reference-wait 120 --dump "$work/$name.dump" \
    >"$work/$name.json" 2>"$work/$name.err" &
  CL_PID=$!
  pids+=("$CL_PID")
  local end=$(($(date +%s) + 330))
  until grep -qs "^load_client: ready" "$work/$name.err"; do
    kill -0 "$CL_PID" 2>/dev/null || { cat "$work/$name.err" >&2; die "the load client ($name) exited before its pods were ready"; }
    [ "$(date +%s)" -lt "$end" ] || die "the load client ($name) is not ready"
    sleep 0.1
  done
  grep "^load_client: ready" "$work/$name.err" >&2
  grep -q "^load_client: ready $n of $n" "$work/$name.err" || die "not every pod of $name connected: $(cat "$work/$name.err")"
}
stop_client() { kill "$CL_PID" 2>/dev/null || true; wait "$CL_PID" 2>/dev/null || true; }

# The gateway's connections as ipc1 sees them (all client backends but ours:
# the gateway is the only other client now).
node_connections() { backends "count(*)" ""; }

# ---------------------------------------------------------------------------
# 3. node connections with 10 pods and with N
# ---------------------------------------------------------------------------
conn_none=$(node_connections)
start_client few 10
conn_10=$(node_connections)
apps_10=$(backends "string_agg(DISTINCT application_name, ',')" "")
stop_client
log "node connections: no pod $conn_none, 10 pods $conn_10 ($apps_10)"

# ---------------------------------------------------------------------------
# 4. N pods, idle
# ---------------------------------------------------------------------------
start_client many "$PODS"
conn_n=$(node_connections)
log "node connections with $PODS pods: $conn_n"
gw_backends=$(backends "string_agg(pid::text, ' ')" "")
sleep 1  # let the connection burst's last writes settle before the idle window
g0=$(cpu_ticks "$GW_PID"); b0=$(cpu_ticks $gw_backends); t0=$(now)
sleep "$WINDOW"
g1=$(cpu_ticks "$GW_PID"); b1=$(cpu_ticks $gw_backends); t1=$(now)
idle_s=$(secs "$t0" "$t1")
gw_idle_pct=$(pct $((g1 - g0)) "$idle_s")
gw_node_idle_pct=$(pct $((b1 - b0)) "$idle_s")
gw_idle_rss=$(kb "$GW_PID" VmRSS)
log "idle ${idle_s} s with $PODS pods: gateway CPU ${gw_idle_pct}% of a core, its node backends ${gw_node_idle_pct}%, RSS ${gw_idle_rss} kB"

# ---------------------------------------------------------------------------
# 5. the activation and the burst
# ---------------------------------------------------------------------------
# Timestamps ipc1's replay: polls activation_epoch() every 2 ms in its own
# transactions (a DO block may COMMIT at top level) and prints the moment
# it first sees an epoch above the one it started from.
replay_watch() {  # OUTFILE
  "$bindir/psql" -X -q -At -h 127.0.0.1 -p "$IPC1" -U postgres -d rules >"$1" 2>&1 <<'SQL' &
\set VERBOSITY terse
DO $$
DECLARE
  e0 bigint := rulekeeper.activation_epoch();
  e bigint;
BEGIN
  COMMIT;
  LOOP
    e := rulekeeper.activation_epoch();
    IF e > e0 THEN
      RAISE NOTICE 'replayed % %', e, extract(epoch FROM clock_timestamp());
      RETURN;
    END IF;
    COMMIT;
    PERFORM pg_sleep(0.002);
  END LOOP;
END
$$;
SQL
  RW_PID=$!
  pids+=("$RW_PID")
}
# The replay moment, once the watcher printed it.
replay_moment() {  # FILE
  local end=$(($(date +%s) + 60))
  until grep -q "replayed" "$1"; do
    [ "$(date +%s)" -lt "$end" ] || die "ipc1 did not replay the activation within 60 s: $(cat "$1")"
    sleep 0.01
  done
  sed -n 's/.*replayed [0-9]* \([0-9.]*\).*/\1/p' "$1" | head -1
}
# The commit moment of the last activation at ipc2.
commit_moment() {
  p2 "SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin)) FROM rulekeeper.activation_history ORDER BY epoch DESC LIMIT 1"
}

replay_watch "$work/replay.out"
sleep 0.3  # the watcher has read its first epoch
g0=$(cpu_ticks "$GW_PID"); k0=$(cpu_ticks "$CL_PID"); q0=$(runq_ns "$GW_PID"); r0=$(runq_ns "$CL_PID"); t0=$(now)
p2 "SELECT rulekeeper.activate('r1', '2', 'prod')" >/dev/null
replayed=$(replay_moment "$work/replay.out")
committed=$(commit_moment)
end=$(($(date +%s) + 130))
until grep -q "^load_client: done" "$work/many.err"; do
  [ "$(date +%s)" -lt "$end" ] || die "the load client did not finish"
  sleep 0.01
done
g1=$(cpu_ticks "$GW_PID"); k1=$(cpu_ticks "$CL_PID"); q1=$(runq_ns "$GW_PID"); r1=$(runq_ns "$CL_PID"); t1=$(now)
gw_runq_ms=$(awk -v a="$q0" -v b="$q1" 'BEGIN { printf "%.0f", (b - a) / 1e6 }')
client_runq_ms=$(awk -v a="$r0" -v b="$r1" 'BEGIN { printf "%.0f", (b - a) / 1e6 }')
burst_s=$(secs "$t0" "$t1")
client_burst_pct=$(pct $((k1 - k0)) "$burst_s")
gw_burst_pct=$(pct $((g1 - g0)) "$burst_s")
gw_burst_rss=$(kb "$GW_PID" VmRSS)
gw_hwm=$(kb "$GW_PID" VmHWM)
printf 'replay %s\ncommit %s\nend\n' "$replayed" "$committed" >"$work/many.ref.tmp"
mv "$work/many.ref.tmp" "$work/many.ref"
wait "$CL_PID" || true
grep "^load_client: done" "$work/many.err" >&2
result=$work/many.json
[ -s "$result" ] || die "the load client printed no result: $(cat "$work/many.err")"
received=$(jget "$result" 'd["received"]')
failed=$(jget "$result" 'd["failed"]')
med=$(jget "$result" 'd["latency_ms"]["replay"]["median"]')
p90=$(jget "$result" 'd["latency_ms"]["replay"]["p90"]')
p99=$(jget "$result" 'd["latency_ms"]["replay"]["p99"]')
max=$(jget "$result" 'd["latency_ms"]["replay"]["max"]')
min=$(jget "$result" 'd["latency_ms"]["replay"]["min"]')
spread=$(jget "$result" 'd["receipt_spread_ms"]')
cmed=$(jget "$result" 'd["latency_ms"]["commit"]["median"]')
cp99=$(jget "$result" 'd["latency_ms"]["commit"]["p99"]')
commit_to_replay=$(awk -v a="$committed" -v b="$replayed" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
log "burst: $received of $PODS received, $failed failed; from ipc1's replay median $med ms, p99 $p99 ms; gateway CPU ${gw_burst_pct}% over ${burst_s} s, RSS $gw_burst_rss kB"

# ---------------------------------------------------------------------------
# 6. the baseline: pods waiting on the node itself
# ---------------------------------------------------------------------------
ebase=$(p1 "SELECT rulekeeper.activation_epoch()")
for i in $(seq 1 "$BASE_PODS"); do
  PGAPPNAME=bench_wait_for_epoch "$bindir/psql" -X -q -At -h 127.0.0.1 -p "$IPC1" -U postgres -d rules \
    -c "CALL rulekeeper.wait_for_epoch($ebase, 120000)" -c "SELECT 'returned ' || extract(epoch FROM clock_timestamp())" \
    >"$work/wait.$i" 2>&1 &
  pids+=($!)
done
waiting() { [ "$(backends "count(*)" "AND application_name = 'bench_wait_for_epoch' AND query LIKE 'CALL%'")" = "$BASE_PODS" ]; }
until_ok 120 waiting || die "not all $BASE_PODS baseline pods are waiting: $(backends "count(*)" "AND application_name = 'bench_wait_for_epoch'")"
wait_backends=$(backends "string_agg(pid::text, ' ')" "AND application_name = 'bench_wait_for_epoch'")
c0=$(cpu_ticks $wait_backends); t0=$(now)
sleep "$WINDOW"
c1=$(cpu_ticks $wait_backends); t1=$(now)
base_s=$(secs "$t0" "$t1")
base_pct=$(pct $((c1 - c0)) "$base_s")
replay_watch "$work/replay2.out"
sleep 0.3
p2 "SELECT rulekeeper.activate('r1', '1', 'prod')" >/dev/null
replayed2=$(replay_moment "$work/replay2.out")
for i in $(seq 1 "$BASE_PODS"); do
  end=$(($(date +%s) + 30))
  until grep -q '^returned ' "$work/wait.$i"; do
    [ "$(date +%s)" -lt "$end" ] || die "baseline pod $i did not return: $(cat "$work/wait.$i")"
    sleep 0.02
  done
done
base_lat=$(cat "$work"/wait.* | sed -n 's/^returned //p' | awk -v r="$replayed2" '{ print ($1 - r) * 1000 }' | sort -g |
  awk '{ v[NR] = $1 } END { printf "%.1f %.1f %.1f", v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.99)], v[NR] }')
read -r bmed bp99 bmax <<<"$base_lat"

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
per_pod() { awk -v p="$1" -v n="$2" 'BEGIN { printf "%.5f", p / n }'; }
gw_pp=$(per_pod "$gw_idle_pct" "$PODS")
gw_all_pp=$(per_pod "$(awk -v a="$gw_idle_pct" -v b="$gw_node_idle_pct" 'BEGIN { print a + b }')" "$PODS")
base_pp=$(per_pod "$base_pct" "$BASE_PODS")
ratio=$(awk -v b="$base_pp" -v g="$gw_all_pp" 'BEGIN { if (g > 0) printf "%.0f", b / g; else print "inf" }')
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "PASS" : "MISS" }'; }
vmed=$(verdict "$med" 300); vp99=$(verdict "$p99" 1000)
cat <<REPORT

gateway bench ($([ $SMOKE = 1 ] && echo smoke || echo full)): $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')
pods: $PODS ($MODE) on one ipc1 gateway; received $received, failed $failed
latency from ipc1's replay to receipt: median $med ms ($vmed, target <= 300), p90 $p90 ms, p99 $p99 ms ($vp99, target <= 1000), max $max ms
  first pod $min ms after the replay, last pod $spread ms after the first
latency from the commit at ipc2: median $cmed ms, p99 $cp99 ms (commit -> replay seen on ipc1: $commit_to_replay ms)
gateway CPU: idle ${gw_idle_pct}% of a core over ${idle_s} s (its node backends ${gw_node_idle_pct}%), burst ${gw_burst_pct}% over ${burst_s} s (the load client meanwhile ${client_burst_pct}%); waiting for a CPU meanwhile: gateway ${gw_runq_ms} ms, client ${client_runq_ms} ms
gateway RSS: no pod $gw_rss_nopod kB; idle with $PODS pods ${gw_idle_rss} kB, after the burst ${gw_burst_rss} kB, peak ${gw_hwm} kB
node connections (client backends on ipc1): no pod $conn_none, 10 pods $conn_10, $PODS pods $conn_n
baseline: $BASE_PODS pods in CALL wait_for_epoch on ipc1: their backends ${base_pct}% of a core over ${base_s} s; receipt from replay median $bmed ms, p99 $bp99 ms, max $bmax ms
CPU per waiting pod (% of a core): wait_for_epoch $base_pp, gateway $gw_pp (with its node backends $gw_all_pp): ratio ${ratio}x
REPORT
if [ -n "$JSON_OUT" ]; then
  python3 - "$JSON_OUT" <<PY
import json, sys
json.dump({"pods": $PODS, "mode": "$MODE", "received": $received, "failed": $failed,
  "latency_from_replay_ms": {"min": $min, "median": $med, "p90": $p90, "p99": $p99, "max": $max},
  "receipt_spread_ms": $spread, "client_burst_cpu_pct": $client_burst_pct, "burst_runqueue_wait_ms": {"gateway": $gw_runq_ms, "client": $client_runq_ms}, "nice": $NICE, "poll_interval_ms": "${POLL_MS:-default}", "load_average": "$(cut -d' ' -f1-3 /proc/loadavg)",
  "latency_from_commit_ms": {"median": $cmed, "p99": $cp99}, "commit_to_replay_ms": $commit_to_replay,
  "gateway": {"idle_cpu_pct": $gw_idle_pct, "idle_node_backends_cpu_pct": $gw_node_idle_pct, "idle_window_s": $idle_s,
              "burst_cpu_pct": $gw_burst_pct, "burst_s": $burst_s, "idle_rss_kb": $gw_idle_rss,
              "burst_rss_kb": $gw_burst_rss, "no_pod_rss_kb": $gw_rss_nopod, "peak_rss_kb": $gw_hwm},
  "node_connections": {"none": $conn_none, "10": $conn_10, "$PODS": $conn_n},
  "baseline": {"pods": $BASE_PODS, "node_cpu_pct": $base_pct, "window_s": $base_s,
               "latency_from_replay_ms": {"median": $bmed, "p99": $bp99, "max": $bmax}},
  "cpu_per_pod_pct": {"wait_for_epoch": $base_pp, "gateway": $gw_pp, "gateway_with_node": $gw_all_pp}},
  open(sys.argv[1], "w"), indent=1)
PY
fi

# Smoke assertions: delivery and flat node connections, never a time.
if [ $SMOKE = 1 ]; then
  ok=1
  echo "check: every one of $PODS pods received the new epoch: received $received, failed $failed"
  [ "$received" = "$PODS" ] && [ "$failed" = 0 ] || { echo "FAIL: not every pod received the activation"; ok=0; }
  echo "check: node connections with $PODS pods ($conn_n) = with 10 pods ($conn_10), and at least 1"
  [ "$conn_n" = "$conn_10" ] && [ "$conn_10" -ge 1 ] || { echo "FAIL: the node's connections grew with the pods"; ok=0; }
  echo "check: every one of $BASE_PODS baseline pods returned from wait_for_epoch"
  [ "$(cat "$work"/wait.* | grep -c '^returned ')" = "$BASE_PODS" ] || { echo "FAIL: a baseline pod did not return"; ok=0; }
  [ $ok = 1 ] || exit 1
  echo "smoke: PASS"
  exit 0
fi
[ "$vmed" = PASS ] && [ "$vp99" = PASS ] || exit 3
