-- Hotfixes at the E3 primary: the policy restricts what may change, a reason
-- is mandatory, the fix becomes N.k, goes live in prod (and SL when SL serves
-- the same parent), and the next planned release is classified against it so
-- that prod never silently loses it. Runs as site ipc2 in environment e3.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;
ALTER SYSTEM SET rulekeeper.site = 'ipc2';
ALTER SYSTEM SET rulekeeper.environment = 'e3';
SELECT pg_reload_conf();
-- A backend applies a reloaded settings file between statements, never inside
-- one: wait for it with up to 500 statements of their own (\gexec, not echoed),
-- each sleeping 10 ms only while the new value is not visible yet (5 s at most;
-- the query after the wait shows the values, so a reload that never arrives fails).
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e3'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;

-- A bundle "from e2", written here the way any tool outside could write one,
-- signed with this instance's key, trusted here for e2 (docs/keys.md).
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
  '[{"label": "1", "body": {"rate": 0.1, "tiers": [100, 500], "name": "summer"}}]')) r;
SELECT rulekeeper.activate('pricing.discount', '1', 'sl') > 0 AS in_sl;
SELECT rulekeeper.transition('pricing.discount', '1', 'sl_validated', 'soft launch clean') ->> 'to' AS q;
SELECT rulekeeper.activate('pricing.discount', '1', 'prod') > 0 AS in_prod;

-- Refused: no policy for the ruleset (and how to allow), a path outside it,
-- an empty reason, a body that changes nothing, a rule without prod.
SELECT rulekeeper.hotfix('pricing.discount', '{"rate": 0.15, "tiers": [100, 500], "name": "summer"}', 'rate too low');
INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('pricing', ARRAY['/rate', '/tiers']);
SELECT rulekeeper.hotfix('pricing.discount', '{"rate": 0.15, "tiers": [100, 500], "name": "winter"}', 'rename');
SELECT rulekeeper.hotfix('pricing.discount', '{"rate": 0.15, "tiers": [100, 500], "name": "summer"}', ' ');
SELECT rulekeeper.hotfix('pricing.discount', '{"rate": 0.1, "tiers": [100, 500], "name": "summer"}', 'no-op');
INSERT INTO rulekeeper.rule (rule_key, ruleset) VALUES ('not.live', 'pricing');
SELECT rulekeeper.hotfix('not.live', '{"rate": 1}', 'nothing in prod');
-- By a role without the grant; and rulekeeper_hotfix cannot write tables directly.
CREATE ROLE rk_fixer LOGIN IN ROLE rulekeeper_hotfix;
CREATE ROLE rk_reader LOGIN IN ROLE rulekeeper_reader;
SET SESSION AUTHORIZATION rk_reader;
SELECT rulekeeper.hotfix('pricing.discount', '{"rate": 0.15, "tiers": [100, 500], "name": "summer"}', 'rate too low');
SET SESSION AUTHORIZATION rk_fixer;
INSERT INTO rulekeeper.rule_version (rule_key, version, hotfix, body, qualification)
VALUES ('pricing.discount', 1, 1, '{"rate": 0.15}', 'hotfix');
SELECT rulekeeper.activate('pricing.discount', '1', 'prod');
-- The happy path, by the hotfix role.
SELECT h - 'hotfix_id' - 'epoch' AS hotfix
  FROM rulekeeper.hotfix('pricing.discount', '{"rate": 0.15, "tiers": [100, 500], "name": "summer"}', 'rate too low') h;
