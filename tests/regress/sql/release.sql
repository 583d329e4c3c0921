-- Releases and channels on one server: three databases stand in for e1, e2
-- and the E3 primary (the environment is switched with ALTER SYSTEM between
-- steps). Multi-node behaviour (standbys, failover) is in tests/integration.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP DATABASE IF EXISTS rk_e1;
DROP DATABASE IF EXISTS rk_e2;
DROP DATABASE IF EXISTS rk_e3;
CREATE DATABASE rk_e1;
CREATE DATABASE rk_e2;
CREATE DATABASE rk_e3;
RESET client_min_messages;

-- e1: author three versions of one rule and one of another, export them.
\c rk_e1
\set SHOW_CONTEXT never
CREATE EXTENSION rulekeeper;
SELECT rulekeeper.create_rule('pricing', 'pricing'), rulekeeper.create_rule('risk', 'risk');
SELECT rulekeeper.create_version('pricing', '{"rate": 1}'), rulekeeper.create_version('pricing', '{"rate": 2}'),
       rulekeeper.create_version('pricing', '{"rate": 3}'), rulekeeper.create_version('risk', '{"max": 10}');
SELECT rulekeeper.export_release() AS b1 \gset
SELECT :'b1'::jsonb -> 'source' AS source, jsonb_array_length(:'b1'::jsonb -> 'versions') AS versions,
       jsonb_array_length(:'b1'::jsonb -> 'rules') AS rules,
       rulekeeper._jcs_sha256(:'b1'::jsonb - 'bundle_sha256' - 'signature') = :'b1'::jsonb ->> 'bundle_sha256' AS checksum_ok;
-- Signed with this instance's key (run_pg_tester.sh makes one), which each
-- importing database below trusts for the environment it stands in for.
SELECT :'b1'::jsonb -> 'signature' ->> 'algorithm' AS algorithm,
       :'b1'::jsonb -> 'signature' ->> 'key_id' = (SELECT key_id FROM rulekeeper.signing_public_key()) AS by_this_key;
SELECT jsonb_array_length(rulekeeper.export_release(ARRAY['risk']) -> 'versions') AS risk_only;
SELECT rulekeeper.export_release(ARRAY['nope']);
-- Tampered copies for later.
SELECT jsonb_set(:'b1'::jsonb, '{versions,0,body}', '{"rate": 100}') AS tampered_body \gset
SELECT jsonb_set(:'b1'::jsonb, '{bundle_sha256}', to_jsonb(repeat('0', 64))) AS tampered_sum \gset
SELECT jsonb_set(:'b1'::jsonb, '{format}', '"rulekeeper-bundle/2"') AS wrong_format \gset
-- A bundle whose body was changed *and* re-checksummed by hand: the
-- version's own content_sha256 still catches it.
SELECT (jsonb_set(:'b1'::jsonb, '{versions,0,body}', '{"rate": 100}') - 'bundle_sha256' - 'signature') AS resealed \gset
SELECT :'resealed'::jsonb || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(:'resealed'::jsonb)) AS resealed \gset
-- A rule leaving e1 once: the source marks what it exported as promoted.
SELECT count(*) AS promoted FROM (SELECT rulekeeper.transition(rule_key, label, 'promoted', 'imported at e2')
                                    FROM rulekeeper.rule_version) t;

-- e2: import; a second import changes nothing; bad bundles change nothing.
ALTER SYSTEM SET rulekeeper.site = 'e2';
ALTER SYSTEM SET rulekeeper.environment = 'e2';
SELECT pg_reload_conf();
\c rk_e2
\set SHOW_CONTEXT never
-- A backend applies a reloaded settings file between statements, never inside
-- one: wait for it with up to 500 statements of their own (\gexec, not echoed),
-- each sleeping 10 ms only while the new value is not visible yet (5 s at most;
-- the query after the wait shows the values, so a reload that never arrives fails).
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.site'') <> ''e2'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
CREATE EXTENSION rulekeeper;
SELECT t ->> 'environment' AS trusted_for FROM rulekeeper.signing_public_key() k,
       rulekeeper.trust_key('e1', k.public_key, 'regress: this instance stands in for e1') t;
SELECT rulekeeper.import_release(:'tampered_body');
SELECT rulekeeper.import_release(:'tampered_sum');
SELECT rulekeeper.import_release(:'wrong_format');
SELECT rulekeeper.import_release(:'resealed');
SELECT rulekeeper.import_release('[1, 2]');
SELECT count(*) AS nothing_yet FROM rulekeeper.rule_version;
SELECT r - 'release_id' - 'bundle_sha256' - 'signature' AS report, r -> 'signature' ->> 'verified' AS signature_verified,
       r -> 'signature' ->> 'environment' AS signed_for
  FROM rulekeeper.import_release(:'b1') r;
