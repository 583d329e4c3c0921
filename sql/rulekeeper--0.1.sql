-- rulekeeper 0.1: schema, triggers, functions, roles.
-- Names here are the public contract of DESIGN.md "SQL interface".
\echo Use "CREATE EXTENSION rulekeeper" to load this file. \quit

-- Roles are cluster-wide: create them only if missing, so that a second
-- database (or a pg_restore into a new one) can install the extension.
DO $roles$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['rulekeeper_reader', 'rulekeeper_author', 'rulekeeper_releaser',
                           'rulekeeper_hotfix', 'rulekeeper_admin'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
  FOREACH r IN ARRAY ARRAY['rulekeeper_author', 'rulekeeper_releaser', 'rulekeeper_hotfix', 'rulekeeper_admin'] LOOP
    IF NOT pg_catalog.pg_has_role(r, 'rulekeeper_reader', 'MEMBER') THEN
      EXECUTE pg_catalog.format('GRANT rulekeeper_reader TO %I', r);
    END IF;
  END LOOP;
END
$roles$;

------------------------------------------------------------------------------
-- Source tables (dumped by pg_dump; every row carries the change_id of the
-- journal entry that made it)
------------------------------------------------------------------------------

-- A new incarnation begins whenever the writer's (system identifier,
-- timeline, database) differs from the latest row: after every promotion and
-- after a restore. Journal origins are (site, incarnation).
CREATE TABLE rulekeeper.incarnation (
  incarnation       integer PRIMARY KEY CHECK (incarnation >= 1),
  site              text NOT NULL,
  system_identifier text NOT NULL,
  timeline          bigint NOT NULL,
  database_oid      oid NOT NULL,
  started_at        timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE TABLE rulekeeper.journal (
  change_id          uuid PRIMARY KEY,
  origin_site        text NOT NULL,
  origin_incarnation integer NOT NULL,
  origin_seq         bigint NOT NULL CHECK (origin_seq >= 1),
  kind               text NOT NULL,
  rule_key           text,
  label              text,
  payload            jsonb NOT NULL DEFAULT '{}',
  actor              text NOT NULL DEFAULT session_user,
  recorded_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
  -- WAL insert position when the entry was written (before its commit): a
  -- standby whose slot stands before it certainly lacks it (at-risk estimate
  -- when the standby itself cannot be asked).
  recorded_lsn       pg_lsn DEFAULT pg_catalog.pg_current_wal_insert_lsn(),
  UNIQUE (origin_site, origin_incarnation, origin_seq)
);
CREATE INDEX journal_rule_idx ON rulekeeper.journal (rule_key, recorded_at);

CREATE TABLE rulekeeper.rule (
  rule_key    text PRIMARY KEY CHECK (rule_key <> '' AND pg_catalog.length(rule_key) <= 200),
  ruleset     text NOT NULL CHECK (ruleset <> ''),
  description text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
  created_by  text NOT NULL DEFAULT session_user,
  change_id   uuid NOT NULL REFERENCES rulekeeper.journal
);

-- label, content_sha256, bucket and (for new rows) qualification and
-- change_id are filled in by the BEFORE INSERT trigger; a restored row that
-- carries them is checked instead.
CREATE TABLE rulekeeper.rule_version (
  rule_key       text NOT NULL REFERENCES rulekeeper.rule,
  version        integer NOT NULL CHECK (version >= 1),
  hotfix         integer NOT NULL DEFAULT 0 CHECK (hotfix >= 0),
  label          text NOT NULL,
  body           jsonb NOT NULL,
  content_sha256 text NOT NULL,
  bucket         integer NOT NULL CHECK (bucket BETWEEN 0 AND 4095),
  qualification  text NOT NULL,
  origin         text NOT NULL DEFAULT 'authored'
                 CHECK (origin IN ('authored', 'released', 'hotfix', 'recovered')),
  origin_site    text NOT NULL,
  parent_label   text,
  annotations    jsonb NOT NULL DEFAULT '{}',
  -- Deferred: the AFTER INSERT trigger appends the journal entry of a new row.
  change_id      uuid NOT NULL REFERENCES rulekeeper.journal DEFERRABLE INITIALLY DEFERRED,
  created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
  created_by     text NOT NULL DEFAULT session_user,
  PRIMARY KEY (rule_key, version, hotfix),
  UNIQUE (rule_key, label)
);
-- Site comparison finds one bucket's rules without a scan.
CREATE INDEX rule_version_bucket_idx ON rulekeeper.rule_version (bucket, rule_key);

CREATE TABLE rulekeeper.qualification_history (
  change_id          uuid PRIMARY KEY REFERENCES rulekeeper.journal,
  rule_key           text NOT NULL,
  label              text NOT NULL,
  from_qualification text NOT NULL,
  to_qualification   text NOT NULL,
  reason             text,
  actor              text NOT NULL DEFAULT session_user,
  recorded_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
  FOREIGN KEY (rule_key, label) REFERENCES rulekeeper.rule_version (rule_key, label)
);
CREATE INDEX qualification_history_version_idx ON rulekeeper.qualification_history (rule_key, label);

-- Which version each channel's pods must use (at most one per rule). The
-- activation functions arrive with the release/channel work; the table is
-- here because qualification changes in SL depend on it.
CREATE TABLE rulekeeper.activation (
  channel      text NOT NULL CHECK (channel IN ('sl', 'prod')),
  rule_key     text NOT NULL,
  label        text NOT NULL,
  pinned       boolean NOT NULL DEFAULT false,
  epoch        bigint NOT NULL,
  activated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  activated_by text NOT NULL DEFAULT session_user,
  change_id    uuid NOT NULL REFERENCES rulekeeper.journal,
  PRIMARY KEY (channel, rule_key),
  FOREIGN KEY (rule_key, label) REFERENCES rulekeeper.rule_version (rule_key, label)
);

------------------------------------------------------------------------------
-- Derived data (not dumped: recomputed by the triggers as rows arrive)
------------------------------------------------------------------------------

-- AdHash sum of the entry digests of every version in each of the 4096
-- buckets (DESIGN.md "Checksums"), updated once per transaction at
-- pre-commit, never once per row. Empty buckets have no row.
CREATE TABLE rulekeeper.checksum_bucket (
  bucket integer PRIMARY KEY CHECK (bucket BETWEEN 0 AND 4095),
  sum    bytea NOT NULL CHECK (pg_catalog.octet_length(sum) = 32)
);

-- One row per site that has beaten here, updated in place by the heartbeat
-- worker every rulekeeper.heartbeat_interval ms. Replicated like any row, so
-- on a standby the age of the newest row bounds how stale the standby is.
-- Not a change: no journal entry, no checksum, not dumped.
CREATE TABLE rulekeeper.heartbeat (
  site     text PRIMARY KEY,
  beat_at  timestamptz NOT NULL,
  beat_seq bigint NOT NULL,
  beat_lsn pg_lsn
);

SELECT pg_catalog.pg_extension_config_dump('rulekeeper.incarnation', '');
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.journal', '');
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.rule', '');
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.rule_version', '');
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.qualification_history', '');
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.activation', '');

------------------------------------------------------------------------------
-- C primitives (internal ones start with an underscore; none is granted to
-- PUBLIC)
------------------------------------------------------------------------------

CREATE FUNCTION rulekeeper.timeline() RETURNS integer
  LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'rk_timeline';
CREATE FUNCTION rulekeeper.canonical_json(body jsonb) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'rk_canonical_json';
CREATE FUNCTION rulekeeper.content_sha256(body jsonb) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'rk_content_sha256';
CREATE FUNCTION rulekeeper.entry_digest(rule_key text, label text, content_sha256 text) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'rk_entry_digest';
CREATE FUNCTION rulekeeper.bucket_of(rule_key text) RETURNS integer
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'rk_bucket_of';
CREATE FUNCTION rulekeeper.checksum_algorithm() RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'adhash-sha256-v1'::pg_catalog.text $$;

CREATE FUNCTION rulekeeper._adhash_add(a bytea, b bytea) RETURNS bytea
  LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'rk_adhash_add';
CREATE FUNCTION rulekeeper._require_environment(environment text, action text) RETURNS void
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_require_environment';
CREATE FUNCTION rulekeeper._require_site(action text) RETURNS void
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_require_site';
CREATE FUNCTION rulekeeper._lock_site() RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'rk_lock_site';
CREATE FUNCTION rulekeeper._journal(kind text, rule_key text, label text, payload jsonb) RETURNS uuid
  LANGUAGE c AS 'MODULE_PATHNAME', 'rk_journal';
CREATE FUNCTION rulekeeper._journal_check(change_id uuid, kind text, rule_key text, label text) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'rk_journal_check';
CREATE FUNCTION rulekeeper.incarnation() RETURNS integer
  LANGUAGE c AS 'MODULE_PATHNAME', 'rk_incarnation';
CREATE FUNCTION rulekeeper._boundary_selftest(mode text) RETURNS bigint
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_boundary_selftest';
CREATE FUNCTION rulekeeper._check_transition(rule_key text, label text, from_q text, to_q text) RETURNS text
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_check_transition';

------------------------------------------------------------------------------
-- The lifecycle tables, from the one definition in the C++ core
------------------------------------------------------------------------------

CREATE FUNCTION rulekeeper._qualifications(
    OUT name text, OUT environment text, OUT initial boolean, OUT final boolean, OUT meaning text)
  RETURNS SETOF record LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'rk_qualifications';
CREATE FUNCTION rulekeeper._transitions(
    OUT environment text, OUT from_qualification text, OUT to_qualification text, OUT requires_active_in text)
  RETURNS SETOF record LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'rk_transitions';
CREATE FUNCTION rulekeeper._channel_admissions(
    OUT channel text, OUT qualification text, OUT needs_acknowledge boolean)
  RETURNS SETOF record LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'rk_channel_admissions';

CREATE VIEW rulekeeper.qualification AS SELECT * FROM rulekeeper._qualifications();
CREATE VIEW rulekeeper.qualification_transition AS SELECT * FROM rulekeeper._transitions();
CREATE VIEW rulekeeper.channel_admission AS SELECT * FROM rulekeeper._channel_admissions();

------------------------------------------------------------------------------
-- Triggers
------------------------------------------------------------------------------

CREATE FUNCTION rulekeeper._rule_version_before_insert() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'rk_rule_version_before_insert';
CREATE FUNCTION rulekeeper._rule_version_after_insert() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'rk_rule_version_after_insert';

CREATE TRIGGER rule_version_before_insert BEFORE INSERT ON rulekeeper.rule_version
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._rule_version_before_insert();
CREATE TRIGGER rule_version_after_insert AFTER INSERT ON rulekeeper.rule_version
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._rule_version_after_insert();

-- Bodies and checksums never change: an edit is a new version. Only the
-- qualification (through the transition table) and annotations may change.
CREATE FUNCTION rulekeeper._rule_version_before_update() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  col text;
  required_channel text;
BEGIN
  col := CASE
    WHEN NEW.rule_key IS DISTINCT FROM OLD.rule_key THEN 'rule_key'
    WHEN NEW.version IS DISTINCT FROM OLD.version THEN 'version'
    WHEN NEW.hotfix IS DISTINCT FROM OLD.hotfix THEN 'hotfix'
    WHEN NEW.label IS DISTINCT FROM OLD.label THEN 'label'
    WHEN NEW.body IS DISTINCT FROM OLD.body THEN 'body'
    WHEN NEW.content_sha256 IS DISTINCT FROM OLD.content_sha256 THEN 'content_sha256'
    WHEN NEW.bucket IS DISTINCT FROM OLD.bucket THEN 'bucket'
    WHEN NEW.origin IS DISTINCT FROM OLD.origin THEN 'origin'
    WHEN NEW.origin_site IS DISTINCT FROM OLD.origin_site THEN 'origin_site'
    WHEN NEW.parent_label IS DISTINCT FROM OLD.parent_label THEN 'parent_label'
    WHEN NEW.change_id IS DISTINCT FROM OLD.change_id THEN 'change_id'
    WHEN NEW.created_at IS DISTINCT FROM OLD.created_at THEN 'created_at'
    WHEN NEW.created_by IS DISTINCT FROM OLD.created_by THEN 'created_by'
  END;
  IF col IS NOT NULL THEN
    RAISE EXCEPTION 'version % of rule "%" is immutable: % cannot change', OLD.label, OLD.rule_key, col
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'An edit is a new version: rulekeeper.create_version() at e1, rulekeeper.hotfix() at the E3 primary.';
  END IF;
  IF NEW.qualification IS DISTINCT FROM OLD.qualification THEN
    required_channel := rulekeeper._check_transition(OLD.rule_key, OLD.label, OLD.qualification, NEW.qualification);
    IF required_channel IS NOT NULL AND NOT EXISTS (
         SELECT 1 FROM rulekeeper.activation a
          WHERE a.channel = required_channel AND a.rule_key = OLD.rule_key AND a.label = OLD.label) THEN
      RAISE EXCEPTION 'version % of rule "%": % -> % is allowed only while the version is active in %',
        OLD.label, OLD.rule_key, OLD.qualification, NEW.qualification, required_channel
        USING ERRCODE = 'check_violation',
              HINT = pg_catalog.format('Activate it in %s first: SL validates only what SL serves.', required_channel);
    END IF;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER rule_version_before_update BEFORE UPDATE ON rulekeeper.rule_version
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._rule_version_before_update();

-- Every qualification change, by transition() or by a plain UPDATE in psql,
-- leaves a history row (who, when, why) that journals itself.
CREATE FUNCTION rulekeeper._rule_version_after_update() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
BEGIN
  IF NEW.qualification IS DISTINCT FROM OLD.qualification THEN
    INSERT INTO rulekeeper.qualification_history (rule_key, label, from_qualification, to_qualification, reason)
    VALUES (NEW.rule_key, NEW.label, OLD.qualification, NEW.qualification,
            COALESCE(NULLIF(pg_catalog.current_setting('rulekeeper_txn.reason', true), ''), 'direct UPDATE'));
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER rule_version_after_update AFTER UPDATE ON rulekeeper.rule_version
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._rule_version_after_update();

-- Journaling for the low-volume tables: journal a row that arrives without a
-- change_id; check one that arrives with it (pg_restore, reconcile).
CREATE FUNCTION rulekeeper._journal_rule() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
BEGIN
  IF NEW.change_id IS NULL THEN
    NEW.change_id := rulekeeper._journal('rule', NEW.rule_key, NULL,
                       pg_catalog.jsonb_build_object('ruleset', NEW.ruleset, 'description', NEW.description));
  ELSE
    PERFORM rulekeeper._journal_check(NEW.change_id, 'rule', NEW.rule_key, NULL);
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER rule_journal BEFORE INSERT ON rulekeeper.rule
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_rule();

CREATE FUNCTION rulekeeper._journal_qualification() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
BEGIN
  IF NEW.change_id IS NULL THEN
    NEW.change_id := rulekeeper._journal('qualification', NEW.rule_key, NEW.label,
                       pg_catalog.jsonb_build_object('from', NEW.from_qualification, 'to', NEW.to_qualification,
                                                     'reason', NEW.reason));
  ELSE
    PERFORM rulekeeper._journal_check(NEW.change_id, 'qualification', NEW.rule_key, NEW.label);
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER qualification_history_journal BEFORE INSERT ON rulekeeper.qualification_history
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_qualification();

CREATE FUNCTION rulekeeper._journal_activation() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.change_id IS NOT DISTINCT FROM OLD.change_id THEN
    NEW.change_id := NULL;  -- a changed activation is a new change
  END IF;
  IF NEW.change_id IS NULL THEN
    NEW.change_id := rulekeeper._journal('activation', NEW.rule_key, NEW.label,
                       pg_catalog.jsonb_build_object('channel', NEW.channel, 'pinned', NEW.pinned, 'epoch', NEW.epoch));
  ELSE
    PERFORM rulekeeper._journal_check(NEW.change_id, 'activation', NEW.rule_key, NEW.label);
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER activation_journal BEFORE INSERT OR UPDATE ON rulekeeper.activation
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_activation();

-- Append-only and never-deleted tables.
CREATE FUNCTION rulekeeper._refuse_change() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
BEGIN
  IF TG_NARGS > 1 THEN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'object_not_in_prerequisite_state', HINT = TG_ARGV[1];
  END IF;
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'object_not_in_prerequisite_state';
END
$$;
CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON rulekeeper.journal
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._refuse_change('rulekeeper.journal is append-only: entries are never changed or deleted');
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON rulekeeper.journal
  FOR EACH STATEMENT EXECUTE FUNCTION rulekeeper._refuse_change('rulekeeper.journal is append-only: it cannot be truncated');
CREATE TRIGGER rule_version_no_delete BEFORE DELETE ON rulekeeper.rule_version
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._refuse_change('rule versions are never deleted',
    'Retire a version by its qualification or by activating another one; history must stay complete.');
CREATE TRIGGER rule_version_no_truncate BEFORE TRUNCATE ON rulekeeper.rule_version
  FOR EACH STATEMENT EXECUTE FUNCTION rulekeeper._refuse_change('rule versions are never deleted: rule_version cannot be truncated');
CREATE TRIGGER rule_no_delete BEFORE UPDATE OR DELETE ON rulekeeper.rule
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._refuse_change('rules are never changed or deleted');
CREATE TRIGGER rule_no_truncate BEFORE TRUNCATE ON rulekeeper.rule
  FOR EACH STATEMENT EXECUTE FUNCTION rulekeeper._refuse_change('rules are never deleted: rule cannot be truncated');
CREATE TRIGGER qualification_history_append_only BEFORE UPDATE OR DELETE ON rulekeeper.qualification_history
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._refuse_change('qualification history is append-only');
CREATE TRIGGER qualification_history_no_truncate BEFORE TRUNCATE ON rulekeeper.qualification_history
  FOR EACH STATEMENT EXECUTE FUNCTION rulekeeper._refuse_change('qualification history is append-only: it cannot be truncated');

------------------------------------------------------------------------------
-- Checksums and version vectors
------------------------------------------------------------------------------

CREATE FUNCTION rulekeeper.snapshot_checksum(scope text DEFAULT 'all') RETURNS text
  LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'rk_snapshot_checksum';
CREATE FUNCTION rulekeeper.checksum_buckets(scope text DEFAULT 'all', OUT bucket integer, OUT sum text)
  RETURNS SETOF record LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'rk_checksum_buckets';
CREATE FUNCTION rulekeeper.verify_checksums(
    OUT rule_key text, OUT label text, OUT stored text, OUT recomputed text, OUT problem text)
  RETURNS SETOF record LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'rk_verify_checksums';

-- {"site:incarnation": max origin_seq}: a skip scan over the journal's unique
-- index (one probe per origin), not a scan of the journal.
CREATE FUNCTION rulekeeper.version_vector() RETURNS jsonb
  LANGUAGE sql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  WITH RECURSIVE origins(site, inc) AS (
    (SELECT j.origin_site, j.origin_incarnation FROM rulekeeper.journal j
      ORDER BY j.origin_site, j.origin_incarnation LIMIT 1)
    UNION ALL
    SELECT n.origin_site, n.origin_incarnation
      FROM origins o,
           LATERAL (SELECT j.origin_site, j.origin_incarnation FROM rulekeeper.journal j
                     WHERE (j.origin_site, j.origin_incarnation) > (o.site, o.inc)
                     ORDER BY j.origin_site, j.origin_incarnation LIMIT 1) n
  )
  SELECT COALESCE(pg_catalog.jsonb_object_agg(o.site || ':' || o.inc,
           (SELECT pg_catalog.max(j.origin_seq) FROM rulekeeper.journal j
             WHERE j.origin_site = o.site AND j.origin_incarnation = o.inc)), '{}'::jsonb)
    FROM origins o
$$;

-- The versions of some checksum buckets, found through the bucket index:
-- the third round trip of a site comparison (after snapshot_checksum and
-- checksum_buckets), touching only the buckets that differ.
CREATE FUNCTION rulekeeper.bucket_versions(buckets integer[],
    OUT bucket integer, OUT rule_key text, OUT label text, OUT content_sha256 text)
  RETURNS SETOF record
  LANGUAGE sql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT v.bucket, v.rule_key, v.label, v.content_sha256 FROM rulekeeper.rule_version v
   WHERE v.bucket = ANY (buckets) ORDER BY v.bucket, v.rule_key, v.version, v.hotfix
$$;

-- The journal entries this site holds that a version vector does not cover:
-- one index range scan per origin, in origin order.
CREATE FUNCTION rulekeeper.journal_since(since jsonb DEFAULT '{}')
  RETURNS SETOF rulekeeper.journal
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  o record;
  have bigint;
BEGIN
  IF since IS NULL OR jsonb_typeof(since) <> 'object' THEN
    RAISE EXCEPTION 'a version vector is a JSON object {"site:incarnation": max_origin_seq}, not %',
      COALESCE(jsonb_typeof(since), 'null') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR o IN SELECT key, value::bigint AS seq FROM jsonb_each_text(rulekeeper.version_vector()) ORDER BY key LOOP
    have := COALESCE((since ->> o.key)::bigint, 0);
    IF o.seq > have THEN
      RETURN QUERY SELECT j.* FROM rulekeeper.journal j
        WHERE j.origin_site = substring(o.key FROM '^(.*):[0-9]+$')
          AND j.origin_incarnation = substring(o.key FROM ':([0-9]+)$')::integer
          AND j.origin_seq > have
        ORDER BY j.origin_seq;
    END IF;
  END LOOP;
END
$$;

------------------------------------------------------------------------------
-- Replication awareness
------------------------------------------------------------------------------

-- Backs the view replication_status (SECURITY DEFINER so that readers see
-- what pg_stat_replication shows only to privileged roles).
CREATE FUNCTION rulekeeper._replication_status(
    OUT site text, OUT role text, OUT timeline integer, OUT peer text,
    OUT application_name text, OUT state text,
    OUT sent_lsn pg_lsn, OUT write_lsn pg_lsn, OUT flush_lsn pg_lsn, OUT replay_lsn pg_lsn,
    OUT receive_lsn pg_lsn, OUT lag_bytes numeric, OUT unreplayed_bytes numeric,
    OUT write_lag_seconds double precision, OUT flush_lag_seconds double precision,
    OUT replay_lag_seconds double precision, OUT sync_state text,
    OUT slot_name text, OUT slot_active boolean, OUT wal_status text, OUT retained_bytes numeric,
    OUT replay_paused boolean, OUT wal_receiver_status text, OUT last_msg_receipt_time timestamptz,
    OUT upstream text, OUT last_heartbeat_site text, OUT last_heartbeat_at timestamptz,
    OUT lag_upper_bound_seconds double precision)
  RETURNS SETOF record
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  me text := NULLIF(current_setting('rulekeeper.site', true), '');
  tl integer := rulekeeper.timeline();
  hb_site text;
  hb_at timestamptz;
BEGIN
  SELECT h.site, h.beat_at INTO hb_site, hb_at FROM rulekeeper.heartbeat h ORDER BY h.beat_at DESC LIMIT 1;
  IF pg_is_in_recovery() THEN
    -- What a standby alone can tell: its receive and replay positions, its
    -- WAL receiver, and the age of the newest heartbeat it replayed.
    RETURN QUERY
      SELECT me, 'standby'::text, tl, 'upstream'::text, NULL::text,
             COALESCE(w.status, 'no wal receiver')::text,
             NULL::pg_lsn, NULL::pg_lsn, w.flushed_lsn, pg_last_wal_replay_lsn(), pg_last_wal_receive_lsn(),
             NULL::numeric, pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()),
             NULL::float8, NULL::float8, NULL::float8, NULL::text,
             w.slot_name::text, NULL::boolean, NULL::text, NULL::numeric,
             pg_get_wal_replay_pause_state() <> 'not paused', COALESCE(w.status, 'stopped')::text,
             w.last_msg_receipt_time,
             CASE WHEN w.sender_host IS NULL THEN NULL ELSE w.sender_host || ':' || w.sender_port END,
             hb_site, hb_at, extract(epoch FROM clock_timestamp() - hb_at)::float8
        FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver w ON true;
    RETURN;
  END IF;
  -- A primary: every connected standby and every physical slot, matched.
  RETURN QUERY
    SELECT me, 'primary'::text, tl,
           CASE WHEN r.pid IS NULL THEN 'slot without standby' ELSE 'standby' END,
           r.application_name::text, COALESCE(r.state, 'absent')::text,
           r.sent_lsn, r.write_lsn, r.flush_lsn, r.replay_lsn, NULL::pg_lsn,
           pg_wal_lsn_diff(pg_current_wal_lsn(), COALESCE(r.replay_lsn, s.restart_lsn)), NULL::numeric,
           extract(epoch FROM r.write_lag)::float8, extract(epoch FROM r.flush_lag)::float8,
           extract(epoch FROM r.replay_lag)::float8, r.sync_state::text,
           s.slot_name::text, s.active, s.wal_status, pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn),
           NULL::boolean, NULL::text, NULL::timestamptz, r.client_addr::text,
           hb_site, hb_at, extract(epoch FROM clock_timestamp() - hb_at)::float8
      FROM pg_stat_replication r
      FULL JOIN (SELECT * FROM pg_replication_slots WHERE slot_type = 'physical') s ON s.active_pid = r.pid
     ORDER BY COALESCE(r.application_name, s.slot_name);
  IF NOT FOUND THEN
    RETURN QUERY
      SELECT me, 'primary'::text, tl, NULL::text, NULL::text, 'no standby'::text,
             NULL::pg_lsn, NULL::pg_lsn, NULL::pg_lsn, NULL::pg_lsn, NULL::pg_lsn, NULL::numeric, NULL::numeric,
             NULL::float8, NULL::float8, NULL::float8, NULL::text, NULL::text, NULL::boolean, NULL::text,
             NULL::numeric, NULL::boolean, NULL::text, NULL::timestamptz, NULL::text,
             hb_site, hb_at, extract(epoch FROM clock_timestamp() - hb_at)::float8;
  END IF;