RESET SESSION AUTHORIZATION;
SELECT label, qualification, origin, parent_label, created_by FROM rulekeeper.rule_version ORDER BY version, hotfix;
SELECT label, lifecycle FROM rulekeeper.version_state WHERE rule_key = 'pricing.discount' ORDER BY label;
SELECT rule_key, base_label, label, site, diff, reason, actor FROM rulekeeper.hotfix;
SELECT * FROM rulekeeper.diff('pricing.discount', '1', '1.1');
SELECT kind, label, actor FROM rulekeeper.journal WHERE kind IN ('hotfix', 'version') AND label = '1.1';
SELECT effective_version AS prod_serves FROM rulekeeper.effective_version('pricing.discount', 'prod');
SELECT rulekeeper.activation_epoch() = (SELECT epoch FROM rulekeeper.activation WHERE channel = 'prod') AS same_epoch_sl_and_prod,
       (SELECT count(DISTINCT epoch) FROM rulekeeper.activation) AS epochs_in_use;

-- The planned-release race: the next release carries 2 (without the
-- hotfix's change) and 3 (with it). Drift is detected; 2 overrides, 3 includes.
SELECT r ->> 'drift' AS drift, r -> 'drifted_rules' AS drifted_rules, r ->> 'imported' AS imported
  FROM rulekeeper.import_release(pg_temp.bundle('[
    {"label": "2", "body": {"rate": 0.1, "tiers": [100, 500, 1000], "name": "summer"}},
    {"label": "3", "body": {"rate": 0.15, "tiers": [100, 500, 1000], "name": "summer"}}]')) r;
SELECT label, annotations -> 'hotfix_included' AS hotfix_included,
       jsonb_path_query_array(annotations, '$.hotfixes[*].classification') AS each
  FROM rulekeeper.rule_version WHERE version IN (2, 3) ORDER BY label;
SELECT rulekeeper.activate('pricing.discount', '2', 'sl') > 0 AS v2_in_sl;
SELECT rulekeeper.transition('pricing.discount', '2', 'sl_validated', 'clean') ->> 'to' AS q;
SELECT rulekeeper.activate('pricing.discount', '2', 'prod');
SELECT rulekeeper.activate('pricing.discount', '2', 'prod', acknowledge_hotfixes => '{1.1}') > 0 AS acknowledged;
SELECT kind, label, payload ->> 'hotfix_included' AS hotfix_included, actor = session_user AS by_me
  FROM rulekeeper.journal WHERE kind = 'acknowledgement';
SELECT rulekeeper.activate('pricing.discount', '3', 'sl') > 0 AS v3_in_sl;
SELECT rulekeeper.transition('pricing.discount', '3', 'sl_validated', 'clean') ->> 'to' AS q;
SELECT rulekeeper.activate('pricing.discount', '3', 'prod') > 0 AS v3_needs_nothing;
-- Moving prod off a hotfix to its parent needs acknowledgement too.
SELECT rulekeeper.hotfix('pricing.discount', '{"rate": 0.2, "tiers": [100, 500, 1000], "name": "summer"}', 'rate again') ->> 'label' AS label;
SELECT rulekeeper.activate('pricing.discount', '3', 'prod');
SELECT rulekeeper.rollback('pricing.discount', 'prod');
SELECT rulekeeper.rollback('pricing.discount', 'prod', acknowledge_hotfixes => '{3.1}') > 0 AS rolled_back;
SELECT prod_label FROM rulekeeper.rule_state WHERE rule_key = 'pricing.discount';

-- Hotfixes are only for the E3 primary.
ALTER SYSTEM SET rulekeeper.environment = 'e2';
SELECT pg_reload_conf();
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e2'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
SELECT rulekeeper.hotfix('pricing.discount', '{"rate": 0.3, "tiers": [100, 500, 1000], "name": "summer"}', 'wrong place');

SELECT max(origin_seq) = count(*) AS gapless FROM rulekeeper.journal;
SELECT count(*) AS problems FROM rulekeeper.verify_checksums();
DROP ROLE rk_fixer, rk_reader;
ALTER SYSTEM RESET rulekeeper.site;
ALTER SYSTEM RESET rulekeeper.environment;
SELECT pg_reload_conf();
-- Back to this suite's own settings before the next file starts.
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e1'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
