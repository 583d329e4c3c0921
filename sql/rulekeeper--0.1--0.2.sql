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
-- ==== issue 16: every promotion recorded by the extension (i16-events) ====
-- A node that leaves recovery on a new timeline records the failover event
-- itself, whoever promoted it (rulectl, Patroni, pg_auto_failover,
-- pg_ctl promote, pg_promote()): the heartbeat worker records it as soon as
-- recovery is finished, and the first journaled write after the promotion
-- records it first if the worker has not yet (extension/promotion.cpp). Both
-- take the site lock, so exactly one event per promotion; the unique index
-- below holds even for a writer whose snapshot predates the worker's commit.
-- docs/failover.md "Promotions rulectl did not make",
-- docs/design/architecture.md "Failover events".

-- 0.1 rows keep NULL in all three: they were written by rulectl 0.1
-- (promoted_by is rulectl for them, but 0.1 did not say so). The system
-- identifier is text: the row is journaled as canonical JSON (JCS), where a
-- number must be an exact IEEE-754 double, which a 64-bit identifier is not.
ALTER TABLE rulekeeper.failover_event
  ADD COLUMN old_timeline integer,
  ADD COLUMN promoted_by text CHECK (promoted_by IN ('rulectl', 'external')),
  ADD COLUMN system_identifier text;
-- One event per promotion: a timeline number names one promotion within one
-- cluster (system identifier); rows restored from another cluster's dump
-- carry that cluster's identifier.
CREATE UNIQUE INDEX failover_event_one_per_promotion
  ON rulekeeper.failover_event (system_identifier, new_timeline) WHERE system_identifier IS NOT NULL;

-- When the worker (or a write) recorded a promotion as external before
-- `rulectl failover` called record_failover() (rulectl's intent was lost,
-- e.g. the node restarted between expect_promotion() and the promotion),
-- rulectl's account is attached here: failover_event stays append-only and
-- failover_events() shows the two as one event.
CREATE TABLE rulekeeper.failover_annotation (
  -- No foreign key: only record_failover() writes here, for an event it
  -- just read; and failover_event stays truncatable by its owner alone, as
  -- in 0.1 (docs/permissions.md).
  event_id     uuid PRIMARY KEY,
  promoted_by  text NOT NULL CHECK (promoted_by IN ('rulectl')),
  old_site     text NOT NULL,
  forced       boolean NOT NULL,
  details      jsonb NOT NULL DEFAULT '{}',
  actor        text NOT NULL DEFAULT session_user,
  recorded_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
  change_id    uuid NOT NULL REFERENCES rulekeeper.journal
);
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.failover_annotation', '');
CREATE TRIGGER failover_annotation_journal BEFORE INSERT ON rulekeeper.failover_annotation
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_row('failover', '', '', '*');
CREATE TRIGGER failover_annotation_append_only BEFORE UPDATE OR DELETE ON rulekeeper.failover_annotation
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._refuse_change('failover events are never changed or deleted');

-- The timeline `tli` branched from (its history file), NULL on timeline 1 or
-- when the history file is gone.
CREATE FUNCTION rulekeeper._parent_timeline(tli integer) RETURNS integer
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_parent_timeline';

-- rulectl, on the standby it is about to promote: who promotes and why, kept
-- in shared memory (a standby can write no table) until the promotion is
-- recorded. False when nothing is kept: the node is not in recovery, or the
-- library is not preloaded (no shared memory: the event is then recorded as
-- external and record_failover() annotates it).
CREATE FUNCTION rulekeeper.expect_promotion(old_site text, forced boolean, details jsonb) RETURNS boolean
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_expect_promotion';

-- The intent expect_promotion() left for a promotion from `from_timeline`
-- (NULL: none, or one for another timeline or older than 10 minutes);
-- forgotten once taken.
CREATE FUNCTION rulekeeper._take_promotion_intent(from_timeline integer) RETURNS jsonb
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_take_promotion_intent';

