-- Green becomes blue: in one transaction (one epoch), every rule whose SL
-- version is sl_validated gets it in prod. Rules held back by the hotfix gate
-- refuse the whole cutover unless acknowledged; the report names every rule
-- that stays, and why.
CREATE FUNCTION rulekeeper.cutover(acknowledge boolean DEFAULT false) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  r record;
  moved jsonb := '[]';
  stays jsonb := '[]';
  gated jsonb := '[]';
  epoch bigint;
BEGIN
  PERFORM rulekeeper._require_environment('e3', 'cutover');
  PERFORM rulekeeper._lock_site();
  FOR r IN
    SELECT s.rule_key, s.label AS sl_label, v.qualification, v.annotations, p.label AS prod_label, p.pinned AS prod_pinned
      FROM rulekeeper.activation s
      JOIN rulekeeper.rule_version v ON v.rule_key = s.rule_key AND v.label = s.label
      LEFT JOIN rulekeeper.activation p ON p.rule_key = s.rule_key AND p.channel = 'prod'
     WHERE s.channel = 'sl' ORDER BY s.rule_key
  LOOP
    IF r.prod_label IS NOT DISTINCT FROM r.sl_label THEN
      CONTINUE;
    ELSIF r.qualification <> 'sl_validated' THEN
      stays := stays || jsonb_build_object('rule_key', r.rule_key, 'sl', r.sl_label, 'prod', r.prod_label,
                                           'why', 'sl version is ' || r.qualification || ', not sl_validated');
    ELSIF r.prod_pinned THEN
      stays := stays || jsonb_build_object('rule_key', r.rule_key, 'sl', r.sl_label, 'prod', r.prod_label,
                                           'why', 'prod is pinned at ' || r.prod_label);
    ELSIF r.annotations ->> 'hotfix_included' IN ('overrides', 'unknown') AND NOT acknowledge THEN
      gated := gated || jsonb_build_object('rule_key', r.rule_key, 'sl', r.sl_label, 'prod', r.prod_label,
                                           'why', 'may undo hotfix(es): hotfix_included ' || (r.annotations ->> 'hotfix_included'));
    ELSIF NOT acknowledge AND r.prod_label IS NOT NULL
          AND jsonb_array_length(rulekeeper._undone_hotfixes(r.rule_key, r.prod_label, r.sl_label)) > 0 THEN
      -- Unannotated or not, a version that lacks what a hotfix prod carries
      -- changed (docs/hotfix.md "What prod serves is compared, not the
      -- annotation").
      gated := gated || jsonb_build_object('rule_key', r.rule_key, 'sl', r.sl_label, 'prod', r.prod_label,
                                           'why', 'would undo hotfix(es) ' || rulekeeper._undone_names(
                                                    rulekeeper._undone_hotfixes(r.rule_key, r.prod_label, r.sl_label)));
    ELSE
      epoch := rulekeeper._set_activation(r.rule_key, r.sl_label, 'prod', acknowledge, NULL, 'cutover');
      moved := moved || jsonb_build_object('rule_key', r.rule_key, 'from', r.prod_label, 'to', r.sl_label);
    END IF;
  END LOOP;
  IF jsonb_array_length(gated) > 0 THEN
    RAISE EXCEPTION 'cutover refused: % rule(s) held back by the hotfix gate: %', jsonb_array_length(gated),
      (SELECT string_agg((g ->> 'rule_key') || ' ' || (g ->> 'sl') || ' (' || (g ->> 'why') || ')', '; ')
         FROM jsonb_array_elements(gated) g)
      USING ERRCODE = 'check_violation',
            HINT = 'Nothing moved. Check each hotfix, then cutover with acknowledge => true (rulectl cutover --acknowledge-hotfix).';
  END IF;
  RETURN jsonb_build_object('epoch', epoch, 'moved', moved, 'stays', stays);
END
$$;
