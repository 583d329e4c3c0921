-- Holds of a (site, channel) notification scope (issue #18 item 3): written
-- at the E3 primary by rulekeeper_releaser through hold_notifications() and
-- release_notifications(), journaled (kind 'notification'), append-only;
-- notification_state(site) tells a gateway what to serve: the held epoch
-- while held, while the channel itself moves on. Runs as site ipc2 in
-- environment e3. (Replication to a standby and restarts:
-- tests/integration/test_notification_hold.cpp.)
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

SELECT t ->> 'environment' AS trusted_for FROM rulekeeper.signing_public_key() k,
       rulekeeper.trust_key('e2', k.public_key, 'regress: this instance stands in for e2') t;
CREATE FUNCTION pg_temp.bundle(versions jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))
    FROM (SELECT jsonb_build_object(
            'format', 'rulekeeper-bundle/1', 'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),
            'rules', '[{"rule_key": "nh.a", "ruleset": "nh", "description": ""}]'::jsonb,
            'versions', (SELECT jsonb_agg(v || jsonb_build_object('rule_key', 'nh.a',
                                                                  'content_sha256', rulekeeper.content_sha256(v -> 'body')))
                           FROM jsonb_array_elements(versions) v)) b) x
$$;
SELECT r ->> 'imported' AS imported FROM rulekeeper.import_release(pg_temp.bundle(
  '[{"label": "1", "body": {"n": 1}}, {"label": "2", "body": {"n": 2}}]')) r;
SELECT rulekeeper.activate('nh.a', '1', 'sl') > 0 AS in_sl;
SELECT rulekeeper.transition('nh.a', '1', 'sl_validated', 'clean') ->> 'to' AS q;
SELECT rulekeeper.activate('nh.a', '1', 'prod') > 0 AS in_prod;
SELECT rulekeeper.activation_epoch('prod') AS prod_at_hold \gset

-- Nothing held anywhere yet.
SELECT channel, held, held_epoch, held_by, reason FROM rulekeeper.notification_state('ipc1');

-- Roles: a reader and the hotfix role may not hold; a releaser may.
CREATE ROLE rk_nh_reader LOGIN IN ROLE rulekeeper_reader;
CREATE ROLE rk_nh_fixer LOGIN IN ROLE rulekeeper_hotfix;
CREATE ROLE rk_nh_releaser LOGIN IN ROLE rulekeeper_releaser;
SET SESSION AUTHORIZATION rk_nh_reader;
SELECT rulekeeper.hold_notifications('ipc1', 'prod', 'no');
INSERT INTO rulekeeper.notification_hold (site, channel, action, held_epoch, current_epoch)
VALUES ('ipc1', 'prod', 'hold', 1, 1);
SET SESSION AUTHORIZATION rk_nh_fixer;
SELECT rulekeeper.hold_notifications('ipc1', 'prod', 'no');
SET SESSION AUTHORIZATION rk_nh_releaser;
-- Bad scopes: an unknown channel, not a site name, NULLs.
SELECT rulekeeper.hold_notifications('ipc1', 'green', 'typo');
SELECT rulekeeper.hold_notifications('IPC 1', 'prod', 'typo');
SELECT rulekeeper.hold_notifications(NULL, 'prod', 'null');
-- The hold, by the releaser: at prod's current epoch.
SELECT h ->> 'site' AS site, h ->> 'channel' AS channel, h ->> 'action' AS action,
       (h ->> 'held_epoch')::bigint = :prod_at_hold AS at_current_epoch, h ->> 'reason' AS reason,
       h ->> 'actor' AS actor
  FROM rulekeeper.hold_notifications('ipc1', 'prod', 'IPC1 an hour after IPC2') h;
