-- Blank reasons are refused (issue #13, class 6): a reason made only of white
-- space or invisible characters says nothing. One check, _require_reason
-- (_is_blank in C, include/rulekeeper/reason.hpp), behind transition() and
-- hotfix(), and the hotfix table's CHECK. Each character below, alone and
-- repeated with spaces, is refused by both functions with the same message,
-- and nothing is written. Runs as site ipc2 in environment e3.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;
ALTER SYSTEM SET rulekeeper.site = 'ipc2';
ALTER SYSTEM SET rulekeeper.environment = 'e3';
SELECT pg_reload_conf();
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e3'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;

-- One rule, version 1 in sl and prod, version 2 in sl (a transition to make).
-- The bundle stands for one from e2: signed with this instance's key, trusted
-- for e2 (docs/keys.md).
SELECT t ->> 'environment' AS trusted_for FROM rulekeeper.signing_public_key() k,
       rulekeeper.trust_key('e2', k.public_key, 'regress: this instance stands in for e2') t;
SELECT r ->> 'imported' AS imported FROM rulekeeper.import_release((
  SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b))) FROM (
    SELECT jsonb_build_object('format', 'rulekeeper-bundle/1',
      'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),
      'rules', '[{"rule_key": "why", "ruleset": "why", "description": ""}]'::jsonb,
      'versions', (SELECT jsonb_agg(jsonb_build_object('rule_key', 'why', 'label', l::text,
                     'body', jsonb_build_object('rate', l),
                     'content_sha256', rulekeeper.content_sha256(jsonb_build_object('rate', l))))
                     FROM generate_series(1, 2) l)) b) x)) r;
INSERT INTO rulekeeper.hotfix_policy VALUES ('why', ARRAY['/rate']);
SELECT rulekeeper.activate('why', '1', 'sl') > 0 AS in_sl;
SELECT rulekeeper.transition('why', '1', 'sl_validated', 'soft launch clean') ->> 'to' AS q;
SELECT rulekeeper.activate('why', '1', 'prod') > 0 AS in_prod;
SELECT rulekeeper.activate('why', '2', 'sl') > 0 AS in_sl;
SELECT count(*) AS journal_before FROM rulekeeper.journal \gset

-- What each call answers, as "SQLSTATE message", or "accepted".
CREATE FUNCTION pg_temp.outcome(call text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE call;
  RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
CREATE TEMP TABLE blank (code_point int, name text);
INSERT INTO blank VALUES
  (x'0009'::int, 'tab'), (x'000A'::int, 'line feed'), (x'000B'::int, 'line tabulation'),
  (x'000C'::int, 'form feed'), (x'000D'::int, 'carriage return'), (x'0020'::int, 'space'),
  (x'0085'::int, 'next line'), (x'00A0'::int, 'no-break space'), (x'00AD'::int, 'soft hyphen'),
  (x'1680'::int, 'ogham space mark'), (x'180E'::int, 'mongolian vowel separator'),
  (x'2000'::int, 'en quad'), (x'2001'::int, 'em quad'), (x'2002'::int, 'en space'), (x'2003'::int, 'em space'),
  (x'2004'::int, 'three-per-em space'), (x'2005'::int, 'four-per-em space'), (x'2006'::int, 'six-per-em space'),
  (x'2007'::int, 'figure space'), (x'2008'::int, 'punctuation space'), (x'2009'::int, 'thin space'),
  (x'200A'::int, 'hair space'), (x'200B'::int, 'zero width space'), (x'200C'::int, 'zero width non-joiner'),
  (x'200D'::int, 'zero width joiner'), (x'200E'::int, 'left-to-right mark'), (x'2028'::int, 'line separator'),
  (x'2029'::int, 'paragraph separator'), (x'202F'::int, 'narrow no-break space'),
  (x'205F'::int, 'medium mathematical space'), (x'2060'::int, 'word joiner'), (x'2800'::int, 'braille blank'),
  (x'3000'::int, 'ideographic space'), (x'3164'::int, 'hangul filler'), (x'FE0F'::int, 'variation selector-16'),
  (x'FEFF'::int, 'zero width no-break space');

SELECT 'U+' || lpad(upper(to_hex(code_point)), 4, '0') AS char, name,
       rulekeeper._is_blank(chr(code_point)) AS blank,
       pg_temp.outcome(format('SELECT rulekeeper.transition(%L, %L, %L, %L)', 'why', '2', 'sl_validated',
                              chr(code_point) || ' ' || chr(code_point))) AS transition,
       pg_temp.outcome(format('SELECT rulekeeper.hotfix(%L, %L, %L)', 'why', '{"rate": 1.5}',
                              ' ' || chr(code_point) || chr(code_point))) AS hotfix
  FROM blank ORDER BY code_point;
-- All of them at once, empty and NULL.
SELECT pg_temp.outcome(format('SELECT rulekeeper.hotfix(%L, %L, %L)', 'why', '{"rate": 1.5}',
                              (SELECT string_agg(chr(code_point), '' ORDER BY code_point) FROM blank))) AS all_of_them;
SELECT pg_temp.outcome($$SELECT rulekeeper.hotfix('why', '{"rate": 1.5}', '')$$) AS empty;
SELECT pg_temp.outcome($$SELECT rulekeeper.transition('why', '2', 'sl_validated', NULL)$$) AS null_reason;
-- Nothing was written.
SELECT count(*) - :journal_before AS new_journal_entries FROM rulekeeper.journal;
SELECT count(*) AS hotfixes FROM rulekeeper.hotfix;

-- One visible character among them is a reason.
SELECT rulekeeper.transition('why', '2', 'sl_validated', E'\u3000\u200B.') ->> 'to' AS q;
SELECT rulekeeper.hotfix('why', '{"rate": 1.5}', E'\t\u00A0x') ->> 'label' AS hotfix_label;
SELECT reason = E'\u3000\u200B.' AS kept_as_given FROM rulekeeper.qualification_history
 WHERE rule_key = 'why' AND label = '2';
SELECT reason = E'\t\u00A0x' AS kept_as_given FROM rulekeeper.hotfix;

-- The hotfix table itself refuses a blank reason, whoever writes (the CHECK).
\set VERBOSITY terse
INSERT INTO rulekeeper.hotfix (rule_key, base_label, label, site, diff, reason)
VALUES ('why', '1', '1.1', 'ipc2', '[]', E'\u3000\u200B');
\set VERBOSITY default
