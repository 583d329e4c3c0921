#!/usr/bin/env bash
# Load: pods' lookups (effective_version, effective_rules) with pgbench, 16
# clients, at the E3 primary (ipc2) and at its streaming standby (ipc1) at
# the same time, while a release of 10,000 versions is imported, SL moves to
# the new versions, and a hotfix goes to prod. Checks, in the same pgbench
# runs, that no reader ever gets a label its own site lacks (a failed check
# is a division by zero, i.e. a failed transaction). Prints the figures as
# Markdown (the "## Load" section of bench/README.md).
#
# Usage: bench/load_bench.sh [-T seconds] [-c clients] [-r rules] [-p port]
#   defaults: -T 20 -c 16 -r 1000 -p bench_load's first port in tests/ports.txt
#   (primary; the standby is port+1)
# Needs the installed extension (cmake --install) and PostgreSQL 15's tools.
# As root, the servers run as the postgres OS user.
set -euo pipefail

duration=20 clients=16 rules=1000 port=$("$(dirname "$0")/../tests/ports.sh" first bench_load)
while getopts "T:c:r:p:" opt; do
  case $opt in
    T) duration=$OPTARG ;; c) clients=$OPTARG ;; r) rules=$OPTARG ;; p) port=$OPTARG ;;
    *) echo "usage: $0 [-T seconds] [-c clients] [-r rules] [-p port]" >&2; exit 2 ;;
  esac
done
versions_per_rule=$(( (10000 + rules - 1) / rules ))  # the release: >= 10,000 versions
sport=$((port + 1))
bindir=$(pg_config --bindir)
base=$(mktemp -d /tmp/rk-load.XXXXXX)
chmod 755 "$base"
run=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$base"
  run=(runuser -u postgres --)
fi
as_pg() { "${run[@]}" "$@"; }
psql_p() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d rules "$@"; }
psql_s() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$sport" -U postgres -d rules "$@"; }
cleanup() {
  as_pg "$bindir/pg_ctl" -D "$base/ipc1" -m immediate stop >/dev/null 2>&1 || true
  as_pg "$bindir/pg_ctl" -D "$base/ipc2" -m immediate stop >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $base" >&2; else rm -rf "$base"; fi
}
trap cleanup EXIT

log() { echo "[load] $*" >&2; }

# --- the two sites ----------------------------------------------------------
as_pg mkdir -p "$base/sock"
as_pg "$bindir/initdb" -D "$base/ipc2" -E UTF8 --locale=C.UTF-8 --auth=trust --no-sync >/dev/null
# The site's signing key (docs/keys.md): the bundles below, written "from e2"
# as any tool could, are signed with it and it is trusted for e2.
as_pg bash -c "umask 077 && openssl genpkey -algorithm ed25519 -out '$base/signing_key.pem' 2>/dev/null"
as_pg tee -a "$base/ipc2/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$base/sock'
max_connections = 100
shared_preload_libraries = 'rulekeeper'
rulekeeper.database = 'rules'
rulekeeper.environment = 'e3'
rulekeeper.signing_key_file = '$base/signing_key.pem'
wal_level = replica
hot_standby = on
hot_standby_feedback = on
wal_keep_size = '1GB'
CONF
as_pg tee -a "$base/ipc2/pg_hba.conf" >/dev/null <<HBA
host replication all 127.0.0.1/32 trust
HBA
as_pg "$bindir/pg_ctl" -D "$base/ipc2" -l "$base/ipc2.log" -o "-p $port -c rulekeeper.site=ipc2" -w start >/dev/null
psql_p -d postgres -c "CREATE DATABASE rules"
psql_p -c "CREATE EXTENSION rulekeeper"
psql_p -c "SELECT rulekeeper.trust_key('e2', public_key, 'bench') FROM rulekeeper.signing_public_key()" >/dev/null

