-- Verifies a bundle (its checksum, then every version's, then that it comes
-- from the environment just before this one, then its signature by a key
-- trusted here for that environment), detects drift since the last
-- release, and inserts what is new in arrival state (e2: in_test, e3:
-- awaiting_sl) — atomically, idempotently.
CREATE FUNCTION rulekeeper.import_release(bundle jsonb, expected_checksum text DEFAULT NULL) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  site text := NULLIF(current_setting('rulekeeper.site', true), '');
  env text := NULLIF(current_setting('rulekeeper.environment', true), '');
  from_env text;
  given text;
  validated jsonb;
  bad record;
  total integer;
  n_imported integer;
  pre text;
  post text;
  last_release rulekeeper.release_log;
  is_drift boolean := false;
  drifted text[] := '{}';
  unexplained integer[] := '{}';
  annotated jsonb := '[]';
  rid uuid;
  -- Taken out of the bundle once: every `bundle -> ...` walks the whole
  -- bundle's header again.
  rules jsonb;
  versions jsonb;
  source jsonb;
  signature jsonb;
BEGIN
  PERFORM rulekeeper._require_site('import_release');
  IF env IS NULL OR env NOT IN ('e2', 'e3') THEN
    RAISE EXCEPTION 'import_release runs at e2 or e3; this is site % in environment %', site, COALESCE(env, '(unset)')
      USING ERRCODE = 'feature_not_supported';
  END IF;
  -- The bundle decompressed once, here: a parameter read from a table is a
  -- TOAST pointer, and each use below (the validation, each `->`) would
  -- fetch and decompress all of it again. `#>` with an empty path hands back
  -- its (detoasted) argument as it is, without rewriting it.
  bundle := bundle #> '{}'::text[];
  -- Everything a bundle must be by itself (format, checksum, shapes, every
  -- version's content_sha256, planned labels, rules carried, the environment
  -- it comes from), checked by the core's validate_bundle: the code rulectl
  -- and the fuzzers run (core/bundle.cpp).
  validated := rulekeeper._validate_bundle(bundle, env, site);
  given := validated ->> 'bundle_sha256';
  from_env := CASE env WHEN 'e2' THEN 'e1' WHEN 'e3' THEN 'e2' END;
  PERFORM rulekeeper._require_environment(env, 'import_release');
  -- Signed by a key trusted here for from_env, over the checksum just
  -- verified (docs/keys.md): before anything is written or locked.
  signature := rulekeeper._check_bundle_signature(validated -> 'signature', 'rulekeeper-bundle/1', given, from_env,
                                                  'release');
  rules := bundle -> 'rules';
  versions := bundle -> 'versions';
  source := bundle -> 'source';

  -- Under the site lock from here: nothing changes between the drift check
  -- and the insert.
  PERFORM rulekeeper._lock_site();
  SELECT r.rule_key, r.ruleset AS theirs, h.ruleset AS ours INTO bad
    FROM jsonb_to_recordset(rules) AS r(rule_key text, ruleset text)
    JOIN rulekeeper.rule h ON h.rule_key = r.rule_key WHERE h.ruleset IS DISTINCT FROM r.ruleset LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'rule "%" is in ruleset % here but % in the bundle', bad.rule_key, bad.ours, bad.theirs
      USING ERRCODE = 'unique_violation';
  END IF;
  -- A label is immutable. Every version's rule is among the bundle's rules
  -- (validate_bundle), so when none of them has a version here yet (a first
  -- release of these rules) no label can clash and the versions need not be
  -- read for it.
  IF EXISTS (SELECT 1 FROM jsonb_to_recordset(rules) AS r(rule_key text)
              WHERE EXISTS (SELECT 1 FROM rulekeeper.rule_version h WHERE h.rule_key = r.rule_key)) THEN
    SELECT v.rule_key, v.label, h.content_sha256 AS here, v.content_sha256 AS theirs INTO bad
      FROM jsonb_to_recordset(versions) AS v(rule_key text, label text, content_sha256 text)
      JOIN rulekeeper.rule_version h ON h.rule_key = v.rule_key AND h.label = v.label
     WHERE h.content_sha256 <> v.content_sha256 LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'version % of rule "%" exists here with different content (here %, in the bundle %)',
        bad.label, bad.rule_key, bad.here, bad.theirs
        USING ERRCODE = 'unique_violation', HINT = 'A label is immutable: the bundle and this site disagree about history.';
    END IF;
  END IF;

  -- Drift: did anything change since the last release (or differ from what
  -- the caller expected)?
  pre := rulekeeper.snapshot_checksum('all');
  SELECT * INTO last_release FROM rulekeeper.release_log ORDER BY imported_at DESC, release_id DESC LIMIT 1;
  IF last_release.release_id IS NOT NULL AND last_release.post_checksum <> pre THEN
    is_drift := true;
  END IF;
  IF expected_checksum IS NOT NULL AND expected_checksum <> pre THEN
    is_drift := true;
  END IF;
  IF is_drift AND last_release.release_id IS NOT NULL THEN
    -- Buckets that differ from the last release's, then the rules in them
    -- that changed since (a bucket with no such rule changed behind the
    -- triggers' back: all its rules are suspect).
    WITH now_sums AS (SELECT b.bucket, b.sum FROM rulekeeper.checksum_buckets('all') b),
         then_sums AS (SELECT key::integer AS bucket, value AS sum FROM jsonb_each_text(last_release.bucket_sums)),
         differing AS (
           SELECT COALESCE(n.bucket, t.bucket) AS bucket FROM now_sums n FULL JOIN then_sums t USING (bucket)
            WHERE n.sum IS DISTINCT FROM t.sum),
         changed AS (
           SELECT DISTINCT v.bucket, v.rule_key FROM rulekeeper.rule_version v
            WHERE v.bucket IN (SELECT bucket FROM differing) AND v.created_at > last_release.imported_at)
    SELECT COALESCE(array_agg(DISTINCT rk ORDER BY rk), '{}'),
           COALESCE((SELECT array_agg(d.bucket ORDER BY d.bucket) FROM differing d
                      WHERE NOT EXISTS (SELECT 1 FROM changed c WHERE c.bucket = d.bucket)), '{}')
      INTO drifted, unexplained
      FROM (SELECT c.rule_key AS rk FROM changed c
            UNION
            SELECT v.rule_key FROM rulekeeper.rule_version v
             WHERE v.bucket IN (SELECT d.bucket FROM differing d
                                 WHERE NOT EXISTS (SELECT 1 FROM changed c WHERE c.bucket = d.bucket))) x;
  END IF;

  INSERT INTO rulekeeper.rule (rule_key, ruleset, description)
  SELECT r.rule_key, r.ruleset, COALESCE(r.description, '')
    FROM jsonb_to_recordset(rules) AS r(rule_key text, ruleset text, description text)
   WHERE NOT EXISTS (SELECT 1 FROM rulekeeper.rule h WHERE h.rule_key = r.rule_key);

  total := jsonb_array_length(versions);
  -- A planned version of a drifted rule is annotated with each hotfix made to
  -- that rule since the last release (classified once the hotfix work lands:
  -- until then 'unknown').
  INSERT INTO rulekeeper.rule_version (rule_key, version, hotfix, body, content_sha256, origin, origin_site, annotations)
  SELECT v.rule_key, v.label::integer, 0, v.body, v.content_sha256, 'released', source ->> 'site',
         '{}'::jsonb
    FROM jsonb_to_recordset(versions) AS v(rule_key text, label text, body jsonb, content_sha256 text)
   WHERE NOT EXISTS (SELECT 1 FROM rulekeeper.rule_version h WHERE h.rule_key = v.rule_key AND h.label = v.label)
   -- Journal order by rule key bytes ("C"), the same at every site whatever
   -- its database's collation, and a sort without strcoll() (UTF-8 bytes
   -- compare as code points: the order C.UTF-8 gives too).
   ORDER BY v.rule_key COLLATE "C", v.label::integer;
  GET DIAGNOSTICS n_imported = ROW_COUNT;
  -- Only drifted rules are annotated (nothing to scan otherwise).
  IF cardinality(drifted) > 0 THEN
    -- Every planned version of a drifted rule is annotated with each hotfix
    -- since the last release and its classification; a drifted rule without a
    -- recorded hotfix (an edit that went around the rules) is 'unknown'.
    UPDATE rulekeeper.rule_version v
       SET annotations = v.annotations || COALESCE(
             (SELECT jsonb_build_object('hotfixes', x.each, 'hotfix_included', rulekeeper._combine(x.classes),
                                        'needs_manual_verification', rulekeeper._combine(x.classes) <> 'included')
                FROM (SELECT jsonb_agg(jsonb_build_object('hotfix_id', h.hotfix_id, 'label', h.label,
                                                          'base_label', h.base_label,
                                                          'classification', rulekeeper._classify(h.diff, v.body))
                                       ORDER BY h.created_at) AS each,
                             array_agg(rulekeeper._classify(h.diff, v.body)) AS classes
                        FROM rulekeeper.hotfix h
                       WHERE h.rule_key = v.rule_key
                         AND (last_release.imported_at IS NULL OR h.created_at > last_release.imported_at)) x
               WHERE x.each IS NOT NULL),
             jsonb_build_object('hotfixes', '[]'::jsonb, 'hotfix_included', 'unknown', 'needs_manual_verification', true))
     WHERE v.rule_key = ANY (drifted)
       AND (v.rule_key, v.label) IN (SELECT x.rule_key, x.label
                                       FROM jsonb_to_recordset(versions) AS x(rule_key text, label text))
       AND v.created_at = now();

    SELECT COALESCE(jsonb_agg(jsonb_build_object('rule_key', v.rule_key, 'label', v.label,
                                                 'annotations', v.annotations) ORDER BY v.rule_key, v.version), '[]')
      INTO annotated
      FROM rulekeeper.rule_version v
     WHERE v.rule_key = ANY (drifted) AND v.annotations <> '{}'::jsonb
       AND (v.rule_key, v.label) IN (SELECT x.rule_key, x.label
                                       FROM jsonb_to_recordset(versions) AS x(rule_key text, label text));
  END IF;

  IF n_imported = 0 THEN
    RETURN jsonb_build_object('release_id', NULL, 'already_imported', true, 'drift', is_drift,
                              'drifted_rules', to_jsonb(drifted), 'pre_checksum', pre, 'post_checksum', pre,
                              'algorithm', rulekeeper.checksum_algorithm(), 'imported', 0, 'skipped', total,
                              'annotated', '[]'::jsonb, 'source', source,
                              'bundle_sha256', given, 'signature', signature);
  END IF;

  post := rulekeeper.snapshot_checksum('all');
  INSERT INTO rulekeeper.release_log (source_site, source_environment, bundle_sha256, algorithm, pre_checksum,
                                      post_checksum, expected_checksum, bucket_sums, drift, drifted_rules,
                                      imported, skipped)
  VALUES (COALESCE(source ->> 'site', '(unknown)'), from_env, given, rulekeeper.checksum_algorithm(),
          pre, post, expected_checksum,
          (SELECT COALESCE(jsonb_object_agg(b.bucket::text, b.sum), '{}'::jsonb) FROM rulekeeper.checksum_buckets('all') b),
          is_drift, drifted, n_imported, total - n_imported)
  RETURNING release_id INTO rid;

  RETURN jsonb_build_object('release_id', rid, 'already_imported', false, 'drift', is_drift,
                            'drifted_rules', to_jsonb(drifted), 'unexplained_buckets', to_jsonb(unexplained),
                            'pre_checksum', pre, 'post_checksum', post, 'expected_checksum', expected_checksum,
                            'last_release_checksum', last_release.post_checksum,
                            'algorithm', rulekeeper.checksum_algorithm(), 'imported', n_imported,
                            'skipped', total - n_imported, 'annotated', annotated, 'source', source,
                            'bundle_sha256', given, 'signature', signature);
END
$$;
