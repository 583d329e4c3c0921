-- What a transaction holds for rulekeeper (issue #13, classes 1 and 5):
-- the site lock is a userlock (no SQL function takes one: pg_advisory_lock
-- cannot), held by the top-level transaction even when a subtransaction took
-- it, and a transaction holding it cannot be prepared; the audit fields of
-- history rows live in backend memory (_audit_set/_audit_get, the owner's
-- alone), follow savepoints and end with the transaction, and the old
-- rulekeeper_txn.* settings are ignored. Runs as site ipc2 in environment e3.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;
ALTER SYSTEM SET rulekeeper.site = 'ipc2';
ALTER SYSTEM SET rulekeeper.environment = 'e3';
SELECT pg_reload_conf();
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e3'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;

CREATE VIEW pg_temp.my_site_lock AS
  SELECT locktype, classid, objid, objsubid, mode, granted FROM pg_locks
   WHERE pid = pg_backend_pid() AND locktype IN ('userlock', 'advisory');

-- The site lock as pg_locks shows it.
BEGIN;
SELECT rulekeeper._lock_site();
SELECT * FROM pg_temp.my_site_lock;
ROLLBACK;
SELECT count(*) AS after_rollback FROM pg_temp.my_site_lock;
-- Taken in a subtransaction that rolls back: still held, until the end.
BEGIN;
SAVEPOINT a;
SELECT rulekeeper._lock_site();
ROLLBACK TO SAVEPOINT a;
SELECT * FROM pg_temp.my_site_lock;
COMMIT;
SELECT count(*) AS after_commit FROM pg_temp.my_site_lock;
-- A transaction holding it is not prepared (and is rolled back).
BEGIN;
SELECT rulekeeper._lock_site();
PREPARE TRANSACTION 'rulekeeper_work';
SELECT count(*) AS prepared FROM pg_prepared_xacts;
SELECT count(*) AS still_held FROM pg_temp.my_site_lock;

-- Nobody but the owner may take it bare, or touch the audit fields.
SELECT r.rolname, f.fn, has_function_privilege(r.rolname, f.fn, 'EXECUTE') AS may_execute
  FROM (VALUES ('rulekeeper_reader'), ('rulekeeper_author'), ('rulekeeper_releaser'), ('rulekeeper_hotfix'),
               ('rulekeeper_admin')) r(rolname),
       (VALUES ('rulekeeper._lock_site()'), ('rulekeeper._audit_set(text, text)'), ('rulekeeper._audit_get(text)'),
               ('rulekeeper._require_reason(text, text)')) f(fn)
 WHERE has_function_privilege(r.rolname, f.fn, 'EXECUTE');

-- The audit fields follow savepoints and end with the transaction.
BEGIN;
SELECT rulekeeper._audit_set('reason', 'outer');
SAVEPOINT a;
SELECT rulekeeper._audit_set('reason', 'inner');
SELECT rulekeeper._audit_get('reason') AS in_savepoint;
ROLLBACK TO SAVEPOINT a;
SELECT rulekeeper._audit_get('reason') AS after_rollback_to;
SAVEPOINT b;
SELECT rulekeeper._audit_set('reason', 'released');
RELEASE SAVEPOINT b;
SELECT rulekeeper._audit_get('reason') AS after_release;
SAVEPOINT c;
SAVEPOINT d;
SELECT rulekeeper._audit_set('action', 'deep');
RELEASE SAVEPOINT d;
SELECT rulekeeper._audit_get('action') AS after_inner_release;
ROLLBACK TO SAVEPOINT c;
SELECT rulekeeper._audit_get('action') AS after_outer_rollback_to;
SELECT rulekeeper._audit_set('reason', '');
SELECT rulekeeper._audit_get('reason') IS NULL AS unset;
SELECT rulekeeper._audit_set('acknowledged', '{"x": 1}');
COMMIT;
SELECT rulekeeper._audit_get('acknowledged') IS NULL AS gone_after_commit;
SELECT rulekeeper._audit_get('actor');
SELECT rulekeeper._audit_set('reason', NULL) IS NULL AS strict;

-- The settings that used to carry them change nothing.
-- The bundle stands for one from e2: signed with this instance's key, trusted
-- for e2 (docs/keys.md).
SELECT t ->> 'environment' AS trusted_for FROM rulekeeper.signing_public_key() k,
       rulekeeper.trust_key('e2', k.public_key, 'regress: this instance stands in for e2') t;
SELECT r ->> 'imported' AS imported FROM rulekeeper.import_release((
  SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b))) FROM (
    SELECT jsonb_build_object('format', 'rulekeeper-bundle/1',
      'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),
      'rules', '[{"rule_key": "t", "ruleset": "t", "description": ""}]'::jsonb,
      'versions', (SELECT jsonb_agg(jsonb_build_object('rule_key', 't', 'label', l::text,
                     'body', jsonb_build_object('rate', l),
                     'content_sha256', rulekeeper.content_sha256(jsonb_build_object('rate', l))))
                     FROM generate_series(1, 2) l)) b) x)) r;
SET rulekeeper_txn.reason = 'forged reason';
SET rulekeeper_txn.action = 'forged action';
SET rulekeeper_txn.acknowledged = '{"forged": true}';
SELECT rulekeeper.activate('t', '1', 'sl') > 0 AS in_sl;
UPDATE rulekeeper.rule_version SET qualification = 'sl_validated' WHERE rule_key = 't' AND label = '1';
SELECT rulekeeper.transition('t', '1', 'sl_failed', 'regressed in sl') ->> 'to' AS q;
SELECT rulekeeper.deactivate('t', 'sl') > 0 AS deactivated;
INSERT INTO rulekeeper.activation (channel, rule_key, label, epoch) VALUES ('sl', 't', '2', 0);
SELECT from_qualification, to_qualification, reason FROM rulekeeper.qualification_history
 WHERE rule_key = 't' ORDER BY recorded_at, change_id::text;
SELECT label, previous_label, action, acknowledged FROM rulekeeper.activation_history
 WHERE rule_key = 't' ORDER BY epoch;
RESET rulekeeper_txn.reason;
RESET rulekeeper_txn.action;
RESET rulekeeper_txn.acknowledged;
