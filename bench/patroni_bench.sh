#!/usr/bin/env bash
# Detection-to-writable time of an unplanned failure inside IPC2 (kill -9 of
# the leader's postmaster), and what each path loses, measured in one run
# (issue #16 "Done when"):
#   A. Patroni (`rulectl sandbox up --ha patroni`: ttl 5 s, loop_wait 1 s,
#      retry_timeout 2 s, master_start_timeout 0, synchronous_mode): from the
#      kill to the first write that succeeds at ipc2b — Patroni detects and
#      promotes, rulectl runs nothing;
#   B. rulectl alone (`rulectl sandbox up --with-ipc2b`, ipc2b synchronous):
#      `rulectl watch --interval 200 --fail-after 3` detects, then
#      `rulectl failover --yes --force --to ipc2b`; from the kill to the
#      first write that succeeds at ipc2b.
# A writer commits one row at a time to ipc2 during the kill (bench table
# in the rules database); loss = rows whose COMMIT was acknowledged and that
# the new primary lacks. Prints one line per round and per path, then the
# medians and their ratio.
#
#   bench/patroni_bench.sh [-b BUILD_DIR] [-p PORT_BASE] [-n ROUNDS]
#     -p  port base (default: bench_patroni in tests/ports.txt; +0..+9)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build
PORT=$(tests/ports.sh first bench_patroni)
ROUNDS=3
while getopts "b:p:n:" o; do
  case $o in
    b) BUILD=$OPTARG ;;
    p) PORT=$OPTARG ;;
    n) ROUNDS=$OPTARG ;;
    *) echo "usage: $0 [-b BUILD_DIR] [-p PORT_BASE] [-n ROUNDS]" >&2; exit 2 ;;
  esac
done
RULECTL=$(realpath "$BUILD/controlplane/rulectl")
BASE=/tmp/rk-patroni-bench-$PORT
OUT=$(mktemp -d)
export RULECTL_CONFIG=$BASE/rulectl.toml
IPC2=$((PORT + 2)); IPC2B=$((PORT + 4))
WRITER=

cleanup() {
  [ -n "$WRITER" ] && kill "$WRITER" 2>/dev/null || true
  "$RULECTL" sandbox down --base "$BASE" >/dev/null 2>&1 || true
  rm -rf "$OUT"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
sql() { psql -X -q -A -t -h 127.0.0.1 -p "$1" -U postgres -d rules -c "$2"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# One row per transaction into ipc2, each acknowledged id appended to a file
# only after its COMMIT returned; stops at the first error (the kill).
start_writer() {
  sql $IPC2 "CREATE TABLE IF NOT EXISTS bench_ack (id bigint PRIMARY KEY)"
  : >"$OUT/acked"
  (
    i=0
    while true; do
      i=$((i + 1))
      psql -X -q -h 127.0.0.1 -p $IPC2 -U postgres -d rules -c "INSERT INTO bench_ack VALUES ($i)" >/dev/null 2>&1 || exit 0
      echo $i >>"$OUT/acked"
    done
  ) &
  WRITER=$!
  until [ "$(wc -l <"$OUT/acked")" -ge 20 ]; do sleep 0.05; done
}

# Kill -9 ipc2's postmaster; returns when a write at ipc2b succeeds.
# Prints "seconds lost" on stdout.
measure() {
  local promote_cmd=$1
  start_writer
  local t0 t1 pid
  pid=$(head -1 "$BASE/ipc2/data/postmaster.pid")
  t0=$(now)
  kill -9 "$pid"
  eval "$promote_cmd"
  until psql -X -q -h 127.0.0.1 -p $IPC2B -U postgres -d rules -c "INSERT INTO bench_ack VALUES (-1) ON CONFLICT DO NOTHING" >/dev/null 2>&1; do
    sleep 0.02
  done
  t1=$(now)
  wait "$WRITER" 2>/dev/null || true
  WRITER=
  local lost=0 present
  present=$(sql $IPC2B "SELECT string_agg(id::text, ' ') FROM bench_ack WHERE id > 0")
  for id in $(cat "$OUT/acked"); do
    case " $present " in *" $id "*) ;; *) lost=$((lost + 1)) ;; esac
  done
  echo "$(secs "$t0" "$t1") $lost $(wc -l <"$OUT/acked")"
}

for r in $(seq 1 "$ROUNDS"); do
  "$RULECTL" sandbox down --base "$BASE" >/dev/null 2>&1 || true
  "$RULECTL" sandbox up --ha patroni --base "$BASE" --port-base "$PORT" >/dev/null 2>"$OUT/up.err" || { cat "$OUT/up.err" >&2; exit 1; }
  read -r s lost acked < <(measure ":")
  echo "round $r  patroni                         kill -9 -> writable at ipc2b  ${s} s  lost ${lost} of ${acked} acknowledged"
  echo "$s" >>"$OUT/patroni"
  "$RULECTL" sandbox down --base "$BASE" >/dev/null 2>&1

  "$RULECTL" sandbox up --with-ipc2b --base "$BASE" --port-base "$PORT" >/dev/null 2>"$OUT/up.err" || { cat "$OUT/up.err" >&2; exit 1; }
  read -r s lost acked < <(measure "'$RULECTL' watch --interval 200 --fail-after 3 --count 600 >'$OUT/watch.out' 2>&1 || true; '$RULECTL' failover --yes --force --to ipc2b >'$OUT/failover.out' 2>&1 || { cat '$OUT/failover.out' >&2; exit 1; }")
  echo "round $r  rulectl watch + failover --force  kill -9 -> writable at ipc2b  ${s} s  lost ${lost} of ${acked} acknowledged"
  echo "$s" >>"$OUT/rulectl"
done
mp=$(median <"$OUT/patroni"); mr=$(median <"$OUT/rulectl")
echo "median: patroni ${mp} s, rulectl watch + failover --force ${mr} s; patroni/rulectl = $(awk -v a="$mp" -v b="$mr" 'BEGIN { printf "%.2f", a / b }')"