END
$$;

-- Replication as this node sees it. On a primary: one row per standby and
-- per physical slot (a slot whose standby is away shows state 'absent' and
-- the WAL it retains). On a standby: one row about its upstream, with
-- lag_upper_bound_seconds = the age of the newest replayed heartbeat — the
-- lag bound that still works when the primary is idle or gone.
CREATE VIEW rulekeeper.replication_status AS SELECT * FROM rulekeeper._replication_status();

------------------------------------------------------------------------------
-- Authoring and the lifecycle
------------------------------------------------------------------------------

CREATE FUNCTION rulekeeper.create_rule(rule_key text, ruleset text, description text DEFAULT '')
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM rulekeeper._require_environment('e1', 'create_rule');
  IF create_rule.rule_key IS NULL OR create_rule.rule_key = '' THEN
    RAISE EXCEPTION 'a rule needs a non-empty rule_key' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF create_rule.ruleset IS NULL OR create_rule.ruleset = '' THEN
    RAISE EXCEPTION 'rule "%" needs a non-empty ruleset', create_rule.rule_key USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT 1 FROM rulekeeper.rule r WHERE r.rule_key = create_rule.rule_key) THEN
    RAISE EXCEPTION 'rule "%" already exists', create_rule.rule_key USING ERRCODE = 'unique_violation';
  END IF;
  INSERT INTO rulekeeper.rule (rule_key, ruleset, description)
  VALUES (create_rule.rule_key, create_rule.ruleset, COALESCE(create_rule.description, ''));
  RETURN create_rule.rule_key;