-- The event of this node's current timeline (the promotion that made it the
-- primary it is), if recorded. 0.1 rows (no system identifier) count when
-- they name this site and timeline.
CREATE FUNCTION rulekeeper._promotion_event_here() RETURNS SETOF rulekeeper.failover_event
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT e.* FROM rulekeeper.failover_event e
   WHERE e.new_timeline = rulekeeper.timeline()
     AND (e.system_identifier = (SELECT s.system_identifier::text FROM pg_control_system() s)
          OR (e.system_identifier IS NULL AND e.new_site = current_setting('rulekeeper.site', true)))
   ORDER BY e.recorded_at
   LIMIT 1
$$;

-- Records the promotion that put this node on its timeline, unless recorded
-- already: 'recorded', 'present', or 'not applicable' (in recovery, not E3,
-- no site, timeline 1: never promoted). Called by the heartbeat worker
-- (recorded_by 'worker') and before the first journal entry after a
-- promotion (recorded_by 'first write'), never by a role.
--
-- The divergence point is this node's version vector now: what it replayed
-- from the old primary, since nothing is journaled here before this runs.
-- Who promoted: rulectl if it said so (expect_promotion()), else external.
-- The old site of an external promotion is the best evidence the node holds:
-- the site whose heartbeat it replayed last (highest beat_lsn: LSNs grow
-- across timelines, clocks of two hosts need not agree); without heartbeats,
-- the site of the newest incarnation recorded by another site; else
-- 'unknown'. details.old_site_evidence says which.
CREATE FUNCTION rulekeeper._record_promotion(recorded_by text) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  me text := COALESCE(current_setting('rulekeeper.site', true), '');
  tli integer;
  parent integer;
  intent jsonb;
  divergence jsonb;
  old text;
  evidence jsonb;
BEGIN
  IF pg_is_in_recovery() OR COALESCE(current_setting('rulekeeper.environment', true), '') <> 'e3' OR me = '' THEN
    RETURN 'not applicable';
  END IF;
  tli := rulekeeper.timeline();
  IF tli <= 1 THEN
    RETURN 'not applicable';
  END IF;
  PERFORM rulekeeper._lock_site();
  IF EXISTS (SELECT 1 FROM rulekeeper._promotion_event_here()) THEN
    RETURN 'present';
  END IF;
  divergence := rulekeeper.version_vector();
  parent := rulekeeper._parent_timeline(tli);
  intent := rulekeeper._take_promotion_intent(COALESCE(parent, tli - 1));
  IF intent IS NOT NULL THEN
    INSERT INTO rulekeeper.failover_event (old_site, new_site, new_timeline, incarnation, divergence, forced, details,
                                           old_timeline, promoted_by, system_identifier)
    VALUES (intent ->> 'old_site', me, tli, rulekeeper.incarnation(), divergence, (intent ->> 'forced')::boolean,
            (intent -> 'details') || jsonb_build_object('recorded_by', recorded_by, 'intent_at', intent -> 'at'),
            parent, 'rulectl', (SELECT s.system_identifier::text FROM pg_control_system() s));
    RETURN 'recorded';
  END IF;
  SELECT h.site, jsonb_build_object('old_site_evidence', 'heartbeat', 'last_heartbeat_at', h.beat_at,
                                    'last_heartbeat_lsn', h.beat_lsn::text)
    INTO old, evidence
    FROM rulekeeper.heartbeat h
   WHERE h.site <> me
   ORDER BY h.beat_lsn DESC NULLS LAST
   LIMIT 1;
  IF old IS NULL THEN
    SELECT i.site, jsonb_build_object('old_site_evidence', 'incarnation', 'incarnation', i.incarnation,
                                      'timeline', i.timeline)
      INTO old, evidence
      FROM rulekeeper.incarnation i
     WHERE i.site <> me
     ORDER BY i.incarnation DESC
     LIMIT 1;
  END IF;
  IF old IS NULL THEN
    old := 'unknown';
    evidence := jsonb_build_object('old_site_evidence', 'none');
  END IF;
  INSERT INTO rulekeeper.failover_event (old_site, new_site, new_timeline, incarnation, divergence, forced, details,
                                         old_timeline, promoted_by, system_identifier)
  VALUES (old, me, tli, rulekeeper.incarnation(), divergence, false,
          evidence || jsonb_build_object('recorded_by', recorded_by),
          parent, 'external', (SELECT s.system_identifier::text FROM pg_control_system() s));
  RETURN 'recorded';
