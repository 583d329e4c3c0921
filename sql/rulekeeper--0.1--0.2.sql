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