# Rules load.1 .. load.N, version 1 validated and live in prod and sl; a
# hotfix policy for /rate.
log "seeding $rules rules"
psql_p >/dev/null <<SQL
CREATE FUNCTION public.bundle(rules int, first int, last int) RETURNS jsonb LANGUAGE sql AS \$\$
  SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b))) FROM (
    SELECT jsonb_build_object('format', 'rulekeeper-bundle/1',
      'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),
      'rules', (SELECT jsonb_agg(jsonb_build_object('rule_key', 'load.' || r, 'ruleset', 'load')) FROM generate_series(1, rules) r),
      'versions', (SELECT jsonb_agg(jsonb_build_object('rule_key', 'load.' || r, 'label', l::text,
                     'body', jsonb_build_object('rate', l, 'rule', r),
                     'content_sha256', rulekeeper.content_sha256(jsonb_build_object('rate', l, 'rule', r))))
                   FROM generate_series(1, rules) r, generate_series(first, last) l)) b) x
\$\$;
SELECT rulekeeper.import_release(public.bundle($rules, 1, 1)) ->> 'imported' AS seeded \gset
BEGIN;
SELECT count(rulekeeper.activate('load.' || r, '1', 'sl')) FROM generate_series(1, $rules) r;
SELECT count(rulekeeper.transition('load.' || r, '1', 'sl_validated', 'load seed')) FROM generate_series(1, $rules) r;
SELECT count(rulekeeper.activate('load.' || r, '1', 'prod')) FROM generate_series(1, $rules) r;
COMMIT;
INSERT INTO rulekeeper.hotfix_policy VALUES ('load', ARRAY['/rate']);
-- The release, prepared beforehand so that the import alone runs under load.
CREATE TABLE public.release AS SELECT public.bundle($rules, 2, $((versions_per_rule + 1))) AS b;
SQL

as_pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$base/ipc1" -X stream -c fast
as_pg touch "$base/ipc1/standby.signal"
as_pg "$bindir/pg_ctl" -D "$base/ipc1" -l "$base/ipc1.log" \
  -o "-p $sport -c rulekeeper.site=ipc1 -c primary_conninfo='host=127.0.0.1 port=$port user=postgres application_name=ipc1'" \
  -w start >/dev/null
for _ in $(seq 1 100); do
  [ "$(psql_s -Atc "SELECT count(*) FROM rulekeeper.activation" 2>/dev/null || echo 0)" = $((2 * rules)) ] && break
  sleep 0.1
done

# --- the readers --------------------------------------------------------------
# lookup: one effective_version, as a pod asks it (prepared);
# rules:  everything a channel serves (a pod's full load);
# check:  a lookup, then "does my site hold that label?" — a division by
#         zero when not (at run time: a constant 1/0 would fail at planning).
as_pg tee "$base/lookup.sql" >/dev/null <<'SQL'
\set r random(1, :nrules)
SELECT rulekeeper.effective_version('load.' || :r, 'prod');
SQL
as_pg tee "$base/rules.sql" >/dev/null <<'SQL'
SELECT count(*) FROM rulekeeper.effective_rules('sl');
SQL
as_pg tee "$base/check.sql" >/dev/null <<'SQL'
\set r random(1, :nrules)
SELECT rulekeeper.effective_version('load.' || :r, 'sl') AS l \gset
SELECT CASE WHEN :l::text IS NULL OR EXISTS (SELECT 1 FROM rulekeeper.rule_version v
                                              WHERE v.rule_key = 'load.' || :r AND v.label = :l::text)
            THEN 1 ELSE (SELECT 1 / count(*)::int FROM rulekeeper.rule_version WHERE false) END;
SQL

bench() {  # site port
  (cd "$base" && as_pg "$bindir/pgbench" -n -h 127.0.0.1 -p "$2" -U postgres -M prepared -c "$clients" -j 2 \
     -T "$duration" -D nrules="$rules" -f lookup.sql@8 -f rules.sql@1 -f check.sql@1 \
     --log --log-prefix="$1" rules) > "$base/$1.out" 2>&1
}

log "pgbench: $clients clients, ${duration}s, at ipc2 and ipc1 at once"
bench ipc2 "$port" & p1=$!
bench ipc1 "$sport" & p2=$!

