-- Green becomes blue: in one transaction (one epoch), every rule whose SL
-- version is sl_validated gets it in prod. Rules held back by the hotfix gate
-- refuse the whole cutover until acknowledged: the refusal names every rule,
-- every hotfix it would undo and its diff; acknowledge_hotfixes names
-- exactly those as rule@label (docs/hotfix.md "Acknowledging exactly what
-- was shown"); acknowledge covers what no hotfix names (a change here no
-- hotfix record explains). The report names every rule that stays, and why.
CREATE FUNCTION rulekeeper.cutover(acknowledge boolean DEFAULT false, acknowledge_hotfixes text[] DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  r record;
  moved jsonb := '[]';
  stays jsonb := '[]';
  gated jsonb := '[]';
  gate jsonb;
  epoch bigint;
  given text[] := rulekeeper._ack_labels(acknowledge_hotfixes);
  shown text[] := '{}';
  rule_ack text[];
  extra text[];
  unexplained boolean := false;
BEGIN
  -- NULL acknowledges nothing (as in activate()): never a way around the gate.
  acknowledge := COALESCE(acknowledge, false);
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
      CONTINUE;
    ELSIF r.prod_pinned THEN
      stays := stays || jsonb_build_object('rule_key', r.rule_key, 'sl', r.sl_label, 'prod', r.prod_label,
                                           'why', 'prod is pinned at ' || r.prod_label);
      CONTINUE;
    END IF;
    -- Unannotated or not, a version that lacks what a hotfix prod carries
    -- changed is gated (docs/hotfix.md "What prod serves is compared, not
    -- the annotation"), with the same list activate() shows.
    gate := rulekeeper._hotfix_gate(r.rule_key, r.prod_label, r.sl_label);
    IF r.annotations ->> 'hotfix_included' IN ('overrides', 'unknown') AND NOT acknowledge
       AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(gate) g WHERE g ->> 'classification' IS NOT NULL) THEN
      unexplained := true;
      gated := gated || jsonb_build_object('rule_key', r.rule_key, 'sl', r.sl_label, 'prod', r.prod_label,
                                           'why', 'may undo a change made here that no hotfix record explains '
                                                  || '(hotfix_included ' || (r.annotations ->> 'hotfix_included')
                                                  || ')',
                                           'hotfixes', gate);
      CONTINUE;
    END IF;
    rule_ack := NULL;
    IF jsonb_array_length(gate) > 0 THEN
      shown := shown || ARRAY(SELECT r.rule_key || '@' || (g ->> 'label') FROM jsonb_array_elements(gate) g);
      rule_ack := ARRAY(SELECT substr(a, length(r.rule_key) + 2) FROM unnest(given) a
                         WHERE left(a, length(r.rule_key) + 1) = r.rule_key || '@');
      IF rulekeeper._ack_labels(rule_ack)
         <> ARRAY(SELECT DISTINCT g ->> 'label' FROM jsonb_array_elements(gate) g ORDER BY 1) THEN
        gated := gated || jsonb_build_object('rule_key', r.rule_key, 'sl', r.sl_label, 'prod', r.prod_label,
                                             'why', 'would undo hotfix(es) ' || rulekeeper._gate_names(gate),
                                             'hotfixes', gate);
        CONTINUE;
      END IF;
    END IF;
    epoch := rulekeeper._set_activation(r.rule_key, r.sl_label, 'prod', acknowledge, NULL, 'cutover', NULL, rule_ack);
    moved := moved || jsonb_build_object('rule_key', r.rule_key, 'from', r.prod_label, 'to', r.sl_label,
                                         'acknowledged_hotfixes', to_jsonb(rulekeeper._ack_labels(rule_ack)));
  END LOOP;
  shown := ARRAY(SELECT DISTINCT x FROM unnest(shown) x ORDER BY 1);
  extra := ARRAY(SELECT a FROM unnest(given) a EXCEPT SELECT s FROM unnest(shown) s ORDER BY 1);
  IF jsonb_array_length(gated) > 0 OR cardinality(extra) > 0 THEN
    RAISE EXCEPTION '%', 'cutover refused: '
      || CASE WHEN jsonb_array_length(gated) > 0 THEN
           jsonb_array_length(gated) || ' rule(s) held back by the hotfix gate: '
           || (SELECT string_agg((g ->> 'rule_key') || ' ' || (g ->> 'sl') || ' (' || (g ->> 'why') || ')', '; ')
                 FROM jsonb_array_elements(gated) g)
         ELSE '' END
      || CASE WHEN cardinality(given) > 0 AND given <> shown THEN
           CASE WHEN jsonb_array_length(gated) > 0 THEN '; ' ELSE '' END
           || 'the acknowledgement names ' || array_to_string(given, ', ') || ', the cutover would undo '
           || COALESCE(NULLIF(array_to_string(shown, ', '), ''), 'no hotfix')
           || COALESCE('; acknowledged but not undone: ' || NULLIF(array_to_string(extra, ', '), ''), '')
         ELSE '' END
      USING ERRCODE = 'check_violation',
            DETAIL = COALESCE((SELECT string_agg('rule ' || (g ->> 'rule_key') || ', prod '
                                                 || COALESCE(g ->> 'prod', '(none)') || ' -> ' || (g ->> 'sl') || ':'
                                                 || E'\n' || COALESCE(rulekeeper._gate_detail(g -> 'hotfixes', g ->> 'sl'),
                                                                      'no hotfix record explains the change: compare '
                                                                      || 'the versions with rulectl diff'), E'\n')
                                 FROM jsonb_array_elements(gated) g), ''),
            HINT = 'Nothing moved. If that is intended, check each diff, then '
                   || concat_ws('; and ',
                        CASE WHEN cardinality(shown) > 0
                             THEN 'acknowledge exactly these hotfixes: rulectl cutover --acknowledge-hotfix '
                                  || array_to_string(shown, ',') || ' (SQL: cutover(acknowledge_hotfixes => '
                                  || quote_literal(shown::text) || '))' END,
                        CASE WHEN unexplained
                             THEN 'acknowledge the change no hotfix record explains: rulectl cutover --acknowledge '
                                  || '(SQL: cutover(acknowledge => true))' END,
                        CASE WHEN cardinality(shown) = 0 AND NOT unexplained
                             THEN 'run it without --acknowledge-hotfix: it undoes no hotfix' END) || '.';
  END IF;
  RETURN jsonb_build_object('epoch', epoch, 'moved', moved, 'stays', stays);
END
$$;