END
$$;

-- Every failover event, newest first, with rulectl's annotation (if any)
-- folded in: the interface rulectl and the HA-manager tests read.
-- Newest: events of this cluster (system identifier) before 0.1 rows before
-- events restored from other clusters; then the highest timeline (a
-- promotion always makes a higher one; recorded_at comes from the clocks of
-- different hosts); then recorded_at.
CREATE FUNCTION rulekeeper.failover_events(
    OUT event_id uuid, OUT old_site text, OUT new_site text, OUT old_timeline integer, OUT new_timeline integer,
    OUT incarnation integer, OUT divergence jsonb, OUT forced boolean, OUT promoted_by text, OUT details jsonb,
    OUT actor text, OUT recorded_at timestamptz, OUT system_identifier text)
  RETURNS SETOF record
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT e.event_id, COALESCE(a.old_site, e.old_site), e.new_site, e.old_timeline, e.new_timeline, e.incarnation,
         e.divergence, COALESCE(a.forced, e.forced), COALESCE(a.promoted_by, e.promoted_by),
         CASE WHEN a.event_id IS NULL THEN e.details
              ELSE e.details || a.details || jsonb_build_object('annotated_at', a.recorded_at) END,
         e.actor, e.recorded_at, e.system_identifier
    FROM rulekeeper.failover_event e
    LEFT JOIN rulekeeper.failover_annotation a ON a.event_id = e.event_id
   ORDER BY CASE WHEN e.system_identifier = (SELECT s.system_identifier::text FROM pg_control_system() s) THEN 0
                 WHEN e.system_identifier IS NULL THEN 1 ELSE 2 END,
            e.new_timeline DESC, e.recorded_at DESC
$$;

-- 0.1's function, same columns: now the first of failover_events().
CREATE OR REPLACE FUNCTION rulekeeper.latest_failover_event(
    OUT event_id uuid, OUT old_site text, OUT new_site text, OUT new_timeline integer, OUT incarnation integer,
    OUT divergence jsonb, OUT forced boolean, OUT actor text, OUT recorded_at timestamptz)
  RETURNS SETOF record
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT f.event_id, f.old_site, f.new_site, f.new_timeline, f.incarnation, f.divergence, f.forced, f.actor,
         f.recorded_at
    FROM rulekeeper.failover_events() f
   LIMIT 1
$$;

-- `rulectl failover` calls it at the new primary right after pg_promote():
-- the event of this timeline is usually recorded already (by the worker or
-- a write, from the intent rulectl left with expect_promotion()); then it is
-- returned as it is, or, if it was recorded as external, rulectl's account
-- is attached (failover_annotation). If none is recorded yet, this records
-- it, promoted_by 'rulectl'. Either way: one event per promotion.
CREATE OR REPLACE FUNCTION rulekeeper.record_failover(old_site text, forced boolean, details jsonb DEFAULT '{}')
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  ev rulekeeper.failover_event;
  divergence jsonb;
  tli integer;
  parent integer;
BEGIN
  PERFORM rulekeeper._require_environment('e3', 'record_failover');
  PERFORM rulekeeper._lock_site();
  SELECT * INTO ev FROM rulekeeper._promotion_event_here();
  IF NOT FOUND THEN
    divergence := rulekeeper.version_vector();
    tli := rulekeeper.timeline();
    parent := rulekeeper._parent_timeline(tli);
    PERFORM rulekeeper._take_promotion_intent(COALESCE(parent, tli - 1));
    INSERT INTO rulekeeper.failover_event (old_site, new_site, new_timeline, incarnation, divergence, forced, details,
                                           old_timeline, promoted_by, system_identifier)
    VALUES (old_site, current_setting('rulekeeper.site'), tli, rulekeeper.incarnation(), divergence,
            COALESCE(forced, false), COALESCE(details, '{}'::jsonb) || jsonb_build_object('recorded_by', 'rulectl'),
            parent, 'rulectl', (SELECT s.system_identifier::text FROM pg_control_system() s))
    RETURNING * INTO ev;
  ELSIF ev.promoted_by IS DISTINCT FROM 'rulectl' AND ev.system_identifier IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM rulekeeper.failover_annotation a WHERE a.event_id = ev.event_id) THEN
    INSERT INTO rulekeeper.failover_annotation (event_id, promoted_by, old_site, forced, details)
    VALUES (ev.event_id, 'rulectl', old_site, COALESCE(forced, false), COALESCE(details, '{}'::jsonb));
  END IF;
  RETURN (SELECT to_jsonb(f) FROM rulekeeper.failover_events() f WHERE f.event_id = ev.event_id);
