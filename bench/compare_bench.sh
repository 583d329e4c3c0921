#!/usr/bin/env bash
# `rulectl compare` at 1,000,000 versions with 10 differing rules, against the
# naive way: export both sides' full (rule_key, label, content_sha256) lists
# and diff them client-side.
#
# Builds a throwaway sandbox (rulectl sandbox up) on its own ports, loads
# 100,000 rules x 10 versions on ipc2 (the E3 primary), lets ipc1 (its
# streaming standby) replay them, pauses replay on ipc1, adds one version to
# 10 rules on ipc2, and times both ways of finding those 10 rules.
#
# Usage: bench/compare_bench.sh [RULECTL]   (default: build/controlplane/rulectl)
# Env:   BASE (default /tmp/rk-compare-bench), PORT_BASE (default: bench_compare
#        in tests/ports.txt),
#        RULES (100000), VERSIONS_PER_RULE (10), RUNS (5), KEEP=1 keeps the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."

RULECTL=${1:-build/controlplane/rulectl}
BASE=${BASE:-/tmp/rk-compare-bench}
PORT_BASE=${PORT_BASE:-$(tests/ports.sh first bench_compare)}
RULES=${RULES:-100000}
VERSIONS_PER_RULE=${VERSIONS_PER_RULE:-10}
RUNS=${RUNS:-5}
PRIMARY="host=127.0.0.1 port=$((PORT_BASE + 2)) user=postgres dbname=rules"
STANDBY="host=127.0.0.1 port=$((PORT_BASE + 3)) user=postgres dbname=rules"
WORK=$(mktemp -d)

[ -x "$RULECTL" ] || { echo "no rulectl at $RULECTL (build first, or pass its path)" >&2; exit 2; }
RULECTL=$(realpath "$RULECTL")

cleanup() {
  psql "$STANDBY" -qAtc "SELECT pg_wal_replay_resume()" >/dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] || "$RULECTL" sandbox down --base "$BASE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
# Median of the numbers on stdin.
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "== sandbox at $BASE (ports $PORT_BASE..$((PORT_BASE + 3)))" >&2
"$RULECTL" sandbox down --base "$BASE" >/dev/null 2>&1 || true
"$RULECTL" sandbox up --base "$BASE" --port-base "$PORT_BASE" >/dev/null
export RULECTL_CONFIG="$BASE/rulectl.toml"

total=$((RULES * VERSIONS_PER_RULE))
echo "== loading $RULES rules x $VERSIONS_PER_RULE versions = $total versions on ipc2" >&2
t0=$(now)
# E3 has no authoring function: direct inserts as superuser (the triggers
# journal every row), in batches of 10,000 rules.
for ((start = 1; start <= RULES; start += 10000)); do
  end=$((start + 9999 < RULES ? start + 9999 : RULES))
  psql "$PRIMARY" -qX -v ON_ERROR_STOP=1 <<SQL
BEGIN;
INSERT INTO rulekeeper.rule (rule_key, ruleset)
  SELECT 'rule-' || g, 'bench' FROM generate_series($start, $end) g;
INSERT INTO rulekeeper.rule_version (rule_key, version, body, origin)
  SELECT 'rule-' || g, v, jsonb_build_object('rule', g, 'version', v, 'limit', g * v), 'released'
    FROM generate_series($start, $end) g, generate_series(1, $VERSIONS_PER_RULE) v;
COMMIT;
SQL
done
psql "$PRIMARY" -qXc "VACUUM ANALYZE rulekeeper.rule_version" >/dev/null
load_s=$(printf "%.1f" "$(echo "$(now) - $t0" | bc)")
echo "   loaded in ${load_s}s" >&2

