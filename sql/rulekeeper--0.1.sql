-- rulekeeper 0.1: schema, triggers, functions, roles.
-- Names here are the public contract of docs/design/contract.md "SQL interface".
\echo Use "CREATE EXTENSION rulekeeper" to load this file. \quit

-- The build assembles this script (cmake/assemble_sql.cmake): each
-- `#include "udfs/<function>/<version>.sql"` line is replaced by that file.
-- A function's versions live in sql/udfs/<function>/ with latest.sql the
-- newest, so that an upgrade script includes the new version of exactly the
-- functions it changes (sql/udfs/README.md).

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
  -- SHA-256 chaining the entry to the previous one of its origin
  -- (docs/design/contract.md "Journal hash chain"; docs/tamper-evidence.md).
  entry_hash         text NOT NULL CHECK (pg_catalog.octet_length(entry_hash) = 64),
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

-- Every activation change of a channel, append-only: what rollback walks and
-- what the lifecycle's inactive_sl / inactive_prod are derived from. label is
-- NULL for a deactivation. Written by the activation trigger with the same
-- change_id as the activation change it records.
CREATE TABLE rulekeeper.activation_history (
  change_id      uuid PRIMARY KEY REFERENCES rulekeeper.journal,
  channel        text NOT NULL CHECK (channel IN ('sl', 'prod')),
  rule_key       text NOT NULL,
  label          text,
  previous_label text,
  pinned         boolean NOT NULL,
  epoch          bigint NOT NULL,
  action         text NOT NULL,
  acknowledged   jsonb,
  actor          text NOT NULL DEFAULT session_user,
  recorded_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX activation_history_epoch_idx ON rulekeeper.activation_history (epoch);
CREATE INDEX activation_history_rule_idx ON rulekeeper.activation_history (rule_key, channel, epoch);

-- One row per successful import: the checksums before and after, and the
-- bucket sums after, so that the next import can tell whether anything
-- changed in between (drift) and where.
CREATE TABLE rulekeeper.release_log (
  release_id         uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
  change_id          uuid NOT NULL REFERENCES rulekeeper.journal,
  source_site        text NOT NULL,
  source_environment text NOT NULL,
  bundle_sha256      text NOT NULL,
  algorithm          text NOT NULL,
  pre_checksum       text NOT NULL,
  post_checksum      text NOT NULL,
  expected_checksum  text,
  bucket_sums        jsonb NOT NULL,
  drift              boolean NOT NULL,
  drifted_rules      text[] NOT NULL DEFAULT '{}',
  imported           integer NOT NULL,
  skipped            integer NOT NULL,
  imported_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
  imported_by        text NOT NULL DEFAULT session_user
);
CREATE INDEX release_log_imported_at_idx ON rulekeeper.release_log (imported_at);

------------------------------------------------------------------------------
-- Derived data (not dumped: recomputed by the triggers as rows arrive)
------------------------------------------------------------------------------

-- AdHash sum of the entry digests of every version in each of the 4096
-- buckets (docs/design/contract.md "Checksums"), updated once per transaction at
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
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.activation_history', '');
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.release_log', '');

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
-- canonical_json() through the text route (print, parse, canonicalize): the
-- reference the direct jsonb walker is tested against (regress canonical).
CREATE FUNCTION rulekeeper._canonical_json_via_text(body jsonb) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'rk_canonical_json_via_text';
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
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_lock_site';
CREATE FUNCTION rulekeeper._journal(kind text, rule_key text, label text, payload jsonb) RETURNS uuid
  LANGUAGE c AS 'MODULE_PATHNAME', 'rk_journal';
CREATE FUNCTION rulekeeper._journal_check(change_id uuid, kind text, rule_key text, label text) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'rk_journal_check';
CREATE FUNCTION rulekeeper.incarnation() RETURNS integer
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_incarnation';
CREATE FUNCTION rulekeeper._next_epoch() RETURNS bigint
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_next_epoch';
CREATE FUNCTION rulekeeper._in_transaction_block() RETURNS boolean
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_in_transaction_block';
CREATE FUNCTION rulekeeper._boundary_selftest(mode text) RETURNS bigint
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_boundary_selftest';
CREATE FUNCTION rulekeeper._check_transition(rule_key text, label text, from_q text, to_q text) RETURNS text
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_check_transition';
-- Whether a text shows nothing (empty, or only white space and invisible
-- characters: include/rulekeeper/reason.hpp). Behind _require_reason and the
-- hotfix table's CHECK.
CREATE FUNCTION rulekeeper._is_blank(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'rk_is_blank';

------------------------------------------------------------------------------
-- The lifecycle tables, from the one definition in the C++ core
------------------------------------------------------------------------------

CREATE FUNCTION rulekeeper._qualifications(
    OUT name text, OUT environment text, OUT initial boolean, OUT final boolean, OUT meaning text)
  RETURNS SETOF record LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'rk_qualifications';
CREATE FUNCTION rulekeeper._transitions(
    OUT environment text, OUT from_qualification text, OUT to_qualification text, OUT requires_active_in text)
  RETURNS SETOF record LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'rk_transitions';
CREATE FUNCTION rulekeeper._channel_admissions(
    OUT channel text, OUT qualification text, OUT needs_acknowledge boolean)
  RETURNS SETOF record LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'rk_channel_admissions';

CREATE VIEW rulekeeper.qualification AS SELECT * FROM rulekeeper._qualifications();
CREATE VIEW rulekeeper.qualification_transition AS SELECT * FROM rulekeeper._transitions();
CREATE VIEW rulekeeper.channel_admission AS SELECT * FROM rulekeeper._channel_admissions();

------------------------------------------------------------------------------
-- Triggers
------------------------------------------------------------------------------

CREATE FUNCTION rulekeeper._rule_version_before_insert() RETURNS trigger
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_rule_version_before_insert';
CREATE FUNCTION rulekeeper._rule_version_after_insert() RETURNS trigger
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_rule_version_after_insert';
CREATE FUNCTION rulekeeper._rule_version_journal_flush() RETURNS trigger
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_rule_version_journal_flush';

CREATE TRIGGER rule_version_before_insert BEFORE INSERT ON rulekeeper.rule_version
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._rule_version_before_insert();
CREATE TRIGGER rule_version_after_insert AFTER INSERT ON rulekeeper.rule_version
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._rule_version_after_insert();
-- The row trigger queues each new version's journal entry; this writes the
-- statement's entries in one COPY (extension/journal.hpp).
CREATE TRIGGER rule_version_journal_flush AFTER INSERT ON rulekeeper.rule_version
  FOR EACH STATEMENT EXECUTE FUNCTION rulekeeper._rule_version_journal_flush();

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
            COALESCE(rulekeeper._audit_get('reason'), 'direct UPDATE'));
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER rule_version_after_update AFTER UPDATE ON rulekeeper.rule_version
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._rule_version_after_update();


#include "udfs/_journal_row/0.1.sql"
CREATE TRIGGER rule_journal BEFORE INSERT ON rulekeeper.rule
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_row('rule', 'rule_key', '', 'ruleset', 'description');
CREATE TRIGGER qualification_history_journal BEFORE INSERT ON rulekeeper.qualification_history
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_row('qualification', 'rule_key', 'label',
    'from=from_qualification', 'to=to_qualification', 'reason');

-- An activation change (by activate(), pin(), ..., or a direct write by an
-- admin) gets the transaction's epoch, a journal entry and a history row. The
-- functions pass what the trigger cannot know (action, acknowledgement) in
-- backend memory (_audit_set, extension/txn_audit.hpp), never in a setting a
-- caller could set. A restored row (with change_id) is only checked.
CREATE FUNCTION rulekeeper._journal_activation() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  action text := COALESCE(rulekeeper._audit_get('action'), 'direct ' || lower(TG_OP));
  ack jsonb := rulekeeper._audit_get('acknowledged')::jsonb;
  kind text;
  id uuid;
BEGIN
  IF TG_OP = 'DELETE' THEN
    id := rulekeeper._journal('deactivation', OLD.rule_key, OLD.label,
            jsonb_build_object('channel', OLD.channel, 'epoch', rulekeeper._next_epoch(), 'action', action));
    INSERT INTO rulekeeper.activation_history
      (change_id, channel, rule_key, label, previous_label, pinned, epoch, action, acknowledged)
    VALUES (id, OLD.channel, OLD.rule_key, NULL, OLD.label, false, rulekeeper._next_epoch(), action, ack);
    RETURN OLD;
  END IF;
  IF TG_OP = 'INSERT' AND NEW.change_id IS NOT NULL THEN
    PERFORM rulekeeper._journal_check(NEW.change_id, 'activation', NEW.rule_key, NEW.label);
    RETURN NEW;
  END IF;
  NEW.epoch := rulekeeper._next_epoch();
  NEW.activated_at := now();
  NEW.activated_by := session_user;
  NEW.change_id := rulekeeper._journal('activation', NEW.rule_key, NEW.label,
                     jsonb_build_object('channel', NEW.channel, 'pinned', NEW.pinned, 'epoch', NEW.epoch,
                                        'action', action, 'previous_label',
                                        CASE WHEN TG_OP = 'UPDATE' THEN OLD.label END));
  INSERT INTO rulekeeper.activation_history
    (change_id, channel, rule_key, label, previous_label, pinned, epoch, action, acknowledged)
  VALUES (NEW.change_id, NEW.channel, NEW.rule_key, NEW.label,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.label END, NEW.pinned, NEW.epoch, action, ack);
  RETURN NEW;
END
$$;
CREATE TRIGGER activation_journal BEFORE INSERT OR UPDATE OR DELETE ON rulekeeper.activation
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_activation();

CREATE TRIGGER release_log_journal BEFORE INSERT ON rulekeeper.release_log
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_row('release', '', '', 'release_id', 'source_site',
    'bundle_sha256', 'pre_checksum', 'post_checksum', 'drift', 'imported');

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
CREATE TRIGGER activation_history_append_only BEFORE UPDATE OR DELETE ON rulekeeper.activation_history
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._refuse_change('activation history is append-only');
CREATE TRIGGER release_log_append_only BEFORE UPDATE OR DELETE ON rulekeeper.release_log
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._refuse_change('the release log is append-only');
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
  RETURNS SETOF record LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'rk_verify_checksums';

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
             hb_site, hb_at, rulekeeper._heartbeat_age(hb_at)
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
           hb_site, hb_at, rulekeeper._heartbeat_age(hb_at)
      FROM pg_stat_replication r
      FULL JOIN (SELECT * FROM pg_replication_slots WHERE slot_type = 'physical') s ON s.active_pid = r.pid
     ORDER BY COALESCE(r.application_name, s.slot_name);
  IF NOT FOUND THEN
    RETURN QUERY
      SELECT me, 'primary'::text, tl, NULL::text, NULL::text, 'no standby'::text,
             NULL::pg_lsn, NULL::pg_lsn, NULL::pg_lsn, NULL::pg_lsn, NULL::pg_lsn, NULL::numeric, NULL::numeric,
             NULL::float8, NULL::float8, NULL::float8, NULL::text, NULL::text, NULL::boolean, NULL::text,
             NULL::numeric, NULL::boolean, NULL::text, NULL::timestamptz, NULL::text,
             hb_site, hb_at, rulekeeper._heartbeat_age(hb_at);
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
  -- The site lock first: the "active in sl" check below must not race an
  -- activation that commits while this transaction waits for the row.
  PERFORM rulekeeper._lock_site();
  PERFORM rulekeeper._require_reason(transition.reason, 'a qualification change');
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
  PERFORM rulekeeper._audit_set('reason', transition.reason);
  UPDATE rulekeeper.rule_version v SET qualification = transition.to_qualification
   WHERE v.rule_key = transition.rule_key AND v.label = transition.version;
  PERFORM rulekeeper._audit_set('reason', '');
  RETURN pg_catalog.jsonb_build_object('rule_key', transition.rule_key, 'label', transition.version,
                                       'from', current_q, 'to', transition.to_qualification);
END
$$;

------------------------------------------------------------------------------
-- Releases: bundles carry versions one environment forward (e1 -> e2 -> e3)
------------------------------------------------------------------------------

-- Strict JSON text (duplicate keys, invalid UTF-8, nesting past 256).
CREATE FUNCTION rulekeeper._check_json_text(doc text) RETURNS void
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_check_json_text';
-- The core's validate_bundle on a bundle arriving at `environment` (site
-- `site`): raises the first problem, returns the verified bundle_sha256.
CREATE FUNCTION rulekeeper._validate_bundle(bundle jsonb, environment text, site text) RETURNS jsonb
  LANGUAGE c AS 'MODULE_PATHNAME', 'rk_validate_bundle';

-- The JCS SHA-256 of a JSON value: how bundles are checksummed.
CREATE FUNCTION rulekeeper._jcs_sha256(doc jsonb) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT encode(sha256(convert_to(rulekeeper.canonical_json(doc), 'UTF8')), 'hex')
$$;

-- The bundle of this site's versions in `qualification` (of `rule_keys`, or
-- every rule), with their rules, checksummed (docs/design/contract.md
-- "Checksums") and signed with this site's key ("Bundle signatures"): what
-- export_release sends and export_release_again sends again — one builder,
-- so a bundle sent again is exactly the shape of the first. Owner only: it
-- signs, as the signing helpers.
CREATE FUNCTION rulekeeper._release_bundle(qualification text, rule_keys text[], site text, env text)
  RETURNS jsonb
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  unknown text[];
  bundle jsonb;
  sig jsonb;
BEGIN
  SELECT array_agg(k ORDER BY k) INTO unknown FROM unnest(rule_keys) k
   WHERE NOT EXISTS (SELECT 1 FROM rulekeeper.rule r WHERE r.rule_key = k);
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'unknown rule(s) %', array_to_string(unknown, ', ') USING ERRCODE = 'no_data_found';
  END IF;
  WITH leaving_versions AS (
    SELECT v.* FROM rulekeeper.rule_version v
     WHERE v.qualification = _release_bundle.qualification AND (rule_keys IS NULL OR v.rule_key = ANY (rule_keys))
  )
  SELECT jsonb_build_object(
    'format', 'rulekeeper-bundle/1',
    'source', jsonb_build_object('site', site, 'environment', env),
    'rules', COALESCE((SELECT jsonb_agg(jsonb_build_object('rule_key', r.rule_key, 'ruleset', r.ruleset,
                                                           'description', r.description) ORDER BY r.rule_key)
                         FROM rulekeeper.rule r
                        WHERE r.rule_key IN (SELECT lv.rule_key FROM leaving_versions lv)), '[]'::jsonb),
    'versions', COALESCE((SELECT jsonb_agg(jsonb_build_object('rule_key', lv.rule_key, 'label', lv.label,
                                                              'body', lv.body, 'content_sha256', lv.content_sha256)
                                           ORDER BY lv.rule_key, lv.version, lv.hotfix)
                            FROM leaving_versions lv), '[]'::jsonb))
    INTO bundle;
  bundle := bundle || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(bundle));
  sig := rulekeeper._bundle_signature(bundle ->> 'format', bundle ->> 'bundle_sha256');
  RETURN CASE WHEN sig IS NULL THEN bundle ELSE bundle || jsonb_build_object('signature', sig) END;
