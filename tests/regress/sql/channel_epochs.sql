-- Per-channel epochs (issue #18 item 1): activation_epoch(channel) moves only
-- when its channel changes (an sl activation leaves prod alone; a cutover
-- advances prod once; a hotfix moving prod and sl advances both), epochs keep
-- growing across incarnations, wait_for_epoch(channel, ...) waits for one
-- channel, and effective_rules(channel, as_of_epoch) rebuilds the set a
-- channel served at any past epoch from activation_history. Runs as site ipc2
-- in environment e3.
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

-- Two rules from a signed bundle "from e2" (as in hotfix.sql).
SELECT t ->> 'environment' AS trusted_for FROM rulekeeper.signing_public_key() k,
       rulekeeper.trust_key('e2', k.public_key, 'regress: this instance stands in for e2') t;
CREATE FUNCTION pg_temp.bundle(versions jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))
    FROM (SELECT jsonb_build_object(
            'format', 'rulekeeper-bundle/1', 'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),
            'rules', '[{"rule_key": "ch.a", "ruleset": "ch", "description": ""},
                       {"rule_key": "ch.b", "ruleset": "ch", "description": ""}]'::jsonb,
            'versions', (SELECT jsonb_agg(v || jsonb_build_object('content_sha256', rulekeeper.content_sha256(v -> 'body')))
                           FROM jsonb_array_elements(versions) v)) b) x
