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
  RETURN rulekeeper._release_bundle(leaving, rule_keys, site, env);
END
$$;