END
$$;
REVOKE EXECUTE ON FUNCTION rulekeeper._release_bundle(text, text[], text, text) FROM PUBLIC;

#include "udfs/export_release/0.1.sql"

#include "udfs/import_release/0.1.sql"

------------------------------------------------------------------------------
-- Hotfixes: restricted, direct edits at the E3 primary
------------------------------------------------------------------------------

CREATE FUNCTION rulekeeper._json_diff(from_body jsonb, to_body jsonb,
    OUT path text, OUT op text, OUT old_value jsonb, OUT new_value jsonb)
  RETURNS SETOF record LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'rk_json_diff';
CREATE FUNCTION rulekeeper._classify(hotfix_diff jsonb, planned jsonb) RETURNS text
  LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'rk_classify';
CREATE FUNCTION rulekeeper._paths_outside(paths text[], allowed text[]) RETURNS text[]
  LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'rk_paths_outside';

-- A diff as stored and journaled: [{path, op, old_value, new_value}, ...].
CREATE FUNCTION rulekeeper._diff_json(from_body jsonb, to_body jsonb) RETURNS jsonb
  LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  -- old_value / new_value are left out where absent (add / remove), so that a
  -- JSON null value stays distinguishable from no value.
  SELECT COALESCE(jsonb_agg(jsonb_build_object('path', d.path, 'op', d.op)
                            || CASE WHEN d.old_value IS NULL THEN '{}'::jsonb
                                    ELSE jsonb_build_object('old_value', d.old_value) END
                            || CASE WHEN d.new_value IS NULL THEN '{}'::jsonb
                                    ELSE jsonb_build_object('new_value', d.new_value) END), '[]'::jsonb)
    FROM rulekeeper._json_diff(from_body, to_body) d
$$;

-- One line per entry, for messages: "/rate: 0.1 -> 0.15".
CREATE FUNCTION rulekeeper._diff_text(diff jsonb) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT string_agg(CASE e ->> 'op'
                      WHEN 'add' THEN (e ->> 'path') || ': (absent) -> ' || (e -> 'new_value')::text
                      WHEN 'remove' THEN (e ->> 'path') || ': ' || (e -> 'old_value')::text || ' -> (removed)'
                      ELSE (e ->> 'path') || ': ' || (e -> 'old_value')::text || ' -> ' || (e -> 'new_value')::text
                    END, E'\n')
    FROM jsonb_array_elements(diff) e
$$;

-- included if all are, overrides if any is, else unknown.
CREATE FUNCTION rulekeeper._combine(classifications text[]) RETURNS text
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT CASE WHEN classifications IS NULL OR cardinality(classifications) = 0 THEN 'included'
              WHEN 'overrides' = ANY (classifications) THEN 'overrides'
              WHEN classifications <@ ARRAY['included'] THEN 'included'
              ELSE 'unknown' END
$$;

-- What a hotfix may change, per ruleset ("what can be changed will be
-- restricted"): RFC 6901 paths; a change at or below one of them is allowed.
CREATE TABLE rulekeeper.hotfix_policy (
  ruleset       text PRIMARY KEY,
  allowed_paths text[] NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_by    text NOT NULL DEFAULT session_user
);
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.hotfix_policy', '');

CREATE TABLE rulekeeper.hotfix (
  hotfix_id  uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
  rule_key   text NOT NULL,
  base_label text NOT NULL,
  label      text NOT NULL,
  site       text NOT NULL,
  diff       jsonb NOT NULL,
  reason     text NOT NULL CHECK (NOT rulekeeper._is_blank(reason)),
  actor      text NOT NULL DEFAULT session_user,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  change_id  uuid NOT NULL REFERENCES rulekeeper.journal,
  FOREIGN KEY (rule_key, label) REFERENCES rulekeeper.rule_version (rule_key, label)
);
CREATE INDEX hotfix_rule_idx ON rulekeeper.hotfix (rule_key, created_at);
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.hotfix', '');

CREATE TRIGGER hotfix_journal BEFORE INSERT ON rulekeeper.hotfix
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_row('hotfix', 'rule_key', 'label', 'hotfix_id', 'base_label',
    'site', 'diff', 'reason');
CREATE TRIGGER hotfix_append_only BEFORE UPDATE OR DELETE ON rulekeeper.hotfix
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._refuse_change('hotfixes are never changed or deleted');

-- JSON diff between two versions of a rule, RFC 6901 paths.
CREATE FUNCTION rulekeeper.diff(rule_key text, from_label text, to_label text,
    OUT path text, OUT op text, OUT old_value jsonb, OUT new_value jsonb)
  RETURNS SETOF record
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  a jsonb;
  b jsonb;
BEGIN
  SELECT v.body INTO a FROM rulekeeper.rule_version v WHERE v.rule_key = rule_key AND v.label = from_label;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'version % of rule "%" does not exist', from_label, rule_key USING ERRCODE = 'no_data_found';
  END IF;
  SELECT v.body INTO b FROM rulekeeper.rule_version v WHERE v.rule_key = rule_key AND v.label = to_label;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'version % of rule "%" does not exist', to_label, rule_key USING ERRCODE = 'no_data_found';
  END IF;
  RETURN QUERY SELECT d.path, d.op, d.old_value, d.new_value FROM rulekeeper._json_diff(a, b) d;
END
$$;

#include "udfs/hotfix/0.1.sql"

-- Annotates a planned version with every hotfix made to its rule since the
-- last release (or, with no release yet, all of them) and their
-- classification (docs/design/contract.md "Drift").
CREATE FUNCTION rulekeeper._annotate_hotfixes(p_rule_key text, p_label text) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  planned jsonb;
  since timestamptz;
  each jsonb;
  overall text;
  result jsonb;
BEGIN
  SELECT v.body INTO planned FROM rulekeeper.rule_version v WHERE v.rule_key = p_rule_key AND v.label = p_label;
  SELECT max(l.imported_at) INTO since FROM rulekeeper.release_log l
   WHERE l.imported_at < (SELECT v.created_at FROM rulekeeper.rule_version v
                           WHERE v.rule_key = p_rule_key AND v.label = p_label);
  SELECT COALESCE(jsonb_agg(jsonb_build_object('hotfix_id', h.hotfix_id, 'label', h.label, 'base_label', h.base_label,
                                               'classification', rulekeeper._classify(h.diff, planned))
                            ORDER BY h.created_at), '[]'::jsonb)
    INTO each
    FROM rulekeeper.hotfix h
   WHERE h.rule_key = p_rule_key AND (since IS NULL OR h.created_at > since);
  IF jsonb_array_length(each) = 0 THEN
    RETURN NULL;
  END IF;
  overall := rulekeeper._combine(ARRAY(SELECT x ->> 'classification' FROM jsonb_array_elements(each) x));
  result := jsonb_build_object('hotfixes', each, 'hotfix_included', overall,
                               'needs_manual_verification', overall <> 'included');
  UPDATE rulekeeper.rule_version v SET annotations = v.annotations || result
   WHERE v.rule_key = p_rule_key AND v.label = p_label;
  RETURN result;
END
$$;

-- What moving prod from `from_label` to `to_label` (NULL: deactivating it)
-- would undo: every hotfix prod carries now — the hotfixes of from_label's
-- line (from_label itself, its base, its base's base, ... while each is a
-- hotfix) and those from_label's annotations classify as included — with
-- each path it changed where what prod serves now differs from what it
-- would serve (the value absent on either side counts). It compares bodies,
-- never trusts an annotation that says nothing (a planned version imported
-- before the hotfix was never annotated): docs/hotfix.md "What prod serves
-- is compared, not the annotation". A hotfix made on top of from_label
-- (to_label's own line reaches from_label) supersedes it: nothing undone.
CREATE FUNCTION rulekeeper._undone_hotfixes(p_rule_key text, from_label text, to_label text) RETURNS jsonb
  LANGUAGE sql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  WITH RECURSIVE line(label, depth) AS (
    SELECT from_label, 0
    UNION ALL
    SELECT h.base_label, l.depth + 1 FROM line l
      JOIN rulekeeper.hotfix h ON h.rule_key = p_rule_key AND h.label = l.label
     WHERE l.depth < 100000
  ), to_line(label, depth) AS (
    SELECT to_label, 0 WHERE to_label IS NOT NULL
    UNION ALL
    SELECT h.base_label, l.depth + 1 FROM to_line l
      JOIN rulekeeper.hotfix h ON h.rule_key = p_rule_key AND h.label = l.label
     WHERE l.depth < 100000
  ), cur AS (
    SELECT v.body, v.annotations FROM rulekeeper.rule_version v WHERE v.rule_key = p_rule_key AND v.label = from_label
  ), carried AS (
    SELECT h.hotfix_id FROM rulekeeper.hotfix h WHERE h.rule_key = p_rule_key AND h.label IN (SELECT label FROM line)
    UNION
    SELECT h.hotfix_id FROM cur
     CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(cur.annotations -> 'hotfixes') = 'array'
                                                  THEN cur.annotations -> 'hotfixes' ELSE '[]'::jsonb END) x
      JOIN rulekeeper.hotfix h ON h.rule_key = p_rule_key AND h.hotfix_id::text = x ->> 'hotfix_id'
     WHERE x ->> 'classification' = 'included'
  ), paths AS (
    SELECT h.hotfix_id, h.label, h.diff, h.created_at, e.n, e.e ->> 'path' AS path,
           cur.body #> p.arr AS prod_value,
           (SELECT t.body #> p.arr FROM rulekeeper.rule_version t
             WHERE t.rule_key = p_rule_key AND t.label = to_label) AS candidate_value
      FROM rulekeeper.hotfix h
      JOIN carried c ON c.hotfix_id = h.hotfix_id
     CROSS JOIN cur
     CROSS JOIN LATERAL jsonb_array_elements(h.diff) WITH ORDINALITY e(e, n)
     CROSS JOIN LATERAL (SELECT ARRAY(SELECT replace(replace(s.seg, '~1', '/'), '~0', '~')
                                        FROM unnest(string_to_array(substr(e.e ->> 'path', 2), '/'))
                                             WITH ORDINALITY s(seg, i) ORDER BY s.i) AS arr) p
     WHERE NOT EXISTS (SELECT 1 FROM to_line tl WHERE tl.label = from_label)
  ), undone AS (
    SELECT p.hotfix_id, p.label, p.diff, p.created_at,
           jsonb_agg(DISTINCT jsonb_build_object('path', p.path, 'prod', p.prod_value, 'candidate', p.candidate_value))
             AS paths
      FROM paths p
     WHERE p.prod_value IS DISTINCT FROM p.candidate_value
     GROUP BY p.hotfix_id, p.label, p.diff, p.created_at
  )
  SELECT COALESCE(jsonb_agg(jsonb_build_object('hotfix_id', u.hotfix_id, 'label', u.label, 'diff', u.diff,
                                               'paths', u.paths) ORDER BY u.created_at, u.label), '[]'::jsonb)
    FROM undone u
$$;



-- import_release for a bundle as text, as a file or a client holds it: read
-- strictly first (duplicate keys, invalid UTF-8, nesting deeper than 256 are
-- refused with the byte offset, instead of jsonb keeping the last duplicate),
-- then imported exactly as import_release(jsonb).
CREATE FUNCTION rulekeeper.import_release_text(bundle text, expected_checksum text DEFAULT NULL) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
BEGIN
  IF bundle IS NULL THEN
    RAISE EXCEPTION 'a bundle is a JSON object, not null' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM rulekeeper._check_json_text(bundle);
  RETURN rulekeeper.import_release(bundle::jsonb, expected_checksum);
END
$$;

------------------------------------------------------------------------------
-- Channels: which version each channel's pods use
------------------------------------------------------------------------------

-- ==== issue 15: channels named or refused ====
-- Raises naming the channels for anything but sl and prod (core
-- require_channel): effective_rules('green') must not answer "no rules".
-- IMMUTABLE, so a constant argument is checked when the query is planned, and
-- a parameter once per execution (a pseudo-constant qual). Defined here,
-- before the functions whose SQL bodies call it (checked at CREATE).
CREATE FUNCTION rulekeeper._require_channel(channel text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'rk_require_channel';
GRANT EXECUTE ON FUNCTION rulekeeper._require_channel(text) TO rulekeeper_reader;

-- What each qualification may do in each channel, as a message.
CREATE FUNCTION rulekeeper._admission_list(ch text) RETURNS text
  LANGUAGE sql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT string_agg(a.qualification || CASE WHEN a.needs_acknowledge THEN ' (with acknowledgement)' ELSE '' END, ', ')
    FROM rulekeeper.channel_admission a WHERE a.channel = ch
$$;

#include "udfs/_set_activation/0.1.sql"

-- acknowledge: a version prod admits only acknowledged (recovered), or a
-- change here that no hotfix record explains; acknowledge_hotfixes: exactly
-- the hotfix labels the gate lists (docs/hotfix.md "Acknowledging exactly
-- what was shown").
CREATE FUNCTION rulekeeper.activate(rule_key text, version text, channel text, acknowledge boolean DEFAULT false,
                                    expected_epoch bigint DEFAULT NULL, acknowledge_hotfixes text[] DEFAULT NULL)
  RETURNS bigint
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT rulekeeper._set_activation(rule_key, version, channel, COALESCE(acknowledge, false), expected_epoch, 'activate',
                                    NULL, acknowledge_hotfixes)
$$;

CREATE FUNCTION rulekeeper.deactivate(rule_key text, channel text, acknowledge boolean DEFAULT false,
                                      expected_epoch bigint DEFAULT NULL, acknowledge_hotfixes text[] DEFAULT NULL)
  RETURNS bigint
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT rulekeeper._set_activation(rule_key, NULL, channel, COALESCE(acknowledge, false), expected_epoch, 'deactivate',
                                    NULL, acknowledge_hotfixes)
$$;

-- The version a rollback of the channel would re-activate: the most recent
-- earlier one in the channel's history that the channel still admits.
CREATE FUNCTION rulekeeper.rollback_target(p_rule_key text, p_channel text) RETURNS text
  LANGUAGE sql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT h.label FROM rulekeeper.activation_history h
    JOIN rulekeeper.rule_version v ON v.rule_key = h.rule_key AND v.label = h.label
   WHERE rulekeeper._require_channel(p_channel)
     AND h.rule_key = p_rule_key AND h.channel = p_channel AND h.label IS NOT NULL
     AND h.label IS DISTINCT FROM (SELECT a.label FROM rulekeeper.activation a
                                    WHERE a.rule_key = p_rule_key AND a.channel = p_channel)
     AND EXISTS (SELECT 1 FROM rulekeeper.channel_admission ca
                  WHERE ca.channel = p_channel AND ca.qualification = v.qualification)
   ORDER BY h.epoch DESC LIMIT 1
$$;

CREATE FUNCTION rulekeeper.rollback(rule_key text, channel text, acknowledge boolean DEFAULT false,
                                    expected_epoch bigint DEFAULT NULL, acknowledge_hotfixes text[] DEFAULT NULL)
  RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  target text;
BEGIN
  PERFORM rulekeeper._require_environment('e3', 'rollback');
  PERFORM rulekeeper._lock_site();
  target := rulekeeper.rollback_target(rule_key, channel);
  IF target IS NULL THEN
    RAISE EXCEPTION 'rule "%" has no earlier version in % that % still admits', rule_key, channel, channel
      USING ERRCODE = 'no_data_found';
  END IF;
  RETURN rulekeeper._set_activation(rule_key, target, channel, COALESCE(acknowledge, false), expected_epoch, 'rollback',
                                    NULL, acknowledge_hotfixes);
END
$$;

-- Through the same gate as activate(), with the same acknowledgements.
CREATE FUNCTION rulekeeper.pin(rule_key text, channel text, version text, acknowledge boolean DEFAULT false,
                               acknowledge_hotfixes text[] DEFAULT NULL) RETURNS bigint
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT rulekeeper._set_activation(rule_key, version, channel, COALESCE(acknowledge, false), NULL, 'pin', true,
                                    acknowledge_hotfixes)
$$;

CREATE FUNCTION rulekeeper.unpin(rule_key text, channel text) RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  cur rulekeeper.activation;
BEGIN
  PERFORM rulekeeper._require_environment('e3', 'unpin');
  PERFORM rulekeeper._require_channel(channel);
  SELECT * INTO cur FROM rulekeeper.activation a WHERE a.rule_key = rule_key AND a.channel = channel;
  IF cur.rule_key IS NULL OR NOT cur.pinned THEN
    RAISE EXCEPTION 'rule "%" is not pinned in %', rule_key, channel USING ERRCODE = 'no_data_found';
  END IF;
  RETURN rulekeeper._set_activation(rule_key, cur.label, channel, false, NULL, 'unpin', false);
END
$$;

#include "udfs/cutover/0.1.sql"

------------------------------------------------------------------------------
-- What pods read (SECURITY INVOKER, no SET: every name and operator is
-- schema-qualified, so a caller's search_path cannot change an answer)
------------------------------------------------------------------------------

CREATE FUNCTION rulekeeper.effective_rules(channel text)
  RETURNS TABLE (rule_key text, label text, body jsonb, content_sha256 text, epoch bigint)
  LANGUAGE sql STABLE AS $$
  SELECT a.rule_key, a.label, v.body, v.content_sha256, a.epoch
    FROM rulekeeper.activation a
    JOIN rulekeeper.rule_version v
      ON v.rule_key OPERATOR(pg_catalog.=) a.rule_key AND v.label OPERATOR(pg_catalog.=) a.label
   WHERE a.channel OPERATOR(pg_catalog.=) $1 AND rulekeeper._require_channel($1)
   ORDER BY a.rule_key
$$;

CREATE FUNCTION rulekeeper.effective_version(rule_key text, channel text) RETURNS text
  LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'rk_effective_version';

CREATE FUNCTION rulekeeper.activation_epoch() RETURNS bigint
  LANGUAGE sql STABLE AS $$
  SELECT COALESCE((SELECT h.epoch FROM rulekeeper.activation_history h ORDER BY h.epoch DESC LIMIT 1), 0::pg_catalog.int8)
$$;

-- Waits until the activation epoch passes `after` (or timeout_ms), on any
-- site, a hot standby too. It COMMITs between polls so that while it waits it
-- holds no snapshot and no lock (a long function call on a standby would
-- stall WAL replay): CALL it in autocommit.
CREATE PROCEDURE rulekeeper.wait_for_epoch(after bigint, timeout_ms integer, INOUT epoch bigint DEFAULT NULL)
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
  LOOP
    epoch := rulekeeper.activation_epoch();
    EXIT WHEN epoch OPERATOR(pg_catalog.>) after OR pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>=) deadline;
    COMMIT;
    PERFORM pg_catalog.pg_sleep(0.05);
  END LOOP;
END
$$;

------------------------------------------------------------------------------
-- The lifecycle state the seed speaks of, derived (nothing stored)
------------------------------------------------------------------------------

CREATE VIEW rulekeeper.version_state AS
SELECT v.rule_key, v.label, v.qualification,
       COALESCE(NULLIF(ARRAY(
         SELECT st FROM (VALUES (1, 'sl'), (2, 'prod')) c(ord, ch),
              LATERAL (SELECT CASE
                WHEN EXISTS (SELECT 1 FROM rulekeeper.activation a
                              WHERE a.channel = c.ch AND a.rule_key = v.rule_key AND a.label = v.label)
                  THEN c.ch || '_active'
                WHEN EXISTS (SELECT 1 FROM rulekeeper.activation_history h
                              WHERE h.channel = c.ch AND h.rule_key = v.rule_key AND h.label = v.label)
                  THEN 'inactive_' || c.ch
                END AS st) x
          WHERE st IS NOT NULL ORDER BY c.ord), '{}'::text[]), ARRAY[v.qualification]) AS lifecycle,
       ARRAY(SELECT a.channel FROM rulekeeper.activation a
              WHERE a.rule_key = v.rule_key AND a.label = v.label AND a.pinned ORDER BY a.channel) AS pinned_in,
       v.annotations
  FROM rulekeeper.rule_version v;

CREATE VIEW rulekeeper.rule_state AS
SELECT r.rule_key, r.ruleset,
       s.label AS sl_label, COALESCE(s.pinned, false) AS sl_pinned, s.epoch AS sl_epoch,
       rulekeeper.rollback_target(r.rule_key, 'sl') AS sl_rollback_to,
       p.label AS prod_label, COALESCE(p.pinned, false) AS prod_pinned, p.epoch AS prod_epoch,
       rulekeeper.rollback_target(r.rule_key, 'prod') AS prod_rollback_to
  FROM rulekeeper.rule r
  LEFT JOIN rulekeeper.activation s ON s.rule_key = r.rule_key AND s.channel = 'sl'
  LEFT JOIN rulekeeper.activation p ON p.rule_key = r.rule_key AND p.channel = 'prod';

------------------------------------------------------------------------------
-- Failover records and reconciliation across sites
------------------------------------------------------------------------------

-- A promotion as the new primary records it: when, by whom, from which site
-- to which, the new timeline, and the version vector at promotion — the
-- divergence point that tells a returning old primary which of its changes
-- are orphaned.
CREATE TABLE rulekeeper.failover_event (
  event_id     uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
  old_site     text NOT NULL,
  new_site     text NOT NULL,
  new_timeline integer NOT NULL,
  incarnation  integer NOT NULL,
  divergence   jsonb NOT NULL,
  forced       boolean NOT NULL,
  details      jsonb NOT NULL DEFAULT '{}',
  actor        text NOT NULL DEFAULT session_user,
  recorded_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
  change_id    uuid NOT NULL REFERENCES rulekeeper.journal
);
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.failover_event', '');

-- What reconcile could not apply: an orphaned change to a rule the target
-- also changed since the divergence point. Never applied over the target's
-- version; resolved by an operator (keep target, or keep source: the orphan
-- comes back as a 'recovered' version, not activated).
CREATE TABLE rulekeeper.conflict (
  conflict_id    uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
  rule_key       text NOT NULL,
  source_change  jsonb NOT NULL,
  target_changes jsonb NOT NULL,
  status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'kept_target', 'kept_source')),
  detected_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
  resolved_at    timestamptz,
  resolved_by    text,
  resolution     jsonb,
  change_id      uuid NOT NULL REFERENCES rulekeeper.journal
);
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.conflict', '');

CREATE TRIGGER failover_event_journal BEFORE INSERT ON rulekeeper.failover_event
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_row('failover', '', '', '*');
CREATE TRIGGER failover_event_append_only BEFORE UPDATE OR DELETE ON rulekeeper.failover_event
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._refuse_change('failover events are never changed or deleted');
CREATE TRIGGER conflict_journal BEFORE INSERT ON rulekeeper.conflict
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_row('conflict', 'rule_key', '', 'conflict_id',
    'source_change_id=source_change.change_id');
CREATE TRIGGER conflict_no_delete BEFORE DELETE ON rulekeeper.conflict
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._refuse_change('conflicts are resolved, never deleted');

-- Called by `rulectl failover` at the new primary right after promotion,
-- before anything else is written: the divergence point is this site's
-- version vector now.
CREATE FUNCTION rulekeeper.record_failover(old_site text, forced boolean, details jsonb DEFAULT '{}')
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  divergence jsonb := rulekeeper.version_vector();
  ev rulekeeper.failover_event;
BEGIN
  PERFORM rulekeeper._require_environment('e3', 'record_failover');
  INSERT INTO rulekeeper.failover_event (old_site, new_site, new_timeline, incarnation, divergence, forced, details)
  VALUES (old_site, current_setting('rulekeeper.site'), rulekeeper.timeline(), rulekeeper.incarnation(), divergence,
          COALESCE(forced, false), COALESCE(details, '{}'::jsonb))
  RETURNING * INTO ev;
  RETURN to_jsonb(ev) - 'change_id';
END
$$;

-- The changes this site holds beyond a version vector, with the rows they
-- made (rules, versions with bodies, hotfixes, activations), as a bundle a
-- target can import: the orphans of a returning old primary, or any site's
-- catch-up. Read-only: it runs on a hot standby with no upstream too. Signed
-- like a release bundle (docs/design/contract.md "Bundle signatures").
CREATE FUNCTION rulekeeper.export_changes(since jsonb) RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  bundle jsonb;
  sig jsonb;
BEGIN
  SELECT jsonb_build_object(
    'format', 'rulekeeper-changes/1',
    'source', jsonb_build_object('site', NULLIF(current_setting('rulekeeper.site', true), ''),
                                 'environment', NULLIF(current_setting('rulekeeper.environment', true), ''),
                                 'timeline', rulekeeper.timeline()),
    'since', since,
    'vector', rulekeeper.version_vector(),
    'changes', COALESCE(jsonb_agg(
        (to_jsonb(j) - 'recorded_lsn')
        || CASE j.kind
             WHEN 'rule' THEN jsonb_build_object('row', (SELECT to_jsonb(r) FROM rulekeeper.rule r
                                                        WHERE r.change_id = j.change_id))
             WHEN 'version' THEN jsonb_build_object('row', (SELECT to_jsonb(v) FROM rulekeeper.rule_version v
                                                           WHERE v.change_id = j.change_id))
             WHEN 'hotfix' THEN jsonb_build_object('row', (SELECT to_jsonb(h) FROM rulekeeper.hotfix h
                                                          WHERE h.change_id = j.change_id))
             ELSE '{}'::jsonb END
        ORDER BY j.origin_site, j.origin_incarnation, j.origin_seq), '[]'::jsonb))
    INTO bundle
    FROM rulekeeper.journal_since(since) j;
  bundle := bundle || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(bundle));
  sig := rulekeeper._bundle_signature(bundle ->> 'format', bundle ->> 'bundle_sha256');
  RETURN CASE WHEN sig IS NULL THEN bundle ELSE bundle || jsonb_build_object('signature', sig) END;
