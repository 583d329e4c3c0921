-- Issue 15: the hotfix gate shows everything and accepts exactly what it
-- showed. A move of prod lists EVERY hotfix it would undo (those the
-- version's annotation flags and those whose change prod would lose), each
-- with its diff; acknowledge_hotfixes must name exactly those labels, and
-- the journal holds exactly those. pin() goes through the same gate with
-- the same acknowledgement; cutover() names the hotfixes, shows their diffs
-- and its hint names the CLI flag. Runs as site ipc2 in environment e3.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;
ALTER SYSTEM SET rulekeeper.site = 'ipc2';
ALTER SYSTEM SET rulekeeper.environment = 'e3';
SELECT pg_reload_conf();
-- Wait for the reload (see hotfix.sql).
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
            'rules', '[{"rule_key": "fees", "ruleset": "fees", "description": ""}]'::jsonb,
            'versions', (SELECT jsonb_agg(v || jsonb_build_object('rule_key', 'fees',
                                                                  'content_sha256', rulekeeper.content_sha256(v -> 'body')))
                           FROM jsonb_array_elements(versions) v)) b) x
$$;
INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('fees', ARRAY['/rate', '/cap']);
SELECT r ->> 'imported' AS imported FROM rulekeeper.import_release(pg_temp.bundle(
  '[{"label": "1", "body": {"rate": 0.1, "cap": 10}}]')) r;
SELECT rulekeeper.activate('fees', '1', 'sl') > 0 AS in_sl;
SELECT rulekeeper.transition('fees', '1', 'sl_validated', 'clean') ->> 'to' AS q;
SELECT rulekeeper.activate('fees', '1', 'prod') > 0 AS in_prod;

-- Hotfix 1.1 (/rate); then the planned version 2 arrives without it
-- (annotated: overrides 1.1); then hotfix 1.2 (/cap) on top of 1.1, which
-- 2's annotation cannot know about.
SELECT rulekeeper.hotfix('fees', '{"rate": 0.15, "cap": 10}', 'rate too low') ->> 'label' AS label;
SELECT r ->> 'imported' AS imported FROM rulekeeper.import_release(pg_temp.bundle(
  '[{"label": "2", "body": {"rate": 0.1, "cap": 10, "note": "planned"}}]')) r;
SELECT annotations ->> 'hotfix_included' AS hotfix_included FROM rulekeeper.rule_version WHERE label = '2';
SELECT rulekeeper.hotfix('fees', '{"rate": 0.15, "cap": 20}', 'cap too low') ->> 'label' AS label;
SELECT rulekeeper.activate('fees', '2', 'sl') > 0 AS v2_in_sl;
SELECT rulekeeper.transition('fees', '2', 'sl_validated', 'clean') ->> 'to' AS q;

