-- canonical_json() reads jsonb's binary form directly; it must give exactly
-- the bytes of the text route (print the jsonb, parse it, canonicalize:
-- _canonical_json_via_text), which the core's RFC 8785 tests pin. Every
-- checksum of a body depends on this.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;

CREATE TEMP TABLE doc (id serial, j jsonb);
INSERT INTO doc (j) VALUES
  ('{}'), ('[]'), ('{"a": {}}'), ('[[], {}, [[]]]'),
  ('"scalar"'), ('5'), ('null'), ('true'), ('-0'), ('1.50'),
  ('{"b": 1, "a": 2, "aa": 3, "": 4, "B": 5}'),
  -- member order by UTF-16 code units: U+1F600 (surrogates D83D DE00) sorts
  -- before U+E000 and U+FFFD, although its UTF-8 bytes sort after them
  ('{"\ue000": 1, "\ud83d\ude00": 2, "\ufffd": 3, "\u00e9": 4, "z": 5, "\u20ac": 6}'),
  ('{"esc": "q\"b\\s/n\nt\tc\u0001e\u001f\u007f\u2028", "\"k\\": "v"}'),
  ('{"n": [0, -0, 0.0, 1.0, 1e0, 10e-1, 4.50, 2e-3, 1e21, 1e20, 1e-6, 1e-7, 123e-20, -1.5, 5e-324]}'),
  ('{"n": [9007199254740992, 999999999999999, -999999999999999, 1000000000000000, 0.30000000000000004]}'),
  ('{"n": 1.7976931348623157e308, "m": 333333333.3333333, "k": 100000000000000000000000}'),
  ('{"deep": {"x": [1, {"y": [true, false, null, {"z": "\u00fc"}]}]}, "a": [{"b": 2, "a": 1}]}');
-- and a deterministic pseudo-random corpus: mixed keys (ASCII, accented,
-- BMP private use, supplementary), mixed number shapes, nesting
SELECT setseed(0.42);
INSERT INTO doc (j)
SELECT jsonb_object_agg(k, v) FROM (
  SELECT d, (ARRAY['a', 'b', 'ab', 'é', 'z', 'Z', '€', U&'\E000', U&'\+01F600', U&'\+010000', 'key', 'k2', ''])
              [1 + floor(random() * 13)::int] || (floor(random() * 3))::text AS k,
         CASE floor(random() * 8)::int
           WHEN 0 THEN to_jsonb(floor(random() * 1e6)::bigint - 500000)
           WHEN 1 THEN to_jsonb(round((random() * 1000)::numeric, floor(random() * 6)::int))
           WHEN 2 THEN to_jsonb(md5(random()::text))
           WHEN 3 THEN jsonb_build_array(random() < 0.5, NULL, floor(random() * 100)::int, 'x' || d)
           WHEN 4 THEN jsonb_build_object('b', 1, 'a', jsonb_build_object(U&'\+01F600', 2, U&'\E000', 3))
           WHEN 5 THEN to_jsonb((random() * 10 ^ floor(random() * 40 - 20))::float8)
           WHEN 6 THEN to_jsonb(1e-7::numeric * floor(random() * 100))
           ELSE to_jsonb((random() * 10 ^ floor(random() * 40 - 20))::numeric(60, 30))  -- mostly inexact
         END AS v
    FROM generate_series(1, 4000) d) x
GROUP BY d % 500;

-- Refused for two reasons at once: both routes name the depth (the text
-- route parses before it judges numbers; the direct one checks depth first).
INSERT INTO doc (j) VALUES
  (('{"a": 9007199254740993, "b": ' || repeat('[', 257) || repeat(']', 257) || '}')::jsonb),
  (('[1e400, ' || repeat('[', 257) || repeat(']', 257) || ']')::jsonb);

-- Each route's result, or its SQLSTATE when it refuses the document.
CREATE FUNCTION pg_temp.route(j jsonb, direct boolean) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN CASE WHEN direct THEN rulekeeper.canonical_json(j) ELSE rulekeeper._canonical_json_via_text(j) END;
EXCEPTION WHEN OTHERS THEN
  RETURN 'ERROR ' || SQLSTATE;
END $$;
-- no document where the two routes disagree, and both kinds (accepted,
-- refused) are in the corpus
SELECT count(*) AS documents,
       count(*) FILTER (WHERE pg_temp.route(j, true) LIKE 'ERROR%') AS refused,
       count(*) FILTER (WHERE pg_temp.route(j, true) IS DISTINCT FROM pg_temp.route(j, false)) AS disagreements
  FROM doc;
SELECT id, rulekeeper.canonical_json(j) FROM doc WHERE id <= 17 ORDER BY id;
-- content_sha256 is the SHA-256 of those bytes
SELECT count(*) FILTER (WHERE rulekeeper.content_sha256(j)
                              <> encode(sha256(convert_to(rulekeeper._canonical_json_via_text(j), 'UTF8')), 'hex'))
         AS checksum_disagreements
  FROM doc WHERE jsonb_typeof(j) = 'object' AND pg_temp.route(j, false) NOT LIKE 'ERROR%';

-- the same refusals on both routes: numbers a double cannot hold, bodies
-- that are not objects, nesting beyond 256 levels
SELECT rulekeeper.canonical_json('{"n": 9007199254740993}');
SELECT rulekeeper._canonical_json_via_text('{"n": 9007199254740993}');
SELECT rulekeeper.canonical_json('[1e400]');
SELECT rulekeeper.content_sha256('[1, 2]');
SELECT rulekeeper.content_sha256('"x"');
SELECT length(rulekeeper.canonical_json((repeat('[', 256) || repeat(']', 256))::jsonb));
SELECT length(rulekeeper._canonical_json_via_text((repeat('[', 256) || repeat(']', 256))::jsonb));
SELECT rulekeeper.canonical_json((repeat('[', 257) || repeat(']', 257))::jsonb);
SELECT rulekeeper._canonical_json_via_text((repeat('[', 257) || repeat(']', 257))::jsonb);
