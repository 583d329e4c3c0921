#!/usr/bin/env bash
# import_release of an n-version bundle against its floor, measured in the
# same run (bench/README.md "Releases and channels", lines b, b2, b3):
#   b.  the import vs COPY of the same rows into a plain table;
#   b2. the import vs the floor: COPY of exactly the rows the import wrote
#       (versions and their journal entries) into tables of the same shape
#       (LIKE ... INCLUDING ALL, the same foreign keys), no trigger, nothing
#       verified — what any import keeping this schema must at least write;
#   b3. that floor vs the plain COPY.
# Each round uses a fresh database (an import is idempotent: a second one
# writes nothing); the medians of the rounds are reported.
# Usage: bench/import_bench.sh [-p port] [-n versions] [-r rounds] [-P perf.data]
#   -P records a perf profile (call graphs) of the backend during the import
#   of the last round.
set -euo pipefail
port=$("$(dirname "$0")/../tests/ports.sh" first bench_import) nversions=100000 rounds=3 perfdata=
while getopts "p:n:r:P:" opt; do
  case $opt in p) port=$OPTARG ;; n) nversions=$OPTARG ;; r) rounds=$OPTARG ;; P) perfdata=$OPTARG ;;
    *) echo "usage: $0 [-p port] [-n versions] [-r rounds] [-P perf.data]" >&2; exit 2 ;; esac
done
bindir=$(pg_config --bindir)
base=$(mktemp -d /tmp/rk-importbench.XXXXXX); chmod 755 "$base"
run=(); if [ "$(id -u)" = 0 ]; then chown postgres "$base"; run=(runuser -u postgres --); fi
as_pg() { "${run[@]}" "$@"; }
psql_d() { local db=$1; shift; "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"; }
cleanup() { as_pg "$bindir/pg_ctl" -D "$base/data" -m immediate stop >/dev/null 2>&1 || :; rm -rf "$base"; }
trap cleanup EXIT
log() { echo "[import] $*" >&2; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
# CPU time (user + system, ms) the session's backend has used so far, read
# from its /proc/self/stat (fields 14 and 15, in clock ticks): run as the
# last command of a session, it is what that session cost the server, far
# less sensitive than wall time to other work on a shared machine.
tick_ms=$((1000 / $(getconf CLK_TCK)))
cpu_sql="SELECT (s[12]::bigint + s[13]::bigint) * $tick_ms FROM (SELECT pg_catalog.string_to_array(pg_catalog.split_part(pg_catalog.pg_read_file('/proc/self/stat'), ') ', 2), ' ') AS s) x"

as_pg "$bindir/initdb" -D "$base/data" -E UTF8 --locale=C.UTF-8 --auth=trust --no-sync >/dev/null
# The site's signing key (docs/keys.md): the bundles below, written "from e2"
# as any tool could, are signed with it and it is trusted for e2.
as_pg bash -c "umask 077 && openssl genpkey -algorithm ed25519 -out '$base/signing_key.pem' 2>/dev/null"
as_pg tee -a "$base/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$base'
shared_preload_libraries = 'rulekeeper'
rulekeeper.database = 'rules'
rulekeeper.site = 'ipc2'
rulekeeper.environment = 'e3'
rulekeeper.signing_key_file = '$base/signing_key.pem'
wal_level = replica
max_wal_size = '4GB'
# The import runs first and would pay for zero-filling the WAL segments the
# floor, measured after it, then reuses: not a cost of either.
wal_init_zero = off
CONF
as_pg "$bindir/pg_ctl" -D "$base/data" -l "$base/server.log" -o "-p $port" -w start >/dev/null

imports=() copies=() floors=() import_cpus=() floor_cpus=()
for round in $(seq 1 "$rounds"); do
  db=rules
  psql_d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  psql_d $db -c "CREATE EXTENSION rulekeeper" \
    -c "SELECT rulekeeper.trust_key('e2', public_key, 'bench') FROM rulekeeper.signing_public_key()" >/dev/null
  # A bundle of n versions of 1,000 rules "from e2", written as any tool could.
  psql_d $db >/dev/null <<SQL
CREATE TABLE bench_bundle AS
SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b))) AS bundle FROM (
  SELECT jsonb_build_object('format', 'rulekeeper-bundle/1',
           'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),
           'rules', (SELECT jsonb_agg(jsonb_build_object('rule_key', 'r' || r, 'ruleset', 'bench', 'description', ''))
                       FROM generate_series(1, 1000) r),
           'versions', (SELECT jsonb_agg(jsonb_build_object('rule_key', 'r' || (g % 1000 + 1),
                                   'label', (g / 1000 + 1)::text, 'body', jsonb_build_object('n', g, 'tag', 'x'),
                                   'content_sha256', rulekeeper.content_sha256(jsonb_build_object('n', g, 'tag', 'x'))))
                          FROM generate_series(0, $nversions - 1) g)) b) x;