SELECT r ->> 'already_imported' AS again, r ->> 'imported' AS imported, r ->> 'skipped' AS skipped
  FROM rulekeeper.import_release(:'b1') r;
SELECT rule_key, label, qualification, origin, origin_site, created_by = session_user AS by_me
  FROM rulekeeper.rule_version ORDER BY rule_key, label;
SELECT rulekeeper.transition(rule_key, label, 'test_passed', 'suite green') ->> 'to' AS q
  FROM rulekeeper.rule_version ORDER BY rule_key, label;
SELECT rulekeeper.export_release() AS b2 \gset

-- e3 (the primary, ipc2): a bundle from e1 skips e2 and is refused.
ALTER SYSTEM SET rulekeeper.site = 'ipc2';
ALTER SYSTEM SET rulekeeper.environment = 'e3';
SELECT pg_reload_conf();
\c rk_e3
\set SHOW_CONTEXT never
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.site'') <> ''ipc2'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
CREATE EXTENSION rulekeeper;
SELECT t ->> 'environment' AS trusted_for FROM rulekeeper.signing_public_key() k,
       rulekeeper.trust_key('e2', k.public_key, 'regress: this instance stands in for e2') t;
SELECT rulekeeper.import_release(:'b1');
SELECT r ->> 'imported' AS imported, r ->> 'drift' AS drift, r ->> 'pre_checksum' = repeat('0', 64) AS was_empty
  FROM rulekeeper.import_release(:'b2') r;
SELECT rule_key, label, qualification FROM rulekeeper.rule_version ORDER BY rule_key, label;
-- Same label, different content (resealed and signed by a trusted key): refused.
SELECT rulekeeper.import_release(rulekeeper.sign_bundle(
  jsonb_set(jsonb_set(:'b2'::jsonb - 'bundle_sha256' - 'signature', '{versions,0,body}', '{"rate": 111}'),
            '{versions,0,content_sha256}', to_jsonb(rulekeeper.content_sha256('{"rate": 111}')))
  || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(
       jsonb_set(jsonb_set(:'b2'::jsonb - 'bundle_sha256' - 'signature', '{versions,0,body}', '{"rate": 111}'),
                 '{versions,0,content_sha256}', to_jsonb(rulekeeper.content_sha256('{"rate": 111}')))))));

-- SL1: prod on 1, SL testing 2, both pinned; 3 released; neither moves.
SELECT rulekeeper.activate('pricing', '1', 'prod');
SELECT rulekeeper.activate('pricing', '1', 'sl') AS e;
SELECT rulekeeper.transition('pricing', '1', 'sl_validated', 'soft launch clean');
SELECT rulekeeper.activate('pricing', '1', 'prod') AS e;
SELECT rulekeeper.pin('pricing', 'prod', '1') AS e;
SELECT rulekeeper.pin('pricing', 'sl', '2') AS e;
SELECT rulekeeper.activate('pricing', '3', 'sl');
SELECT rulekeeper.activate('pricing', '3', 'prod');
SELECT rule_key, sl_label, sl_pinned, prod_label, prod_pinned, sl_rollback_to, prod_rollback_to FROM rulekeeper.rule_state;
SELECT label, lifecycle, pinned_in FROM rulekeeper.version_state WHERE rule_key = 'pricing' ORDER BY label;
-- SL2: SL unpinned and switched to 3; 2 shows inactive_sl and stays available for rollback.
SELECT rulekeeper.unpin('pricing', 'sl') AS e;
SELECT rulekeeper.activate('pricing', '3', 'sl') AS e;
SELECT label, lifecycle FROM rulekeeper.version_state WHERE rule_key = 'pricing' ORDER BY label;
-- SL3b: defects in 3: failed, SL rolls back to 2; neither 3 nor 2 may enter prod.
SELECT rulekeeper.transition('pricing', '3', 'sl_failed', 'defect 4711') ->> 'to' AS q;
SELECT rulekeeper.rollback('pricing', 'sl') AS e;
SELECT rulekeeper.effective_version('pricing', 'sl') AS sl_now;
SELECT rulekeeper.unpin('pricing', 'prod') AS e;
SELECT rulekeeper.activate('pricing', '3', 'prod');
SELECT rulekeeper.activate('pricing', '2', 'prod');
SELECT rulekeeper.activate('pricing', '3', 'sl');
-- Optimistic concurrency: an operator who looked before the last change is told.
SELECT rulekeeper.activate('pricing', '2', 'sl', expected_epoch => 1);
SELECT sl_epoch AS seen FROM rulekeeper.rule_state WHERE rule_key = 'pricing' \gset
SELECT rulekeeper.activate('pricing', '2', 'sl', expected_epoch => :seen) = :seen AS unchanged_is_a_noop;
-- Unknown rule, unknown version, unknown channel.
SELECT rulekeeper.activate('nope', '1', 'sl');
SELECT rulekeeper.activate('pricing', '9', 'sl');
SELECT rulekeeper.activate('pricing', '2', 'blue');
-- Green becomes blue: cutover moves what SL validated, says why the rest stays.
SELECT rulekeeper.activate('risk', '1', 'sl') AS e;
SELECT rulekeeper.transition('pricing', '2', 'sl_validated', 'soft launch clean') ->> 'to' AS q;
SELECT c - 'epoch' AS cutover FROM rulekeeper.cutover() c;
SELECT rule_key, sl_label, prod_label, prod_rollback_to FROM rulekeeper.rule_state ORDER BY rule_key;
-- SL4-like: prod rollback puts 1 straight back.
SELECT rulekeeper.rollback('pricing', 'prod') AS e;
SELECT label, lifecycle FROM rulekeeper.version_state WHERE rule_key = 'pricing' ORDER BY label;
SELECT rule_key, label, body FROM rulekeeper.effective_rules('prod');
-- Epochs: one per transaction, in commit order, all in incarnation 1.
SELECT epoch >> 32 AS incarnation, epoch & 4294967295 AS n, channel, rule_key, label, previous_label, action
  FROM rulekeeper.activation_history ORDER BY epoch, channel;