END
$$;

REVOKE ALL ON rulekeeper.failover_annotation FROM PUBLIC;
GRANT SELECT ON rulekeeper.failover_annotation TO rulekeeper_reader, rulekeeper_admin;
REVOKE EXECUTE ON FUNCTION
  rulekeeper._parent_timeline(integer), rulekeeper.expect_promotion(text, boolean, jsonb),
  rulekeeper._take_promotion_intent(integer), rulekeeper._promotion_event_here(),
  rulekeeper._record_promotion(text), rulekeeper.failover_events()
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rulekeeper.expect_promotion(text, boolean, jsonb) TO rulekeeper_releaser, rulekeeper_admin;
GRANT EXECUTE ON FUNCTION rulekeeper.failover_events() TO rulekeeper_reader, rulekeeper_admin;
-- ==== issue 18: per-channel epochs and notification holds (i18-epochs) ====
-- A pod follows one channel: it must wake up when its channel changes and
-- only then. Every activation transaction takes one site-wide epoch
-- (_next_epoch(): commit order, incarnation in the high 32 bits) and writes
-- one activation_history row per rule and channel it changes, so the epoch of
-- a channel is the newest epoch among that channel's history rows: an sl
-- activation leaves prod's epoch alone, a cutover advances prod once, a
-- hotfix that moves prod and sl advances both (with the same number).
-- activation_epoch(channel) reads it with one probe of this index; a gateway
-- on a standby polls it every 100 ms (docs/notifications.md).
CREATE INDEX activation_history_channel_epoch_idx ON rulekeeper.activation_history (channel, epoch);

-- The channel's epoch: 0 before its first activation. An unknown channel
-- raises the error naming the channels (as effective_rules does).
CREATE FUNCTION rulekeeper.activation_epoch(channel text) RETURNS bigint
  LANGUAGE sql STABLE STRICT AS $$
  SELECT CASE WHEN rulekeeper._require_channel($1) THEN
           COALESCE((SELECT h.epoch FROM rulekeeper.activation_history h
                      WHERE h.channel OPERATOR(pg_catalog.=) $1
                      ORDER BY h.epoch DESC LIMIT 1), 0::pg_catalog.int8)
         END
$$;

-- wait_for_epoch() for one channel: waits until the channel's epoch passes
-- `after` (or timeout_ms), on a hot standby too. Like the site-wide form it
-- COMMITs between polls (no snapshot, no lock held while waiting: a long
-- statement on a standby would stall replay), so CALL it in autocommit.
CREATE PROCEDURE rulekeeper.wait_for_epoch(channel text, after bigint, timeout_ms integer,
                                           INOUT epoch bigint DEFAULT NULL)
  LANGUAGE plpgsql AS $$
DECLARE
  deadline timestamptz := pg_catalog.clock_timestamp()
                          OPERATOR(pg_catalog.+) pg_catalog.make_interval(
                            secs => GREATEST(timeout_ms, 0)::pg_catalog.numeric OPERATOR(pg_catalog./) 1000.0);
