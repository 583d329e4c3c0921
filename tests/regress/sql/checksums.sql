-- Checksums stay exact through savepoints and reveal tampering that went
-- around the triggers.
-- Every test starts from a fresh install in the shared regression database.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;
SELECT rulekeeper.create_rule('a', 'rs');
SELECT rulekeeper.create_rule('b', 'rs');

-- Subtransactions: a rolled-back savepoint's versions leave no checksum trace,
-- a released savepoint's do.
BEGIN;
SELECT rulekeeper.create_version('a', '{"n": 1}');
SAVEPOINT s1;
SELECT rulekeeper.create_version('a', '{"n": 2}');
SAVEPOINT s2;
SELECT rulekeeper.create_version('b', '{"n": 3}');
ROLLBACK TO SAVEPOINT s2;
RELEASE SAVEPOINT s1;
SAVEPOINT s3;
SELECT rulekeeper.create_version('b', '{"n": 4}');
ROLLBACK TO SAVEPOINT s3;
SELECT rulekeeper.create_version('b', '{"n": 5}');
COMMIT;
SELECT rule_key, label, body FROM rulekeeper.rule_version ORDER BY rule_key, label;
SELECT origin_seq, kind, rule_key, label FROM rulekeeper.journal ORDER BY origin_seq;
SELECT count(*) AS problems FROM rulekeeper.verify_checksums();

-- PL/pgSQL exception blocks are subtransactions too.
DO $$
BEGIN
  FOR i IN 1..50 LOOP
    BEGIN
      PERFORM rulekeeper.create_version('a', jsonb_build_object('loop', i));
      IF i % 2 = 0 THEN RAISE EXCEPTION 'roll this one back'; END IF;
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
  END LOOP;
END $$;
SELECT count(*) AS versions_of_a FROM rulekeeper.rule_version WHERE rule_key = 'a';
SELECT max(origin_seq) = count(*) AS gapless FROM rulekeeper.journal;
SELECT count(*) AS problems FROM rulekeeper.verify_checksums();

-- INSERT ... ON CONFLICT DO NOTHING: the BEFORE trigger ran, the row did not
-- land, so neither its checksum nor a journal entry may count.
SELECT rulekeeper.snapshot_checksum() AS before \gset
SELECT count(*) AS journal_before FROM rulekeeper.journal \gset
INSERT INTO rulekeeper.rule_version (rule_key, version, body) VALUES ('a', 1, '{"n": 99}') ON CONFLICT DO NOTHING;
SELECT rulekeeper.snapshot_checksum() = :'before' AS checksum_unchanged;
SELECT count(*) = :journal_before AS journal_unchanged FROM rulekeeper.journal;
SELECT count(*) AS problems FROM rulekeeper.verify_checksums();

-- Tampering that goes around the triggers (a superuser disabling them) is
-- found by verify_checksums(): a changed body, then a deleted version.
ALTER TABLE rulekeeper.rule_version DISABLE TRIGGER USER;
UPDATE rulekeeper.rule_version SET body = '{"n": 666}' WHERE rule_key = 'b' AND label = '1';
SELECT rule_key, label, problem, stored = rulekeeper.content_sha256('{"n": 5}') AS stored_is_original,
       recomputed = rulekeeper.content_sha256('{"n": 666}') AS recomputed_is_tampered
  FROM rulekeeper.verify_checksums();
UPDATE rulekeeper.rule_version SET body = '{"n": 5}' WHERE rule_key = 'b' AND label = '1';
SELECT count(*) AS problems_after_repair FROM rulekeeper.verify_checksums();
DELETE FROM rulekeeper.rule_version WHERE rule_key = 'a' AND label = '1';
SELECT rule_key, label, problem FROM rulekeeper.verify_checksums();
ALTER TABLE rulekeeper.rule_version ENABLE TRIGGER USER;