-- Held already: refused, saying at which epoch (and, in the detail, since
-- when and by whom: not shown here, it names the clock).
\set VERBOSITY terse
SELECT rulekeeper.hold_notifications('ipc1', 'prod', 'again') IS NULL AS never;
\set VERBOSITY default
-- Other scopes are independent: ipc1 sl, ipc2b prod.
SELECT channel, held FROM rulekeeper.notification_state('ipc1');
SELECT channel, held FROM rulekeeper.notification_state('ipc2b');
-- Releasing a scope that is not held: refused.
SELECT rulekeeper.release_notifications('ipc1', 'sl', 'not held');
SELECT rulekeeper.release_notifications('ipc2b', 'prod', 'not held');
-- The history is append-only, even for the releaser (no direct writes).
UPDATE rulekeeper.notification_hold SET held_epoch = 1;
RESET SESSION AUTHORIZATION;
UPDATE rulekeeper.notification_hold SET held_epoch = 1;
DELETE FROM rulekeeper.notification_hold;
TRUNCATE rulekeeper.notification_hold;

-- prod moves on; ipc1's prod stays held at the old epoch, and what its
-- gateway serves is the old set.
SELECT rulekeeper.activate('nh.a', '2', 'sl') > 0 AS v2_in_sl;
SELECT rulekeeper.transition('nh.a', '2', 'sl_validated', 'clean') ->> 'to' AS q;
SELECT rulekeeper.activate('nh.a', '2', 'prod') > 0 AS v2_in_prod;
SELECT channel, current_epoch = rulekeeper.activation_epoch(channel) AS current_is_channels,
       current_epoch > :prod_at_hold AS moved_on, held, held_epoch = :prod_at_hold AS held_at_hold,
       held_by = 'rk_nh_releaser' AS by_releaser, held_at IS NOT NULL AS dated, reason
  FROM rulekeeper.notification_state('ipc1');
SELECT s.channel, r.rule_key, r.label
  FROM rulekeeper.notification_state('ipc1') s,
       rulekeeper.effective_rules(s.channel, CASE WHEN s.held THEN s.held_epoch ELSE s.current_epoch END) r
 ORDER BY 1, 2;

-- Release: the scope follows the channel again; a second release is refused.
SET SESSION AUTHORIZATION rk_nh_releaser;
SELECT h ->> 'action' AS action, (h ->> 'held_epoch')::bigint = :prod_at_hold AS was_held_at,
       (h ->> 'current_epoch')::bigint = rulekeeper.activation_epoch('prod') AS moves_to_current
  FROM rulekeeper.release_notifications('ipc1', 'prod', 'IPC1 may follow') h;
SELECT rulekeeper.release_notifications('ipc1', 'prod', 'twice');
SELECT channel, held, held_epoch FROM rulekeeper.notification_state('ipc1');
-- And may be held again (an empty reason is no reason).
SELECT h ->> 'action' AS action, h -> 'reason' AS reason FROM rulekeeper.hold_notifications('ipc1', 'prod', '') h;
SELECT channel, held, held_epoch = rulekeeper.activation_epoch('prod') AS at_current FROM rulekeeper.notification_state('ipc1');
SELECT rulekeeper.release_notifications('ipc1', 'prod') ->> 'action' AS action;
RESET SESSION AUTHORIZATION;

-- Every hold and release is a journal entry of kind 'notification' carrying
-- the row; the chain and the tables agree.
SELECT j.kind, j.rule_key, j.label, j.payload ->> 'site' AS site, j.payload ->> 'channel' AS channel,
       j.payload ->> 'action' AS action, j.actor
  FROM rulekeeper.journal j JOIN rulekeeper.notification_hold n ON n.change_id = j.change_id
 ORDER BY j.origin_seq;
SELECT count(*) AS history_problems FROM rulekeeper.verify_history();
-- export_changes carries them (reconcile and rejoin; import_changes lists
-- them under listed_not_applied: a hold is this primary's operators' call).
SELECT count(*) AS exported FROM jsonb_array_elements(rulekeeper.export_changes('{}') -> 'changes') c
 WHERE c ->> 'kind' = 'notification';

-- Only at an E3 primary.
ALTER SYSTEM SET rulekeeper.environment = 'e2';
SELECT pg_reload_conf();
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e2'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
SELECT rulekeeper.hold_notifications('ipc1', 'prod', 'wrong place');

DROP ROLE rk_nh_reader, rk_nh_fixer, rk_nh_releaser;
ALTER SYSTEM RESET rulekeeper.site;
ALTER SYSTEM RESET rulekeeper.environment;
SELECT pg_reload_conf();
-- Back to this suite's own settings before the next file starts.
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e1'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
