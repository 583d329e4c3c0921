-- A hotfix: the next N.k label on top of the version prod serves, born
-- 'hotfix', activated in prod (a pin moves with it) and in SL where SL serves
-- the same parent — one transaction, one epoch. Only paths the ruleset's
-- policy allows may change; a reason is mandatory. A body whose content
-- (content_sha256) is that of a version that failed soft launch is refused
-- unless acknowledge_sl_failed names every such version (comma-separated
-- labels); the acknowledgement is journaled (docs/operator-safety.md
-- "Hotfix with failed content").
CREATE FUNCTION rulekeeper.hotfix(rule_key text, body jsonb, reason text, acknowledge_sl_failed text DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  site text := current_setting('rulekeeper.site', true);
  r rulekeeper.rule;
  prod rulekeeper.activation;
  sl rulekeeper.activation;
  parent rulekeeper.rule_version;
  allowed text[];
  d jsonb;
  outside text[];
  k integer;
  new_label text;
  id uuid;
  hotfix_epoch bigint;
  sl_moved boolean := false;
  annotated jsonb := '[]';
  other rulekeeper.rule_version;
  failed text[];
  acknowledged text[];
BEGIN
  PERFORM rulekeeper._require_environment('e3', 'hotfix');
  PERFORM rulekeeper._require_reason(reason, 'a hotfix');
  IF body IS NULL OR jsonb_typeof(body) <> 'object' THEN
    RAISE EXCEPTION 'the body of a hotfix must be a JSON object, not %', COALESCE(jsonb_typeof(body), 'null')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO r FROM rulekeeper.rule x WHERE x.rule_key = rule_key;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'rule "%" does not exist at site %', rule_key, site USING ERRCODE = 'no_data_found';
  END IF;
  PERFORM rulekeeper._lock_site();
  SELECT * INTO prod FROM rulekeeper.activation a WHERE a.rule_key = rule_key AND a.channel = 'prod';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'rule "%" has no version active in prod at site %: a hotfix fixes what prod serves', rule_key, site
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  SELECT * INTO parent FROM rulekeeper.rule_version v WHERE v.rule_key = rule_key AND v.label = prod.label;
  d := rulekeeper._diff_json(parent.body, body);
  IF jsonb_array_length(d) = 0 THEN
    RAISE EXCEPTION 'the hotfix body equals version % of rule "%", which prod already serves', prod.label, rule_key
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT p.allowed_paths INTO allowed FROM rulekeeper.hotfix_policy p WHERE p.ruleset = r.ruleset;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ruleset % has no hotfix policy: hotfixes to rule "%" are not allowed', r.ruleset, rule_key
      USING ERRCODE = 'insufficient_privilege',
            HINT = pg_catalog.format('An admin allows paths with: INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES (%L, ARRAY[''/path'']);', r.ruleset);
  END IF;
  outside := rulekeeper._paths_outside(ARRAY(SELECT x ->> 'path' FROM jsonb_array_elements(d) x), allowed);
  IF cardinality(outside) > 0 THEN
    RAISE EXCEPTION 'the hotfix changes path(s) the % policy does not allow: %', r.ruleset, array_to_string(outside, ', ')
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = pg_catalog.format('allowed: %s', array_to_string(allowed, ', '));
  END IF;
  -- Content that failed soft launch is not served again by a hotfix without
  -- an acknowledgement naming exactly those versions: an operator who
  -- re-types a failed body must see that it failed.
  failed := ARRAY(SELECT v.label FROM rulekeeper.rule_version v
                   WHERE v.rule_key = rule_key AND v.qualification = 'sl_failed'
                     AND v.content_sha256 = rulekeeper.content_sha256(body)
                   ORDER BY v.version, v.hotfix);
  acknowledged := ARRAY(SELECT DISTINCT btrim(x) FROM unnest(string_to_array(acknowledge_sl_failed, ',')) x
                         WHERE btrim(x) <> '' ORDER BY 1);
  IF cardinality(failed) > 0 AND NOT (acknowledged @> failed AND failed @> acknowledged) THEN
    RAISE EXCEPTION 'the hotfix body of rule "%" has the content of version(s) % which failed soft launch (sl_failed)',
                    rule_key, array_to_string(failed, ', ')
      USING ERRCODE = 'check_violation',
            DETAIL = pg_catalog.format('content_sha256 %s; acknowledged: %s', rulekeeper.content_sha256(body),
                                       COALESCE(NULLIF(array_to_string(acknowledged, ','), ''), 'nothing')),
            HINT = pg_catalog.format('If serving it again is intended, acknowledge exactly those versions '
                                     '(acknowledge_sl_failed => %L, rulectl hotfix --acknowledge-sl-failed %s).',
                                     array_to_string(failed, ','), array_to_string(failed, ','));
  ELSIF cardinality(failed) = 0 AND cardinality(acknowledged) > 0 THEN
    RAISE EXCEPTION 'acknowledge_sl_failed names %, but the hotfix body of rule "%" equals no version that failed soft launch',
                    array_to_string(acknowledged, ', '), rule_key
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Acknowledge only what a refusal named; drop the acknowledgement.';
  END IF;
  SELECT COALESCE(max(v.hotfix), 0) + 1 INTO k FROM rulekeeper.rule_version v
   WHERE v.rule_key = rule_key AND v.version = parent.version;
  INSERT INTO rulekeeper.rule_version (rule_key, version, hotfix, body, qualification, origin, parent_label)
  VALUES (rule_key, parent.version, k, body, 'hotfix', 'hotfix', parent.label)
  RETURNING label INTO new_label;
  INSERT INTO rulekeeper.hotfix (rule_key, base_label, label, site, diff, reason)
  VALUES (rule_key, parent.label, new_label, site, d, reason) RETURNING hotfix_id INTO id;
  IF cardinality(failed) > 0 THEN
    PERFORM rulekeeper._journal('acknowledgement', rule_key, new_label,
      jsonb_build_object('channel', 'prod', 'action', 'hotfix', 'hotfix_id', id,
                         'sl_failed', to_jsonb(failed), 'content_sha256', rulekeeper.content_sha256(body)));
  END IF;
  hotfix_epoch := rulekeeper._set_activation(rule_key, new_label, 'prod', false, NULL, 'hotfix');
  SELECT * INTO sl FROM rulekeeper.activation a WHERE a.rule_key = rule_key AND a.channel = 'sl';
  IF FOUND AND sl.label = parent.label THEN
    -- Green pods get the fix too.
    PERFORM rulekeeper._set_activation(rule_key, new_label, 'sl', false, NULL, 'hotfix');
    sl_moved := true;
  ELSIF FOUND THEN
    -- SL tests another version: it is annotated as for drift.
    SELECT * INTO other FROM rulekeeper.rule_version v WHERE v.rule_key = rule_key AND v.label = sl.label;
    PERFORM rulekeeper._annotate_hotfixes(rule_key, other.label);
    annotated := jsonb_build_array(jsonb_build_object('label', other.label));
  END IF;
  RETURN jsonb_build_object('hotfix_id', id, 'rule_key', rule_key, 'base_label', parent.label, 'label', new_label,
                            'site', site, 'epoch', hotfix_epoch, 'diff', d, 'sl_moved', sl_moved, 'annotated', annotated)
         || CASE WHEN cardinality(failed) > 0 THEN jsonb_build_object('acknowledged_sl_failed', to_jsonb(failed))
                 ELSE '{}'::jsonb END;
END
$$;
