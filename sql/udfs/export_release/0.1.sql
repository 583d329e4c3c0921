-- A bundle of what may leave this site (e1: draft; e2: test_passed), with
-- their rules, checksummed (docs/design/contract.md "Checksums": bundle_sha256 is the JCS
-- SHA-256 of the bundle without that key) and signed with this site's key
-- (contract.md "Bundle signatures"; unsigned, with a WARNING, without one).
CREATE FUNCTION rulekeeper.export_release(rule_keys text[] DEFAULT NULL) RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  site text := NULLIF(current_setting('rulekeeper.site', true), '');
  env text := NULLIF(current_setting('rulekeeper.environment', true), '');
  leaving text;
  unknown text[];
  bundle jsonb;
  sig jsonb;
BEGIN
  IF site IS NULL OR env IS NULL THEN
    RAISE EXCEPTION 'rulekeeper.site and rulekeeper.environment must be set on this node; export_release needs them'
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  leaving := CASE env WHEN 'e1' THEN 'draft' WHEN 'e2' THEN 'test_passed' END;
  IF leaving IS NULL THEN
    RAISE EXCEPTION 'export_release runs at e1 or e2; this is site % in environment %', site, env
      USING ERRCODE = 'feature_not_supported', HINT = 'E3 is the end of the pipeline.';
  END IF;
  SELECT array_agg(k ORDER BY k) INTO unknown FROM unnest(rule_keys) k
   WHERE NOT EXISTS (SELECT 1 FROM rulekeeper.rule r WHERE r.rule_key = k);
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'unknown rule(s) %', array_to_string(unknown, ', ') USING ERRCODE = 'no_data_found';
  END IF;
  WITH leaving_versions AS (
    SELECT v.* FROM rulekeeper.rule_version v
     WHERE v.qualification = leaving AND (rule_keys IS NULL OR v.rule_key = ANY (rule_keys))
  )
  SELECT jsonb_build_object(
    'format', 'rulekeeper-bundle/1',
    'source', jsonb_build_object('site', site, 'environment', env),
    'rules', COALESCE((SELECT jsonb_agg(jsonb_build_object('rule_key', r.rule_key, 'ruleset', r.ruleset,
                                                           'description', r.description) ORDER BY r.rule_key)
                         FROM rulekeeper.rule r
                        WHERE r.rule_key IN (SELECT lv.rule_key FROM leaving_versions lv)), '[]'::jsonb),
    'versions', COALESCE((SELECT jsonb_agg(jsonb_build_object('rule_key', lv.rule_key, 'label', lv.label,
                                                              'body', lv.body, 'content_sha256', lv.content_sha256)
                                           ORDER BY lv.rule_key, lv.version, lv.hotfix)
                            FROM leaving_versions lv), '[]'::jsonb))
    INTO bundle;
  bundle := bundle || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(bundle));
  sig := rulekeeper._bundle_signature(bundle ->> 'format', bundle ->> 'bundle_sha256');
  RETURN CASE WHEN sig IS NULL THEN bundle ELSE bundle || jsonb_build_object('signature', sig) END;
END
$$;
