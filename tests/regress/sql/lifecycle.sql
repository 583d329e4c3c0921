-- The lifecycle as data: the qualification, transition and admission tables
-- come from the C++ core; the trigger enforces them for transition() and for
-- plain UPDATEs alike, per environment, and records who, when and why.
-- Every test starts from a fresh install in the shared regression database.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;

SELECT * FROM rulekeeper.qualification;
SELECT * FROM rulekeeper.qualification_transition;
SELECT * FROM rulekeeper.channel_admission;

SELECT rulekeeper.create_rule('r', 'rs');
SELECT rulekeeper.create_version('r', '{"v": 1}');
SELECT rulekeeper.create_version('r', '{"v": 2}');
SELECT rulekeeper.transition('r', '1', 'promoted', 'bundle imported at e2');
-- final: nothing leaves promoted
SELECT rulekeeper.transition('r', '1', 'draft', 'undo');

-- At e2, versions arrive in_test (a direct INSERT stands in for an import here).
ALTER SYSTEM SET rulekeeper.environment = 'e2';
ALTER SYSTEM SET rulekeeper.site = 'e2';
SELECT pg_reload_conf();
-- A backend applies a reloaded settings file between statements, never inside
-- one: wait for it with up to 500 statements of their own (\gexec, not echoed),
-- each sleeping 10 ms only while the new value is not visible yet (5 s at most;
-- the query after the wait shows the values, so a reload that never arrives fails).
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.site'') <> ''e2'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
SELECT rulekeeper.create_rule('t', 'rs');
INSERT INTO rulekeeper.rule (rule_key, ruleset) VALUES ('t', 'rs');
INSERT INTO rulekeeper.rule_version (rule_key, version, body, origin) VALUES ('t', 1, '{"v": 1}', 'released');
INSERT INTO rulekeeper.rule_version (rule_key, version, body, origin) VALUES ('t', 2, '{"v": 2}', 'released');
SELECT label, qualification, origin_site FROM rulekeeper.rule_version WHERE rule_key = 't' ORDER BY label;
-- draft -> promoted is an e1 transition: refused at e2.
SELECT rulekeeper.transition('r', '2', 'promoted', 'wrong place');
SELECT rulekeeper.transition('t', '1', 'test_passed', 'suite 42 green');
SELECT rulekeeper.transition('t', '2', 'test_failed', 'suite 43 red');
SELECT rulekeeper.transition('t', '2', 'test_passed', 'retry');
-- A plain UPDATE passes the same trigger and is recorded too.
UPDATE rulekeeper.rule_version SET qualification = 'promoted' WHERE rule_key = 't' AND label = '1';
SELECT rule_key, label, from_qualification, to_qualification, reason, actor = session_user AS by_session_user
  FROM rulekeeper.qualification_history ORDER BY recorded_at, label;
SELECT kind, rule_key, label, payload->>'from' AS "from", payload->>'to' AS "to"
  FROM rulekeeper.journal WHERE kind = 'qualification' ORDER BY origin_site, origin_seq;

-- At e3: SL validates only what SL serves.
ALTER SYSTEM SET rulekeeper.environment = 'e3';
ALTER SYSTEM SET rulekeeper.site = 'ipc2';
SELECT pg_reload_conf();
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.site'') <> ''ipc2'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
INSERT INTO rulekeeper.rule (rule_key, ruleset) VALUES ('p', 'rs');
INSERT INTO rulekeeper.rule_version (rule_key, version, body, origin) VALUES ('p', 1, '{"v": 1}', 'released');
SELECT label, qualification FROM rulekeeper.rule_version WHERE rule_key = 'p';
SELECT rulekeeper.transition('p', '1', 'sl_validated', 'not served yet');
INSERT INTO rulekeeper.activation (channel, rule_key, label, epoch) VALUES ('sl', 'p', '1', 1);
SELECT rulekeeper.transition('p', '1', 'sl_validated', 'soft launch clean for a week');
SELECT rulekeeper.transition('p', '1', 'sl_failed', 'defect found later');
SELECT snapshot = rulekeeper.snapshot_checksum('sl') AS sl_scope_is_the_one_version
  FROM (SELECT rulekeeper.entry_digest('p', '1', content_sha256) AS snapshot
          FROM rulekeeper.rule_version WHERE rule_key = 'p') s;

-- Every site that wrote has its own origin in the version vector.
SELECT rulekeeper.version_vector();

ALTER SYSTEM RESET rulekeeper.site;
ALTER SYSTEM RESET rulekeeper.environment;
SELECT pg_reload_conf();
-- Back to this suite's own settings before the next file starts.
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.site'') <> ''e1'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