echo "== waiting for ipc1 to replay" >&2
target=$(psql "$PRIMARY" -qAtXc "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 600); do
  [ "$(psql "$STANDBY" -qAtXc "SELECT pg_last_wal_replay_lsn() >= '$target'::pg_lsn")" = t ] && break
  sleep 0.5
done
[ "$(psql "$STANDBY" -qAtXc "SELECT count(*) FROM rulekeeper.rule_version")" = "$total" ] \
  || { echo "ipc1 did not replay all $total versions" >&2; exit 1; }
"$RULECTL" compare ipc2 ipc1 >/dev/null || { echo "ipc2 and ipc1 differ before the change" >&2; exit 1; }

echo "== pausing replay on ipc1; one new version for 10 rules on ipc2" >&2
psql "$STANDBY" -qAtXc "SELECT pg_wal_replay_pause()" >/dev/null
psql "$PRIMARY" -qX -v ON_ERROR_STOP=1 -c "
INSERT INTO rulekeeper.rule_version (rule_key, version, body, origin)
  SELECT 'rule-' || g, $((VERSIONS_PER_RULE + 1)), jsonb_build_object('rule', g, 'changed', true), 'released'
    FROM generate_series(1, $RULES, $((RULES / 10))) g" >/dev/null

seq_scans() { psql "$1" -qAtXc "SELECT seq_scan FROM pg_stat_user_tables WHERE relid = 'rulekeeper.rule_version'::regclass"; }
echo "== rulectl compare ipc2 ipc1 ($RUNS runs)" >&2
seq_a0=$(seq_scans "$PRIMARY"); seq_b0=$(seq_scans "$STANDBY")
: > "$WORK/compare_times"
for _ in $(seq 1 "$RUNS"); do
  t0=$(now)
  rc=0
  # The version comparison and the chain heads; verify_history() (which reads
  # every journal entry and version) is not what this bench measures.
  "$RULECTL" compare ipc2 ipc1 --json --no-verify-history > "$WORK/compare.json" || rc=$?
  printf "%.3f\n" "$(echo "$(now) - $t0" | bc)" >> "$WORK/compare_times"
  [ "$rc" = 3 ] || { echo "compare exited $rc, expected 3 (different)" >&2; exit 1; }
done
rules_found=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['rules']))" "$WORK/compare.json")
round_trips=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['round_trips']; print(max(d.values()))" "$WORK/compare.json")
buckets=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['differing_buckets']))" "$WORK/compare.json")
compare_s=$(median < "$WORK/compare_times")
sleep 1  # backends flush their statistics as they exit
seq_during=$(( $(seq_scans "$PRIMARY") - seq_a0 + $(seq_scans "$STANDBY") - seq_b0 ))

echo "== naive: export both full lists, sort and diff client-side ($RUNS runs)" >&2
: > "$WORK/naive_times"
for _ in $(seq 1 "$RUNS"); do
  t0=$(now)
  psql "$PRIMARY" -qAtX -c "COPY (SELECT rule_key, label, content_sha256 FROM rulekeeper.rule_version) TO STDOUT" > "$WORK/a" &
  psql "$STANDBY" -qAtX -c "COPY (SELECT rule_key, label, content_sha256 FROM rulekeeper.rule_version) TO STDOUT" > "$WORK/b" &
  wait
  LC_ALL=C sort -o "$WORK/a.sorted" "$WORK/a" &
  LC_ALL=C sort -o "$WORK/b.sorted" "$WORK/b" &
  wait
  naive_rules=$(LC_ALL=C comm -3 "$WORK/a.sorted" "$WORK/b.sorted" | sed 's/^\t//' | cut -f1 | sort -u | wc -l)
  printf "%.3f\n" "$(echo "$(now) - $t0" | bc)" >> "$WORK/naive_times"
done
naive_s=$(median < "$WORK/naive_times")
[ "$naive_rules" = "$rules_found" ] || { echo "naive diff found $naive_rules rules, compare $rules_found" >&2; exit 1; }

speedup=$(echo "scale=1; $naive_s / $compare_s" | bc)
cat <<EOF2
| what | value |
|---|---|
| versions on each side | $total ($RULES rules x $VERSIONS_PER_RULE), ipc2 has 10 more |
| differing rules found (compare / naive) | $rules_found / $naive_rules |
| differing buckets | $buckets of 4096 |
| round trips per site (compare) | $round_trips |
| sequential scans of rule_version during the $RUNS compare runs (both sites) | $seq_during |
| rulectl compare, median of $RUNS (whole process: connect, 3 round trips, diff) | ${compare_s}s |
| naive export + sort + diff, median of $RUNS | ${naive_s}s |
| speed-up | ${speedup}x |
| (load of $total versions through the triggers) | ${load_s}s |
EOF2
