-- JSON text typed by a person (issue 15 items 7 and 27): create_version,
-- hotfix and import_changes given text read it with the core's strict
-- reader before jsonb sees it. jsonb keeps the last of duplicate keys
-- without a word and rewrites numbers; here a duplicate key is refused,
-- named, and an inexact number is quoted as the author wrote it.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;
-- This suite's own settings (e1), whatever the file before left.
ALTER SYSTEM RESET rulekeeper.site;
ALTER SYSTEM RESET rulekeeper.environment;
SELECT pg_reload_conf();
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e1'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
SELECT rulekeeper.create_rule('r', 'rs');
SELECT count(*) AS journal_before FROM rulekeeper.journal \gset

-- What jsonb alone does with the same text: the last "rate" wins.
SELECT '{"rate": 1, "rate": 2}'::jsonb AS jsonb_keeps_the_last;
-- Duplicate keys, at the top and nested: refused, the key named.
SELECT rulekeeper.create_version('r', '{"rate": 1, "rate": 2}');
SELECT rulekeeper.create_version('r', '{"tiers": [{"min": 1, "max": 2, "min": 3}]}');
-- An inexact number: the hint quotes the literal as written, not jsonb's
-- rewrite of it ("1e400" would come back as 400 digits, cut at 80).
SELECT rulekeeper.create_version('r', '{"huge": 1e400}');
SELECT rulekeeper.create_version('r', '{"id": 9007199254740993e0}');
-- \u0000 (jsonb cannot hold it) and nesting past 256 levels.
SELECT rulekeeper.create_version('r', '{"a": "x\u0000y"}');
SELECT rulekeeper.create_version('r', repeat('[', 257) || repeat(']', 257));
-- Not JSON at all.
SELECT rulekeeper.create_version('r', '{"a": }');
-- A typed jsonb argument is still the jsonb function (what rulectl calls).
SELECT rulekeeper.create_version('r', '{"rate": 1, "rate": 2}'::jsonb) AS label_from_jsonb;
SELECT body FROM rulekeeper.rule_version WHERE rule_key = 'r';
-- Good text works, a big integer included; 1e21 is stored and canonicalized
-- as JCS writes it (1e+21), integers below it digit for digit.
SELECT rulekeeper.create_version('r', '{"rate": 1, "big": 1e21, "below": 100000000000000000000}') AS label;
SELECT rulekeeper.canonical_json(body) FROM rulekeeper.rule_version WHERE rule_key = 'r' AND label = '2';
-- NULL is refused as before (not a JSON object).
SELECT rulekeeper.create_version('r', NULL);

-- hotfix(rule, text, reason): the body is read before anything else.
SELECT rulekeeper.hotfix('r', '{"rate": 1, "rate": 2}', 'dup');
-- import_changes(text): a bundle with a duplicated key is refused.
SELECT rulekeeper.import_changes('{"format": "x", "format": "y"}');
SELECT rulekeeper.import_changes('{"format": "x", "format": "y"}', true);

-- Nothing was journaled by the refusals (two versions were created).
SELECT count(*) - :journal_before AS journal_added FROM rulekeeper.journal;