-- What the gate shows before anything changes (rulectl's dry runs and plans).
SELECT g ->> 'label' AS label, g ->> 'classification' AS classification, g -> 'paths' AS paths
  FROM jsonb_array_elements(rulekeeper.hotfix_gate('fees', '2')) g;
-- The refusal lists both hotfixes, each with its diff; the hint names both.
SELECT rulekeeper.activate('fees', '2', 'prod');
-- An acknowledgement that differs from what was shown is refused, naming
-- the difference: one left out, one that is not undone, the boolean alone.
SELECT rulekeeper.activate('fees', '2', 'prod', acknowledge_hotfixes => '{1.1}');
SELECT rulekeeper.activate('fees', '2', 'prod', acknowledge_hotfixes => '{1.1,1.2,9.9}');
SELECT rulekeeper.activate('fees', '2', 'prod', acknowledge => true);
SELECT count(*) AS acknowledgements FROM rulekeeper.journal WHERE kind = 'acknowledgement';
SELECT prod_label FROM rulekeeper.rule_state WHERE rule_key = 'fees';
-- Exactly those: the move goes ahead, and the record holds exactly those.
SELECT rulekeeper.activate('fees', '2', 'prod', acknowledge_hotfixes => '{1.2, 1.1}') > 0 AS acknowledged;
SELECT label, payload -> 'acknowledged_hotfixes' AS acknowledged,
       jsonb_path_query_array(payload, '$.hotfixes[*].label') AS annotated,
       jsonb_path_query_array(payload, '$.undone_hotfixes[*].label') AS undone
  FROM rulekeeper.journal WHERE kind = 'acknowledgement';
SELECT h.label, count(a.*) AS acknowledged_in
  FROM rulekeeper.hotfix h LEFT JOIN LATERAL rulekeeper.hotfix_acknowledgements(h.hotfix_id) a ON true
 GROUP BY h.label ORDER BY h.label;
SELECT label, previous_label, acknowledged -> 'acknowledged_hotfixes' AS acknowledged
  FROM rulekeeper.activation_history WHERE channel = 'prod' ORDER BY epoch DESC LIMIT 1;
-- Acknowledging a change that undoes nothing is refused too.
SELECT rulekeeper.activate('fees', '1', 'sl', acknowledge_hotfixes => '{1.1}');

-- pin() goes through the same gate, with the same acknowledgement.
SELECT rulekeeper.hotfix('fees', '{"rate": 0.2, "cap": 10, "note": "planned"}', 'rate again') ->> 'label' AS label;
SELECT rulekeeper.pin('fees', 'prod', '2');
SELECT rulekeeper.pin('fees', 'prod', '2', acknowledge_hotfixes => '{2.1}');
SELECT rulekeeper.pin('fees', 'prod', '2', acknowledge_hotfixes => '{2.1,1.1}') > 0 AS pinned;
SELECT prod_label, prod_pinned FROM rulekeeper.rule_state WHERE rule_key = 'fees';
SELECT rulekeeper.unpin('fees', 'prod') > 0 AS unpinned;

-- Cutover names the hotfixes, shows their diffs, and its hint names the
-- CLI flag; rule@label acknowledges exactly them.
SELECT rulekeeper.hotfix('fees', '{"rate": 0.25, "cap": 10, "note": "planned"}', 'rate once more') ->> 'label' AS label;
SELECT r ->> 'imported' AS imported FROM rulekeeper.import_release(pg_temp.bundle(
  '[{"label": "3", "body": {"rate": 0.1, "cap": 10, "note": "next"}}]')) r;
SELECT rulekeeper.activate('fees', '3', 'sl') > 0 AS v3_in_sl;
SELECT rulekeeper.transition('fees', '3', 'sl_validated', 'clean') ->> 'to' AS q;
SELECT rulekeeper.cutover();
SELECT rulekeeper.cutover(acknowledge_hotfixes => '{fees@2.2}');
SELECT rulekeeper.cutover(acknowledge_hotfixes => '{fees@2.2,fees@9.9}');
SELECT prod_label FROM rulekeeper.rule_state WHERE rule_key = 'fees';
SELECT c -> 'moved' AS moved
  FROM rulekeeper.cutover(acknowledge_hotfixes => '{fees@2.2,fees@2.1,fees@1.2}') c;
SELECT label, payload ->> 'action' AS action, payload -> 'acknowledged_hotfixes' AS acknowledged
  FROM rulekeeper.journal WHERE kind = 'acknowledgement' ORDER BY recorded_at DESC LIMIT 1;

-- Deactivating prod shows the same list, acknowledged the same way.
SELECT rulekeeper.hotfix('fees', '{"rate": 0.3, "cap": 10, "note": "next"}', 'rate after cutover') ->> 'label' AS label;
SELECT rulekeeper.deactivate('fees', 'prod');
SELECT rulekeeper.deactivate('fees', 'prod', acknowledge_hotfixes => '{3.1}') > 0 AS deactivated;

SELECT max(origin_seq) = count(*) AS gapless FROM rulekeeper.journal;
ALTER SYSTEM RESET rulekeeper.site;
ALTER SYSTEM RESET rulekeeper.environment;
SELECT pg_reload_conf();
-- Back to this suite's own settings before the next file starts.
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e1'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
