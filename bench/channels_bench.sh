#!/usr/bin/env bash
# Release/channel figures (issue #4), each a ratio against a baseline measured
# in the same run:
#   a. effective_version under pgbench -M prepared -c 4 vs the equivalent plain
#      indexed SELECT on the same data (target >= 0.8x the TPS);
#   b. import_release of a 100,000-version bundle vs COPY of the same rows into
#      a plain table (target >= 0.25x the rate);
#   c. wait_for_epoch on the hot standby: time from an activation's commit at
#      the primary to the standby's CALL returning (target median <= 1 s).
# Usage: bench/channels_bench.sh [-p port] [-T seconds] [-n versions]
#   defaults: -p bench_channels's first port in tests/ports.txt (primary;
#   standby port+1), -T 10, -n 100000
set -euo pipefail
port=$("$(dirname "$0")/../tests/ports.sh" first bench_channels) duration=10 nversions=100000
while getopts "p:T:n:" opt; do
  case $opt in p) port=$OPTARG ;; T) duration=$OPTARG ;; n) nversions=$OPTARG ;;
    *) echo "usage: $0 [-p port] [-T seconds] [-n versions]" >&2; exit 2 ;; esac
done
sport=$((port + 1))
bindir=$(pg_config --bindir)
base=$(mktemp -d /tmp/rk-chbench.XXXXXX); chmod 755 "$base"
run=(); if [ "$(id -u)" = 0 ]; then chown postgres "$base"; run=(runuser -u postgres --); fi
as_pg() { "${run[@]}" "$@"; }
psql_p() { "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d rules "$@"; }
psql_s() { "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$sport" -U postgres -d rules "$@"; }
cleanup() {
  as_pg "$bindir/pg_ctl" -D "$base/ipc1" -m immediate stop >/dev/null 2>&1 || :
  as_pg "$bindir/pg_ctl" -D "$base/ipc2" -m immediate stop >/dev/null 2>&1 || :
  rm -rf "$base"
}
trap cleanup EXIT
log() { echo "[channels] $*" >&2; }

as_pg "$bindir/initdb" -D "$base/ipc2" -E UTF8 --locale=C.UTF-8 --auth=trust --no-sync >/dev/null
# The site's signing key (docs/keys.md): the bundles below, written "from e2"
# as any tool could, are signed with it and it is trusted for e2.
as_pg bash -c "umask 077 && openssl genpkey -algorithm ed25519 -out '$base/signing_key.pem' 2>/dev/null"
as_pg tee -a "$base/ipc2/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$base'
shared_preload_libraries = 'rulekeeper'
rulekeeper.database = 'rules'
rulekeeper.site = 'ipc2'
rulekeeper.environment = 'e3'
rulekeeper.signing_key_file = '$base/signing_key.pem'
wal_level = replica
hot_standby = on
hot_standby_feedback = on
wal_keep_size = '2GB'
CONF
echo "host replication all 127.0.0.1/32 trust" | as_pg tee -a "$base/ipc2/pg_hba.conf" >/dev/null
as_pg "$bindir/pg_ctl" -D "$base/ipc2" -l "$base/ipc2.log" -o "-p $port" -w start >/dev/null
"$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE rules"
psql_p -c "CREATE EXTENSION rulekeeper"
psql_p -c "SELECT rulekeeper.trust_key('e2', public_key, 'bench') FROM rulekeeper.signing_public_key()" >/dev/null
as_pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$base/ipc1" -X stream -c fast
as_pg touch "$base/ipc1/standby.signal"
as_pg "$bindir/pg_ctl" -D "$base/ipc1" -l "$base/ipc1.log" -w start \
  -o "-p $sport -c rulekeeper.site=ipc1 -c primary_conninfo='host=127.0.0.1 port=$port user=postgres'" >/dev/null

# A bundle of n versions of 1,000 rules "from e2", written as any tool could.
log "building a $nversions-version bundle"
psql_p >/dev/null <<SQL
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
SQL
psql_p -c "COPY (SELECT v->>'rule_key', v->>'label', v->'body', v->>'content_sha256' FROM bench_bundle, jsonb_array_elements(bundle->'versions') v) TO '$base/rows.tsv'" 2>/dev/null ||
  psql_p -c "\\copy (SELECT v->>'rule_key', v->>'label', v->'body', v->>'content_sha256' FROM bench_bundle, jsonb_array_elements(bundle->'versions') v) TO '$base/rows.tsv'"
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms); psql_p -c "\\copy plain_copy FROM '$base/rows.tsv'"; t1=$(ms)
copy_ms=$((t1 - t0))
t0=$(ms); psql_p -c "SELECT rulekeeper.import_release(bundle) ->> 'imported' FROM bench_bundle" >/dev/null; t1=$(ms)
import_ms=$((t1 - t0))
# The floor of any import that keeps this schema: COPY of exactly the rows
# the import wrote (the versions and their journal entries, every column
# already computed) into tables with the same columns, defaults, CHECKs,
# indexes and foreign keys, without triggers. No checksum is verified, no
# row is checked against the bundle: only the writes themselves.
psql_p >/dev/null <<'SQL'
CREATE TABLE floor_journal (LIKE rulekeeper.journal INCLUDING ALL);
CREATE TABLE floor_version (LIKE rulekeeper.rule_version INCLUDING ALL);
ALTER TABLE floor_version ADD FOREIGN KEY (rule_key) REFERENCES rulekeeper.rule,
  ADD FOREIGN KEY (change_id) REFERENCES floor_journal DEFERRABLE INITIALLY DEFERRED;