CREATE TABLE plain_copy (rule_key text, label text, body jsonb, content_sha256 text);
CHECKPOINT;
SQL
  psql_d $db -c "\\copy (SELECT v->>'rule_key', v->>'label', v->'body', v->>'content_sha256' FROM bench_bundle, jsonb_array_elements(bundle->'versions') v) TO '$base/rows.tsv'"
  t0=$(ms); psql_d $db -c "\\copy plain_copy FROM '$base/rows.tsv'"; t1=$(ms)
  copies+=($((t1 - t0)))
  psql_d $db -c "CHECKPOINT"
  if [ -n "$perfdata" ] && [ "$round" = "$rounds" ]; then
    # One session: its backend is profiled while it imports.
    coproc PSQL { "$bindir/psql" -X -q -At -h 127.0.0.1 -p "$port" -U postgres -d $db 2>&1; }
    echo "SELECT pg_backend_pid();" >&"${PSQL[1]}"; read -r pid <&"${PSQL[0]}"
    perf record -g -p "$pid" -o "$perfdata" >/dev/null 2>&1 & perfpid=$!
    sleep 1
    t0=$(ms)
    echo "SELECT rulekeeper.import_release(bundle) ->> 'imported' FROM bench_bundle;" >&"${PSQL[1]}"; read -r imported <&"${PSQL[0]}"
    t1=$(ms)
    kill -INT $perfpid; wait $perfpid || :
    echo '\q' >&"${PSQL[1]}"; wait "$PSQL_PID" || :
  else
    t0=$(ms); out=$(psql_d $db -c "SELECT rulekeeper.import_release(bundle) ->> 'imported' FROM bench_bundle" -c "$cpu_sql"); t1=$(ms)
    imported=$(sed -n 1p <<<"$out"); import_cpus+=("$(sed -n 2p <<<"$out")")
  fi
  [ "$imported" = "$nversions" ] || { log "imported $imported, expected $nversions"; exit 1; }
  imports+=($((t1 - t0)))
  psql_d $db >/dev/null <<'SQL'
CREATE TABLE floor_journal (LIKE rulekeeper.journal INCLUDING ALL);
CREATE TABLE floor_version (LIKE rulekeeper.rule_version INCLUDING ALL);
ALTER TABLE floor_version ADD FOREIGN KEY (rule_key) REFERENCES rulekeeper.rule,
  ADD FOREIGN KEY (change_id) REFERENCES floor_journal DEFERRABLE INITIALLY DEFERRED;
SQL
  psql_d $db -c "\\copy (SELECT j.* FROM rulekeeper.journal j JOIN rulekeeper.rule_version v USING (change_id)) TO '$base/journal.tsv'"
  psql_d $db -c "\\copy rulekeeper.rule_version TO '$base/versions.tsv'"
  psql_d $db -c "CHECKPOINT"
  t0=$(ms)
  out=$(psql_d $db -c "BEGIN" -c "\\copy floor_journal FROM '$base/journal.tsv'" -c "\\copy floor_version FROM '$base/versions.tsv'" -c "COMMIT" -c "$cpu_sql")
  t1=$(ms)
  floors+=($((t1 - t0)))
  floor_cpus+=("$out")
  log "round $round: import ${imports[-1]} ms, floor ${floors[-1]} ms, plain COPY ${copies[-1]} ms (server CPU: import ${import_cpus[-1]:-?} ms, floor ${floor_cpus[-1]} ms)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
import_ms=$(median "${imports[@]}"); floor_ms=$(median "${floors[@]}"); copy_ms=$(median "${copies[@]}")
echo "| benchmark | ours | baseline | ratio | target |"
echo "| --- | --- | --- | --- | --- |"
awk -v i="$import_ms" -v c="$copy_ms" -v n="$nversions" 'BEGIN { printf "| b. import_release of %d versions vs COPY of the same rows | %d ms | %d ms | %.2f (rate) | — |\n", n, i, c, c / i }'
awk -v i="$import_ms" -v c="$floor_ms" 'BEGIN { printf "| b2. the same import vs its floor: COPY of the rows it writes into same-shaped tables (versions + journal, indexes, FKs) | %d ms | %d ms | %.2f (rate) | >= 0.8 |\n", i, c, c / i }'
awk -v f="$floor_ms" -v c="$copy_ms" 'BEGIN { printf "| b3. that floor vs the plain COPY | %d ms | %d ms | %.2f (rate) | — |\n", f, c, c / f }'
# Each round's import and floor run back to back: on a shared machine their
# ratio is steadier than the ratio of the medians.
ratios=()
for i in "${!imports[@]}"; do ratios+=("$(awk -v f="${floors[$i]}" -v m="${imports[$i]}" 'BEGIN { printf "%.2f", f / m }')"); done
echo "(raw, ms, $rounds rounds: import ${imports[*]}; floor ${floors[*]}; plain COPY ${copies[*]}; floor/import per round ${ratios[*]}, median $(median "${ratios[@]}"))"
# The same ratio in server CPU time (the import's backend, the floor's
# backend; each includes its session's start, a few ms): on a loaded machine
# it tells more than wall time. Not with -P (the profiled round has none).
if [ "${#import_cpus[@]}" = "${#floor_cpus[@]}" ] && [ "${#import_cpus[@]}" -gt 0 ]; then
  cpu_ratios=()
  for i in "${!import_cpus[@]}"; do cpu_ratios+=("$(awk -v f="${floor_cpus[$i]}" -v m="${import_cpus[$i]}" 'BEGIN { printf "%.2f", f / m }')"); done
  echo "(server CPU, ms: import ${import_cpus[*]}; floor ${floor_cpus[*]}; floor/import per round ${cpu_ratios[*]}, median $(median "${cpu_ratios[@]}"); ratio of medians $(awk -v f="$(median "${floor_cpus[@]}")" -v m="$(median "${import_cpus[@]}")" 'BEGIN { printf "%.2f", f / m }'))"
fi