$$;
SELECT r ->> 'imported' AS imported FROM rulekeeper.import_release(pg_temp.bundle('[
  {"rule_key": "ch.a", "label": "1", "body": {"n": "a1"}},
  {"rule_key": "ch.a", "label": "2", "body": {"n": "a2"}},
  {"rule_key": "ch.b", "label": "1", "body": {"n": "b1"}},
  {"rule_key": "ch.b", "label": "2", "body": {"n": "b2"}}]')) r;

-- Epochs are remembered by number in a temp table to show how they move.
CREATE TEMP TABLE seen (n serial, step text PRIMARY KEY, sl bigint, prod bigint, site bigint);
CREATE FUNCTION pg_temp.note(step text) RETURNS TABLE (sl_moved boolean, prod_moved boolean) LANGUAGE sql AS $$
  WITH prev AS (SELECT s.sl, s.prod FROM seen s ORDER BY s.n DESC LIMIT 1),
       ins AS (INSERT INTO seen (step, sl, prod, site)
               VALUES (step, rulekeeper.activation_epoch('sl'), rulekeeper.activation_epoch('prod'),
                       rulekeeper.activation_epoch()) RETURNING *)
  SELECT ins.sl IS DISTINCT FROM prev.sl, ins.prod IS DISTINCT FROM prev.prod FROM ins LEFT JOIN prev ON true
$$;

-- Nothing activated: every channel at 0.
SELECT rulekeeper.activation_epoch('sl') AS sl, rulekeeper.activation_epoch('prod') AS prod,
       rulekeeper.activation_epoch() AS site;
SELECT * FROM pg_temp.note('start');
-- An unknown channel is an error naming the channels; NULL stays NULL.
SELECT rulekeeper.activation_epoch('green');
SELECT rulekeeper.activation_epoch(NULL) IS NULL AS null_channel;
SELECT * FROM rulekeeper.effective_rules('green', 1);
CALL rulekeeper.wait_for_epoch('green', 0, 10);
CALL rulekeeper.wait_for_epoch(NULL, 0, 10);

-- An sl activation moves sl, not prod; the site-wide epoch is sl's.
SELECT rulekeeper.activate('ch.a', '1', 'sl') > 0 AS a1_in_sl;
SELECT * FROM pg_temp.note('a1 in sl');
SELECT rulekeeper.activate('ch.b', '1', 'sl') > 0 AS b1_in_sl;
SELECT * FROM pg_temp.note('b1 in sl');
SELECT rulekeeper.activation_epoch('sl') = rulekeeper.activation_epoch() AS sl_is_newest,
       rulekeeper.activation_epoch('prod') AS prod;
-- A prod wait is not woken by sl: it times out with prod's epoch ...
CALL rulekeeper.wait_for_epoch('prod', 0, 200);
-- ... while an sl wait answers at once with sl's.
CALL rulekeeper.wait_for_epoch('sl', 0, 60000, NULL);
SELECT (SELECT sl FROM seen WHERE step = 'b1 in sl') = rulekeeper.activation_epoch('sl') AS same_as_noted;
-- The site-wide form is still there, named arguments too.
CALL rulekeeper.wait_for_epoch(0, 10);
CALL rulekeeper.wait_for_epoch(channel => 'prod', after => -1, timeout_ms => 0);
-- Not inside a transaction block, like the site-wide form.
BEGIN;
CALL rulekeeper.wait_for_epoch('prod', 0, 10);
ROLLBACK;

-- A cutover moves both rules into prod in one transaction: prod advances
-- once (both rows carry the same epoch), sl does not move.
SELECT rulekeeper.transition('ch.a', '1', 'sl_validated', 'clean') ->> 'to' AS q;
SELECT rulekeeper.transition('ch.b', '1', 'sl_validated', 'clean') ->> 'to' AS q;
SELECT jsonb_array_length(c -> 'moved') AS moved FROM rulekeeper.cutover() c;
SELECT * FROM pg_temp.note('cutover');
SELECT count(*) AS prod_rows, count(DISTINCT epoch) AS prod_epochs,
       max(epoch) = rulekeeper.activation_epoch('prod') AS prod_epoch_is_theirs
  FROM rulekeeper.activation_history WHERE channel = 'prod';

-- A hotfix of a rule SL serves at the same version moves prod and sl: both
-- channels advance, to the same epoch.
INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('ch', ARRAY['/n']);
SELECT h ->> 'label' AS label FROM rulekeeper.hotfix('ch.a', '{"n": "a1 fixed"}', 'typo') h;
SELECT * FROM pg_temp.note('hotfix');
SELECT rulekeeper.activation_epoch('sl') = rulekeeper.activation_epoch('prod') AS one_epoch_for_both,
       (SELECT array_agg(DISTINCT channel ORDER BY channel) FROM rulekeeper.activation WHERE label = '1.1') AS serves_1_1;

-- Activate, deactivate, rollback, pin, unpin: each moves its channel only.
SELECT rulekeeper.activate('ch.b', '2', 'sl') > 0 AS b2_in_sl;
SELECT * FROM pg_temp.note('b2 in sl');
SELECT rulekeeper.deactivate('ch.b', 'sl') > 0 AS b_off_sl;
SELECT * FROM pg_temp.note('b off sl');
SELECT rulekeeper.activate('ch.a', '2', 'sl') > 0 AS a2_in_sl;
SELECT * FROM pg_temp.note('a2 in sl');
SELECT rulekeeper.transition('ch.a', '2', 'sl_validated', 'clean') ->> 'to' AS q;
SELECT rulekeeper.activate('ch.a', '2', 'prod', acknowledge_hotfixes => '{1.1}') > 0 AS a2_in_prod;
SELECT * FROM pg_temp.note('a2 in prod');
SELECT rulekeeper.rollback('ch.a', 'prod') > 0 AS a_rolled_back;
SELECT * FROM pg_temp.note('a rolled back');
SELECT rulekeeper.pin('ch.b', 'prod', '1') > 0 AS b_pinned;
SELECT * FROM pg_temp.note('b pinned');
SELECT rulekeeper.unpin('ch.b', 'prod') > 0 AS b_unpinned;
SELECT * FROM pg_temp.note('b unpinned');
SELECT rulekeeper.deactivate('ch.a', 'prod', acknowledge_hotfixes => '{1.1}') > 0 AS a_off_prod;
SELECT * FROM pg_temp.note('a off prod');

-- The set each channel served after each step, rebuilt from the history.
SELECT s.step, ch.channel,
       (SELECT string_agg(r.rule_key || '@' || r.label || '=' || (r.body ->> 'n'), ' ' ORDER BY r.rule_key)
          FROM rulekeeper.effective_rules(ch.channel, CASE ch.channel WHEN 'sl' THEN s.sl ELSE s.prod END) r) AS served
  FROM seen s CROSS JOIN (VALUES ('sl'), ('prod')) ch(channel)
 ORDER BY s.n, ch.channel DESC;
-- At the current epoch: exactly effective_rules(channel), every column.
SELECT ch, (SELECT count(*) FROM (
         (SELECT * FROM rulekeeper.effective_rules(ch, rulekeeper.activation_epoch(ch))
          EXCEPT ALL SELECT * FROM rulekeeper.effective_rules(ch))
         UNION ALL
         (SELECT * FROM rulekeeper.effective_rules(ch)
          EXCEPT ALL SELECT * FROM rulekeeper.effective_rules(ch, rulekeeper.activation_epoch(ch)))) d) AS differences
  FROM (VALUES ('sl'), ('prod')) c(ch);
-- Before the first activation: nothing.
SELECT count(*) AS before_anything FROM rulekeeper.effective_rules('sl', 0);
SELECT count(*) AS strict_null FROM rulekeeper.effective_rules('sl', NULL);
-- Several changes of one rule in one transaction (one epoch): the last wins.
BEGIN;
SELECT rulekeeper.deactivate('ch.b', 'prod') > 0 AS b_off_prod;
SELECT rulekeeper.activate('ch.b', '1', 'prod') > 0 AS b1_back_in_prod;
SELECT rulekeeper.deactivate('ch.b', 'prod') > 0 AS b_off_prod_again;
COMMIT;
SELECT rule_key, label FROM rulekeeper.effective_rules('prod', rulekeeper.activation_epoch('prod'));
SELECT rule_key, label FROM rulekeeper.effective_rules('prod');
BEGIN;
SELECT rulekeeper.activate('ch.b', '1', 'prod') > 0 AS b1_in_prod;
SELECT rulekeeper.deactivate('ch.b', 'prod') > 0 AS b_off_prod;
SELECT rulekeeper.activate('ch.b', '1', 'prod') > 0 AS b1_back_in_prod;
COMMIT;
SELECT rule_key, label FROM rulekeeper.effective_rules('prod', rulekeeper.activation_epoch('prod'));
SELECT rule_key, label FROM rulekeeper.effective_rules('prod');

-- Epochs keep growing across incarnations (the incarnation is in the high
-- 32 bits): a restore or promotion begins a new incarnation (here: a row
-- under another system identifier, then a new session), and the next epoch
-- is above every earlier one, in every channel.
SELECT (rulekeeper.activation_epoch('prod') >> 32) = rulekeeper.incarnation() AS incarnation_in_high_bits;
SELECT rulekeeper.activation_epoch() AS epoch_before \gset
INSERT INTO rulekeeper.incarnation (incarnation, site, system_identifier, timeline, database_oid)
SELECT max(incarnation) + 1, 'ipc2', 'another cluster', 7, 0 FROM rulekeeper.incarnation;
\c
SELECT rulekeeper.activate('ch.a', '1.1', 'sl') > 0 AS a_1_1_in_sl;
SELECT rulekeeper.incarnation() AS incarnation, rulekeeper.activation_epoch('sl') >> 32 AS sl_high_bits,
       rulekeeper.activation_epoch('prod') >> 32 AS prod_high_bits,
       rulekeeper.activation_epoch('sl') > :epoch_before AS grew,
       rulekeeper.activation_epoch('prod') = :epoch_before AS prod_unchanged;
SELECT rule_key, label FROM rulekeeper.effective_rules('sl', rulekeeper.activation_epoch('prod'));
SELECT rule_key, label FROM rulekeeper.effective_rules('sl', rulekeeper.activation_epoch('sl'));

-- The index serves the poll: one probe, no scan of the history.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT h.epoch FROM rulekeeper.activation_history h
 WHERE h.channel = 'prod' ORDER BY h.epoch DESC LIMIT 1;
RESET enable_seqscan;

-- What a gateway reads for its site: every channel, its epoch, not held.
SELECT channel, current_epoch = rulekeeper.activation_epoch(channel) AS current, held, held_epoch
  FROM rulekeeper.notification_state('ipc1');

-- A reader (a pod, a gateway) may call all of them.
CREATE ROLE rk_pod LOGIN IN ROLE rulekeeper_reader;
SET SESSION AUTHORIZATION rk_pod;
SELECT rulekeeper.activation_epoch('prod') > 0 AS reads_epoch;
SELECT count(*) AS rules FROM rulekeeper.effective_rules('prod', rulekeeper.activation_epoch('prod'));
SELECT count(*) AS channels FROM rulekeeper.notification_state('ipc1');
CALL rulekeeper.wait_for_epoch('prod', 0, 10, NULL);
RESET SESSION AUTHORIZATION;
DROP ROLE rk_pod;

SELECT count(*) AS problems FROM rulekeeper.verify_checksums();
ALTER SYSTEM RESET rulekeeper.site;
ALTER SYSTEM RESET rulekeeper.environment;
SELECT pg_reload_conf();
-- Back to this suite's own settings before the next file starts.
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e1'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
