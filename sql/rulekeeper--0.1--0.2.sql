-- rulekeeper 0.1 -> 0.2: what this round of work adds to a 0.1 database.
-- Run by `ALTER EXTENSION rulekeeper UPDATE`; the build also appends it to
-- the 0.1 script to make the 0.2 install script (rulekeeper--0.2.sql is
-- generated, never edited: cmake/install_script_from_updates.cmake), so a
-- fresh 0.2 and an updated 0.1 are the same database.
--
-- Rules for this file (docs/design/upgrades.md):
-- * 0.1 is released: rulekeeper--0.1.sql and sql/udfs/*/0.1.sql never change.
--   A changed function gets sql/udfs/<function>/0.2.sql (and latest.sql) and
--   an #include here.
-- * Every statement must work on a 0.1 database that holds data (existing
--   rows, existing grants): ALTER TABLE ... ADD COLUMN with a default, new
--   tables, CREATE OR REPLACE FUNCTION; a data migration says why it is safe.
-- * The library serves both versions: PostgreSQL loads the new rulekeeper.so
--   before this script runs, and a 0.1 catalog may run on it until the DBA
--   updates. C code that uses an object new in 0.2 checks
--   pg::catalog_at_least("0.2") first (extension/catalog_version.hpp).
-- * New objects get their privileges in the same section (REVOKE FROM PUBLIC,
--   GRANT to the roles of docs/permissions.md).
\echo Use "ALTER EXTENSION rulekeeper UPDATE TO '0.2'" to load this file. \quit

-- ==== issue 17: monitoring (i17-monitor) ====
-- What a monitoring agent (postgres_exporter with
-- monitoring/postgres_exporter.yaml, docs/monitoring.md) reads of one node:
-- figures only — epochs, ages, counts, dates, flags — never a rule key, a
-- label or a body. Role rulekeeper_monitor may call these three functions
-- and nothing else of the extension (no table, no other function): a login
-- granted only rulekeeper_monitor can tell an operator the state of a node
-- and can read no rule and write nothing. rulekeeper_reader is a member, so
-- every rulekeeper role may call them too.
DO $monitor_role$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'rulekeeper_monitor') THEN
    CREATE ROLE rulekeeper_monitor NOLOGIN;
  END IF;
  IF NOT pg_catalog.pg_has_role('rulekeeper_reader', 'rulekeeper_monitor', 'MEMBER') THEN
    GRANT rulekeeper_monitor TO rulekeeper_reader;
  END IF;
END
$monitor_role$;
GRANT USAGE ON SCHEMA rulekeeper TO rulekeeper_monitor;

-- One row about this node. heartbeat_*: the newest heartbeat held here (on a
-- primary its own worker's, on a standby the newest it replayed); its age is
-- NULL when there is none or it is dated in the future (_heartbeat_age).
-- replay_lag_upper_bound_seconds: on a standby that same age — how far behind
-- it can be at most, valid with the primary idle or gone (docs/in-sync.md
-- "The heartbeat"); 0 on a primary, which replays nothing. last_release_*:
-- the newest release imported here; drift_since_last_release: the snapshot
-- checksum is no longer the one that release left, which is what the next
-- import will report as drift (docs/design/architecture.md "Drift").
CREATE FUNCTION rulekeeper.monitor_node(
    OUT site text, OUT environment text, OUT role text,
    OUT activation_epoch bigint, OUT epoch_incarnation integer,
    OUT heartbeat_site text, OUT heartbeat_at timestamptz, OUT heartbeat_age_seconds double precision,
    OUT replay_lag_upper_bound_seconds double precision,
    OUT open_conflicts bigint,
    OUT last_release_at timestamptz, OUT last_release_drift boolean, OUT last_release_drifted_rules integer,
    OUT drift_since_last_release boolean, OUT hotfixes_since_last_release bigint)
  RETURNS record
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT NULLIF(current_setting('rulekeeper.site', true), ''),
         NULLIF(current_setting('rulekeeper.environment', true), ''),
         CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE 'primary' END,
         e.epoch, (e.epoch >> 32)::integer,
         hb.site, hb.beat_at, rulekeeper._heartbeat_age(hb.beat_at),
         CASE WHEN pg_is_in_recovery() THEN rulekeeper._heartbeat_age(hb.beat_at) ELSE 0 END,
         (SELECT count(*) FROM rulekeeper.conflict c WHERE c.status = 'open'),
         lr.imported_at, lr.drift, cardinality(lr.drifted_rules),
         CASE WHEN lr.release_id IS NULL THEN false
              ELSE lr.post_checksum <> rulekeeper.snapshot_checksum('all') END,
         (SELECT count(*) FROM rulekeeper.hotfix h WHERE h.created_at > COALESCE(lr.imported_at, '-infinity'))
    FROM (SELECT rulekeeper.activation_epoch() AS epoch) e
    LEFT JOIN LATERAL (SELECT h.site, h.beat_at FROM rulekeeper.heartbeat h ORDER BY h.beat_at DESC LIMIT 1) hb
      ON true
    LEFT JOIN LATERAL (SELECT l.release_id, l.imported_at, l.drift, l.drifted_rules, l.post_checksum
                         FROM rulekeeper.release_log l ORDER BY l.imported_at DESC, l.release_id DESC LIMIT 1) lr
      ON true
$$;

-- Per channel: the epoch of the newest activation transaction that changed
-- it (a cutover changes prod once; the site-wide activation_epoch() is the
-- largest of these), how many rules it serves and how many are pinned. Every
-- channel has a row, also before its first activation (epoch 0).
CREATE FUNCTION rulekeeper.monitor_channels()
  RETURNS TABLE (channel text, activation_epoch bigint, active_rules bigint, pinned_rules bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT c.channel,
         COALESCE((SELECT max(h.epoch) FROM rulekeeper.activation_history h WHERE h.channel = c.channel), 0),
         (SELECT count(*) FROM rulekeeper.activation a WHERE a.channel = c.channel),
         (SELECT count(*) FROM rulekeeper.activation a WHERE a.channel = c.channel AND a.pinned)
    FROM (SELECT DISTINCT x.channel FROM rulekeeper._channel_admissions() x) c
   ORDER BY c.channel
$$;

-- How many versions this node holds in each qualification of its
-- environment (every one, zero included, so a series never vanishes).
CREATE FUNCTION rulekeeper.monitor_versions()
  RETURNS TABLE (qualification text, versions bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT q.name, COALESCE(n.versions, 0)
    FROM rulekeeper._qualifications() q
    LEFT JOIN (SELECT v.qualification, count(*) AS versions FROM rulekeeper.rule_version v
                GROUP BY v.qualification) n ON n.qualification = q.name
   WHERE q.environment = COALESCE(NULLIF(current_setting('rulekeeper.environment', true), ''), q.environment)
   ORDER BY q.name
$$;

REVOKE EXECUTE ON FUNCTION rulekeeper.monitor_node(), rulekeeper.monitor_channels(), rulekeeper.monitor_versions()
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rulekeeper.monitor_node(), rulekeeper.monitor_channels(), rulekeeper.monitor_versions()
  TO rulekeeper_monitor, rulekeeper_admin;
