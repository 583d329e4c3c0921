#!/usr/bin/env bash
# Failover and rejoin timings on loopback (issue #6), on a sandbox of its own:
#   - planned switchover ipc2 -> ipc1 and back (rulectl failover, per step);
#   - detection: `rulectl watch --interval 200 --fail-after 3`, from kill -9
#     of the E3 primary's postmaster to watch's exit;
#   - forced failover: from the command's start to the first write that
#     succeeds at the new primary;
#   - rejoin of the killed old primary (orphan export, pg_rewind, streaming).
# Prints one line per measurement and a summary (min / median / max).
#
#   bench/failover_bench.sh [-b BUILD_DIR] [-p PORT_BASE] [-n ROUNDS] [-k]
#     -b  build directory holding controlplane/rulectl (default: build)
#     -p  sandbox port base (default: failover_bench in tests/ports.txt;
#         e1..ipc1 = N..N+3)
#     -n  rounds (default 3)
#     -k  keep the sandbox afterwards
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build
PORT=$(tests/ports.sh first failover_bench)
ROUNDS=3
KEEP=0
while getopts "b:p:n:k" o; do
  case $o in
    b) BUILD=$OPTARG ;;
    p) PORT=$OPTARG ;;
    n) ROUNDS=$OPTARG ;;
    k) KEEP=1 ;;
    *) echo "usage: $0 [-b BUILD_DIR] [-p PORT_BASE] [-n ROUNDS] [-k]" >&2; exit 2 ;;
  esac
done
RULECTL=$(realpath "$BUILD/controlplane/rulectl")
BASE=/tmp/rk-failover-bench-$PORT
OUT=$(mktemp -d)
export RULECTL_CONFIG=$BASE/rulectl.toml

cleanup() {
  if [ "$KEEP" = 0 ]; then "$RULECTL" sandbox down --base "$BASE" >/dev/null 2>&1 || true; fi
  rm -rf "$OUT"
}
trap cleanup EXIT

now() { date +%s.%N; }
fail() { echo "FAILED; output:" >&2; cat "$1" >&2; exit 1; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
port_of() { case $1 in e1) echo $PORT ;; e2) echo $((PORT + 1)) ;; ipc2) echo $((PORT + 2)) ;; ipc1) echo $((PORT + 3)) ;; esac; }
sql() { psql -X -q -A -t -h 127.0.0.1 -p "$(port_of "$1")" -U postgres -d rules -c "$2"; }
pgdata_of() { echo "$BASE/$1/data"; }

# kill -9 of a node's postmaster and its children, then wait until all are
# gone (a zombie postmaster keeps its lock file alive).
kill9() {
  local pid children
  pid=$(head -1 "$(pgdata_of "$1")/postmaster.pid")
  children=$(ps -o pid= --ppid "$pid" || true)
  kill -9 "$pid" $children
  for _ in $(seq 1 300); do
    local alive=0
    for p in $pid $children; do [ -e "/proc/$p" ] && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  echo "kill9 $1: processes still there" >&2
  return 1
}

declare -A M  # measurement name -> space-separated values
record() { M[$1]="${M[$1]:-} $2"; echo "  $1: $2 s"; }

# Seconds of one named step from a --json report.
step_secs() {
  python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
print(" ".join("%s=%.3f" % (s["step"].split(" ")[0], s["took_ms"] / 1000.0) for s in doc["steps"]))' "$1"
}

echo "sandbox up in $BASE (ports $PORT..$((PORT + 3)))"
"$RULECTL" sandbox down --base "$BASE" >/dev/null 2>&1 || true
"$RULECTL" sandbox up --base "$BASE" --port-base "$PORT" >/dev/null
sql ipc2 "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('bench', ARRAY['/x'])
          ON CONFLICT DO NOTHING" >/dev/null

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r"
  # Planned switchover and back.
  for pair in "ipc1 ipc2" "ipc2 ipc1"; do
    set -- $pair
    t0=$(now)
    "$RULECTL" --json --yes failover --to "$1" >"$OUT/sw.json" 2>"$OUT/sw.err" || fail "$OUT/sw.err"
    t1=$(now)
    record "planned switchover (command, wall)" "$(secs "$t0" "$t1")"
    echo "    steps: $(step_secs "$OUT/sw.json")"
  done

  # Detection: watch, then kill -9 of the primary ipc2.
  # (watch's exit time is taken by its own subshell: kill9 below also waits
  # for the dead processes to be reaped, which can take longer.)
  (
    rc=0
    "$RULECTL" watch --interval 200 --fail-after 3 --count 600 >"$OUT/watch.out" 2>&1 || rc=$?
    echo "$(now) $rc" >"$OUT/watch.end"
  ) &
  wpid=$!
  sleep 2
  tk=$(now)
  kill9 ipc2
  wait $wpid
  read -r tw rc <"$OUT/watch.end"
  [ "$rc" = 4 ] || { echo "watch exited $rc, not 4" >&2; cat "$OUT/watch.out" >&2; exit 1; }
  record "watch --interval 200 --fail-after 3: kill -9 to exit" "$(secs "$tk" "$tw")"

  # Forced failover to ipc1: command start to the first write there.
  t0=$(now)
  "$RULECTL" --json --yes failover --to ipc1 --force >"$OUT/fo.json" 2>"$OUT/fo.err" || fail "$OUT/fo.err"
  sql ipc1 "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('bench-$r', ARRAY['/x'])" >/dev/null
  t1=$(now)
  record "forced failover: command to first write at the new primary" "$(secs "$t0" "$t1")"
  echo "    steps: $(step_secs "$OUT/fo.json")"

  # Rejoin the killed ipc2 (rulectl starts it without upstream, exports, rewinds).
  t0=$(now)
  "$RULECTL" --json --yes rejoin --site ipc2 >"$OUT/rj.json" 2>"$OUT/rj.err" || fail "$OUT/rj.err"
  t1=$(now)
  record "rejoin of the killed old primary (command, wall)" "$(secs "$t0" "$t1")"
  echo "    steps: $(step_secs "$OUT/rj.json")"

  # Back to ipc2 (planned) for the next round.
  "$RULECTL" --yes failover --to ipc2 >"$OUT/back.out" 2>&1 || fail "$OUT/back.out"
done

echo
echo "summary over $ROUNDS round(s) (seconds: min / median / max)"
for k in "${!M[@]}"; do
  echo "${M[$k]}" | tr ' ' '\n' | grep -v '^$' | sort -n |
    awk -v k="$k" '{ v[NR] = $1 } END { printf "  %-62s %6.3f / %6.3f / %6.3f  (n=%d)\n", k, v[1], v[int((NR + 1) / 2)], v[NR], NR }'
done | sort
