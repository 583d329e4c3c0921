#!/usr/bin/env bash
# In-server benchmarks of rulekeeper (see bench/README.md): each one measured
# as a ratio against a baseline measured in the same run, on a throwaway
# cluster under /tmp that is torn down on exit.
#
# Usage: bench/run_bench.sh [--smoke] [--only NAME]... [--bindir DIR] [--port N] [--no-snapshot]
#   --smoke      tiny sizes, a few seconds: checks that the scripts still run
#                (a MISS is allowed; only an error fails)
#   --only NAME  run only this benchmark (repeatable, or comma-separated):
#                create_version, large_txn, snapshot_checksum, verify_checksums
#   --bindir DIR PostgreSQL's bindir (default: pg_config --bindir)
#   --port N     the throwaway cluster's port (default: bench_run in
#                tests/ports.txt; with --smoke, bench_smoke)
#   --no-snapshot  use the installation in place instead of a private copy
#                of it taken at start (see below)
#
# Prints one line per measurement: name, ours, baseline, ratio, target,
# PASS/MISS. Exit status: 0 when every benchmark ran (in full mode, 3 when a
# target was missed), 1 on an error. Set RULEKEEPER_BENCH_KEEP=1 to keep the
# cluster directory for inspection.
#
# Runs the extension *installed* in the system PostgreSQL (cmake --install),
# from a private copy of that installation taken at start, so that a
# concurrent install cannot swap the extension in the middle of a run.
set -euo pipefail

smoke=0
snapshot=1
only=()
bindir=""
port="${RULEKEEPER_BENCH_PORT:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --only) shift; IFS=, read -r -a names <<<"${1:?--only needs a name}"; only+=("${names[@]}") ;;
    --no-snapshot) snapshot=0 ;;
    --bindir) shift; bindir="${1:?--bindir needs a directory}" ;;
    --port) shift; port="${1:?--port needs a number}" ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_bench.sh: unknown argument $1 (see --help)" >&2; exit 1 ;;
  esac
  shift
done
all_names=(create_version large_txn snapshot_checksum verify_checksums)
for n in "${only[@]}"; do
  case " ${all_names[*]} " in *" $n "*) ;; *) echo "run_bench.sh: unknown benchmark $n (${all_names[*]})" >&2; exit 1 ;; esac