SELECT rulekeeper.activation_epoch() & 4294967295 AS latest;
CALL rulekeeper.wait_for_epoch(0, 100);
BEGIN;
CALL rulekeeper.wait_for_epoch(0, 100);
ROLLBACK;

-- Drift: a change at E3 that went around the rules (a direct insert by the
-- admin: no hotfix record) between two releases is detected, the next planned
-- version of that rule is annotated 'unknown', and prod admits it only
-- acknowledged. (Real hotfixes and their classification: hotfix.sql.)
INSERT INTO rulekeeper.rule_version (rule_key, version, hotfix, body, qualification, origin, parent_label)
VALUES ('pricing', 1, 1, '{"rate": 1.5}', 'hotfix', 'hotfix', '1');
\c rk_e1
\set SHOW_CONTEXT never
ALTER SYSTEM SET rulekeeper.site = 'e1';
ALTER SYSTEM SET rulekeeper.environment = 'e1';
SELECT pg_reload_conf();
\c rk_e1
\set SHOW_CONTEXT never
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.site'') <> ''e1'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
SELECT rulekeeper.create_version('pricing', '{"rate": 4}');
SELECT rulekeeper.export_release() AS b3 \gset
ALTER SYSTEM SET rulekeeper.site = 'e2';
ALTER SYSTEM SET rulekeeper.environment = 'e2';
SELECT pg_reload_conf();
\c rk_e2
\set SHOW_CONTEXT never
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.site'') <> ''e2'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
SELECT r ->> 'imported' AS imported, r ->> 'drift' AS drift FROM rulekeeper.import_release(:'b3') r;
SELECT rulekeeper.transition('pricing', '4', 'test_passed', 'green') ->> 'to' AS q;
SELECT rulekeeper.export_release() AS b4 \gset
ALTER SYSTEM SET rulekeeper.site = 'ipc2';
ALTER SYSTEM SET rulekeeper.environment = 'e3';
SELECT pg_reload_conf();
\c rk_e3
\set SHOW_CONTEXT never
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.site'') <> ''ipc2'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
SELECT r ->> 'imported' AS imported, r ->> 'drift' AS drift, r -> 'drifted_rules' AS drifted_rules,
       r -> 'annotated' AS annotated
  FROM rulekeeper.import_release(:'b4') r;
SELECT rulekeeper.activate('pricing', '4', 'sl') AS e;
SELECT rulekeeper.transition('pricing', '4', 'sl_validated', 'clean') ->> 'to' AS q;
SELECT rulekeeper.activate('pricing', '4', 'prod');
SELECT rulekeeper.cutover();
-- NULL acknowledges nothing: the same refusal.
SELECT rulekeeper.cutover(NULL, NULL);
SELECT c -> 'moved' AS moved FROM rulekeeper.cutover(acknowledge => true) c;
SELECT kind, label, payload ->> 'hotfix_included' AS hotfix_included, payload -> 'hotfixes' AS hotfixes
  FROM rulekeeper.journal WHERE kind = 'acknowledgement';
SELECT max(origin_seq) = count(*) AS gapless FROM rulekeeper.journal;
SELECT count(*) AS problems FROM rulekeeper.verify_checksums();

\c rulekeeper_regress
ALTER SYSTEM RESET rulekeeper.site;
ALTER SYSTEM RESET rulekeeper.environment;
SELECT pg_reload_conf();
-- Back to this suite's own settings before the next file starts.
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.site'') <> ''e1'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
SET client_min_messages = warning;
DROP DATABASE rk_e1;
DROP DATABASE rk_e2;
DROP DATABASE rk_e3;