END
$$;

#include "udfs/import_changes/0.1.sql"

-- An orphaned version comes back as the next free label of its rule, born
-- 'recovered', not activated, annotated with its original change, site and time.
CREATE FUNCTION rulekeeper._recover_version(item jsonb, change jsonb) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  v integer := (item ->> 'version')::integer;
  h integer := (item ->> 'hotfix')::integer;
  next_h integer;
  label text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM rulekeeper.rule r WHERE r.rule_key = item ->> 'rule_key') THEN
    RAISE EXCEPTION 'rule "%" is not known here and the bundle does not carry it', item ->> 'rule_key'
      USING ERRCODE = 'no_data_found';
  END IF;
  IF h = 0 AND NOT EXISTS (SELECT 1 FROM rulekeeper.rule_version x WHERE x.rule_key = item ->> 'rule_key' AND x.version = v) THEN
    next_h := 0;  -- a planned label nobody here used
  ELSE
    SELECT COALESCE(max(x.hotfix), 0) + 1 INTO next_h FROM rulekeeper.rule_version x
     WHERE x.rule_key = item ->> 'rule_key' AND x.version = v;
  END IF;
  INSERT INTO rulekeeper.rule_version (rule_key, version, hotfix, body, qualification, origin, parent_label, annotations)
  VALUES (item ->> 'rule_key', v, next_h, item -> 'body', 'recovered', 'recovered', item ->> 'parent_label',
          jsonb_build_object('recovered_from', jsonb_build_object(
            'change_id', change ->> 'change_id', 'origin_site', change ->> 'origin_site',
            'origin_incarnation', (change ->> 'origin_incarnation')::integer, 'label', item ->> 'label',
            'qualification', item ->> 'qualification', 'recorded_at', change ->> 'recorded_at')))
  RETURNING rulekeeper.rule_version.label INTO label;
  RETURN label;
END
$$;

-- Resolves a conflict: keep the target (nothing applied) or the source (the
-- orphan comes back as a recovered version, not activated).
CREATE FUNCTION rulekeeper.resolve_conflict(conflict_id uuid, keep text) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  cf rulekeeper.conflict;
  label text;
BEGIN
  PERFORM rulekeeper._require_environment('e3', 'resolve_conflict');
  IF keep IS NULL OR keep NOT IN ('target', 'source') THEN
    RAISE EXCEPTION 'keep is target or source, not %', COALESCE(keep, 'null') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO cf FROM rulekeeper.conflict x WHERE x.conflict_id = conflict_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'conflict % does not exist', conflict_id USING ERRCODE = 'no_data_found';
  END IF;
  IF cf.status <> 'open' THEN
    RAISE EXCEPTION 'conflict % is already resolved (%)', conflict_id, cf.status USING ERRCODE = 'check_violation';
  END IF;
  IF keep = 'source' THEN
    label := rulekeeper._recover_version(cf.source_change -> 'row', cf.source_change);
  END IF;
  UPDATE rulekeeper.conflict x
     SET status = 'kept_' || keep, resolved_at = now(), resolved_by = session_user,
         resolution = jsonb_build_object('keep', keep, 'recovered_label', label)
   WHERE x.conflict_id = conflict_id;
  PERFORM rulekeeper._journal('conflict_resolution', cf.rule_key, label,
    jsonb_build_object('conflict_id', conflict_id, 'keep', keep, 'recovered_label', label));
  RETURN jsonb_build_object('conflict_id', conflict_id, 'rule_key', cf.rule_key, 'keep', keep, 'recovered_label', label);
END
$$;

-- ==== issue 13: hotfix gate ====