END
$$;

-- The next planned version's label, born draft (e1 only). In C: it is the
-- authoring hot path (extension/authoring.cpp).
CREATE FUNCTION rulekeeper.create_version(rule_key text, body jsonb) RETURNS text
  LANGUAGE c SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp
  AS 'MODULE_PATHNAME', 'rk_create_version';

-- A checked qualification change; the trigger enforces the table for plain
-- UPDATEs too, this adds the reason and a clear "does not exist".
CREATE FUNCTION rulekeeper.transition(rule_key text, version text, to_qualification text, reason text)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
#variable_conflict use_column
DECLARE
  current_q text;
BEGIN
  PERFORM rulekeeper._require_site('transition');
  IF transition.reason IS NULL OR pg_catalog.btrim(transition.reason) = '' THEN
    RAISE EXCEPTION 'a qualification change needs a reason' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT v.qualification INTO current_q FROM rulekeeper.rule_version v
   WHERE v.rule_key = transition.rule_key AND v.label = transition.version
   FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'version % of rule "%" does not exist', transition.version, transition.rule_key
      USING ERRCODE = 'no_data_found';
  END IF;
  IF current_q = transition.to_qualification THEN
    RAISE EXCEPTION 'version % of rule "%" is already %', transition.version, transition.rule_key, current_q
      USING ERRCODE = 'check_violation';
  END IF;
  PERFORM pg_catalog.set_config('rulekeeper_txn.reason', transition.reason, true);
  UPDATE rulekeeper.rule_version v SET qualification = transition.to_qualification
   WHERE v.rule_key = transition.rule_key AND v.label = transition.version;
  PERFORM pg_catalog.set_config('rulekeeper_txn.reason', '', true);
  RETURN pg_catalog.jsonb_build_object('rule_key', transition.rule_key, 'label', transition.version,
                                       'from', current_q, 'to', transition.to_qualification);
