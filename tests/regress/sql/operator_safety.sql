-- Operator safety in the SQL API (issue #15; docs/operator-safety.md): a
-- hotfix whose body has the content (content_sha256) of a version that
-- failed soft launch is refused unless acknowledge_sl_failed names exactly
-- those versions, and the acknowledgement is journaled; import_changes takes
-- changes only from a site of its own environment. Runs as site ipc2 in e3.
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

-- Versions 1 and 2 from "e2" (this instance's key, trusted for e2); 1 in
-- prod, 2 fails its soft launch.
SELECT t ->> 'environment' AS trusted_for FROM rulekeeper.signing_public_key() k,
       rulekeeper.trust_key('e2', k.public_key, 'regress: this instance stands in for e2') t;
CREATE FUNCTION pg_temp.bundle(versions jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))
    FROM (SELECT jsonb_build_object(
            'format', 'rulekeeper-bundle/1', 'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),
            'rules', '[{"rule_key": "pricing.discount", "ruleset": "pricing", "description": ""}]'::jsonb,
            'versions', (SELECT jsonb_agg(v || jsonb_build_object('rule_key', 'pricing.discount',
                                                                  'content_sha256', rulekeeper.content_sha256(v -> 'body')))
                           FROM jsonb_array_elements(versions) v)) b) x
$$;
SELECT r ->> 'imported' AS imported FROM rulekeeper.import_release(pg_temp.bundle(
  '[{"label": "1", "body": {"rate": 0.1, "name": "summer"}},
    {"label": "2", "body": {"rate": 0.2, "name": "summer"}}]')) r;
SELECT rulekeeper.activate('pricing.discount', '1', 'sl') > 0 AS in_sl;
SELECT rulekeeper.transition('pricing.discount', '1', 'sl_validated', 'soft launch clean') ->> 'to' AS q;
SELECT rulekeeper.activate('pricing.discount', '1', 'prod') > 0 AS in_prod;
SELECT rulekeeper.activate('pricing.discount', '2', 'sl') > 0 AS in_sl;
SELECT rulekeeper.transition('pricing.discount', '2', 'sl_failed', 'error rate doubled') ->> 'to' AS q;
INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('pricing', ARRAY['/rate']);
CREATE ROLE rk_safety_fixer LOGIN IN ROLE rulekeeper_hotfix;
SET SESSION AUTHORIZATION rk_safety_fixer;

-- The content of version 2 (key order does not matter): refused, naming it
-- and the acknowledgement; a wrong acknowledgement too.
SELECT rulekeeper.hotfix('pricing.discount', '{"name": "summer", "rate": 0.2}', 'back to 0.2');
SELECT rulekeeper.hotfix('pricing.discount', '{"name": "summer", "rate": 0.2}', 'back to 0.2', '1');
SELECT rulekeeper.hotfix('pricing.discount', '{"name": "summer", "rate": 0.2}', 'back to 0.2', '2,1');
-- An acknowledgement where nothing failed: refused (acknowledge only what a
-- refusal named).
SELECT rulekeeper.hotfix('pricing.discount', '{"name": "summer", "rate": 0.3}', 'other rate', '2');
SELECT count(*) AS versions, max(label) AS newest FROM rulekeeper.rule_version;
-- Acknowledged by name: made, reported, journaled.
SELECT h ->> 'label' AS label, h -> 'acknowledged_sl_failed' AS acknowledged
  FROM rulekeeper.hotfix('pricing.discount', '{"name": "summer", "rate": 0.2}', 'back to 0.2', ' 2 ') h;
RESET SESSION AUTHORIZATION;
SELECT label, actor, payload ->> 'action' AS action, payload -> 'sl_failed' AS sl_failed,
       payload ->> 'content_sha256' = rulekeeper.content_sha256('{"rate": 0.2, "name": "summer"}') AS same_content
  FROM rulekeeper.journal WHERE kind = 'acknowledgement' AND payload ->> 'action' = 'hotfix';
-- Any other body: no acknowledgement (none reported), none journaled.
SELECT rulekeeper.hotfix('pricing.discount', '{"name": "summer", "rate": 0.25}', 'rate 0.25') -> 'acknowledged_sl_failed'
  AS acknowledged;
SELECT count(*) AS hotfix_acknowledgements FROM rulekeeper.journal
 WHERE kind = 'acknowledgement' AND payload ->> 'action' = 'hotfix';

-- import_changes: a bundle exported in another environment is refused before
-- its checksum, signature or entries are looked at, dry run or not.
CREATE FUNCTION pg_temp.changes(environment text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))
    FROM (SELECT jsonb_build_object('format', 'rulekeeper-changes/1',
                                    'source', jsonb_build_object('site', 'e2', 'environment', environment,
                                                                 'timeline', 1),
                                    'since', '{}'::jsonb, 'vector', '{}'::jsonb, 'changes', '[]'::jsonb) b) x
$$;
SELECT rulekeeper.import_changes(pg_temp.changes('e2'));
SELECT rulekeeper.import_changes(pg_temp.changes('e2'), dry_run => true);
SELECT rulekeeper.import_changes(pg_temp.changes(NULL), dry_run => true);
-- Its own environment passes this check (and meets the next one: this
-- instance's key is trusted for e2 only).
DO $$BEGIN
  PERFORM rulekeeper.import_changes(pg_temp.changes('e3'), dry_run => true);
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE '%', regexp_replace(SQLERRM, 'key [0-9a-f]{64}', 'key <id>');
END$$;
DROP ROLE rk_safety_fixer;