-- The hotfixes and paths of _undone_hotfixes() as one line ("1.1 (/rate),
-- 1.2 (/tiers/2)") and as a DETAIL: what each hotfix changed, and what the
-- move would serve instead at each path.
CREATE FUNCTION rulekeeper._undone_names(undone jsonb) RETURNS text
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT string_agg((u ->> 'label') || ' (' || (SELECT string_agg(q ->> 'path', ', ' ORDER BY q ->> 'path')
                                                  FROM jsonb_array_elements(u -> 'paths') q) || ')', ', ' ORDER BY n)
    FROM jsonb_array_elements(undone) WITH ORDINALITY x(u, n)
$$;
CREATE FUNCTION rulekeeper._undone_detail(undone jsonb, to_label text) RETURNS text
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT string_agg('hotfix ' || (u ->> 'label') || ' changed:' || E'\n' || rulekeeper._diff_text(u -> 'diff') || E'\n'
                    || COALESCE('version ' || to_label, 'deactivating') || ' would serve instead: '
                    || (SELECT string_agg((q ->> 'path') || ': ' || COALESCE((q -> 'candidate')::text, '(absent)')
                                          || ' (prod serves ' || COALESCE((q -> 'prod')::text, '(absent)') || ')', ', '
                                          ORDER BY q ->> 'path')
                          FROM jsonb_array_elements(u -> 'paths') q), E'\n' ORDER BY n)
    FROM jsonb_array_elements(undone) WITH ORDINALITY x(u, n)
$$;

-- ==== issue 13: hotfix policy journaled ====
-- hotfix_policy is the one table rulekeeper_admin still writes directly
-- (docs/permissions.md "What rulekeeper_admin may write directly"): each
-- insert, update and delete is journaled (kind hotfix_policy: ruleset,
-- allowed_paths, op) with who and when, whoever writes. A row that arrives
-- with a change_id (pg_restore) is only checked: the entry must be a
-- hotfix_policy entry for this ruleset with these paths, and the newest one
-- for the ruleset — an older entry's change_id cannot bring back an older
-- policy unjournaled.
ALTER TABLE rulekeeper.hotfix_policy ADD COLUMN change_id uuid NOT NULL UNIQUE REFERENCES rulekeeper.journal;
CREATE FUNCTION rulekeeper._journal_hotfix_policy() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  j rulekeeper.journal;
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM rulekeeper._journal('hotfix_policy', NULL, NULL,
      jsonb_build_object('op', 'delete', 'ruleset', OLD.ruleset, 'allowed_paths', to_jsonb(OLD.allowed_paths)));
    RETURN OLD;
  END IF;
  IF TG_OP = 'INSERT' AND NEW.change_id IS NOT NULL THEN
    SELECT * INTO j FROM rulekeeper.journal x WHERE x.change_id = NEW.change_id;
    IF j.change_id IS NULL OR j.kind <> 'hotfix_policy' OR j.payload ->> 'op' = 'delete'
       OR j.payload ->> 'ruleset' IS DISTINCT FROM NEW.ruleset
       OR j.payload -> 'allowed_paths' IS DISTINCT FROM to_jsonb(NEW.allowed_paths) THEN
      RAISE EXCEPTION 'hotfix_policy row for ruleset % does not match journal entry %', NEW.ruleset, NEW.change_id
        USING ERRCODE = 'check_violation',
              HINT = 'Write the policy without a change_id: the trigger journals it.';
    END IF;
    IF EXISTS (SELECT 1 FROM rulekeeper.journal x
                WHERE x.kind = 'hotfix_policy' AND x.payload ->> 'ruleset' = NEW.ruleset
                  AND x.recorded_at > j.recorded_at) THEN
      RAISE EXCEPTION 'journal entry % is not the newest hotfix_policy entry of ruleset %', NEW.change_id, NEW.ruleset
        USING ERRCODE = 'check_violation',
              HINT = 'Write the policy without a change_id: the trigger journals it.';
    END IF;
    RETURN NEW;
  END IF;
  NEW.updated_at := pg_catalog.now();
  NEW.updated_by := session_user;
  NEW.change_id := rulekeeper._journal('hotfix_policy', NULL, NULL,
    jsonb_build_object('op', lower(TG_OP), 'ruleset', NEW.ruleset, 'allowed_paths', to_jsonb(NEW.allowed_paths)));
  RETURN NEW;
END
$$;
CREATE TRIGGER hotfix_policy_journal BEFORE INSERT OR UPDATE OR DELETE ON rulekeeper.hotfix_policy
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_hotfix_policy();

-- ==== issue 13: heartbeat age ====

-- The age of a heartbeat in seconds, or NULL (unknown) when it is dated in
-- the future: a skewed clock or a forged row, never "in sync". A negative
-- age would read as less lag than any real one (docs/in-sync.md "A
-- heartbeat from the future").
CREATE FUNCTION rulekeeper._heartbeat_age(beat_at timestamptz) RETURNS double precision
  LANGUAGE sql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT CASE WHEN beat_at <= pg_catalog.clock_timestamp()
              THEN pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - beat_at) END
$$;
-- ==== issue 13: journal hash chain and verify_history ====
-- Every journal entry carries entry_hash, chained to the previous entry of its
-- origin (docs/design/contract.md "Journal hash chain"). verify_history()
-- re-walks the chains and re-derives the current qualifications and
-- activations from the journal; chain_heads() is what `rulectl compare` holds
-- side by side; import_changes() checks every entry of a bundle with
-- _check_changes_entries() before it writes anything (docs/tamper-evidence.md).

-- The hash of one entry chained to prev (the core's canonical form). The entry
-- is the whole journal row: a composite argument is never NULL, so the
-- function is STRICT while rule_key and label may be null inside it.
CREATE FUNCTION rulekeeper._journal_entry_hash(prev text, entry rulekeeper.journal) RETURNS text
  LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'rk_journal_entry_hash';

-- The newest entry of every origin this site holds: a skip scan over the
-- journal's unique index (one probe per origin, as version_vector()), never a
-- scan of the journal, so that `rulectl compare` stays cheap. A gap below the
-- head is verify_history()'s to find.
CREATE FUNCTION rulekeeper.chain_heads(
    OUT origin_site text, OUT origin_incarnation integer, OUT origin_seq bigint, OUT entry_hash text)
  RETURNS SETOF record
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
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
  SELECT o.site, o.inc, h.origin_seq, h.entry_hash
    FROM origins o,
         LATERAL (SELECT j.origin_seq, j.entry_hash FROM rulekeeper.journal j
                   WHERE j.origin_site = o.site AND j.origin_incarnation = o.inc
                   ORDER BY j.origin_seq DESC LIMIT 1) h
   ORDER BY o.site, o.inc
$$;

-- The entry_hash this site holds at one position of one origin's chain (no
-- row: it holds no such entry): how `rulectl compare` checks that the shorter
-- of two chains is a prefix of the longer.
CREATE FUNCTION rulekeeper.chain_hash_at(origin_site text, origin_incarnation integer, origin_seq bigint)
  RETURNS text
  LANGUAGE sql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT j.entry_hash FROM rulekeeper.journal j
   WHERE j.origin_site = $1 AND j.origin_incarnation = $2 AND j.origin_seq = $3
$$;

-- Everything the journal and the tables disagree on, one row per finding (no
-- row: the history is intact). problem is one of:
--   chain_gap            entries of an origin are missing (deleted);
--   chain_mismatch       an entry's hash does not follow from its fields and
--                        the previous entry's hash (edited, inserted, or the
--                        one before it deleted or edited);
--   version_not_journaled, version_missing, version_content_differs,
--   qualification_differs
--                        the versions table against the journal's 'version'
--                        and 'qualification' entries;
--   activation_not_journaled, activation_missing, activation_differs
--                        the activation table against the journal's
--                        'activation' and 'deactivation' entries.
-- The state is re-derived from the entries written in this database's own
-- history (recorded_lsn set); entries imported from another site's history
-- by import_changes (recorded_lsn NULL) are records, never applied here.
-- Within this history, (origin_incarnation, origin_seq) is commit order:
-- incarnations are numbered across promotions and restores.
CREATE FUNCTION rulekeeper.verify_history(
    OUT problem text, OUT origin text, OUT origin_seq bigint, OUT change_id uuid, OUT rule_key text,
    OUT label text, OUT detail text)
  RETURNS SETOF record
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  WITH chain AS (
    SELECT j.origin_site, j.origin_incarnation, j.origin_seq, j.change_id, j.rule_key, j.label, j.entry_hash,
           lag(j.origin_seq) OVER w AS prev_seq,
           rulekeeper._journal_entry_hash(
             COALESCE(lag(j.entry_hash) OVER w, '0000000000000000000000000000000000000000000000000000000000000000'),
             j) AS recomputed
      FROM rulekeeper.journal j
    WINDOW w AS (PARTITION BY j.origin_site, j.origin_incarnation ORDER BY j.origin_seq)
  ),
  local_entries AS (
    SELECT j.* FROM rulekeeper.journal j WHERE j.recorded_lsn IS NOT NULL
  ),
  version_entry AS (
    SELECT DISTINCT ON (e.rule_key, e.label) e.rule_key, e.label, e.change_id, e.payload
      FROM local_entries e WHERE e.kind = 'version'
     ORDER BY e.rule_key, e.label, e.origin_incarnation DESC, e.origin_seq DESC
  ),
  derived_qualification AS (
    SELECT DISTINCT ON (e.rule_key, e.label) e.rule_key, e.label, e.change_id,
           CASE WHEN e.kind = 'version' THEN e.payload ->> 'qualification' ELSE e.payload ->> 'to' END AS qualification
      FROM local_entries e WHERE e.kind IN ('version', 'qualification') AND e.rule_key IS NOT NULL
     ORDER BY e.rule_key, e.label, e.origin_incarnation DESC, e.origin_seq DESC
  ),
  derived_activation AS (
    SELECT DISTINCT ON (e.payload ->> 'channel', e.rule_key)
           e.payload ->> 'channel' AS channel, e.rule_key, e.kind, e.label, e.change_id, e.payload
      FROM local_entries e WHERE e.kind IN ('activation', 'deactivation')
     ORDER BY e.payload ->> 'channel', e.rule_key, e.origin_incarnation DESC, e.origin_seq DESC
  )
  SELECT 'chain_gap', c.origin_site || ':' || c.origin_incarnation, c.origin_seq, c.change_id, c.rule_key, c.label,
         pg_catalog.format('entries %s to %s of origin %s:%s are missing (deleted)',
                           COALESCE(c.prev_seq, 0) + 1, c.origin_seq - 1, c.origin_site, c.origin_incarnation)
    FROM chain c WHERE c.origin_seq <> COALESCE(c.prev_seq, 0) + 1
  UNION ALL
  SELECT 'chain_mismatch', c.origin_site || ':' || c.origin_incarnation, c.origin_seq, c.change_id, c.rule_key,
         c.label,
         pg_catalog.format('entry_hash %s, but its fields chained to the previous entry hash to %s: this entry was '
                           'edited or inserted, or the one before it deleted or edited', c.entry_hash, c.recomputed)
    FROM chain c WHERE c.recomputed <> c.entry_hash
  UNION ALL
  SELECT CASE WHEN v.rule_key IS NULL THEN 'version_missing'
              WHEN d.rule_key IS NULL THEN 'version_not_journaled'
              WHEN ve.payload ->> 'content_sha256' IS DISTINCT FROM v.content_sha256 THEN 'version_content_differs'
              ELSE 'qualification_differs' END,
         NULL, NULL, COALESCE(v.change_id, d.change_id), COALESCE(v.rule_key, d.rule_key), COALESCE(v.label, d.label),
         CASE WHEN v.rule_key IS NULL THEN 'the journal has this version; rulekeeper.rule_version does not'
              WHEN d.rule_key IS NULL THEN 'rulekeeper.rule_version has this version; no journal entry made it'
              WHEN ve.payload ->> 'content_sha256' IS DISTINCT FROM v.content_sha256 THEN
                pg_catalog.format('content_sha256 is %s in the table, %s in its journal entry', v.content_sha256,
                                  COALESCE(ve.payload ->> 'content_sha256', '(none)'))
              ELSE pg_catalog.format('the table says %s, the journal says %s', v.qualification, d.qualification) END
    FROM rulekeeper.rule_version v
    FULL JOIN derived_qualification d ON d.rule_key = v.rule_key AND d.label = v.label
    LEFT JOIN version_entry ve ON ve.rule_key = v.rule_key AND ve.label = v.label
   WHERE v.rule_key IS NULL OR d.rule_key IS NULL
      OR v.qualification IS DISTINCT FROM d.qualification
      OR ve.payload ->> 'content_sha256' IS DISTINCT FROM v.content_sha256
  UNION ALL
  SELECT CASE WHEN a.rule_key IS NULL THEN 'activation_missing'
              WHEN d.rule_key IS NULL THEN 'activation_not_journaled'
              ELSE 'activation_differs' END,
         NULL, NULL, COALESCE(a.change_id, d.change_id), COALESCE(a.rule_key, d.rule_key), COALESCE(a.label, d.label),
         CASE WHEN a.rule_key IS NULL THEN
                pg_catalog.format('the journal has %s active in %s; rulekeeper.activation has nothing', d.label, d.channel)
              WHEN d.rule_key IS NULL THEN
                pg_catalog.format('rulekeeper.activation has %s in %s; the journal has %s', a.label, a.channel,
                                  CASE WHEN dd.kind IS NULL THEN 'no activation' ELSE 'it deactivated' END)
              ELSE pg_catalog.format('rulekeeper.activation has %s in %s (pinned %s, epoch %s, change %s); '
                                     'the journal has %s (pinned %s, epoch %s, change %s)',
                                     a.label, a.channel, a.pinned, a.epoch, a.change_id,
                                     d.label, d.payload -> 'pinned', d.payload -> 'epoch', d.change_id) END
    FROM rulekeeper.activation a
    FULL JOIN (SELECT * FROM derived_activation x WHERE x.kind = 'activation') d
      ON d.channel = a.channel AND d.rule_key = a.rule_key
    LEFT JOIN derived_activation dd ON dd.channel = a.channel AND dd.rule_key = a.rule_key
   WHERE a.rule_key IS NULL OR d.rule_key IS NULL
      OR a.label IS DISTINCT FROM d.label OR a.change_id IS DISTINCT FROM d.change_id
      OR d.payload -> 'pinned' IS DISTINCT FROM pg_catalog.to_jsonb(a.pinned)
      OR d.payload -> 'epoch' IS DISTINCT FROM pg_catalog.to_jsonb(a.epoch)
$$;

