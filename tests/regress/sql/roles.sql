-- Roles: only rulekeeper_admin writes tables directly; the other roles act
-- through the functions their role is granted; PUBLIC gets nothing. And a
-- caller's schema objects, temporary tables or operators cannot redirect what
-- the functions read or write. (The full matrix lives in the hardening tests.)
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;

-- The install created the roles (or found them: a second database may
-- install the extension too).
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'rulekeeper\_%' ORDER BY rolname;
CREATE ROLE rk_reader LOGIN IN ROLE rulekeeper_reader;
CREATE ROLE rk_author LOGIN IN ROLE rulekeeper_author;
CREATE ROLE rk_releaser LOGIN IN ROLE rulekeeper_releaser;
CREATE ROLE rk_admin LOGIN IN ROLE rulekeeper_admin;
CREATE ROLE rk_nobody LOGIN;

-- Every SECURITY DEFINER function pins search_path with pg_temp last, and no
-- function is executable by PUBLIC.
SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'rulekeeper' AND p.prosecdef
   AND NOT coalesce('search_path=pg_catalog, rulekeeper, pg_temp' = ANY (p.proconfig), false);
SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'rulekeeper' AND has_function_privilege('public', p.oid, 'EXECUTE');

-- author: creates rules and versions; cannot write tables directly or change qualifications.
SET SESSION AUTHORIZATION rk_author;
SELECT rulekeeper.create_rule('r', 'rs');
SELECT rulekeeper.create_version('r', '{"v": 1}');
INSERT INTO rulekeeper.rule_version (rule_key, version, body) VALUES ('r', 9, '{"v": 9}');
UPDATE rulekeeper.rule_version SET qualification = 'promoted';
SELECT rulekeeper.transition('r', '1', 'promoted', 'not mine to do');
SELECT label, created_by FROM rulekeeper.rule_version;
RESET SESSION AUTHORIZATION;
SELECT actor FROM rulekeeper.journal ORDER BY origin_seq;

-- releaser: changes qualifications, does not author.
SET SESSION AUTHORIZATION rk_releaser;
SELECT rulekeeper.transition('r', '1', 'promoted', 'bundle imported at e2') ->> 'to' AS now;
SELECT rulekeeper.create_version('r', '{"v": 2}');
RESET SESSION AUTHORIZATION;
SELECT to_qualification, actor FROM rulekeeper.qualification_history;

-- reader: reads, computes checksums, writes nothing.
SET SESSION AUTHORIZATION rk_reader;
SELECT count(*) FROM rulekeeper.rule_version;
SELECT rulekeeper.snapshot_checksum() = rulekeeper.snapshot_checksum('all') AS can_checksum;
SELECT rulekeeper.create_version('r', '{"v": 3}');
SELECT rulekeeper.create_rule('s', 'rs');
DELETE FROM rulekeeper.journal;
RESET SESSION AUTHORIZATION;

-- a login role with no rulekeeper role: nothing at all.
SET SESSION AUTHORIZATION rk_nobody;
SELECT count(*) FROM rulekeeper.rule_version;
SELECT rulekeeper.version_vector();
RESET SESSION AUTHORIZATION;

-- admin: every function, and direct writes to configuration (hotfix_policy)
-- only; history and the state derived from it are written by the functions
-- (docs/permissions.md "What rulekeeper_admin may write directly").
SET SESSION AUTHORIZATION rk_admin;
INSERT INTO rulekeeper.rule_version (rule_key, version, body) VALUES ('r', 2, '{"v": 2}');
SELECT rulekeeper.create_version('r', '{"v": 2}');
UPDATE rulekeeper.rule_version SET body = '{"v": 22}' WHERE label = '2';
INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('rs', ARRAY['/v']);
DELETE FROM rulekeeper.hotfix_policy;
RESET SESSION AUTHORIZATION;
SELECT origin_seq, kind, label, actor FROM rulekeeper.journal ORDER BY origin_seq;

-- Hijack attempts by an author: temporary tables named like the extension's,
-- a schema of their own first on search_path, and an `=` operator on text
-- placed before pg_catalog. None changes what the functions read or write.
CREATE SCHEMA evil;
CREATE FUNCTION evil.always_true(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.always_true);
CREATE TABLE evil.rule (rule_key text, ruleset text);
GRANT USAGE ON SCHEMA evil TO PUBLIC;
GRANT SELECT ON evil.rule TO PUBLIC;
SET SESSION AUTHORIZATION rk_author;
CREATE TEMP TABLE rule_version (rule_key text, version int, body jsonb);
CREATE TEMP TABLE journal (change_id uuid);
SET search_path = pg_temp, evil, pg_catalog, public;
SELECT rulekeeper.create_version('r', '{"v": 3}');
SELECT rulekeeper.create_version('no.such.rule', '{"v": 1}');
SELECT count(*) AS temp_versions_untouched FROM pg_temp.rule_version;
SELECT count(*) AS temp_journal_untouched FROM pg_temp.journal;
RESET search_path;
DROP TABLE pg_temp.rule_version, pg_temp.journal;
RESET SESSION AUTHORIZATION;
SELECT label, qualification FROM rulekeeper.rule_version ORDER BY version;
SELECT rulekeeper.version_vector();
SELECT max(origin_seq) = count(*) AS gapless FROM rulekeeper.journal;

DROP SCHEMA evil CASCADE;
DROP ROLE rk_reader, rk_author, rk_releaser, rk_admin, rk_nobody;
