-- The C++/PostgreSQL boundary: a failure inside the C++ core (here the
-- canonicalizer refusing an inexact number) arrives as a clean SQL error
-- with its SQLSTATE and hint, the backend survives, and the session, its
-- transaction state and its subtransactions go on working.
-- Every test starts from a fresh install in the shared regression database.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;
\set VERBOSITY default

SELECT rulekeeper.canonical_json('{"n": 9007199254740993}');
SELECT 1 AS session_still_works;

-- The same failure, many times in one session: no leak, no crash, no stale lock.
DO $$
BEGIN
  FOR i IN 1..2000 LOOP
    BEGIN
      PERFORM rulekeeper.content_sha256('{"n": 1e400}');
    EXCEPTION WHEN numeric_value_out_of_range THEN
      NULL;
    END;
  END LOOP;
END $$;
SELECT 'survived 2000 caught C++ failures' AS result;

-- The guard's two promises, shown directly: with a C++ object alive, a
-- PostgreSQL error (keeping its own SQLSTATE) and a C++ exception each arrive
-- as a clean SQL error, and the object's destructor ran both times.
SELECT rulekeeper._boundary_selftest('count') AS destructors_before \gset
SELECT rulekeeper._boundary_selftest('pg');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT rulekeeper._boundary_selftest('cpp');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT rulekeeper._boundary_selftest('count') - :destructors_before AS destructors_run;

-- Savepoints around a failing version keep the journal gapless.
SELECT rulekeeper.create_rule('r', 'rs');
BEGIN;
SELECT rulekeeper.create_version('r', '{"a": 1}');
SAVEPOINT s1;
SELECT rulekeeper.create_version('r', '{"n": 123456789012345678901234567890}');
ROLLBACK TO SAVEPOINT s1;
SELECT rulekeeper.create_version('r', '{"a": 2}');
COMMIT;
SELECT label, qualification FROM rulekeeper.rule_version ORDER BY label;
-- The journal stayed gapless across the rolled-back savepoint.
SELECT origin_seq, kind, label FROM rulekeeper.journal ORDER BY origin_seq;

-- A C++ failure inside a trigger while a statement is half done aborts only
-- that statement: nothing half-written.
SELECT count(*) AS versions_before FROM rulekeeper.rule_version;
INSERT INTO rulekeeper.rule_version (rule_key, version, body)
VALUES ('r', 10, '{"ok": true}'), ('r', 11, '{"bad": 1e999}');
SELECT count(*) AS versions_after FROM rulekeeper.rule_version;
SELECT * FROM rulekeeper.verify_checksums();

-- guarded() never nests: one called from inside a guarded body is refused
-- before its body runs (that body would say "ran"), the outer body unwinds
-- (its object's destructor runs) and the refusal arrives as a clean
-- internal error. The session's next guarded call works.
SELECT rulekeeper._boundary_selftest('count') AS destructors_before \gset
SELECT rulekeeper._boundary_selftest('nested');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT rulekeeper._boundary_selftest('count') - :destructors_before AS destructors_run;
SELECT rulekeeper.canonical_json('{"b": 1, "a": 2}') AS guarded_still_works;

-- An ereport that leaves a guarded body without pg_call (the rule broken on
-- purpose) is not taken for a nested guarded() afterwards: the guard forgets
-- the body when the transaction aborts ...
SELECT rulekeeper._boundary_selftest('escape');
SELECT rulekeeper.canonical_json('{"b": 1, "a": 2}') AS after_abort;
-- ... and when only a subtransaction aborts, inside the same transaction.
DO $$
BEGIN
  BEGIN
    PERFORM rulekeeper._boundary_selftest('escape');
  EXCEPTION WHEN division_by_zero THEN
    RAISE NOTICE 'caught: %', SQLERRM;
  END;
  RAISE NOTICE 'then: %', rulekeeper.canonical_json('{"b": 1, "a": 2}');
END $$;

-- A failure while a subtransaction commits (folding its checksum deltas into
-- its parent's, at SUBXACT_EVENT_PRE_COMMIT_SUB) is a clean error that
-- aborts that subtransaction only: the caller catches it, the transaction
-- goes on and commits, and the checksum buckets match the rows that remain.
SELECT rulekeeper.create_rule('sub', 'rs');
DO $$
BEGIN
  PERFORM rulekeeper.create_version('sub', '{"kept": 1}');
  BEGIN
    PERFORM rulekeeper.create_version('sub', '{"dropped": 1}');
    PERFORM rulekeeper._boundary_selftest('fail_next_subcommit');
  EXCEPTION WHEN internal_error THEN
    RAISE NOTICE 'caught: %', SQLERRM;
  END;
  PERFORM rulekeeper.create_version('sub', '{"kept": 2}');
END $$;
SELECT label, body FROM rulekeeper.rule_version WHERE rule_key = 'sub' ORDER BY label;
SELECT * FROM rulekeeper.verify_checksums();
-- The same failure at RELEASE SAVEPOINT, with no changes before the savepoint
-- (the subtransaction's deltas become the parent's): PostgreSQL aborts the
-- enclosing transaction too, and nothing of it remains.
BEGIN;
SAVEPOINT s;
SELECT rulekeeper.create_version('sub', '{"lost": 1}');
SELECT rulekeeper._boundary_selftest('fail_next_subcommit') >= 0 AS armed;
RELEASE SAVEPOINT s;
COMMIT;
SELECT label, body FROM rulekeeper.rule_version WHERE rule_key = 'sub' ORDER BY label;
SELECT * FROM rulekeeper.verify_checksums();
-- Without the injected failure the same savepoint commits normally.
BEGIN;
SAVEPOINT s;
SELECT rulekeeper.create_version('sub', '{"kept": 3}');
RELEASE SAVEPOINT s;
COMMIT;
SELECT label, body FROM rulekeeper.rule_version WHERE rule_key = 'sub' ORDER BY label;
SELECT * FROM rulekeeper.verify_checksums();