-- Every entry of a changes bundle, checked before import_changes writes
-- anything (docs/tamper-evidence.md "Import"): well-formed and within bounds
-- (origin_seq below 2^62, incarnation below 2^30, a payload epoch below 2^62,
-- recorded_at at most five minutes ahead of this site's clock); and, per
-- origin in seq order: an entry at a position this site holds must be that
-- same entry; a new one must not be of this site's own current origin (only
-- this site writes that), must continue what this site holds without a gap,
-- and its hash must follow from its fields and the previous entry's hash
-- (this site's copy for the first); the row a 'version' or 'rule' entry
-- carries must be the one the entry describes. The
-- error names the entry: SQLSTATE 22023 for a malformed or refused entry,
-- XX001 (data_corrupted) for one whose hash does not link.
CREATE FUNCTION rulekeeper._check_changes_entries(bundle jsonb) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  me text := NULLIF(current_setting('rulekeeper.site', true), '');
  my_incarnation integer := rulekeeper.incarnation();
  c jsonb;
  e rulekeeper.journal;
  held rulekeeper.journal;
  name text;
  cur_site text;
  cur_inc integer;
  held_seq bigint;
  expect bigint;
  prev text;
  n integer := 0;
BEGIN
  IF jsonb_typeof(bundle -> 'changes') IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'changes bundle: "changes" must be an array' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Shape and bounds first, entry by entry, in bundle order.
  FOR c IN SELECT x FROM jsonb_array_elements(bundle -> 'changes') x LOOP
    n := n + 1;
    name := pg_catalog.format('changes bundle entry %s (change %s, origin %s:%s, seq %s)', n,
                              COALESCE(c ->> 'change_id', '?'), COALESCE(c ->> 'origin_site', '?'),
                              COALESCE(c ->> 'origin_incarnation', '?'), COALESCE(c ->> 'origin_seq', '?'));
    IF jsonb_typeof(c) IS DISTINCT FROM 'object'
       OR COALESCE(c ->> 'change_id', '') !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
       OR jsonb_typeof(c -> 'origin_site') IS DISTINCT FROM 'string' OR c ->> 'origin_site' = ''
       OR jsonb_typeof(c -> 'kind') IS DISTINCT FROM 'string' OR c ->> 'kind' = ''
       OR jsonb_typeof(c -> 'actor') IS DISTINCT FROM 'string' OR c ->> 'actor' = ''
       OR jsonb_typeof(c -> 'recorded_at') IS DISTINCT FROM 'string'
       OR jsonb_typeof(c -> 'payload') IS DISTINCT FROM 'object'
       OR jsonb_typeof(c -> 'rule_key') NOT IN ('string', 'null')
       OR jsonb_typeof(c -> 'label') NOT IN ('string', 'null')
       OR COALESCE(c ->> 'entry_hash', '') !~ '^[0-9a-f]{64}$' THEN
      RAISE EXCEPTION '%: malformed (change_id, origin_site, kind, actor, recorded_at, payload and entry_hash are required)', name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(c -> 'origin_seq') IS DISTINCT FROM 'number'
       OR (c ->> 'origin_seq')::numeric NOT BETWEEN 1 AND 4611686018427387903
       OR (c ->> 'origin_seq')::numeric <> trunc((c ->> 'origin_seq')::numeric) THEN
      RAISE EXCEPTION '%: origin_seq must be an integer from 1 to 2^62 - 1', name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(c -> 'origin_incarnation') IS DISTINCT FROM 'number'
       OR (c ->> 'origin_incarnation')::numeric NOT BETWEEN 1 AND 1073741823
       OR (c ->> 'origin_incarnation')::numeric <> trunc((c ->> 'origin_incarnation')::numeric) THEN
      RAISE EXCEPTION '%: origin_incarnation must be an integer from 1 to 2^30 - 1', name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF c -> 'payload' ? 'epoch' AND (jsonb_typeof(c -> 'payload' -> 'epoch') IS DISTINCT FROM 'number'
       OR (c -> 'payload' ->> 'epoch')::numeric NOT BETWEEN 0 AND 4611686018427387903
       OR (c -> 'payload' ->> 'epoch')::numeric <> trunc((c -> 'payload' ->> 'epoch')::numeric)) THEN
      RAISE EXCEPTION '%: payload epoch must be an integer from 0 to 2^62 - 1', name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
      e.recorded_at := (c ->> 'recorded_at')::timestamptz;
    EXCEPTION WHEN data_exception THEN
      RAISE EXCEPTION '%: recorded_at "%" is not a timestamp', name, c ->> 'recorded_at'
        USING ERRCODE = 'invalid_parameter_value';
    END;
    IF NOT pg_catalog.isfinite(e.recorded_at) OR e.recorded_at > pg_catalog.now() + interval '5 minutes' THEN
      RAISE EXCEPTION '%: recorded_at % is in the future (more than five minutes ahead of this site''s clock)',
        name, c ->> 'recorded_at' USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  -- Per origin, in seq order: contiguous from what this site holds, and chained.
  n := 0;
  FOR c IN SELECT x FROM jsonb_array_elements(bundle -> 'changes') x
            ORDER BY x ->> 'origin_site', (x ->> 'origin_incarnation')::integer, (x ->> 'origin_seq')::bigint LOOP
    n := n + 1;
    e := jsonb_populate_record(NULL::rulekeeper.journal, c - 'recorded_lsn');
    e.recorded_lsn := NULL;
    name := pg_catalog.format('changes bundle entry (change %s, origin %s:%s, seq %s)', e.change_id, e.origin_site,
                              e.origin_incarnation, e.origin_seq);
    IF cur_site IS DISTINCT FROM e.origin_site OR cur_inc IS DISTINCT FROM e.origin_incarnation THEN
      cur_site := e.origin_site;
      cur_inc := e.origin_incarnation;
      SELECT j.origin_seq, j.entry_hash INTO held_seq, prev FROM rulekeeper.journal j
       WHERE j.origin_site = cur_site AND j.origin_incarnation = cur_inc ORDER BY j.origin_seq DESC LIMIT 1;
      held_seq := COALESCE(held_seq, 0);
      prev := COALESCE(prev, '0000000000000000000000000000000000000000000000000000000000000000');
      expect := held_seq + 1;
    END IF;
    IF e.origin_seq <= held_seq THEN
      SELECT * INTO held FROM rulekeeper.journal j
       WHERE j.origin_site = cur_site AND j.origin_incarnation = cur_inc AND j.origin_seq = e.origin_seq;
      IF held.change_id IS DISTINCT FROM e.change_id OR held.entry_hash IS DISTINCT FROM e.entry_hash THEN
        RAISE EXCEPTION '%: this site already holds another entry at that position (change %)', name,
          COALESCE(held.change_id::text, 'none: a gap') USING ERRCODE = 'invalid_parameter_value';
      END IF;
      CONTINUE;
    END IF;
    -- An entry of this site's own current origin that it does not hold: only
    -- this site writes that origin (a bundle exported here and imported
    -- back holds nothing new and passes above).
    IF e.origin_site = me AND e.origin_incarnation = my_incarnation THEN
      RAISE EXCEPTION '%: claims this site''s own current origin %:%; only this site writes it', name, me, my_incarnation
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'A changes bundle carries other sites'' history; export it from the site that wrote it.';
    END IF;
    IF e.origin_seq <> expect THEN
      RAISE EXCEPTION '%: origin_seq % does not continue origin %:% without a gap (this site holds up to %; % comes next)',
        name, e.origin_seq, cur_site, cur_inc, held_seq, expect USING ERRCODE = 'invalid_parameter_value',
        HINT = 'A changes bundle carries each origin''s entries contiguously from what the importing site holds.';
    END IF;
    IF EXISTS (SELECT 1 FROM rulekeeper.journal j WHERE j.change_id = e.change_id) THEN
      RAISE EXCEPTION '%: this site already holds change % at another position', name, e.change_id
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF rulekeeper._journal_entry_hash(prev, e) <> e.entry_hash THEN
      RAISE EXCEPTION '%: entry_hash does not follow from the entry and the previous entry''s hash %', name, prev
        USING ERRCODE = 'data_corrupted',
              HINT = 'The entry was changed after it was written, or does not continue this site''s copy of that origin''s chain.';
    END IF;
    -- The row a 'version' or 'rule' entry brings must be the one the
    -- (chained) entry describes: same rule and label, and for a version the
    -- content_sha256 its entry recorded.
    IF c ->> 'kind' IN ('version', 'rule') AND jsonb_typeof(c -> 'row') = 'object' THEN
      IF c -> 'row' ->> 'rule_key' IS DISTINCT FROM e.rule_key
         OR (c ->> 'kind' = 'version' AND (c -> 'row' ->> 'label' IS DISTINCT FROM e.label
             OR jsonb_typeof(c -> 'row' -> 'body') IS DISTINCT FROM 'object'
             OR rulekeeper.content_sha256(c -> 'row' -> 'body') IS DISTINCT FROM e.payload ->> 'content_sha256')) THEN
        RAISE EXCEPTION '%: the % row it carries is not the one its entry describes (rule, label or content_sha256)',
          name, c ->> 'kind' USING ERRCODE = 'data_corrupted';
      END IF;
    END IF;
    prev := e.entry_hash;
    expect := expect + 1;
  END LOOP;
  RETURN n;
END
$$;

GRANT EXECUTE ON FUNCTION rulekeeper.chain_heads(), rulekeeper.chain_hash_at(text, integer, bigint),
  rulekeeper.verify_history()
  TO rulekeeper_reader;


-- ==== issue 15: strict JSON text from a person ====
-- A body or bundle typed into psql arrives as text; `::jsonb` would keep the
-- last of two duplicate keys without a word and rewrite an inexact number
-- before anyone could quote it. These overloads take the text (an untyped
-- literal resolves to them: text is the preferred string type), read it with
-- the core's strict reader first (duplicate keys named, nesting past 256,
-- \u0000, and for bodies numbers checked against the author's literal), and
-- only then hand the jsonb to the function that does the work.
CREATE FUNCTION rulekeeper._check_body_text(body text) RETURNS void
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_check_body_text';

CREATE FUNCTION rulekeeper.create_version(rule_key text, body text) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
BEGIN
  PERFORM rulekeeper._check_body_text(body);
  RETURN rulekeeper.create_version(rule_key, body::jsonb);
END
$$;

CREATE FUNCTION rulekeeper.hotfix(rule_key text, body text, reason text, acknowledge_sl_failed text DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
BEGIN
  PERFORM rulekeeper._check_body_text(body);
  RETURN rulekeeper.hotfix(rule_key, body::jsonb, reason, acknowledge_sl_failed);
END
$$;

CREATE FUNCTION rulekeeper.import_changes(bundle text, dry_run boolean DEFAULT false) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
BEGIN
  PERFORM rulekeeper._check_json_text(bundle);
  RETURN rulekeeper.import_changes(bundle::jsonb, dry_run);
END
$$;

GRANT EXECUTE ON FUNCTION rulekeeper.create_version(text, text) TO rulekeeper_author;
GRANT EXECUTE ON FUNCTION rulekeeper.hotfix(text, text, text, text) TO rulekeeper_hotfix;
GRANT EXECUTE ON FUNCTION rulekeeper.import_changes(text, boolean) TO rulekeeper_releaser;

-- ==== issue 15: acknowledge exactly what was shown ====
-- The hotfix gate shows one list and accepts one acknowledgement: every
-- hotfix a move of prod would undo, each with its diff, and the move goes
-- ahead only when the caller names exactly those labels
-- (acknowledge_hotfixes => '{2.1,2.2}', rulectl --acknowledge-hotfix
-- 2.1,2.2). Checked in the function that makes the change, so the check and
-- the write are one transaction (docs/hotfix.md "Acknowledging exactly what
-- was shown").

-- What moving prod of a rule from from_label (NULL: nothing active) to
-- to_label (NULL: deactivating) would undo, one entry per hotfix, oldest
-- first: {hotfix_id, label, diff, classification, paths}. classification:
-- how to_label's annotation classifies the hotfix when it says the version
-- overrides it or cannot tell (NULL otherwise); paths: where what prod
-- serves now would change (_undone_hotfixes; NULL when the bodies agree).
CREATE FUNCTION rulekeeper._hotfix_gate(p_rule_key text, from_label text, to_label text) RETURNS jsonb
  LANGUAGE sql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  WITH annotated AS (
    SELECT h.hotfix_id, x ->> 'classification' AS classification
      FROM rulekeeper.rule_version v
     CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(v.annotations -> 'hotfixes') = 'array'
                                                  THEN v.annotations -> 'hotfixes' ELSE '[]'::jsonb END) x
      JOIN rulekeeper.hotfix h ON h.rule_key = p_rule_key AND h.hotfix_id::text = x ->> 'hotfix_id'
     WHERE v.rule_key = p_rule_key AND v.label = to_label
       AND v.annotations ->> 'hotfix_included' IN ('overrides', 'unknown')
       AND x ->> 'classification' <> 'included'
  ), undone AS (
    SELECT (u ->> 'hotfix_id')::uuid AS hotfix_id, u -> 'paths' AS paths
      FROM jsonb_array_elements(CASE WHEN from_label IS NULL THEN '[]'::jsonb
                                     ELSE rulekeeper._undone_hotfixes(p_rule_key, from_label, to_label) END) u
  ), gated AS (
    SELECT hotfix_id FROM annotated UNION SELECT hotfix_id FROM undone
  )
  SELECT COALESCE(jsonb_agg(jsonb_build_object(
           'hotfix_id', h.hotfix_id, 'label', h.label, 'diff', h.diff,
           'classification', (SELECT a.classification FROM annotated a WHERE a.hotfix_id = h.hotfix_id LIMIT 1),
           'paths', (SELECT u.paths FROM undone u WHERE u.hotfix_id = h.hotfix_id LIMIT 1))
           ORDER BY h.created_at, h.label), '[]'::jsonb)
    FROM gated g JOIN rulekeeper.hotfix h ON h.hotfix_id = g.hotfix_id
$$;

-- The gate's hotfixes as one line: "2.1 (overrides), 2.2 (/rate)".
CREATE FUNCTION rulekeeper._gate_names(gate jsonb) RETURNS text
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT string_agg((g ->> 'label') || ' (' || concat_ws('; ', g ->> 'classification',
           (SELECT string_agg(q ->> 'path', ', ' ORDER BY q ->> 'path')
              FROM jsonb_array_elements(CASE WHEN jsonb_typeof(g -> 'paths') = 'array' THEN g -> 'paths'
                                             ELSE '[]'::jsonb END) q)) || ')', ', ' ORDER BY n)
    FROM jsonb_array_elements(gate) WITH ORDINALITY x(g, n)
$$;

-- The gate as a DETAIL: each hotfix's diff, and what the move would serve
-- instead (or that the version's annotation says it overrides it).
CREATE FUNCTION rulekeeper._gate_detail(gate jsonb, to_label text) RETURNS text
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT string_agg('hotfix ' || (g ->> 'label') || ' changed:' || E'\n' || rulekeeper._diff_text(g -> 'diff')
                    || CASE WHEN jsonb_typeof(g -> 'paths') = 'array' THEN
                         E'\n' || COALESCE('version ' || to_label, 'deactivating') || ' would serve instead: '
                         || (SELECT string_agg((q ->> 'path') || ': ' || COALESCE((q -> 'candidate')::text, '(absent)')
                                               || ' (prod serves ' || COALESCE((q -> 'prod')::text, '(absent)') || ')',
                                               ', ' ORDER BY q ->> 'path')
                               FROM jsonb_array_elements(g -> 'paths') q)
                       ELSE '' END
                    || CASE WHEN g ->> 'classification' IS NOT NULL THEN
                         E'\n' || COALESCE('version ' || to_label, 'the change') || ' is annotated: '
                         || (g ->> 'classification')
                       ELSE '' END, E'\n' ORDER BY n)
    FROM jsonb_array_elements(gate) WITH ORDINALITY x(g, n)
$$;

-- The labels an acknowledgement names, trimmed, deduplicated and sorted.
CREATE FUNCTION rulekeeper._ack_labels(acknowledged text[]) RETURNS text[]
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT COALESCE(array_agg(DISTINCT btrim(a) ORDER BY btrim(a)), '{}'::text[])
    FROM unnest(COALESCE(acknowledged, '{}'::text[])) a WHERE a IS NOT NULL AND btrim(a) <> ''
$$;

-- Refuses (check_violation) unless `acknowledged` names exactly the gate's
-- hotfix labels (each prefixed with prefix, e.g. 'pricing@' for cutover):
-- the refusal lists every hotfix with its diff, and when an acknowledgement
-- was given, what it named that the change would not undo and what it left
-- out. `what` starts the message ('moving prod of rule "x" from 2.2 to
-- version 3').
CREATE FUNCTION rulekeeper._require_hotfix_acknowledgement(gate jsonb, acknowledged text[], what text,
                                                           to_label text, cli text)
  RETURNS void
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  shown text[] := ARRAY(SELECT DISTINCT g ->> 'label' FROM jsonb_array_elements(gate) g ORDER BY 1);
  given text[] := rulekeeper._ack_labels(acknowledged);
  missing text[];
  extra text[];
BEGIN
  IF shown = given THEN
    RETURN;
  END IF;
  missing := ARRAY(SELECT s FROM unnest(shown) s EXCEPT SELECT g FROM unnest(given) g ORDER BY 1);
  extra := ARRAY(SELECT g FROM unnest(given) g EXCEPT SELECT s FROM unnest(shown) s ORDER BY 1);
  IF cardinality(shown) = 0 THEN
    RAISE EXCEPTION '% undoes no hotfix, but the acknowledgement names %: nothing was changed', what,
      array_to_string(given, ', ')
      USING ERRCODE = 'check_violation',
            HINT = 'Acknowledge only what the refusal or a dry run (rulectl --dry-run) lists; here: nothing.';
  END IF;
  RAISE EXCEPTION '%', what || ' would undo hotfix(es) ' || rulekeeper._gate_names(gate)
    || CASE WHEN cardinality(given) = 0 THEN ''
         ELSE '; the acknowledgement names ' || array_to_string(given, ', ') || ', which differs'
              || COALESCE(': not acknowledged: ' || NULLIF(array_to_string(missing, ', '), ''), '')
              || COALESCE('; acknowledged but not undone: ' || NULLIF(array_to_string(extra, ', '), ''), '')
    END
    USING ERRCODE = 'check_violation', DETAIL = rulekeeper._gate_detail(gate, to_label),
          HINT = pg_catalog.format('If that is intended, acknowledge exactly these: %s --acknowledge-hotfix %s '
                                   '(SQL: acknowledge_hotfixes => %L).',
                                   COALESCE(cli, 'rulectl'), array_to_string(shown, ','), shown::text);
END
$$;

-- What the journal and the history row keep of an acknowledged gate: the
-- labels acknowledged, the hotfixes the annotation flagged (hotfixes) and
-- those whose change prod would lose (undone_hotfixes) — exactly the list
-- that was shown, nothing more (hotfix_acknowledgements() reads them).
CREATE FUNCTION rulekeeper._gate_record(gate jsonb, acknowledged text[]) RETURNS jsonb
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT jsonb_build_object(
    'acknowledged_hotfixes', to_jsonb(rulekeeper._ack_labels(acknowledged)),
    'hotfixes', COALESCE((SELECT jsonb_agg(jsonb_build_object('hotfix_id', g ->> 'hotfix_id', 'label', g ->> 'label',
                                                              'classification', g ->> 'classification') ORDER BY n)
                            FROM jsonb_array_elements(gate) WITH ORDINALITY x(g, n)
                           WHERE g ->> 'classification' IS NOT NULL), '[]'::jsonb),
    'undone_hotfixes', COALESCE((SELECT jsonb_agg(jsonb_build_object('hotfix_id', g ->> 'hotfix_id',
                                                                     'label', g ->> 'label', 'diff', g -> 'diff',
                                                                     'paths', g -> 'paths') ORDER BY n)
                                   FROM jsonb_array_elements(gate) WITH ORDINALITY x(g, n)
                                  WHERE jsonb_typeof(g -> 'paths') = 'array'), '[]'::jsonb))
$$;


-- What the hotfix gate would show for moving prod of a rule from what it
-- serves now to `version` (NULL: deactivating it): rulectl's dry runs and
-- confirmation plans show it before anything changes.
CREATE FUNCTION rulekeeper.hotfix_gate(rule_key text, version text) RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT CASE WHEN a.label IS NOT DISTINCT FROM hotfix_gate.version THEN '[]'::jsonb
              ELSE rulekeeper._hotfix_gate(hotfix_gate.rule_key, a.label, hotfix_gate.version) END
    FROM (SELECT (SELECT x.label FROM rulekeeper.activation x
                   WHERE x.rule_key = hotfix_gate.rule_key AND x.channel = 'prod') AS label) a
$$;
REVOKE EXECUTE ON FUNCTION rulekeeper.hotfix_gate(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rulekeeper.hotfix_gate(text, text) TO rulekeeper_reader;

------------------------------------------------------------------------------
-- Privileges: only rulekeeper_admin writes tables directly; everyone else
-- goes through the functions. SECURITY DEFINER functions pin search_path
-- with pg_temp last.
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA rulekeeper FROM PUBLIC;
REVOKE EXECUTE ON ALL ROUTINES IN SCHEMA rulekeeper FROM PUBLIC;
GRANT USAGE ON SCHEMA rulekeeper TO rulekeeper_reader, rulekeeper_author, rulekeeper_releaser,
  rulekeeper_hotfix, rulekeeper_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA rulekeeper TO rulekeeper_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA rulekeeper TO rulekeeper_admin;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA rulekeeper TO rulekeeper_admin;

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
GRANT EXECUTE ON FUNCTION rulekeeper.diff(text, text, text), rulekeeper._json_diff(jsonb, jsonb) TO rulekeeper_reader;
GRANT EXECUTE ON FUNCTION rulekeeper.hotfix(text, jsonb, text, text) TO rulekeeper_hotfix;
GRANT EXECUTE ON FUNCTION rulekeeper.export_changes(jsonb) TO rulekeeper_reader;
GRANT EXECUTE ON FUNCTION rulekeeper.import_changes(jsonb, boolean), rulekeeper.resolve_conflict(uuid, text),
  rulekeeper.record_failover(text, boolean, jsonb)
  TO rulekeeper_releaser;
GRANT EXECUTE ON FUNCTION
  rulekeeper.effective_rules(text), rulekeeper.effective_version(text, text), rulekeeper.activation_epoch(),
  rulekeeper._in_transaction_block(), rulekeeper.rollback_target(text, text), rulekeeper._admission_list(text)
  TO rulekeeper_reader;
GRANT EXECUTE ON PROCEDURE rulekeeper.wait_for_epoch(bigint, integer, bigint) TO rulekeeper_reader;
GRANT EXECUTE ON FUNCTION rulekeeper.export_release(text[]) TO rulekeeper_author, rulekeeper_releaser;
GRANT EXECUTE ON FUNCTION
  rulekeeper.import_release(jsonb, text), rulekeeper.import_release_text(text, text),
  rulekeeper.activate(text, text, text, boolean, bigint, text[]),
  rulekeeper.deactivate(text, text, boolean, bigint, text[]), rulekeeper.rollback(text, text, boolean, bigint, text[]),
  rulekeeper.pin(text, text, text, boolean, text[]), rulekeeper.unpin(text, text), rulekeeper.cutover(boolean, text[])
  TO rulekeeper_releaser;

-- ==== issue 13: site lock, audit fields, reasons ====
-- Created after the privilege section above: each revokes PUBLIC's default
-- EXECUTE itself and is granted to no role, not even rulekeeper_admin. The
-- SECURITY DEFINER functions and triggers that call them run as the
-- extension's owner.

-- The audit fields of history rows (action, acknowledged, reason), handed
-- from a function to its trigger in backend memory (extension/txn_audit.hpp):
-- a setting could be SET by the caller first and forge the history.
-- _audit_set(field, '') unsets; _audit_get returns NULL when unset.
CREATE FUNCTION rulekeeper._audit_set(field text, value text) RETURNS void
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_audit_set';
CREATE FUNCTION rulekeeper._audit_get(field text) RETURNS text
  LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'rk_audit_get';

-- The one check of a reason, for every function that takes one: NULL, empty
-- and blank (only white space or invisible characters, _is_blank) are
-- refused with "<what> needs a reason".
CREATE FUNCTION rulekeeper._require_reason(reason text, what text) RETURNS void
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
BEGIN
  IF reason IS NULL OR rulekeeper._is_blank(reason) THEN
    RAISE EXCEPTION '% needs a reason', COALESCE(what, 'this change') USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Say why in words: a reason made only of spaces or invisible characters is blank.';
  END IF;
END
$$;

REVOKE EXECUTE ON FUNCTION rulekeeper._audit_set(text, text), rulekeeper._audit_get(text),
  rulekeeper._require_reason(text, text)
  FROM PUBLIC;
-- The site lock (extension/txn_state.cpp) is taken only by rulekeeper's own
-- writes: nobody may take it bare and hold it (docs/design/postgres-traps.md
-- "Advisory locks are everyone's").
REVOKE EXECUTE ON FUNCTION rulekeeper._lock_site() FROM rulekeeper_admin;

-- ==== rulectl read functions: hotfix, reconcile, conflicts ====
-- rulectl reads no table directly (docs/design/architecture.md "The control
-- plane"): what `hotfix list|show|replay`, the receipt, `reconcile` and
-- `conflicts` need is asked of these functions. SECURITY DEFINER with a pinned
-- search_path like the script's other functions; EXECUTE for the roles that
-- could read the tables (rulekeeper_reader, and so every rulekeeper role).
-- Created after the blanket grants above, so they revoke and grant
-- themselves.

-- Hotfixes, oldest first: all (id_prefix NULL), or those whose id starts
-- with id_prefix (a full id: that one); with since_last_release, only those
-- made after the newest release import. prod_now / sl_now: what the channel
-- serves now; content_sha256 and body: of the version the hotfix made.
CREATE FUNCTION rulekeeper.hotfixes(id_prefix text DEFAULT NULL, since_last_release boolean DEFAULT false)
  RETURNS TABLE (hotfix_id uuid, rule_key text, base_label text, label text, site text, reason text, actor text,
                 created_at timestamptz, diff jsonb, change_id uuid, content_sha256 text, body jsonb,
                 prod_now text, sl_now text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT h.hotfix_id, h.rule_key, h.base_label, h.label, h.site, h.reason, h.actor, h.created_at, h.diff,
         h.change_id, v.content_sha256, v.body,
         (SELECT a.label FROM rulekeeper.activation a WHERE a.channel = 'prod' AND a.rule_key = h.rule_key),
         (SELECT a.label FROM rulekeeper.activation a WHERE a.channel = 'sl' AND a.rule_key = h.rule_key)
    FROM rulekeeper.hotfix h
    LEFT JOIN rulekeeper.rule_version v ON v.rule_key = h.rule_key AND v.label = h.label
   WHERE (id_prefix IS NULL OR h.hotfix_id::text LIKE id_prefix || '%')
     AND (NOT since_last_release
          OR h.created_at > COALESCE((SELECT max(l.imported_at) FROM rulekeeper.release_log l), '-infinity'))
   ORDER BY h.created_at, h.rule_key
$$;

-- When the newest release was imported here (NULL: none yet).
CREATE FUNCTION rulekeeper.last_release_at() RETURNS timestamptz
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT max(l.imported_at) FROM rulekeeper.release_log l
$$;

-- The planned versions classified against a hotfix (release drift, or SL
-- under test): this hotfix's classification and the version's overall one.
CREATE FUNCTION rulekeeper.hotfix_classifications(hotfix_id uuid)
  RETURNS TABLE (label text, classification text, hotfix_included text, qualification text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT v.label, x ->> 'classification', v.annotations ->> 'hotfix_included', v.qualification
    FROM rulekeeper.hotfix h
    JOIN rulekeeper.rule_version v ON v.rule_key = h.rule_key
   CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(v.annotations -> 'hotfixes') = 'array'
                                                THEN v.annotations -> 'hotfixes' ELSE '[]'::jsonb END) x
   WHERE h.hotfix_id = hotfix_classifications.hotfix_id AND x ->> 'hotfix_id' = h.hotfix_id::text
   ORDER BY v.version, v.hotfix
$$;

-- The journaled acknowledgements that named a hotfix: who let prod leave or
-- bypass it, when.
CREATE FUNCTION rulekeeper.hotfix_acknowledgements(hotfix_id uuid)
  RETURNS TABLE (label text, actor text, recorded_at timestamptz, action text, channel text, change_id uuid,
                 what text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT j.label, j.actor, j.recorded_at, j.payload ->> 'action', j.payload ->> 'channel', j.change_id,
         CASE WHEN j.payload -> 'undone_hotfixes' @> jsonb_build_array(jsonb_build_object('hotfix_id', h.hotfix_id::text))
              THEN 'prod left the hotfix'
              ELSE 'hotfix gate: ' || COALESCE(j.payload ->> 'hotfix_included', '?') END
    FROM rulekeeper.hotfix h
    JOIN rulekeeper.journal j ON j.kind = 'acknowledgement' AND j.rule_key = h.rule_key
   WHERE h.hotfix_id = hotfix_acknowledgements.hotfix_id
     AND (j.payload -> 'hotfixes' @> jsonb_build_array(jsonb_build_object('hotfix_id', h.hotfix_id::text))
          OR j.payload -> 'undone_hotfixes' @> jsonb_build_array(jsonb_build_object('hotfix_id', h.hotfix_id::text)))
   ORDER BY j.recorded_at
$$;

-- The first version of a rule (by number) holding this content, if any: a
-- replayed receipt whose content is already here is not applied twice.
CREATE FUNCTION rulekeeper.version_with_content(rule_key text, content_sha256 text)
  RETURNS TABLE (label text, qualification text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT v.label, v.qualification FROM rulekeeper.rule_version v
   WHERE v.rule_key = version_with_content.rule_key AND v.content_sha256 = version_with_content.content_sha256
   ORDER BY v.version, v.hotfix LIMIT 1
$$;

-- The label a version recovered from an orphaned change got here (NULL:
-- none), the newest if several.
CREATE FUNCTION rulekeeper.recovered_label(change_id text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT v.label FROM rulekeeper.rule_version v
   WHERE v.annotations -> 'recovered_from' ->> 'change_id' = recovered_label.change_id
   ORDER BY v.created_at DESC LIMIT 1
$$;

-- Conflicts reconcile recorded, oldest first: the open ones (with
-- include_resolved, all), or those whose id starts with id_prefix.
CREATE FUNCTION rulekeeper.conflicts(include_resolved boolean DEFAULT false, id_prefix text DEFAULT NULL)
  RETURNS TABLE (conflict_id uuid, rule_key text, status text, detected_at timestamptz, source_change jsonb,
                 target_changes jsonb, resolved_at timestamptz, resolved_by text, resolution jsonb)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT c.conflict_id, c.rule_key, c.status, c.detected_at, c.source_change, c.target_changes, c.resolved_at,
         c.resolved_by, c.resolution
    FROM rulekeeper.conflict c
   WHERE (include_resolved OR c.status = 'open')
     AND (id_prefix IS NULL OR c.conflict_id::text LIKE id_prefix || '%')
   ORDER BY c.detected_at, c.conflict_id
$$;

REVOKE EXECUTE ON FUNCTION
  rulekeeper.hotfixes(text, boolean), rulekeeper.last_release_at(), rulekeeper.hotfix_classifications(uuid),
  rulekeeper.hotfix_acknowledgements(uuid), rulekeeper.version_with_content(text, text),
  rulekeeper.recovered_label(text),
  rulekeeper.conflicts(boolean, text)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  rulekeeper.hotfixes(text, boolean), rulekeeper.last_release_at(), rulekeeper.hotfix_classifications(uuid),
  rulekeeper.hotfix_acknowledgements(uuid), rulekeeper.version_with_content(text, text),
  rulekeeper.recovered_label(text),
  rulekeeper.conflicts(boolean, text)
  TO rulekeeper_reader, rulekeeper_admin;

-- ==== rulectl read functions: failover/rejoin ====
-- `rulectl failover` and `rulectl rejoin` read no table directly: these are
-- what they need of failover_event and heartbeat. Created after the
-- privilege section above, so each revokes PUBLIC's default EXECUTE itself.

-- The newest failover event recorded here (no row: none) — the divergence
-- point a returning old primary's orphans are measured against.
CREATE FUNCTION rulekeeper.latest_failover_event(
    OUT event_id uuid, OUT old_site text, OUT new_site text, OUT new_timeline integer, OUT incarnation integer,
    OUT divergence jsonb, OUT forced boolean, OUT actor text, OUT recorded_at timestamptz)
  RETURNS SETOF record
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT e.event_id, e.old_site, e.new_site, e.new_timeline, e.incarnation, e.divergence, e.forced, e.actor,
         e.recorded_at
    FROM rulekeeper.failover_event e
   ORDER BY e.recorded_at DESC
   LIMIT 1
$$;

-- The heartbeat of `site` as this node holds it (on a standby: the last one
-- it replayed), with its age now (no row: it never beat here). What a
-- standby whose primary is gone can tell about when it last heard from it.
CREATE FUNCTION rulekeeper.heartbeat_of(site text,
    OUT beat_at timestamptz, OUT age_seconds double precision, OUT beat_seq bigint)
  RETURNS SETOF record
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT h.beat_at, rulekeeper._heartbeat_age(h.beat_at), h.beat_seq
    FROM rulekeeper.heartbeat h
   WHERE h.site = $1
$$;

REVOKE EXECUTE ON FUNCTION rulekeeper.latest_failover_event(), rulekeeper.heartbeat_of(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rulekeeper.latest_failover_event(), rulekeeper.heartbeat_of(text)
  TO rulekeeper_reader, rulekeeper_admin;

-- ==== rulectl read functions: release, channels, compare, at-risk, status ====
-- rulectl reads no table directly (docs/design/architecture.md "The control
-- plane"): what its verbs need to know is asked through these functions, so
-- the table layout can change without breaking a client. Each is what a
-- rulekeeper_reader may already SELECT, no more; SECURITY DEFINER with the
-- search_path pinned like every other function here.

-- `release`: which of a release bundle's versions this site already holds
-- (reported "already there" rather than "imported").
CREATE FUNCTION rulekeeper.release_versions_present(bundle jsonb)
  RETURNS TABLE (rule_key text, label text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT x.rule_key, x.label
    FROM jsonb_to_recordset(COALESCE(bundle -> 'versions', '[]'::jsonb)) AS x(rule_key text, label text)
   WHERE EXISTS (SELECT 1 FROM rulekeeper.rule_version v WHERE v.rule_key = x.rule_key AND v.label = x.label)
$$;

-- activate / deactivate / rollback / pin / unpin: a rule's activation in one
-- channel (no row: not active there), read before and after the change in the
-- same transaction.
CREATE FUNCTION rulekeeper.channel_activation(rule_key text, channel text)
  RETURNS TABLE (label text, pinned boolean, epoch bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT a.label, a.pinned, a.epoch FROM rulekeeper.activation a
   WHERE rulekeeper._require_channel(channel_activation.channel)
     AND a.channel = channel_activation.channel AND a.rule_key = channel_activation.rule_key
$$;

-- `compare --scope sl|prod`: the versions active in a channel whose bucket is
-- one of `buckets` (the third round trip, like bucket_versions for 'all').
CREATE FUNCTION rulekeeper.channel_bucket_versions(channel text, buckets integer[])
  RETURNS TABLE (rule_key text, label text, content_sha256 text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT a.rule_key, a.label, v.content_sha256
    FROM rulekeeper.activation a JOIN rulekeeper.rule_version v USING (rule_key, label)
   WHERE rulekeeper._require_channel(channel_bucket_versions.channel)
     AND a.channel = channel_bucket_versions.channel AND v.bucket = ANY (buckets)
   ORDER BY a.rule_key
$$;

-- `at-risk` with the standby unreachable: the journal entries written at or
-- after a WAL position (a slot's restart_lsn), which certainly did not reach
-- a standby standing there.
CREATE FUNCTION rulekeeper.journal_from_lsn(since pg_lsn)
  RETURNS SETOF rulekeeper.journal
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT j.* FROM rulekeeper.journal j WHERE j.recorded_lsn >= since
   ORDER BY j.recorded_at, j.origin_site, j.origin_incarnation, j.origin_seq
$$;

REVOKE EXECUTE ON FUNCTION
  rulekeeper.release_versions_present(jsonb), rulekeeper.channel_activation(text, text),
  rulekeeper.channel_bucket_versions(text, integer[]), rulekeeper.journal_from_lsn(pg_lsn)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  rulekeeper.release_versions_present(jsonb), rulekeeper.channel_activation(text, text),
  rulekeeper.channel_bucket_versions(text, integer[]), rulekeeper.journal_from_lsn(pg_lsn)
  TO rulekeeper_reader, rulekeeper_admin;

-- ==== issue 13: admin direct writes ====
-- rulekeeper_admin keeps every function and direct writes to configuration
-- (hotfix_policy) only. The tables below hold history and the state the
-- functions derive from it (activations, versions, the journal, heartbeats):
-- a direct row could carry any change_id, epoch, actor, site or date and skip
-- admission, the hotfix gate and the journal, which no trigger can tell from
-- a restored row (pg_restore COPYs them as the superuser, with triggers on).
-- So only the functions (SECURITY DEFINER, the owner's rights) and the
-- superuser write them (docs/permissions.md, "What rulekeeper_admin may
-- write directly").
REVOKE INSERT, UPDATE, DELETE ON
  rulekeeper.incarnation, rulekeeper.journal, rulekeeper.rule, rulekeeper.rule_version,
  rulekeeper.qualification_history, rulekeeper.activation, rulekeeper.activation_history,
  rulekeeper.release_log, rulekeeper.checksum_bucket, rulekeeper.heartbeat, rulekeeper.hotfix,
  rulekeeper.failover_event, rulekeeper.conflict
  FROM rulekeeper_admin;
-- The internal writers trust their arguments (an action name, a recovered
-- row, a journal payload) because only the functions above call them: called
-- directly they would write history that never happened.
REVOKE EXECUTE ON FUNCTION
  rulekeeper._journal(text, text, text, jsonb),
  rulekeeper._set_activation(text, text, text, boolean, bigint, text, boolean, text[]),
  rulekeeper._recover_version(jsonb, jsonb)
  FROM rulekeeper_admin;

-- ==== issue 13: bundle signatures ====
-- What leaves a site is signed with the site's Ed25519 key
-- (rulekeeper.signing_key_file); what arrives is verified against the keys an
-- admin has registered here for the environment it must come from, before
-- anything is written (docs/keys.md; docs/design/contract.md "Bundle
-- signatures"). Appended after the blanket grants: these revoke and grant
-- themselves, and the signing functions are granted to nobody.

-- The public keys this site trusts, one row per key and environment it
-- speaks for: e2 trusts e1's keys (release bundles from e1), e3 trusts e2's
-- (release bundles from e2) and its own sites' (changes bundles of
-- reconcile). Rows are never deleted; a revoked key stays, with who revoked
-- it and why.
CREATE TABLE rulekeeper.trusted_key (
  key_id           text NOT NULL CHECK (key_id ~ '^[0-9a-f]{64}$'),
  environment      text NOT NULL CHECK (environment IN ('e1', 'e2', 'e3')),
  public_key       bytea NOT NULL CHECK (pg_catalog.length(public_key) = 32),
  reason           text NOT NULL,
  added_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
  added_by         text NOT NULL DEFAULT session_user,
  revoked_at       timestamptz,
  revoked_by       text,
  revoke_reason    text,
  revoke_change_id uuid REFERENCES rulekeeper.journal,
  change_id        uuid NOT NULL REFERENCES rulekeeper.journal,
  PRIMARY KEY (key_id, environment),
  CHECK (key_id = pg_catalog.encode(pg_catalog.sha256(public_key), 'hex')),
  CHECK ((revoked_at IS NULL) = (revoked_by IS NULL) AND (revoked_at IS NULL) = (revoke_change_id IS NULL))
);
SELECT pg_catalog.pg_extension_config_dump('rulekeeper.trusted_key', '');

CREATE TRIGGER trusted_key_journal BEFORE INSERT ON rulekeeper.trusted_key
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._journal_row('key_trusted', '', '', 'key_id', 'environment', 'reason');
CREATE TRIGGER trusted_key_no_delete BEFORE DELETE ON rulekeeper.trusted_key
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._refuse_change('trusted keys are revoked, never deleted',
    'rulekeeper.revoke_key(key_id, reason) revokes one.');

-- A key's identity and who vouched for it never change; a revocation is
-- final.
CREATE FUNCTION rulekeeper._trusted_key_update() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
BEGIN
  IF (NEW.key_id, NEW.environment, NEW.public_key, NEW.reason, NEW.added_at, NEW.added_by, NEW.change_id)
     IS DISTINCT FROM (OLD.key_id, OLD.environment, OLD.public_key, OLD.reason, OLD.added_at, OLD.added_by,
                       OLD.change_id)
     OR (OLD.revoked_at IS NOT NULL
         AND (NEW.revoked_at, NEW.revoked_by, NEW.revoke_reason, NEW.revoke_change_id)
             IS DISTINCT FROM (OLD.revoked_at, OLD.revoked_by, OLD.revoke_reason, OLD.revoke_change_id)) THEN
    RAISE EXCEPTION 'a trusted key is only ever revoked, once: key %', OLD.key_id
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'To trust another key, rulekeeper.trust_key() it; to stop trusting one, revoke_key().';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER trusted_key_revoke_only BEFORE UPDATE ON rulekeeper.trusted_key
  FOR EACH ROW EXECUTE FUNCTION rulekeeper._trusted_key_update();

CREATE FUNCTION rulekeeper._sign_checksum(format text, bundle_sha256 text) RETURNS jsonb
  STRICT LANGUAGE c AS 'MODULE_PATHNAME', 'rk_sign_checksum';
CREATE FUNCTION rulekeeper._signing_key_info() RETURNS jsonb
  STRICT LANGUAGE c AS 'MODULE_PATHNAME', 'rk_signing_key_info';
CREATE FUNCTION rulekeeper._ed25519_public_key(pem text) RETURNS bytea
  STRICT IMMUTABLE LANGUAGE c AS 'MODULE_PATHNAME', 'rk_ed25519_public_key';
CREATE FUNCTION rulekeeper._verify_bundle_signature(public_key bytea, format text, bundle_sha256 text,
                                                    value text) RETURNS boolean
  STRICT IMMUTABLE LANGUAGE c AS 'MODULE_PATHNAME', 'rk_verify_bundle_signature';

-- The signature block export_release/export_changes add, or NULL (with a
-- WARNING) when this site has no key: the bundle leaves unsigned.
-- SECURITY INVOKER: it signs as whoever calls it, and _sign_checksum signs
-- only for a superuser (the exports' owner).
CREATE FUNCTION rulekeeper._bundle_signature(format text, bundle_sha256 text) RETURNS jsonb
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  sig jsonb := rulekeeper._sign_checksum(format, bundle_sha256);
BEGIN
  IF sig IS NULL THEN
    RAISE WARNING 'site % has no signing key (rulekeeper.signing_key_file is not set): this bundle leaves UNSIGNED',
      COALESCE(NULLIF(current_setting('rulekeeper.site', true), ''), '(unset)')
      USING HINT = 'Sites refuse unsigned bundles unless rulekeeper.allow_unsigned_bundles is on; see docs/keys.md.';
  END IF;
  RETURN sig;
END
$$;

-- Verifies a bundle's signature block `sig` over its already verified
-- checksum (no second serialization of the bundle), for a bundle that must come from
-- `from_environment`. Refuses, naming the reason: unsigned (unless
-- rulekeeper.allow_unsigned_bundles, loudly), a malformed signature block, a
-- key not trusted here, a revoked key, a key trusted for another environment,
-- a signature that does not match. Returns what the import reports.
CREATE FUNCTION rulekeeper._check_bundle_signature(sig jsonb, format text, bundle_sha256 text,
                                                   from_environment text, what text) RETURNS jsonb
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  k rulekeeper.trusted_key;
  warning text;
BEGIN
  IF sig IS NULL OR sig = 'null'::jsonb THEN
    IF COALESCE(current_setting('rulekeeper.allow_unsigned_bundles', true), 'off')::boolean THEN
      warning := format('UNSIGNED %s bundle imported: nobody vouches that it comes from %s '
                        '(rulekeeper.allow_unsigned_bundles is on at site %s)', what, from_environment,
                        COALESCE(NULLIF(current_setting('rulekeeper.site', true), ''), '(unset)'));
      RAISE WARNING '%', warning USING HINT = 'Register the exporting site''s key and turn the setting off (docs/keys.md).';
      RETURN jsonb_build_object('verified', false, 'unsigned', true, 'warning', warning);
    END IF;
    RAISE EXCEPTION 'unsigned % bundle refused: it must be signed by a key trusted here for environment %',
      what, from_environment
      USING ERRCODE = 'invalid_authorization_specification',
            HINT = 'Export it again from a site that has rulekeeper.signing_key_file set, and trust that key here with '
                   'rulekeeper.trust_key() (docs/keys.md).';
  END IF;
  IF jsonb_typeof(sig) <> 'object' OR sig ->> 'algorithm' IS DISTINCT FROM 'ed25519'
     OR COALESCE(sig ->> 'key_id', '') !~ '^[0-9a-f]{64}$' OR jsonb_typeof(sig -> 'value') IS DISTINCT FROM 'string' THEN
    RAISE EXCEPTION '% bundle refused: its signature block is malformed (an object with algorithm "ed25519", '
                    'a 64-hex-digit key_id and a value)', what
      USING ERRCODE = 'invalid_authorization_specification';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM rulekeeper.trusted_key t WHERE t.key_id = sig ->> 'key_id') THEN
    RAISE EXCEPTION '% bundle refused: it is signed by key %, which is not trusted here', what, sig ->> 'key_id'
      USING ERRCODE = 'invalid_authorization_specification',
            HINT = format('Only keys registered with rulekeeper.trust_key(''%s'', ...) are accepted for bundles from %s.',
                          from_environment, from_environment);
  END IF;
  SELECT * INTO k FROM rulekeeper.trusted_key t WHERE t.key_id = sig ->> 'key_id' AND t.environment = from_environment;
  IF NOT FOUND THEN
    RAISE EXCEPTION '% bundle refused: it is signed by key %, which is trusted here for environment %, not for %',
      what, sig ->> 'key_id',
      (SELECT string_agg(t.environment, ', ' ORDER BY t.environment) FROM rulekeeper.trusted_key t
        WHERE t.key_id = sig ->> 'key_id'),
      from_environment
      USING ERRCODE = 'invalid_authorization_specification',
            HINT = format('This site accepts %s bundles only from %s.', what, from_environment);
  END IF;
  IF k.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION '% bundle refused: it is signed by key %, which was revoked at % by % (%)', what, k.key_id,
      k.revoked_at, k.revoked_by, COALESCE(k.revoke_reason, '')
      USING ERRCODE = 'invalid_authorization_specification',
            HINT = 'Export it again from a site signing with a key trusted now.';
  END IF;
  IF NOT rulekeeper._verify_bundle_signature(k.public_key, format, bundle_sha256, sig ->> 'value') THEN
    RAISE EXCEPTION '% bundle refused: bad signature: the bundle was changed after key % signed it', what, k.key_id
      USING ERRCODE = 'data_corrupted', HINT = 'Export it again; do not edit bundles.';
  END IF;
  RETURN jsonb_build_object('verified', true, 'key_id', k.key_id, 'environment', k.environment,
                            'signed_by_site', sig ->> 'site');
END
$$;

-- This site's own public key, to register where its bundles are imported.
CREATE FUNCTION rulekeeper.signing_public_key()
  RETURNS TABLE (key_id text, public_key text, site text, environment text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  info jsonb := rulekeeper._signing_key_info();
BEGIN
  IF info IS NULL THEN
    RAISE EXCEPTION 'site % has no signing key: rulekeeper.signing_key_file is not set',
      COALESCE(NULLIF(current_setting('rulekeeper.site', true), ''), '(unset)')
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'See docs/keys.md for making one.';
  END IF;
  RETURN QUERY SELECT info ->> 'key_id', info ->> 'public_key', NULLIF(current_setting('rulekeeper.site', true), ''),
                      NULLIF(current_setting('rulekeeper.environment', true), '');
END
$$;

-- Trust `public_key` (PEM) for bundles from `environment`; journaled.
-- Trusting a key already trusted for that environment changes nothing; a
-- revoked key is refused (it is never brought back: make a new one).
CREATE FUNCTION rulekeeper.trust_key(environment text, public_key text, reason text) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  raw bytea;
  id text;
  k rulekeeper.trusted_key;
BEGIN
  PERFORM rulekeeper._require_site('trust_key');
  IF environment IS NULL OR environment NOT IN ('e1', 'e2', 'e3') THEN
    RAISE EXCEPTION 'trust_key: environment must be e1, e2 or e3, not %', COALESCE(environment, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF reason IS NULL OR btrim(reason) = '' THEN
    RAISE EXCEPTION 'trust_key needs a reason' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF public_key IS NULL THEN
    RAISE EXCEPTION 'trust_key needs a public key (PEM)' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  raw := rulekeeper._ed25519_public_key(public_key);
  id := encode(sha256(raw), 'hex');
  PERFORM rulekeeper._lock_site();
  SELECT * INTO k FROM rulekeeper.trusted_key t WHERE t.key_id = id AND t.revoked_at IS NOT NULL LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'key % was revoked at % (%); a revoked key is never trusted again', id, k.revoked_at,
      COALESCE(k.revoke_reason, '')
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Make a new key (docs/keys.md "Rotation").';
  END IF;
  IF EXISTS (SELECT 1 FROM rulekeeper.trusted_key t WHERE t.key_id = id AND t.environment = trust_key.environment) THEN
    RETURN jsonb_build_object('key_id', id, 'environment', trust_key.environment, 'already_trusted', true);
  END IF;
  INSERT INTO rulekeeper.trusted_key (key_id, environment, public_key, reason)
  VALUES (id, trust_key.environment, raw, trust_key.reason);
  RETURN jsonb_build_object('key_id', id, 'environment', trust_key.environment, 'already_trusted', false);
END
$$;

-- Stop trusting a key, for every environment it was trusted for; journaled.
-- Bundles it signed are refused from now on.
CREATE FUNCTION rulekeeper.revoke_key(key_id text, reason text) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  k rulekeeper.trusted_key;
  cid uuid;
  envs text[];
BEGIN
  PERFORM rulekeeper._require_site('revoke_key');
  IF reason IS NULL OR btrim(reason) = '' THEN
    RAISE EXCEPTION 'revoke_key needs a reason' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM rulekeeper._lock_site();
  IF NOT EXISTS (SELECT 1 FROM rulekeeper.trusted_key t WHERE t.key_id = revoke_key.key_id) THEN
    RAISE EXCEPTION 'no trusted key %', COALESCE(revoke_key.key_id, 'NULL') USING ERRCODE = 'no_data_found';
  END IF;
  SELECT array_agg(t.environment ORDER BY t.environment) INTO envs
    FROM rulekeeper.trusted_key t WHERE t.key_id = revoke_key.key_id AND t.revoked_at IS NULL;
  IF envs IS NULL THEN
    SELECT * INTO k FROM rulekeeper.trusted_key t WHERE t.key_id = revoke_key.key_id LIMIT 1;
    RETURN jsonb_build_object('key_id', k.key_id, 'already_revoked', true, 'revoked_at', k.revoked_at);
  END IF;
  cid := rulekeeper._journal('key_revoked', NULL, NULL,
                             jsonb_build_object('key_id', revoke_key.key_id, 'environments', to_jsonb(envs),
                                                'reason', reason));
  UPDATE rulekeeper.trusted_key t
     SET revoked_at = now(), revoked_by = session_user, revoke_reason = revoke_key.reason, revoke_change_id = cid
   WHERE t.key_id = revoke_key.key_id AND t.revoked_at IS NULL;
  RETURN jsonb_build_object('key_id', revoke_key.key_id, 'environments', to_jsonb(envs), 'already_revoked', false,
                            'revoked_at', now());
END
$$;

-- Every key trusted here, revoked ones included, newest first.
CREATE FUNCTION rulekeeper.trusted_keys()
  RETURNS TABLE (key_id text, environment text, public_key text, reason text, added_at timestamptz, added_by text,
                 revoked_at timestamptz, revoked_by text, revoke_reason text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
  SELECT t.key_id, t.environment, encode(t.public_key, 'hex'), t.reason, t.added_at, t.added_by, t.revoked_at,
         t.revoked_by, t.revoke_reason
    FROM rulekeeper.trusted_key t ORDER BY t.added_at DESC, t.key_id
$$;

-- Re-signs a hand-built bundle with this site's key, over the bundle_sha256 it
-- carries (not recomputed). Superuser only — granted to no role — for tests
-- and benchmarks: a superuser can read the key file anyway.
CREATE FUNCTION rulekeeper.sign_bundle(bundle jsonb) RETURNS jsonb
  STRICT LANGUAGE plpgsql SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  sig jsonb := rulekeeper._sign_checksum(COALESCE(bundle ->> 'format', ''), COALESCE(bundle ->> 'bundle_sha256', ''));
BEGIN
  IF sig IS NULL THEN
    RAISE EXCEPTION 'sign_bundle: this site has no signing key (rulekeeper.signing_key_file)'
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  RETURN (bundle - 'signature') || jsonb_build_object('signature', sig);
END
$$;

-- Like every table: reader reads, admin writes directly (a direct insert is
-- journaled by the trigger; delete and un-revoke are refused by triggers).
REVOKE ALL ON rulekeeper.trusted_key FROM PUBLIC;
GRANT SELECT ON rulekeeper.trusted_key TO rulekeeper_reader;
-- Trust is the admin's call, made through trust_key()/revoke_key(), which
-- journal it; like history, the table itself is written only by the
-- functions (docs/permissions.md "What rulekeeper_admin may write directly").
GRANT SELECT ON rulekeeper.trusted_key TO rulekeeper_admin;
REVOKE EXECUTE ON FUNCTION
  rulekeeper._trusted_key_update(), rulekeeper._sign_checksum(text, text), rulekeeper._signing_key_info(),
  rulekeeper._ed25519_public_key(text), rulekeeper._verify_bundle_signature(bytea, text, text, text),
  rulekeeper._bundle_signature(text, text), rulekeeper._check_bundle_signature(jsonb, text, text, text, text),
  rulekeeper.signing_public_key(), rulekeeper.trust_key(text, text, text), rulekeeper.revoke_key(text, text),
  rulekeeper.trusted_keys(), rulekeeper.sign_bundle(jsonb)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rulekeeper.signing_public_key(), rulekeeper.trusted_keys()
  TO rulekeeper_reader, rulekeeper_admin;
-- Internal helpers as for every other: admin holds them, nobody else. Not
-- the signing ones (_sign_checksum, _bundle_signature, _signing_key_info,
-- sign_bundle): only the owner signs.
GRANT EXECUTE ON FUNCTION rulekeeper.trust_key(text, text, text), rulekeeper.revoke_key(text, text),
  rulekeeper._trusted_key_update(), rulekeeper._ed25519_public_key(text),
  rulekeeper._verify_bundle_signature(bytea, text, text, text),
  rulekeeper._check_bundle_signature(jsonb, text, text, text, text)
  TO rulekeeper_admin;

-- ==== issue 14: a release lost with IPC2 is repeatable ====
-- What already left this site (qualification 'promoted'), as a bundle like
-- export_release's (same format, checksum and signature): a release that
-- committed only at an E3 primary that was then lost is sent again to the
-- site that replaced it. import_release skips what the target already holds
-- (by rule, label and content_sha256), so only what it lacks is imported,
-- whatever this site's marks say (docs/data-loss.md).
CREATE FUNCTION rulekeeper.export_release_again(rule_keys text[] DEFAULT NULL) RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  site text := NULLIF(current_setting('rulekeeper.site', true), '');
  env text := NULLIF(current_setting('rulekeeper.environment', true), '');
BEGIN
  IF site IS NULL OR env IS NULL THEN
    RAISE EXCEPTION 'rulekeeper.site and rulekeeper.environment must be set on this node; export_release_again '
                    'needs them'
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF env NOT IN ('e1', 'e2') THEN
    RAISE EXCEPTION 'export_release_again runs at e1 or e2; this is site % in environment %', site, env
      USING ERRCODE = 'feature_not_supported', HINT = 'E3 is the end of the pipeline.';
  END IF;
  RETURN rulekeeper._release_bundle('promoted', rule_keys, site, env);
END
$$;
REVOKE EXECUTE ON FUNCTION rulekeeper.export_release_again(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rulekeeper.export_release_again(text[])
  TO rulekeeper_author, rulekeeper_releaser, rulekeeper_admin;

-- ==== issue 14: a version of a lost release returns as what it was ====
-- An orphaned version that a release had brought to the lost primary
-- (origin 'released', born awaiting_sl there: import_release verified the
-- source's signature) returns as what it was — awaiting_sl, its own label,
-- annotated recovered_from with returned_as —
-- not as 'recovered', when the changes bundle carrying it is signed by an E3
-- site's trusted key (the proof that the row is what that site journaled)
-- and its label is free here. Anything else: _recover_version, as before.
-- Internal: trusts its arguments, so the owner's only, like _recover_version.
CREATE FUNCTION rulekeeper._return_released_version(item jsonb, change jsonb, signature jsonb) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  label text;
BEGIN
  IF item ->> 'origin' IS DISTINCT FROM 'released' OR item ->> 'qualification' IS DISTINCT FROM 'awaiting_sl'
     OR COALESCE(signature ->> 'verified', 'false') <> 'true' OR COALESCE((item ->> 'hotfix')::integer, -1) <> 0
     OR NOT EXISTS (SELECT 1 FROM rulekeeper.rule r WHERE r.rule_key = item ->> 'rule_key')
     OR EXISTS (SELECT 1 FROM rulekeeper.rule_version x
                 WHERE x.rule_key = item ->> 'rule_key' AND x.version = (item ->> 'version')::integer) THEN
    RETURN rulekeeper._recover_version(item, change);
  END IF;
  INSERT INTO rulekeeper.rule_version (rule_key, version, hotfix, body, qualification, origin, parent_label, annotations)
  VALUES (item ->> 'rule_key', (item ->> 'version')::integer, 0, item -> 'body', 'awaiting_sl', 'released',
          item ->> 'parent_label',
          -- recovered_from, as _recover_version writes it (recovered_label()
          -- finds it), with returned_as: it came back as what it was.
          jsonb_build_object('recovered_from', jsonb_build_object(
            'change_id', change ->> 'change_id', 'origin_site', change ->> 'origin_site',
            'origin_incarnation', (change ->> 'origin_incarnation')::integer, 'label', item ->> 'label',
            'qualification', item ->> 'qualification', 'recorded_at', change ->> 'recorded_at',
            'returned_as', 'awaiting_sl', 'signed_by', signature ->> 'key_id')))
  RETURNING rulekeeper.rule_version.label INTO label;
  RETURN label;
END
$$;
REVOKE EXECUTE ON FUNCTION rulekeeper._return_released_version(jsonb, jsonb, jsonb) FROM PUBLIC, rulekeeper_admin;
