-- The incarnation a backend remembers is only ever one that committed: a
-- first write recorded inside a savepoint that is rolled back leaves no
-- incarnation row, and the next write records one again. And a journal
-- re-created inside a transaction (DROP/CREATE EXTENSION) starts at 1.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;
BEGIN;
SAVEPOINT s;
SELECT rulekeeper.create_rule('rolled.back', 'rs') IS NOT NULL AS written_then_rolled_back;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT count(*) AS incarnations_after_rollback FROM rulekeeper.incarnation;
SELECT rulekeeper.create_rule('kept', 'rs') IS NOT NULL AS written;
SELECT count(*) AS entries_without_their_incarnation FROM rulekeeper.journal j
 WHERE NOT EXISTS (SELECT 1 FROM rulekeeper.incarnation i
                    WHERE i.site = j.origin_site AND i.incarnation = j.origin_incarnation);
SELECT origin_incarnation, origin_seq, rule_key FROM rulekeeper.journal ORDER BY origin_seq;

BEGIN;
SELECT rulekeeper.create_rule('before.drop', 'rs') IS NOT NULL AS written;
SET LOCAL client_min_messages = warning;
DROP EXTENSION rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
SELECT rulekeeper.create_rule('fresh', 'rs') IS NOT NULL AS written;
COMMIT;
SELECT origin_seq, rule_key FROM rulekeeper.journal ORDER BY origin_seq;
SELECT count(*) AS entries_without_their_incarnation FROM rulekeeper.journal j
 WHERE NOT EXISTS (SELECT 1 FROM rulekeeper.incarnation i
                    WHERE i.site = j.origin_site AND i.incarnation = j.origin_incarnation);