# --- the writers, meanwhile -----------------------------------------------------
sleep $(( duration / 5 ))
t0=$(date +%s.%N)
imported=$(psql_p -Atc "SELECT rulekeeper.import_release(b) ->> 'imported' FROM public.release")
t1=$(date +%s.%N)
# SL moves to the newest version of every rule (one transaction, one epoch).
psql_p -Atc "SELECT count(rulekeeper.activate('load.' || r, '$((versions_per_rule + 1))', 'sl')) FROM generate_series(1, $rules) r" >/dev/null
t2=$(date +%s.%N)
hotfix=$(psql_p -Atc "SELECT rulekeeper.hotfix('load.1', '{\"rate\": 1.5, \"rule\": 1}', 'load bench') ->> 'label'")
t3=$(date +%s.%N)

status=0
wait $p1 || status=1
wait $p2 || status=1

# --- figures ----------------------------------------------------------------------
# Per-transaction logs: client, tx, latency_us, script, epoch, us (several
# files with -j). Script 0 = lookup, 1 = rules, 2 = check.
p99() {  # prefix script -> "p50 p99 max" in ms
  cat "$base/$1".* | awk -v s="$2" '$4 == s { print $3 }' | sort -n |
    awk '{ a[NR] = $1 } END { if (NR == 0) { print "- - -"; exit }
           i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1;
           printf "%.2f %.2f %.2f %d\n", a[i50] / 1000, a[i99] / 1000, a[NR] / 1000, NR }'
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
field() { grep -m1 "$2" "$base/$1.out" | sed -E "s/.*$2[^0-9]*([0-9.]+).*/\1/"; }
failed() { grep -m1 "number of failed transactions" "$base/$1.out" | sed -E 's/.*: ([0-9]+).*/\1/'; }

missing=$(psql_s -Atc "SELECT count(*) FROM rulekeeper.effective_rules('sl') e WHERE NOT EXISTS
  (SELECT 1 FROM rulekeeper.rule_version v WHERE v.rule_key = e.rule_key AND v.label = e.label)")
replayed=$(psql_s -Atc "SELECT rulekeeper.effective_version('load.1', 'prod')")

{
  echo "## Load"
  echo
  echo "\`bench/load_bench.sh -T $duration -c $clients -r $rules\` on $(nproc) cores ($(date -u +%Y-%m-%d)):"
  echo "pgbench, $clients clients each at the E3 primary (ipc2) and at its streaming standby (ipc1),"
  echo "at the same time, prepared statements, for ${duration} s, while the primary imports a release of"
  echo "$imported versions ($(secs "$t0" "$t1") s), moves SL of $rules rules to them in one transaction"
  echo "($(secs "$t1" "$t2") s) and takes a hotfix to prod (label $hotfix, $(secs "$t2" "$t3") s)."
  echo "Scripts, weighted 8:1:1: *lookup* = one \`effective_version(rule, 'prod')\`; *rules* ="
  echo "\`effective_rules('sl')\` ($rules rows, a pod's full load); *check* = a lookup in SL, then whether"
  echo "the site holds that label (a miss fails the transaction)."
  echo
  echo "| site | script | transactions | p50 ms | p99 ms | max ms | failed |"
  echo "|---|---|--:|--:|--:|--:|--:|"
  for site in ipc2 ipc1; do
    f=$(failed $site)
    for s in 0 1 2; do
      name=$(echo "lookup rules check" | cut -d' ' -f$((s + 1)))
      read -r p50 p99v max n <<<"$(p99 $site $s)"
      echo "| $site | $name | $n | $p50 | $p99v | $max | ${f:-?} |"
    done
  done
  echo
  echo "tps (all scripts): ipc2 $(field ipc2 'tps = ' | cut -d. -f1), ipc1 $(field ipc1 'tps = ' | cut -d. -f1)."
  echo "Labels served in SL at ipc1 that ipc1 lacks, after the run: $missing. Hotfix replayed at ipc1"
  echo "(prod of load.1 there): $replayed. Figures are indicative: pgbench, both servers and the"
  echo "writers share the same $(nproc) cores."
} | tee "$base/figures.md"

ok=1
for site in ipc2 ipc1; do
  [ "$(failed $site)" = 0 ] || { echo "[load] $site: failed transactions (see below)" >&2; ok=0; }
done
[ "$missing" = 0 ] || ok=0
[ "$imported" -ge 10000 ] || ok=0
if [ $status -ne 0 ] || [ $ok -ne 1 ]; then
  echo "[load] FAILED" >&2
  cat "$base/ipc2.out" "$base/ipc1.out" >&2
  exit 1
fi