done
wanted() {
  [ ${#only[@]} -eq 0 ] && return 0
  local n
  for n in "${only[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}

if [ -z "$bindir" ]; then
  bindir=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
fi
[ -x "$bindir/initdb" ] || bindir=/usr/lib/postgresql/15/bin
[ -x "$bindir/initdb" ] || { echo "run_bench.sh: no initdb in $bindir" >&2; exit 1; }
if [ -z "$port" ]; then
  if [ $smoke = 1 ]; then name=bench_smoke; else name=bench_run; fi
  port=$("$(dirname "$0")/../tests/ports.sh" first $name)
fi

# Sizes. Full run / smoke run.
if [ $smoke = 1 ]; then
  cv_rounds=1 cv_seconds=1
  lt_small=1000 lt_big=10000 lt_rounds=1
  big_versions=2000 big_rules=200 big_chunk=2000
  snap_rounds=2 snap_reps=2 naive_reps=1
  verify_rounds=1
else
  cv_rounds=5 cv_seconds=8
  lt_small=10000 lt_big=100000 lt_rounds=3
  big_versions=1000000 big_rules=10000 big_chunk=100000
  snap_rounds=5 snap_reps=10 naive_reps=1
  verify_rounds=5
fi

# ---------------------------------------------------------------------------
# The throwaway cluster (as the postgres user when run as root: initdb
# refuses root; everything it reads lives in $work).
# ---------------------------------------------------------------------------
work=$(mktemp -d /tmp/rulekeeper-bench.XXXXXX)
chmod 755 "$work"
run=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$work"
  run=(runuser -u postgres --)
fi
pgdata="$work/data"

# A private copy of the installed PostgreSQL and extension, taken now: the
# project's other work may `cmake --install` a newer (or older) rulekeeper at
# any moment, and a benchmark must measure one build from start to end.
# PostgreSQL finds its lib and share directories relative to its binaries, so
# the copy runs as it is. --no-snapshot uses the installation in place.
if [ "$snapshot" = 1 ]; then
  libdir=$("$bindir/pg_config" --pkglibdir) sharedir=$("$bindir/pg_config" --sharedir)
  for d in "$bindir" "$libdir" "$sharedir"; do
    mkdir -p "$work/pg$(dirname "$d")"
    cp -a "$d" "$work/pg$d"
  done
  bindir="$work/pg$bindir"
  so="$work/pg$libdir/rulekeeper.so"
else
  so="$("$bindir/pg_config" --pkglibdir)/rulekeeper.so"
fi
[ -f "$so" ] || { echo "run_bench.sh: rulekeeper is not installed ($so): cmake --install the build first" >&2; exit 1; }
started=0
cleanup() {
  local rc=$?
  if [ $started = 1 ]; then
    "${run[@]}" "$bindir/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ "${RULEKEEPER_BENCH_KEEP:-0}" = 1 ] || { [ $rc -ne 0 ] && [ $rc -ne 3 ]; }; then
    echo "(cluster directory kept at $work)" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

as_pg() { "${run[@]}" "$@"; }
# Writes stdin to a file in $work that the postgres user can read.
put() { cat >"$work/$1"; chmod 644 "$work/$1"; }

echo "rulekeeper benchmarks ($([ $smoke = 1 ] && echo smoke || echo full)): $(nproc) cores," \
     "$("$bindir/postgres" --version), cluster $work port $port"
echo "extension: rulekeeper.so installed $(date -u -r "$so" '+%Y-%m-%d %H:%M:%S UTC'), sha256 $(sha256sum "$so" | cut -c1-12)" \
     "$([ "$snapshot" = 1 ] && echo '(private copy)')"
as_pg "$bindir/initdb" -D "$pgdata" -E UTF8 --locale=C.UTF-8 -U postgres --auth=trust >"$work/initdb.log" 2>&1 \
  || { cat "$work/initdb.log" >&2; exit 1; }
cat >>"$pgdata/postgresql.conf" <<CONF

# rulekeeper benchmark cluster (bench/run_bench.sh). fsync stays on.
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
shared_preload_libraries = 'rulekeeper'
rulekeeper.site = 'e1'
rulekeeper.environment = 'e1'
rulekeeper.heartbeat_interval = 0
# Room for the data set in memory and no checkpoint in the middle of a
# measurement (each phase starts with an explicit CHECKPOINT instead).
shared_buffers = '1GB'
max_wal_size = '20GB'
checkpoint_timeout = '1h'
autovacuum = off
CONF
as_pg "$bindir/pg_ctl" -D "$pgdata" -l "$work/server.log" -w -t 60 start >/dev/null \
  || { cat "$work/server.log" >&2; exit 1; }
started=1

psql_q() { as_pg "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres "$@"; }
# a and b run in database bench; c and d in bench_1m, so that it holds
# exactly the versions loaded for them and nothing that a and b wrote.
db=bench
sql() { psql_q -d "$db" -At -c "$1"; }
psql_q -d postgres -c 'CREATE DATABASE bench'
sql 'CREATE EXTENSION rulekeeper'

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
                                               if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Runs SQL (a file's text) in one psql session with \timing; prints each
# statement's time in ms, one a line. Results go to /dev/null.
timings() {
  { echo '\timing on'; echo '\o /dev/null'; cat; } | put timed.sql
  psql_q -d "$db" -f "$work/timed.sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}
sum_lines() { awk '{ s += $1 } END { printf "%.3f\n", s }'; }
pgbench_latency() {  # FILE SECONDS -> average latency in ms
  as_pg env PGOPTIONS='-c synchronous_commit=off' "$bindir/pgbench" -n -M prepared -c 1 -j 1 -T "$2" \
    -h "$work" -p "$port" -U postgres -f "$work/$1" "$db" >"$work/pgbench.out" 2>&1 \
    || { cat "$work/pgbench.out" >&2; return 1; }
  sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$work/pgbench.out"
}
checkpoint() { sql 'CHECKPOINT' >/dev/null; }

results=()
missed=0
# report NAME OURS BASE UNIT RATIO_KIND(ours/base|base/ours) OP(<=|>=) TARGET [NOTE]
report() {
  local name=$1 ours=$2 base=$3 unit=$4 kind=$5 op=$6 target=$7 note=${8:-}
  local ratio verdict
  if [ "$kind" = ours/base ]; then ratio=$(awk -v a="$ours" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
  else ratio=$(awk -v a="$base" -v b="$ours" 'BEGIN { printf "%.1f", a / b }'); fi
  if awk -v r="$ratio" -v t="$target" -v op="$op" 'BEGIN { exit !((op == "<=") ? r <= t : r >= t) }'; then
    verdict=PASS
  else
    verdict=MISS; missed=$((missed + 1))
  fi
  local line
  line=$(printf '%-30s ours %10.3f %-2s  baseline %10.3f %-2s  ratio %8s (%s)  target %s %s  %s%s' \
    "$name" "$ours" "$unit" "$base" "$unit" "$ratio" "$kind" "$op" "$target" "$verdict" "${note:+  $note}")
  results+=("$line")
  echo "$line"
}

# ---------------------------------------------------------------------------
# a. create_version vs the minimal writes any journaled design needs
# ---------------------------------------------------------------------------
bench_create_version() {
  db=bench
  echo "== create_version: pgbench -M prepared -c 1, synchronous_commit=off for both;" \
       "$cv_rounds rounds of ${cv_seconds}s, interleaved"
  sql "SELECT count(rulekeeper.create_rule('b' || g, 'bench')) FROM generate_series(1, 100) g
        WHERE NOT EXISTS (SELECT 1 FROM rulekeeper.rule WHERE rule_key = 'b' || g)" >/dev/null
  psql_q -d "$db" <<'SQL'
CREATE TABLE IF NOT EXISTS plain_journal (LIKE rulekeeper.journal INCLUDING ALL);
CREATE TABLE IF NOT EXISTS plain_version (LIKE rulekeeper.rule_version INCLUDING ALL);
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'plain_version_rule_fk') THEN
    ALTER TABLE plain_version ADD CONSTRAINT plain_version_rule_fk
      FOREIGN KEY (rule_key) REFERENCES rulekeeper.rule;
    ALTER TABLE plain_version ADD CONSTRAINT plain_version_change_fk
      FOREIGN KEY (change_id) REFERENCES plain_journal DEFERRABLE INITIALLY DEFERRED;
  END IF;
END $$;
CREATE SEQUENCE IF NOT EXISTS plain_seq;
SQL
  put cv_ours.sql <<'SQL'
\set r random(1, 100)
SELECT rulekeeper.create_version('b' || :r::text, jsonb_build_object('n', :client_id::int, 'name', 'rule body text', 'tiers', jsonb_build_array(1, 2, 3)));
SQL
  put cv_base.sql <<'SQL'
\set r random(1, 100)
WITH j AS (
  INSERT INTO plain_journal (change_id, origin_site, origin_incarnation, origin_seq, kind, rule_key, label, payload,
                             entry_hash)
  VALUES (gen_random_uuid(), 'e1', 1, nextval('plain_seq'), 'version', 'b' || :r::text, currval('plain_seq')::text,
          '{"qualification": "draft"}', 'b4c1d2e3f4a5968712345678abcdef0123456789abcdef0123456789abcdef02')
  RETURNING change_id, origin_seq)
INSERT INTO plain_version (rule_key, version, label, body, content_sha256, bucket, qualification, origin_site, change_id)
SELECT 'b' || :r::text, j.origin_seq, j.origin_seq::text,
       jsonb_build_object('n', :client_id::int, 'name', 'rule body text', 'tiers', jsonb_build_array(1, 2, 3)),
       'a3f1c2e4b5d6978812345678abcdef0123456789abcdef0123456789abcdef01', 893, 'draft', 'e1', j.change_id
  FROM j;
SQL
  checkpoint
  local ours=() base=() i o b
  for i in $(seq 1 "$cv_rounds"); do
    b=$(pgbench_latency cv_base.sql "$cv_seconds")
    o=$(pgbench_latency cv_ours.sql "$cv_seconds")
    echo "  round $i: baseline $b ms, create_version $o ms"
    base+=("$b"); ours+=("$o")
  done
  # Also shown: the median of the per-round ratios (each round's pair ran
  # back to back, so it is less exposed to a noisy neighbour).
  local paired
  paired=$(for i in "${!ours[@]}"; do awk -v a="${ours[$i]}" -v b="${base[$i]}" 'BEGIN { print a / b }'; done | median)
  report create_version "$(printf '%s\n' "${ours[@]}" | median)" "$(printf '%s\n' "${base[@]}" | median)" \
    ms ours/base '<=' 1.5 "(median latency per call; median of per-round ratios $(printf '%.2f' "$paired"))"
}

# ---------------------------------------------------------------------------
# b. Large transactions: cost per version must not grow with the transaction
# ---------------------------------------------------------------------------
bench_large_txn() {
  db=bench
  echo "== large_txn: one transaction of $lt_small vs $lt_big versions; $lt_rounds rounds, interleaved"
  sql "SELECT count(rulekeeper.create_rule(k, 'bench')) FROM
         (SELECT 'b' || g AS k FROM generate_series(1, 100) g UNION ALL SELECT 'p' || g FROM generate_series(1, 100) g) s
        WHERE NOT EXISTS (SELECT 1 FROM rulekeeper.rule WHERE rule_key = k)" >/dev/null
  checkpoint
  local cv_small=() cv_big=() ins_small=() ins_big=() i t next=1
  cv_txn() {
    printf 'BEGIN;\nSELECT count(rulekeeper.create_version(%s, jsonb_build_object(%s, g))) FROM generate_series(1, %d) g;\nCOMMIT;\n' \
      "'b' || (g % 100 + 1)" "'n'" "$1" | timings | sum_lines
  }
  ins_txn() {  # N FIRST_G: versions g of rules p1..p100, g unique across runs
    printf 'BEGIN;\nINSERT INTO rulekeeper.rule_version (rule_key, version, body) SELECT %s, g, jsonb_build_object(%s, g) FROM generate_series(%d, %d) g;\nCOMMIT;\n' \
      "'p' || (g % 100 + 1)" "'n'" "$2" "$(($2 + $1 - 1))" | timings | sum_lines
  }
  for i in $(seq 1 "$lt_rounds"); do
    t=$(cv_txn "$lt_small"); cv_small+=("$t"); echo "  round $i: create_version x $lt_small: $t ms"
    t=$(cv_txn "$lt_big"); cv_big+=("$t"); echo "  round $i: create_version x $lt_big: $t ms"
    t=$(ins_txn "$lt_small" $next); next=$((next + lt_small)); ins_small+=("$t")
    echo "  round $i: INSERT of $lt_small: $t ms"
    t=$(ins_txn "$lt_big" $next); next=$((next + lt_big)); ins_big+=("$t")
    echo "  round $i: INSERT of $lt_big: $t ms"
  done
  local factor=$((lt_big / lt_small)) target
  target=$(awk -v f="$factor" 'BEGIN { printf "%g", f * 1.3 }')
  report "large_txn_create_version" "$(printf '%s\n' "${cv_big[@]}" | median)" \
    "$(printf '%s\n' "${cv_small[@]}" | median)" ms ours/base '<=' "$target" \
    "(ours = ${lt_big}-version txn, baseline = ${lt_small}; linear = $factor)"
  report "large_txn_insert" "$(printf '%s\n' "${ins_big[@]}" | median)" \
    "$(printf '%s\n' "${ins_small[@]}" | median)" ms ours/base '<=' "$target" \
    "(ours = ${lt_big}-row INSERT, baseline = ${lt_small}; linear = $factor)"
}

# ---------------------------------------------------------------------------
# c, d. The big data set: $big_versions versions of $big_rules rules
# ---------------------------------------------------------------------------
big_loaded=0
load_big() {
  db=bench_1m
  [ $big_loaded = 1 ] && return 0
  echo "== loading $big_versions versions of $big_rules rules into database $db through the triggers" \
       "(full run: a minute or two)"
  psql_q -d postgres -c "CREATE DATABASE $db"
  sql 'CREATE EXTENSION rulekeeper'
  local t0 lo hi
  t0=$(date +%s.%N)
  sql "INSERT INTO rulekeeper.rule (rule_key, ruleset) SELECT 'r' || g, 'rs' FROM generate_series(0, $((big_rules - 1))) g" >/dev/null
  for ((lo = 1; lo <= big_versions; lo += big_chunk)); do
    hi=$((lo + big_chunk - 1)); [ $hi -gt $big_versions ] && hi=$big_versions
    sql "INSERT INTO rulekeeper.rule_version (rule_key, version, body)
         SELECT 'r' || (g % $big_rules), g, jsonb_build_object('n', g, 'tag', 'x') FROM generate_series($lo, $hi) g" >/dev/null
    printf '  loaded %d / %d versions (%.0f s)\n' "$hi" "$big_versions" "$(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { print t1 - t0 }')"
  done
  sql 'VACUUM ANALYZE' >/dev/null
  checkpoint
  echo "  rule_version now holds $(sql 'SELECT count(*) FROM rulekeeper.rule_version') versions" \
       "($(sql "SELECT pg_size_pretty(pg_total_relation_size('rulekeeper.rule_version'))"))"
  big_loaded=1
}

# ROUNDS REPS_OURS REPS_BASE OURS_SQL BASE_SQL -> sets med_ours, med_base (ms per statement)
interleaved() {
  local rounds=$1 ro=$2 rb=$3 qo=$4 qb=$5 i
  local all_o=() all_b=()
  # One unmeasured run of each first (caches, plans).
  { echo "$qo"; echo "$qb"; } | timings >/dev/null
  for i in $(seq 1 "$rounds"); do
    for _ in $(seq 1 "$rb"); do echo "$qb"; done | timings >"$work/times_base"
    for _ in $(seq 1 "$ro"); do echo "$qo"; done | timings >"$work/times_ours"
    [ "$(wc -l <"$work/times_base")" = "$rb" ] && [ "$(wc -l <"$work/times_ours")" = "$ro" ] \
      || { echo "run_bench.sh: missing timings" >&2; exit 1; }
    mapfile -t -O ${#all_b[@]} all_b <"$work/times_base"
    mapfile -t -O ${#all_o[@]} all_o <"$work/times_ours"
    echo "  round $i: ours $(printf '%s\n' "${all_o[@]: -$ro}" | median) ms (median of $ro)," \
         "baseline $(printf '%s\n' "${all_b[@]: -$rb}" | median) ms (median of $rb)"
  done
  med_ours=$(printf '%s\n' "${all_o[@]}" | median)
  med_base=$(printf '%s\n' "${all_b[@]}" | median)
}

bench_snapshot_checksum() {
  load_big
  echo "== snapshot_checksum('all') vs md5(string_agg(...)) over rule_version"
  interleaved "$snap_rounds" "$snap_reps" "$naive_reps" \
    "SELECT rulekeeper.snapshot_checksum('all');" \
    "SELECT md5(string_agg(rule_key || ':' || label || ':' || content_sha256, ',' ORDER BY rule_key, label)) FROM rulekeeper.rule_version;"
  report snapshot_checksum "$med_ours" "$med_base" ms base/ours '>=' 100 "(x faster)"
}

bench_verify_checksums() {
  load_big
  echo "== verify_checksums() vs sum(length(sha256(body::text::bytea)))"
  local problems
  problems=$(sql 'SELECT count(*) FROM rulekeeper.verify_checksums()')
  [ "$problems" = 0 ] || { echo "verify_checksums() reports $problems problems on an untouched data set" >&2; exit 1; }
  interleaved "$verify_rounds" 1 1 \
    "SELECT count(*) FROM rulekeeper.verify_checksums();" \
    "SELECT sum(length(sha256(body::text::bytea))) FROM rulekeeper.rule_version;"
  report verify_checksums "$med_ours" "$med_base" ms ours/base '<=' 2
}

if wanted create_version; then bench_create_version; fi
if wanted large_txn; then bench_large_txn; fi
if wanted snapshot_checksum; then bench_snapshot_checksum; fi
if wanted verify_checksums; then bench_verify_checksums; fi

echo
echo "== summary ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $("$bindir/postgres" --version))"
printf '%s\n' "${results[@]}"
if [ $missed -gt 0 ]; then
  echo "$missed target(s) missed"
  if [ $smoke = 1 ]; then echo "(smoke run: sizes too small to mean anything; a MISS is not a failure)"; exit 0; fi
  exit 3
fi
exit 0