SQL
psql_p -c "\\copy (SELECT j.* FROM rulekeeper.journal j JOIN rulekeeper.rule_version v USING (change_id)) TO '$base/journal.tsv'"
psql_p -c "\\copy rulekeeper.rule_version TO '$base/versions.tsv'"
t0=$(ms)
psql_p -c "BEGIN" -c "\\copy floor_journal FROM '$base/journal.tsv'" -c "\\copy floor_version FROM '$base/versions.tsv'" -c "COMMIT"
t1=$(ms)
floor_ms=$((t1 - t0))
log "import $import_ms ms, COPY $copy_ms ms, minimal writes (COPY into same-shaped tables) $floor_ms ms"

# a. lookups: every rule active in sl; the plain table mirrors activation.
psql_p >/dev/null <<'SQL'
SELECT rulekeeper.activate(r.rule_key, '1', 'sl') FROM rulekeeper.rule r;
CREATE TABLE plain_activation AS SELECT channel, rule_key, label FROM rulekeeper.activation;
ALTER TABLE plain_activation ADD PRIMARY KEY (channel, rule_key);
ANALYZE;
SQL
cat > "$base/ours.sql" <<'S'
\set r random(1, 1000)
SELECT rulekeeper.effective_version('r' || :r::text, 'sl');
S
cat > "$base/base.sql" <<'S'
\set r random(1, 1000)
SELECT label FROM plain_activation WHERE channel = 'sl' AND rule_key = 'r' || :r::text;
S
tps() { "$bindir/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -M prepared -c 4 -j 2 -T "$duration" -f "$1" rules 2>/dev/null |
        awk '/^tps/ {print $3; exit}'; }
ours=() bases=()
for round in 1 2 3; do bases+=("$(tps "$base/base.sql")"); ours+=("$(tps "$base/ours.sql")"); done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ours_tps=$(median "${ours[@]}"); base_tps=$(median "${bases[@]}")

# c. wait_for_epoch on the standby: 10 activations, each timed from just after
# its commit at the primary to the standby's CALL returning.
lat=()
for i in $(seq 1 10); do
  e=$(psql_s -c "SELECT rulekeeper.activation_epoch()")
  (psql_s -c "CALL rulekeeper.wait_for_epoch($e, 10000)" >/dev/null; ms > "$base/done.$i") &
  sleep 0.3
  psql_p -c "SELECT rulekeeper.activate('r1', '$(( (i % 2) + 1 ))', 'sl')" >/dev/null
  t=$(ms); wait; lat+=($(( $(cat "$base/done.$i") - t )))
done
lat_med=$(median "${lat[@]}")

echo "| benchmark | ours | baseline | ratio | target |"
echo "| --- | --- | --- | --- | --- |"
awk -v o="$ours_tps" -v b="$base_tps" 'BEGIN { printf "| a. effective_version, pgbench -M prepared -c 4, median of 3 x %ss | %.0f tps | %.0f tps (plain indexed SELECT) | %.2f | >= 0.8 |\n", "'"$duration"'", o, b, o / b }'
awk -v i="$import_ms" -v c="$copy_ms" -v n="$nversions" 'BEGIN { printf "| b. import_release of %d versions vs COPY of the same rows | %d ms | %d ms | %.2f (rate) | >= 0.25 |\n", n, i, c, c / i }'
awk -v i="$import_ms" -v c="$floor_ms" -v n="$nversions" 'BEGIN { printf "| b2. the same import vs COPY of the rows it writes into same-shaped tables (versions + journal, indexes, FKs) | %d ms | %d ms | %.2f (rate) | — |\n", i, c, c / i }'
awk -v f="$floor_ms" -v c="$copy_ms" 'BEGIN { printf "| b3. that floor itself vs the plain COPY (the best any import keeping this schema could reach) | %d ms | %d ms | %.2f (rate) | — |\n", f, c, c / f }'
echo "| c. wait_for_epoch on the standby, commit to return, median of 10 | ${lat_med} ms | — | — | <= 1000 ms |"
echo "(raw: tps ours ${ours[*]}, baseline ${bases[*]}; wait latencies ms ${lat[*]})"