BEGIN
  IF rulekeeper._in_transaction_block() THEN
    RAISE EXCEPTION 'CALL rulekeeper.wait_for_epoch in autocommit, not inside a transaction block'
      USING ERRCODE = 'active_sql_transaction',
            HINT = 'It commits between polls so that it holds no snapshot while it waits.';
  END IF;
  IF channel IS NULL OR after IS NULL OR timeout_ms IS NULL THEN
    RAISE EXCEPTION 'CALL rulekeeper.wait_for_epoch(channel, after, timeout_ms): none may be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM rulekeeper._require_channel(channel);
  LOOP
    epoch := rulekeeper.activation_epoch(channel);
    EXIT WHEN epoch OPERATOR(pg_catalog.>) after OR pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>=) deadline;
    COMMIT;
    PERFORM pg_catalog.pg_sleep(0.05);
  END LOOP;
END
$$;

-- The set the channel served right after the activation transaction of
-- epoch as_of_epoch committed (the same columns as effective_rules(channel);
-- with the channel's current epoch, the same rows): for each rule, its newest
-- history row in the channel at or before that epoch; a deactivation (label
-- NULL) means the rule was not served. Within one transaction (one epoch) the
-- journal order decides: all rows of a transaction share its origin, so
-- origin_seq orders them. One probe of activation_history_rule_idx per rule.
-- What a gateway serves while its (site, channel) is held at as_of_epoch.
CREATE FUNCTION rulekeeper.effective_rules(channel text, as_of_epoch bigint)
  RETURNS TABLE (rule_key text, label text, body jsonb, content_sha256 text, epoch bigint)
  LANGUAGE sql STABLE STRICT AS $$
  SELECT h.rule_key, h.label, v.body, v.content_sha256, h.epoch
    FROM rulekeeper.rule r
   CROSS JOIN LATERAL (
          SELECT x.rule_key, x.label, x.epoch
            FROM rulekeeper.activation_history x
            JOIN rulekeeper.journal j ON j.change_id OPERATOR(pg_catalog.=) x.change_id
           WHERE x.rule_key OPERATOR(pg_catalog.=) r.rule_key AND x.channel OPERATOR(pg_catalog.=) $1
             AND x.epoch OPERATOR(pg_catalog.<=) $2
           ORDER BY x.epoch DESC, j.origin_seq DESC
           LIMIT 1) h
    JOIN rulekeeper.rule_version v
      ON v.rule_key OPERATOR(pg_catalog.=) h.rule_key AND v.label OPERATOR(pg_catalog.=) h.label
   WHERE rulekeeper._require_channel($1)
   ORDER BY h.rule_key
$$;

-- Who is notified (issue #18 item 3): an operator holds a site's channel at
-- its current epoch, and that site's gateway keeps serving
-- effective_rules(channel, held_epoch) until the hold is released — e.g. a
-- new prod version reaches IPC2's pods first and IPC1's an hour later. The
-- scope is (site, channel). Holds are written at the E3 primary only, so
-- they replicate to every standby (the gateway of ipc1 reads them there)
-- and survive restarts; docs/notifications.md.
--
-- One row per hold and per release, append-only, each journaled (kind
-- 'notification', payload the whole row): the state of a scope is its
-- newest row in journal order (incarnation, sequence: commit order in this
-- database's history, whatever the clocks say). Rows come only from
-- hold_notifications() and release_notifications(), which keep holds and
-- releases alternating. Entries of kind 'notification' from another
-- history (reconcile, rejoin) are listed by import_changes, never applied:
-- a hold is an operator's decision about this primary's pods.
CREATE TABLE rulekeeper.notification_hold (
  change_id     uuid PRIMARY KEY REFERENCES rulekeeper.journal,
  site          text NOT NULL CHECK (site ~ '^[a-z0-9_-]{1,63}$'),
  channel       text NOT NULL CHECK (channel IN ('sl', 'prod')),
  action        text NOT NULL CHECK (action IN ('hold', 'release')),
  -- The epoch the scope is held at (for a release: the one it was held at).
  held_epoch    bigint NOT NULL,
  -- The channel's epoch when the row was written (for a release: what the
  -- site's pods move to now).
  current_epoch bigint NOT NULL,
  reason        text,
  actor         text NOT NULL DEFAULT session_user,
  recorded_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX notification_hold_scope_idx ON rulekeeper.notification_hold (site, channel);
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.notification_hold', '');
CREATE TRIGGER notification_hold_journal BEFORE INSERT ON rulekeeper.notification_hold
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_row('notification', '', '', '*');
CREATE TRIGGER notification_hold_append_only BEFORE UPDATE OR DELETE ON rulekeeper.notification_hold
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._refuse_change('notification holds are append-only',
    'Release a hold with rulekeeper.release_notifications(site, channel, reason).');
CREATE TRIGGER notification_hold_no_truncate BEFORE TRUNCATE ON rulekeeper.notification_hold
  FOR EACH STATEMENT EXECUTE FUNCTION rulekeeper._refuse_change('notification holds are append-only: the table cannot be truncated');

-- The newest row of one scope (none: never held).
CREATE FUNCTION rulekeeper._notification_scope(site text, channel text) RETURNS SETOF rulekeeper.notification_hold
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT n.* FROM rulekeeper.notification_hold n
    JOIN rulekeeper.journal j ON j.change_id = n.change_id
   WHERE n.site = $1 AND n.channel = $2
   ORDER BY j.origin_incarnation DESC, j.origin_seq DESC
   LIMIT 1
$$;

-- Checks shared by hold and release: the E3 primary, a channel, a site name.
CREATE FUNCTION rulekeeper._require_notification_scope(site text, channel text, action text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
BEGIN
  PERFORM rulekeeper._require_environment('e3', action);
  IF channel IS NULL OR site IS NULL THEN
    RAISE EXCEPTION '%: site and channel are required', action USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM rulekeeper._require_channel(channel);
  IF site !~ '^[a-z0-9_-]{1,63}$' THEN
    RAISE EXCEPTION '%: "%" is not a site name', action, site
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A site name is 1 to 63 of a-z, 0-9, ''_'' and ''-'', as rulekeeper.site (e.g. ipc1).';
  END IF;
END
$$;

-- Holds (site, channel) at the channel's current epoch. Refused when it is
-- held already (the refusal says at which epoch, since when and by whom).
CREATE FUNCTION rulekeeper.hold_notifications(site text, channel text, reason text DEFAULT NULL) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  cur rulekeeper.notification_hold;
  epoch bigint;
  written rulekeeper.notification_hold;
BEGIN
  PERFORM rulekeeper._require_notification_scope(site, channel, 'hold_notifications');
  -- Activations take the same lock: the epoch read below is the newest
  -- committed one, and none commits before the hold does.
  PERFORM rulekeeper._lock_site();
  SELECT * INTO cur FROM rulekeeper._notification_scope(site, channel);
  IF cur.action = 'hold' THEN
    RAISE EXCEPTION 'notifications of % % are already held at epoch %', site, channel, cur.held_epoch
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = pg_catalog.format('Held since %s by %s%s.',
                                       to_char(cur.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                       cur.actor, COALESCE(', reason: ' || cur.reason, '')),
            HINT = pg_catalog.format('Release it first: rulectl notify release --site %s --channel %s', site, channel);
  END IF;
  epoch := rulekeeper.activation_epoch(channel);
  INSERT INTO rulekeeper.notification_hold (site, channel, action, held_epoch, current_epoch, reason)
  VALUES (site, channel, 'hold', epoch, epoch, NULLIF(reason, ''))
  RETURNING * INTO written;
  RETURN to_jsonb(written);
END
$$;

-- Releases a held (site, channel): its pods get the channel's current set.
-- Refused when it is not held.
CREATE FUNCTION rulekeeper.release_notifications(site text, channel text, reason text DEFAULT NULL) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  cur rulekeeper.notification_hold;
  written rulekeeper.notification_hold;
BEGIN
  PERFORM rulekeeper._require_notification_scope(site, channel, 'release_notifications');
  PERFORM rulekeeper._lock_site();
  SELECT * INTO cur FROM rulekeeper._notification_scope(site, channel);
  IF cur.action IS DISTINCT FROM 'hold' THEN
    RAISE EXCEPTION 'notifications of % % are not held', site, channel
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'rulectl status shows which sites and channels are held.';
  END IF;
  INSERT INTO rulekeeper.notification_hold (site, channel, action, held_epoch, current_epoch, reason)
  VALUES (site, channel, 'release', cur.held_epoch, rulekeeper.activation_epoch(channel), NULLIF(reason, ''))
  RETURNING * INTO written;
  RETURN to_jsonb(written);
END
$$;

-- What the gateway of `site` serves, per channel: the channel's current
-- epoch at this node, and whether an operator holds the site's channel (then
-- the gateway serves effective_rules(channel, held_epoch) and epoch
-- held_epoch until the hold is released). One row per channel, held or not.
-- Any site name answers (a site never held is not held): which sites are E3
-- sites is rulectl.toml's knowledge, not the database's.
CREATE FUNCTION rulekeeper.notification_state(site text)
  RETURNS TABLE (channel text, current_epoch bigint, held boolean, held_epoch bigint, held_by text,
                 held_at timestamptz, reason text)
  LANGUAGE sql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT c.channel, rulekeeper.activation_epoch(c.channel), COALESCE(n.action = 'hold', false),
         CASE WHEN n.action = 'hold' THEN n.held_epoch END, CASE WHEN n.action = 'hold' THEN n.actor END,
         CASE WHEN n.action = 'hold' THEN n.recorded_at END, CASE WHEN n.action = 'hold' THEN n.reason END
    FROM (SELECT DISTINCT x.channel FROM rulekeeper._channel_admissions() x) c
    LEFT JOIN LATERAL rulekeeper._notification_scope($1, c.channel) n ON true
   ORDER BY c.channel
$$;

REVOKE EXECUTE ON FUNCTION rulekeeper.activation_epoch(text), rulekeeper.effective_rules(text, bigint),
  rulekeeper.notification_state(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rulekeeper._notification_scope(text, text),
  rulekeeper._require_notification_scope(text, text, text), rulekeeper.hold_notifications(text, text, text),
  rulekeeper.release_notifications(text, text, text) FROM PUBLIC;
REVOKE ALL ON rulekeeper.notification_hold FROM PUBLIC;
GRANT SELECT ON rulekeeper.notification_hold TO rulekeeper_reader, rulekeeper_admin;
GRANT EXECUTE ON FUNCTION rulekeeper.hold_notifications(text, text, text),
  rulekeeper.release_notifications(text, text, text) TO rulekeeper_releaser, rulekeeper_admin;
REVOKE EXECUTE ON PROCEDURE rulekeeper.wait_for_epoch(text, bigint, integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rulekeeper.activation_epoch(text), rulekeeper.effective_rules(text, bigint),
  rulekeeper.notification_state(text) TO rulekeeper_reader, rulekeeper_admin;
GRANT EXECUTE ON PROCEDURE rulekeeper.wait_for_epoch(text, bigint, integer, bigint)
  TO rulekeeper_reader, rulekeeper_admin;

-- ==== issue 19: the portal's reads (i19-portal) ====
-- What `rulectl rules` and the admin portal's rules and rule pages show
-- (docs/portal.md): rulectl reads no table (docs/design/architecture.md "The
-- control plane"), so these stand in for the tables, granted like them (to
-- rulekeeper_reader, hence every rulekeeper role). STABLE, read-only, on a
-- standby too.

-- Every rule with what prod and sl serve: label, pin, epoch, the version's
-- qualification, origin and hotfix annotation. `ruleset` '' = all; `key_contains`
-- '' = all, else a case-insensitive substring of the key.
CREATE FUNCTION rulekeeper.rules_served(ruleset text DEFAULT '', key_contains text DEFAULT '')
  RETURNS TABLE (rule_key text, ruleset text,
                 prod_label text, prod_pinned boolean, prod_epoch bigint, prod_qualification text,
                 prod_origin text, prod_hotfix_included text,
                 sl_label text, sl_pinned boolean, sl_epoch bigint, sl_qualification text,
                 sl_origin text, sl_hotfix_included text)
  LANGUAGE sql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT r.rule_key, r.ruleset,
         p.label, p.pinned, p.epoch, pv.qualification, pv.origin, pv.annotations ->> 'hotfix_included',
         s.label, s.pinned, s.epoch, sv.qualification, sv.origin, sv.annotations ->> 'hotfix_included'
    FROM rulekeeper.rule r
    LEFT JOIN rulekeeper.activation p ON p.rule_key = r.rule_key AND p.channel = 'prod'
    LEFT JOIN rulekeeper.rule_version pv ON pv.rule_key = p.rule_key AND pv.label = p.label
    LEFT JOIN rulekeeper.activation s ON s.rule_key = r.rule_key AND s.channel = 'sl'
    LEFT JOIN rulekeeper.rule_version sv ON sv.rule_key = s.rule_key AND sv.label = s.label
   WHERE ($1 = '' OR r.ruleset = $1)
     AND ($2 = '' OR strpos(lower(r.rule_key), lower($2)) > 0)
   ORDER BY r.rule_key COLLATE "C"
$$;

-- One rule's versions, oldest first, with the derived lifecycle
-- (version_state), each row with the rule's ruleset and description; a rule
-- without versions is one row whose label is NULL; no rule, no row.
CREATE FUNCTION rulekeeper.rule_versions(rule_key text)
  RETURNS TABLE (label text, qualification text, lifecycle text[], pinned_in text[], annotations jsonb,
                 origin text, parent_label text, content_sha256 text, created_at timestamptz, created_by text,
                 ruleset text, description text)
  LANGUAGE sql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT v.label, v.qualification, s.lifecycle, s.pinned_in, v.annotations, v.origin, v.parent_label,
         v.content_sha256, v.created_at, v.created_by, r.ruleset, r.description
    FROM rulekeeper.rule r
    LEFT JOIN rulekeeper.rule_version v ON v.rule_key = r.rule_key
    LEFT JOIN rulekeeper.version_state s ON s.rule_key = v.rule_key AND s.label = v.label
   WHERE r.rule_key = $1
   ORDER BY v.version, v.hotfix
$$;

-- One rule's history, newest first: activations (who moved which channel,
-- acknowledging what), qualification changes (with their reason) and every
-- other journal entry of the rule.
CREATE FUNCTION rulekeeper.rule_history(rule_key text)
  RETURNS TABLE (kind text, recorded_at timestamptz, actor text, channel text, label text, previous text,
                 what text, reason text, acknowledged jsonb)
  LANGUAGE sql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT * FROM (
    SELECT 'activation'::text, h.recorded_at, h.actor, h.channel, h.label, h.previous_label, h.action,
           j.payload ->> 'reason', h.acknowledged
      FROM rulekeeper.activation_history h JOIN rulekeeper.journal j ON j.change_id = h.change_id
     WHERE h.rule_key = $1
    UNION ALL
    SELECT 'qualification', q.recorded_at, q.actor, NULL, q.label, q.from_qualification, q.to_qualification,
           q.reason, NULL
      FROM rulekeeper.qualification_history q WHERE q.rule_key = $1
    UNION ALL
    SELECT 'journal', j.recorded_at, j.actor, NULL, j.label, NULL, j.kind, j.payload ->> 'reason', NULL
      FROM rulekeeper.journal j
     WHERE j.rule_key = $1
       AND NOT EXISTS (SELECT 1 FROM rulekeeper.activation_history h WHERE h.change_id = j.change_id)
       AND NOT EXISTS (SELECT 1 FROM rulekeeper.qualification_history q WHERE q.change_id = j.change_id)
  ) x (kind, recorded_at, actor, channel, label, previous, what, reason, acknowledged)
  ORDER BY x.recorded_at DESC, x.kind
$$;

-- A version's body (NULL: no such version).
CREATE FUNCTION rulekeeper.version_body(rule_key text, label text) RETURNS jsonb
  LANGUAGE sql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT v.body FROM rulekeeper.rule_version v WHERE v.rule_key = $1 AND v.label = $2
$$;

REVOKE EXECUTE ON FUNCTION rulekeeper.rules_served(text, text), rulekeeper.rule_versions(text),
  rulekeeper.rule_history(text), rulekeeper.version_body(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rulekeeper.rules_served(text, text), rulekeeper.rule_versions(text),
  rulekeeper.rule_history(text), rulekeeper.version_body(text, text) TO rulekeeper_reader, rulekeeper_admin;
