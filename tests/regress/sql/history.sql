-- The journal hash chain (docs/tamper-evidence.md): every entry's hash follows
-- from its fields and the previous entry of its origin — across statements,
-- COPY batches and single appends in one transaction, and after a rolled-back
-- savepoint; verify_history() finds a qualification changed and journal
-- entries deleted or edited behind the triggers; _journal_entry_hash's errors.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;

SELECT rulekeeper.create_rule('h', 'rs') IS NOT NULL AS created;
-- One transaction: a COPY batch of versions, single appends, a savepoint
-- whose entries are rolled back, then more of both.
BEGIN;
INSERT INTO rulekeeper.rule_version (rule_key, version, body) SELECT 'h', g, jsonb_build_object('v', g)
  FROM generate_series(1, 3) g;
SELECT rulekeeper.transition('h', '1', 'promoted', 'first') ->> 'to' AS to;
SAVEPOINT s;
SELECT rulekeeper.create_version('h', '{"v": 4}') AS rolled_back_label;
SELECT rulekeeper.transition('h', '2', 'promoted', 'rolled back') ->> 'to' AS to;
ROLLBACK TO SAVEPOINT s;
SELECT rulekeeper.create_version('h', '{"v": 5}') AS label;
SELECT rulekeeper.transition('h', '3', 'promoted', 'third') ->> 'to' AS to;
COMMIT;
SELECT origin_seq, kind, rule_key, label, length(entry_hash) AS hash_length FROM rulekeeper.journal ORDER BY origin_seq;
-- Each hash recomputed from its fields and the previous entry's hash.
SELECT count(*) FILTER (WHERE recomputed = entry_hash) AS linked, count(*) AS entries
  FROM (SELECT j.entry_hash, rulekeeper._journal_entry_hash(
                 COALESCE(lag(j.entry_hash) OVER (ORDER BY j.origin_seq), repeat('0', 64)), j) AS recomputed
          FROM rulekeeper.journal j) x;
SELECT * FROM rulekeeper.verify_history();
SELECT origin_site, origin_incarnation, origin_seq FROM rulekeeper.chain_heads();
SELECT rulekeeper.chain_hash_at('e1', 1, 1) = (SELECT entry_hash FROM rulekeeper.journal WHERE origin_seq = 1)
  AS hash_at_1;
SELECT rulekeeper.chain_hash_at('e1', 1, 99) IS NULL AS none_at_99;

-- Behind the triggers, as a superuser can: each found.
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE rulekeeper.rule_version SET qualification = 'promoted' WHERE rule_key = 'h' AND label = '2';
SELECT problem, origin, origin_seq, rule_key, label, detail FROM rulekeeper.verify_history();
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM rulekeeper.journal WHERE origin_seq = 3;
SELECT problem, origin, origin_seq, rule_key, label FROM rulekeeper.verify_history() ORDER BY 1, 3;
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE rulekeeper.journal SET payload = payload || '{"reason": "another reason"}' WHERE origin_seq = 5;
SELECT problem, origin, origin_seq, rule_key, label FROM rulekeeper.verify_history() ORDER BY 1, 3;
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE rulekeeper.journal SET payload = jsonb_set(payload, '{to}', '"draft"') WHERE origin_seq = 5;
SELECT problem, origin, origin_seq, rule_key, label FROM rulekeeper.verify_history() ORDER BY 1, 3;
ROLLBACK;
SELECT count(*) AS findings_after_rollback FROM rulekeeper.verify_history();

-- What _journal_entry_hash refuses.
SELECT rulekeeper._journal_entry_hash('abc', j) FROM rulekeeper.journal j WHERE origin_seq = 1;
SELECT rulekeeper._journal_entry_hash(repeat('A', 64), j) FROM rulekeeper.journal j WHERE origin_seq = 1;
SELECT rulekeeper._journal_entry_hash(repeat('0', 64), NULL::rulekeeper.journal) IS NULL AS strict;
SELECT rulekeeper._journal_entry_hash(repeat('0', 64), jsonb_populate_record(NULL::rulekeeper.journal,
         '{"change_id": "0b6c2b7e-5f0e-4c43-9d3b-3a1f2f4c8e11", "origin_site": "x", "origin_incarnation": 1,
           "origin_seq": 1, "kind": "k", "payload": {}, "recorded_at": "2026-01-01T00:00:00Z"}'));
-- The fixed form of the core (tests/unit/test_journal_chain.cpp has the same entry).
SELECT rulekeeper._journal_entry_hash(repeat('0', 64), jsonb_populate_record(NULL::rulekeeper.journal,
         '{"change_id": "0b6c2b7e-5f0e-4c43-9d3b-3a1f2f4c8e11", "origin_site": "ipc2", "origin_incarnation": 2,
           "origin_seq": 17, "kind": "qualification", "rule_key": "pricing/rate", "label": "1",
           "payload": {"to": "sl_validated", "from": "sl_failed", "reason": "tab\there"}, "actor": "alice",
           "recorded_at": "2026-12-06T10:06:06.123456Z"}')) AS known_hash;
