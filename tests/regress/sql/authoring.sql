-- Authoring at e1: rules, versions with labels, content checksums computed
-- in C++, the journal with a gapless origin_seq, the version vector and the
-- bucketed snapshot checksum.
-- Every test starts from a fresh install in the shared regression database.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;

SHOW rulekeeper.site;
SHOW rulekeeper.environment;

SELECT rulekeeper.create_rule('pricing.discount', 'pricing', 'discount by tier');
SELECT rulekeeper.create_rule('risk.limit', 'risk');
SELECT rulekeeper.create_version('pricing.discount', '{"rate": 0.1, "tiers": [1, 2, 3], "name": "summer"}');
SELECT rulekeeper.create_version('pricing.discount', '{"rate": 0.15, "tiers": [1, 2, 3], "name": "summer"}');
SELECT rulekeeper.create_version('risk.limit', '{"max": 1000, "currency": "EUR", "note": "größer"}');

SELECT rule_key, label, version, hotfix, qualification, origin, origin_site, bucket, content_sha256
  FROM rulekeeper.rule_version ORDER BY rule_key, version, hotfix;

-- content_sha256 is SHA-256 of the JCS form; the bucket is the first 12 bits
-- of SHA-256(rule_key).
SELECT rulekeeper.canonical_json(body) FROM rulekeeper.rule_version WHERE rule_key = 'risk.limit';
SELECT rulekeeper.content_sha256(body) = content_sha256 AS checksum_matches,
       rulekeeper.bucket_of(rule_key) = bucket AS bucket_matches
  FROM rulekeeper.rule_version;
SELECT encode(sha256(convert_to(rulekeeper.canonical_json(body), 'UTF8')), 'hex') = content_sha256 AS same_as_core_sha256
  FROM rulekeeper.rule_version;

SELECT origin_site, origin_incarnation, origin_seq, kind, rule_key, label, actor = session_user AS actor_is_session_user
  FROM rulekeeper.journal ORDER BY origin_seq;
SELECT rulekeeper.version_vector();
SELECT site, incarnation, timeline FROM rulekeeper.incarnation;

-- Every version row points at the journal entry that made it.
SELECT v.label, j.kind, j.origin_seq FROM rulekeeper.rule_version v JOIN rulekeeper.journal j USING (change_id)
  ORDER BY j.origin_seq;

-- The snapshot checksum (its independent recomputation from the definition
-- lives in tests/integration/independent_checksum.py).
SELECT rulekeeper.snapshot_checksum('all');
SELECT count(*) AS buckets, bool_and(length(sum) = 64) AS all_hex FROM rulekeeper.checksum_buckets('all');
SELECT rulekeeper.snapshot_checksum('prod') AS nothing_active_in_prod;

-- Many versions in one statement; every call is its own statement inside.
SELECT count(*) FROM (
  SELECT rulekeeper.create_version('risk.limit', jsonb_build_object('max', g)) FROM generate_series(1, 500) g
) s;
SELECT max(origin_seq) = count(*) AS gapless, count(*) AS entries FROM rulekeeper.journal;
SELECT rulekeeper.version_vector();
SELECT count(*) AS tampered FROM rulekeeper.verify_checksums();

-- A transaction that aborts leaves no trace: no version, no journal entry,
-- no bucket change.
SELECT rulekeeper.snapshot_checksum() AS before_abort \gset
BEGIN;
SELECT rulekeeper.create_version('pricing.discount', '{"rate": 0.99}');
ROLLBACK;
SELECT rulekeeper.snapshot_checksum() = :'before_abort' AS unchanged_after_abort;
SELECT max(origin_seq) = count(*) AS still_gapless FROM rulekeeper.journal;

-- Appending to the journal never scans it: origin_seq is read once per
-- transaction from the origin index, then counted in memory. (With the max
-- looked up by a saved plan per entry, a journal vacuumed while small made
-- that plan a sequential scan per entry: quadratic in the transaction.)
-- The planner is told to avoid index scans, as stale statistics can make it
-- choose (the ANALYZE invalidates saved plans, so they are planned again
-- under these settings); the appends must not care. Inside a transaction
-- block the view's counters only grow: the difference is this transaction's.
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SET enable_bitmapscan = off;
VACUUM ANALYZE rulekeeper.journal;
BEGIN;
SELECT seq_scan AS scans_before FROM pg_stat_xact_user_tables WHERE relid = 'rulekeeper.journal'::regclass \gset
SELECT count(*) FROM (
  SELECT rulekeeper.create_version('risk.limit', jsonb_build_object('max', g)) FROM generate_series(1, 300) g
) s;
SELECT seq_scan - :scans_before AS journal_seq_scans_by_300_appends FROM pg_stat_xact_user_tables
 WHERE relid = 'rulekeeper.journal'::regclass;
COMMIT;
RESET enable_indexscan;
RESET enable_indexonlyscan;
RESET enable_bitmapscan;
SELECT max(origin_seq) = count(*) AS gapless_after_counting_in_memory FROM rulekeeper.journal;

-- A statement's version entries are queued by the row trigger and written
-- together by the statement trigger: the entry of a row that an aborted
-- subtransaction took back is dropped with it, never written; the entries
-- of a multi-row insert take consecutive origin_seq in row order.
DO $$
BEGIN
  BEGIN
    INSERT INTO rulekeeper.rule_version (rule_key, version, body)
    VALUES ('risk.limit', 900, '{"queued": 1}'), ('no.such.rule', 1, '{"queued": 2}');
  EXCEPTION WHEN foreign_key_violation THEN
    RAISE NOTICE 'refused: %', SQLERRM;
  END;
  INSERT INTO rulekeeper.rule_version (rule_key, version, body) VALUES ('risk.limit', 901, '{"queued": 3}');
END
$$;
SELECT label, kind FROM rulekeeper.journal WHERE label IN ('900', '901') ORDER BY label;
SELECT count(*) AS versions_without_entry FROM rulekeeper.rule_version v
 WHERE NOT EXISTS (SELECT 1 FROM rulekeeper.journal j WHERE j.change_id = v.change_id);
INSERT INTO rulekeeper.rule_version (rule_key, version, body)
SELECT 'risk.limit', 910 + g, jsonb_build_object('g', g) FROM generate_series(1, 3) g;
SELECT j.label, j.origin_seq - min(j.origin_seq) OVER () AS seq_offset,
       j.payload = jsonb_build_object('content_sha256', v.content_sha256, 'qualification', v.qualification,
                                      'origin', v.origin) AS payload_as_before
  FROM rulekeeper.journal j JOIN rulekeeper.rule_version v USING (change_id)
 WHERE j.label IN ('911', '912', '913') ORDER BY j.origin_seq;
SELECT max(origin_seq) = count(*) AS still_gapless FROM rulekeeper.journal;