END
$$;

------------------------------------------------------------------------------
-- Privileges: only rulekeeper_admin writes tables directly; everyone else
-- goes through the functions. SECURITY DEFINER functions pin search_path
-- with pg_temp last.
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA rulekeeper FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA rulekeeper FROM PUBLIC;
GRANT USAGE ON SCHEMA rulekeeper TO rulekeeper_reader, rulekeeper_author, rulekeeper_releaser,
  rulekeeper_hotfix, rulekeeper_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA rulekeeper TO rulekeeper_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA rulekeeper TO rulekeeper_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA rulekeeper TO rulekeeper_admin;

GRANT EXECUTE ON FUNCTION
  rulekeeper.timeline(), rulekeeper.canonical_json(jsonb), rulekeeper.content_sha256(jsonb),
  rulekeeper.entry_digest(text, text, text), rulekeeper.bucket_of(text), rulekeeper.checksum_algorithm(),
  rulekeeper.snapshot_checksum(text), rulekeeper.checksum_buckets(text), rulekeeper.verify_checksums(),
  rulekeeper.version_vector(), rulekeeper._qualifications(), rulekeeper._transitions(),
  rulekeeper._channel_admissions(), rulekeeper.bucket_versions(integer[]), rulekeeper.journal_since(jsonb),
  rulekeeper._replication_status()
  TO rulekeeper_reader;
GRANT EXECUTE ON FUNCTION rulekeeper.create_rule(text, text, text), rulekeeper.create_version(text, jsonb)
  TO rulekeeper_author;
GRANT EXECUTE ON FUNCTION rulekeeper.transition(text, text, text, text) TO rulekeeper_releaser;
