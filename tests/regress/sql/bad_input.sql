-- Bad input gets a clear error and changes nothing. Each case names what was
-- wrong; the journal, the versions and the checksum are compared before and
-- after.
-- Every test starts from a fresh install in the shared regression database.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;
SELECT rulekeeper.create_rule('r', 'rs');
SELECT rulekeeper.create_version('r', '{"a": 1}');
SELECT count(*) AS journal_before FROM rulekeeper.journal \gset
SELECT rulekeeper.snapshot_checksum() AS checksum_before \gset

-- A body that is not a JSON object.
SELECT rulekeeper.create_version('r', '[1, 2]');
SELECT rulekeeper.create_version('r', '"text"');
SELECT rulekeeper.create_version('r', NULL);
INSERT INTO rulekeeper.rule_version (rule_key, version, body) VALUES ('r', 7, '42');
-- A number that does not survive an IEEE-754 double round trip.
SELECT rulekeeper.create_version('r', '{"id": 9007199254740993}');
SELECT rulekeeper.create_version('r', '{"deep": {"x": [1, 0.1000000000000000055511151231257827]}}');
SELECT rulekeeper.create_version('r', '{"huge": 1e400}');
-- A rule that does not exist.
SELECT rulekeeper.create_version('no.such.rule', '{"a": 1}');
-- A version that does not exist.
SELECT rulekeeper.transition('r', '9', 'promoted', 'release');
SELECT rulekeeper.transition('no.such.rule', '1', 'promoted', 'release');
-- A transition that is not in the table: the message names both qualifications.
SELECT rulekeeper.transition('r', '1', 'sl_validated', 'looks good');
SELECT rulekeeper.transition('r', '1', 'no_such_qualification', 'typo');
UPDATE rulekeeper.rule_version SET qualification = 'test_passed' WHERE rule_key = 'r';
-- A transition without a reason.
SELECT rulekeeper.transition('r', '1', 'promoted', '  ');
-- An UPDATE of a body or a checksum, a DELETE, a TRUNCATE.
UPDATE rulekeeper.rule_version SET body = '{"a": 2}' WHERE rule_key = 'r';
UPDATE rulekeeper.rule_version SET content_sha256 = repeat('0', 64) WHERE rule_key = 'r';
UPDATE rulekeeper.rule_version SET label = '5' WHERE rule_key = 'r';
DELETE FROM rulekeeper.rule_version WHERE rule_key = 'r';
TRUNCATE rulekeeper.rule_version CASCADE;
UPDATE rulekeeper.journal SET actor = 'someone else';
DELETE FROM rulekeeper.journal;
-- A direct INSERT that claims a wrong checksum, label or journal entry.
INSERT INTO rulekeeper.rule_version (rule_key, version, body, content_sha256)
VALUES ('r', 8, '{"a": 8}', repeat('0', 64));
INSERT INTO rulekeeper.rule_version (rule_key, version, label, body) VALUES ('r', 8, '9', '{"a": 8}');
INSERT INTO rulekeeper.rule_version (rule_key, version, body, change_id)
VALUES ('r', 8, '{"a": 8}', '00000000-0000-0000-0000-000000000000');
\set VERBOSITY sqlstate
INSERT INTO rulekeeper.rule_version (rule_key, version, body, change_id)
SELECT 'r', 8, '{"a": 8}', change_id FROM rulekeeper.journal WHERE kind = 'rule';
\set VERBOSITY default
SELECT regexp_replace(:'LAST_ERROR_MESSAGE', '[0-9a-f-]{36}', '<change_id>') AS error;
-- A new version may be born only with an initial qualification of its environment.
INSERT INTO rulekeeper.rule_version (rule_key, version, body, qualification) VALUES ('r', 8, '{"a": 8}', 'sl_validated');
-- A duplicate rule; an empty key or ruleset.
SELECT rulekeeper.create_rule('r', 'rs');
SELECT rulekeeper.create_rule('', 'rs');
SELECT rulekeeper.create_rule('x', '');
-- An unknown checksum scope.
SELECT rulekeeper.snapshot_checksum('everything');

-- Nothing changed.
SELECT count(*) = :journal_before AS journal_unchanged FROM rulekeeper.journal;
SELECT rulekeeper.snapshot_checksum() = :'checksum_before' AS checksum_unchanged;
SELECT label, qualification FROM rulekeeper.rule_version;

-- Authoring outside e1.
ALTER SYSTEM SET rulekeeper.environment = 'e2';
SELECT pg_reload_conf();
-- A backend applies a reloaded settings file between statements, never inside
-- one: wait for it with up to 500 statements of their own (\gexec, not echoed),
-- each sleeping 10 ms only while the new value is not visible yet (5 s at most;
-- the query after the wait shows the values, so a reload that never arrives fails).
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e2'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SHOW rulekeeper.environment;
SELECT rulekeeper.create_rule('r2', 'rs');
SELECT rulekeeper.create_version('r', '{"a": 3}');

-- An unset site: every write refuses, naming the setting.
ALTER SYSTEM SET rulekeeper.site = '';
ALTER SYSTEM SET rulekeeper.environment = '';
SELECT pg_reload_conf();
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> '''' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
SELECT rulekeeper.create_version('r', '{"a": 3}');
SELECT rulekeeper.transition('r', '1', 'promoted', 'release');
INSERT INTO rulekeeper.rule_version (rule_key, version, body) VALUES ('r', 8, '{"a": 8}');
-- A session cannot set them: they are PGC_SIGHUP.
SET rulekeeper.site = 'forged';
SET rulekeeper.environment = 'e1';
-- Nor to a malformed value in the settings file.
ALTER SYSTEM SET rulekeeper.site = 'IPC 2';
ALTER SYSTEM SET rulekeeper.environment = 'e4';

ALTER SYSTEM RESET rulekeeper.site;
ALTER SYSTEM RESET rulekeeper.environment;
SELECT pg_reload_conf();
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e1'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
SELECT count(*) = :journal_before AS journal_still_unchanged FROM rulekeeper.journal;

-- A body beyond rulekeeper.max_body_bytes (64kB in this suite's settings) is
-- refused before any work on it, naming the size and the setting; one under
-- it is taken. A session cannot raise the limit (PGC_SIGHUP).
SHOW rulekeeper.max_body_bytes;
SET rulekeeper.max_body_bytes = '1GB';
SELECT count(*) AS versions_before FROM rulekeeper.rule_version \gset
SELECT rulekeeper.create_version('r', jsonb_build_object('text', repeat('x', 70000)));
SELECT count(*) = :versions_before AS nothing_written FROM rulekeeper.rule_version;
SELECT rulekeeper.create_version('r', jsonb_build_object('text', repeat('x', 60000))) IS NOT NULL AS under_the_limit_taken;
