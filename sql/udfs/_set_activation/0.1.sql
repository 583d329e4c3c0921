-- The one place a channel's activation changes: admission, pin, hotfix gate,
-- optimistic concurrency, epoch, journal, history, NOTIFY.
CREATE FUNCTION rulekeeper._set_activation(p_rule_key text, p_label text, p_channel text, acknowledge boolean,
                                           expected_epoch bigint, action text, p_pinned boolean DEFAULT NULL,
                                           p_ack_hotfixes text[] DEFAULT NULL)
  RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  v rulekeeper.rule_version;
  cur rulekeeper.activation;
  admitted boolean;
  needs_ack boolean;
  ack jsonb;
  gate jsonb;
  new_epoch bigint;
BEGIN
  PERFORM rulekeeper._require_environment('e3', action);
  -- One message for an unknown channel everywhere (_require_channel is
  -- STRICT: NULL is refused here).
  IF p_channel IS NULL THEN
    RAISE EXCEPTION 'the channel must not be null; the channels are sl and prod'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM rulekeeper._require_channel(p_channel);
  -- The site lock orders every activation (and gives the epoch).
  PERFORM rulekeeper._lock_site();
  SELECT * INTO cur FROM rulekeeper.activation a WHERE a.channel = p_channel AND a.rule_key = p_rule_key;
  IF expected_epoch IS NOT NULL AND COALESCE(cur.epoch, 0) <> expected_epoch THEN
    RAISE EXCEPTION 'the % activation of rule "%" changed since you looked: its epoch is now %, you expected %',
      p_channel, p_rule_key, COALESCE(cur.epoch, 0), expected_epoch
      USING ERRCODE = 'serialization_failure', HINT = 'Look again (rule_state) and decide again.';
  END IF;
  IF p_label IS NULL THEN
    -- deactivation
    IF cur.rule_key IS NULL THEN
      RAISE EXCEPTION 'rule "%" is not active in %', p_rule_key, p_channel USING ERRCODE = 'no_data_found';
    END IF;
    IF cur.pinned THEN
      RAISE EXCEPTION 'rule "%" is pinned in % at version %; unpin it first', p_rule_key, p_channel, cur.label
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- Every hotfix prod carries goes with it (docs/hotfix.md "What prod
    -- serves is compared, not the annotation"); acknowledged only by naming
    -- exactly those hotfixes (docs/hotfix.md "Acknowledging exactly what
    -- was shown").
    gate := CASE WHEN p_channel = 'prod' THEN rulekeeper._hotfix_gate(p_rule_key, cur.label, NULL) ELSE '[]' END;
    PERFORM rulekeeper._require_hotfix_acknowledgement(gate, p_ack_hotfixes,
      pg_catalog.format('deactivating prod of rule "%s"', p_rule_key), NULL, 'rulectl ' || action);
    IF jsonb_array_length(gate) > 0 THEN
      PERFORM rulekeeper._journal('acknowledgement', p_rule_key, cur.label,
        jsonb_build_object('channel', p_channel, 'action', action, 'undone_hotfix', cur.label)
        || rulekeeper._gate_record(gate, p_ack_hotfixes));
    END IF;
    PERFORM rulekeeper._audit_set('action', action);
    DELETE FROM rulekeeper.activation a WHERE a.channel = p_channel AND a.rule_key = p_rule_key;
    PERFORM rulekeeper._audit_set('action', '');
    RETURN rulekeeper._next_epoch();
  END IF;
  SELECT * INTO v FROM rulekeeper.rule_version x WHERE x.rule_key = p_rule_key AND x.label = p_label;
  IF v.rule_key IS NULL THEN
    IF NOT EXISTS (SELECT 1 FROM rulekeeper.rule r WHERE r.rule_key = p_rule_key) THEN
      RAISE EXCEPTION 'rule "%" does not exist', p_rule_key USING ERRCODE = 'no_data_found';
    END IF;
    RAISE EXCEPTION 'version % of rule "%" does not exist at site %', p_label, p_rule_key,
      current_setting('rulekeeper.site') USING ERRCODE = 'no_data_found';
  END IF;
  SELECT true, a.needs_acknowledge INTO admitted, needs_ack FROM rulekeeper.channel_admission a
   WHERE a.channel = p_channel AND a.qualification = v.qualification;
  IF admitted IS NULL THEN
    RAISE EXCEPTION 'channel % does not admit version % of rule "%": it is %', p_channel, p_label, p_rule_key,
      v.qualification USING ERRCODE = 'check_violation',
      HINT = pg_catalog.format('%s admits: %s.', p_channel, rulekeeper._admission_list(p_channel));
  END IF;
  IF needs_ack AND NOT acknowledge THEN
    RAISE EXCEPTION 'channel % admits version % of rule "%" (%) only with acknowledgement', p_channel, p_label,
      p_rule_key, v.qualification USING ERRCODE = 'check_violation';
  END IF;
  -- Only hotfix() moves a pin (the pin moves with the fix); activating any
  -- version, an older hotfix too, into a pinned channel is refused.
  IF cur.pinned AND cur.label <> p_label AND action <> 'hotfix' THEN
    RAISE EXCEPTION 'rule "%" is pinned in % at version %; unpin it first', p_rule_key, p_channel, cur.label
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  -- The hotfix gate (docs/hotfix.md): every hotfix the move would undo —
  -- those the version's annotation says it overrides (or cannot tell) and
  -- those prod carries whose change the version lacks (what prod serves is
  -- compared, not the annotation) — in one list, each with its diff. The
  -- move goes ahead only when p_ack_hotfixes names exactly that list
  -- (docs/hotfix.md "Acknowledging exactly what was shown"), checked here so
  -- that the check and the change are one transaction. Nothing changes for
  -- prod when it already serves the version: nothing to acknowledge.
  IF p_channel = 'prod' AND cur.label IS DISTINCT FROM p_label THEN
    gate := rulekeeper._hotfix_gate(p_rule_key, cur.label, p_label);
    -- A change made here that no hotfix record explains has no label to
    -- name: the boolean acknowledgement covers it, as it covers recovered.
    IF v.annotations ->> 'hotfix_included' IN ('overrides', 'unknown')
       AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(gate) g WHERE g ->> 'classification' IS NOT NULL) THEN
      IF NOT acknowledge THEN
        RAISE EXCEPTION 'version % of rule "%" may undo a change made at this site since the last release that no '
                        'hotfix record explains (hotfix_included: %)', p_label, p_rule_key,
                        v.annotations ->> 'hotfix_included'
          USING ERRCODE = 'check_violation',
                DETAIL = 'no hotfix record explains the change: compare the versions with rulekeeper.diff',
                HINT = pg_catalog.format('Compare the versions (rulectl diff), then acknowledge it: rulectl %s '
                                         '--acknowledge (SQL: acknowledge => true).', action);
      END IF;
      ack := jsonb_build_object('hotfixes', '[]'::jsonb, 'hotfix_included', v.annotations ->> 'hotfix_included');
    END IF;
    PERFORM rulekeeper._require_hotfix_acknowledgement(gate, p_ack_hotfixes,
      CASE WHEN cur.rule_key IS NULL THEN pg_catalog.format('version %s of rule "%s"', p_label, p_rule_key)
           ELSE pg_catalog.format('moving prod of rule "%s" from %s to version %s', p_rule_key, cur.label, p_label)
      END, p_label, 'rulectl ' || action);
    IF jsonb_array_length(gate) > 0 THEN
      ack := COALESCE(ack, '{}'::jsonb)
             || jsonb_build_object('hotfix_included', v.annotations ->> 'hotfix_included')
             || rulekeeper._gate_record(gate, p_ack_hotfixes);
    END IF;
  ELSIF p_ack_hotfixes IS NOT NULL AND cardinality(p_ack_hotfixes) > 0 THEN
    PERFORM rulekeeper._require_hotfix_acknowledgement('[]'::jsonb, p_ack_hotfixes,
      pg_catalog.format('activating version %s of rule "%s" in %s', p_label, p_rule_key, p_channel), p_label, NULL);
  END IF;
  IF needs_ack THEN
    ack := COALESCE(ack, '{}'::jsonb) || jsonb_build_object('qualification', v.qualification);
  END IF;
  IF ack IS NOT NULL THEN
    PERFORM rulekeeper._journal('acknowledgement', p_rule_key, p_label,
      jsonb_build_object('channel', p_channel, 'action', action) || ack);
  END IF;
  IF cur.rule_key IS NOT NULL AND cur.label = p_label AND (p_pinned IS NULL OR cur.pinned = p_pinned) THEN
    RETURN cur.epoch;  -- already so: nothing changes, no new epoch
  END IF;
  PERFORM rulekeeper._audit_set('action', action);
  PERFORM rulekeeper._audit_set('acknowledged', COALESCE(ack::text, ''));
  -- Not INSERT ... ON CONFLICT: its BEFORE INSERT trigger would journal a
  -- change that then becomes an update. The site lock makes this race-free.
  IF cur.rule_key IS NULL THEN
    INSERT INTO rulekeeper.activation AS a (channel, rule_key, label, pinned, epoch)
    VALUES (p_channel, p_rule_key, p_label, COALESCE(p_pinned, false), 0)
    RETURNING a.epoch INTO new_epoch;
  ELSE
    -- A hotfix moves a pinned activation and the pin moves with it.
    UPDATE rulekeeper.activation a SET label = p_label, pinned = COALESCE(p_pinned, a.pinned)
     WHERE a.channel = p_channel AND a.rule_key = p_rule_key
    RETURNING a.epoch INTO new_epoch;
  END IF;
  PERFORM rulekeeper._audit_set('action', '');
  PERFORM rulekeeper._audit_set('acknowledged', '');
  PERFORM pg_notify('rulekeeper_activation', jsonb_build_object('channel', p_channel, 'rule_key', p_rule_key,
                                                                'label', p_label, 'epoch', new_epoch)::text);
  RETURN new_epoch;
END
$$;
