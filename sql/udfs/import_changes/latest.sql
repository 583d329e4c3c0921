-- Carries over what this site lacks from a changes bundle, idempotently (by
-- change_id). Every journal entry is kept as a record (so version vectors
-- agree afterwards); the rows are applied by kind:
--   rule      created if missing;
--   version,  hotfix  come back as a new 'recovered' version (next free
--             label), not activated, annotated with where they came from —
--             unless this site already holds that content for that rule
--             (e.g. after `rulectl hotfix replay`), or the rule changed here
--             since the divergence point: then a conflict is recorded;
--   others    (activations, pins, qualifications, ...) listed, not re-applied.
CREATE FUNCTION rulekeeper.import_changes(bundle jsonb, dry_run boolean DEFAULT false) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  c jsonb;
  item jsonb;
  here_since jsonb;
  changed_here jsonb;
  held text;
  target_changes jsonb;
  new_label text;
  next_version integer;
  recovered jsonb := '[]';
  already jsonb := '[]';
  conflicts jsonb := '[]';
  listed jsonb := '[]';
  n_records integer := 0;
  cid uuid;
  signature jsonb;
BEGIN
  PERFORM rulekeeper._require_environment('e3', 'import_changes');
  IF bundle IS NULL OR bundle ->> 'format' IS DISTINCT FROM 'rulekeeper-changes/1' THEN
    RAISE EXCEPTION 'not a changes bundle (format rulekeeper-changes/1)' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Changes are carried only between sites of one environment: E2's journal
  -- is not E3's history (docs/operator-safety.md "Reconcile stays within an
  -- environment"). The source is covered by the checksum below.
  IF bundle -> 'source' ->> 'environment' IS DISTINCT FROM current_setting('rulekeeper.environment', true) THEN
    RAISE EXCEPTION 'changes bundle refused: it was exported at % (environment %), this site % is in environment %',
                    COALESCE(bundle -> 'source' ->> 'site', '(unnamed site)'),
                    COALESCE(bundle -> 'source' ->> 'environment', '(none)'),
                    current_setting('rulekeeper.site', true), current_setting('rulekeeper.environment', true)
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'reconcile carries changes only between sites of the same environment; move versions between environments with rulectl release.';
  END IF;
  -- The checksum covers all but itself and the signature, which signs it
  -- (docs/design/contract.md "Bundle signatures").
  IF bundle ->> 'bundle_sha256' IS NULL
     OR rulekeeper._jcs_sha256(bundle - 'bundle_sha256' - 'signature') <> bundle ->> 'bundle_sha256' THEN
    RAISE EXCEPTION 'changes bundle checksum mismatch: it was changed after export' USING ERRCODE = 'data_corrupted';
  END IF;
  -- Only E3's own sites' keys vouch for E3's history (docs/keys.md).
  signature := rulekeeper._check_bundle_signature(bundle -> 'signature', 'rulekeeper-changes/1',
                                                  bundle ->> 'bundle_sha256', 'e3', 'changes');
  PERFORM rulekeeper._lock_site();
  -- Every entry checked (bounds, origin, contiguity, hash chain) before
  -- anything is written: docs/tamper-evidence.md "Import".
  PERFORM rulekeeper._check_changes_entries(bundle);
  -- The divergence point: the bundle's `since`; what changed here after it
  -- conflicts with an orphan of the same rule.
  here_since := COALESCE(bundle -> 'since', '{}'::jsonb);
  -- Read before anything from the bundle is recorded here.
  SELECT COALESCE(jsonb_object_agg(t.rule_key, t.changes), '{}'::jsonb) INTO changed_here
    FROM (SELECT j.rule_key, jsonb_agg(jsonb_build_object('change_id', j.change_id, 'kind', j.kind, 'label', j.label,
                                                          'origin', j.origin_site || ':' || j.origin_incarnation,
                                                          'recorded_at', j.recorded_at) ORDER BY j.recorded_at) AS changes
            FROM rulekeeper.journal_since(here_since) j
           WHERE j.rule_key IS NOT NULL AND j.kind IN ('version', 'hotfix', 'activation', 'deactivation')
           GROUP BY j.rule_key) t;
  FOR c IN SELECT x FROM jsonb_array_elements(bundle -> 'changes') x
            ORDER BY x ->> 'origin_site', (x ->> 'origin_incarnation')::integer, (x ->> 'origin_seq')::bigint
  LOOP
    IF EXISTS (SELECT 1 FROM rulekeeper.journal j WHERE j.change_id = (c ->> 'change_id')::uuid) THEN
      CONTINUE;  -- already here: reconcile twice changes nothing
    END IF;
    item := c -> 'row';
    IF NOT dry_run THEN
      -- The entry itself, as a record of the other site's history (version
      -- vectors agree afterwards); a rule item below carries it as its own.
      INSERT INTO rulekeeper.journal (change_id, origin_site, origin_incarnation, origin_seq, kind, rule_key, label,
                                      payload, actor, recorded_at, recorded_lsn, entry_hash)
      VALUES ((c ->> 'change_id')::uuid, c ->> 'origin_site', (c ->> 'origin_incarnation')::integer,
              (c ->> 'origin_seq')::bigint, c ->> 'kind', c ->> 'rule_key', c ->> 'label',
              COALESCE(c -> 'payload', '{}'::jsonb), c ->> 'actor', (c ->> 'recorded_at')::timestamptz, NULL,
              c ->> 'entry_hash');
    END IF;
    IF c ->> 'kind' IN ('version', 'hotfix') AND item IS NOT NULL AND item <> 'null'::jsonb THEN
      IF c ->> 'kind' = 'hotfix' THEN
        -- the hotfix's version arrives as its own 'version' change; the
        -- hotfix record itself is kept in the journal.
        listed := listed || jsonb_build_object('change_id', c ->> 'change_id', 'kind', 'hotfix',
                                               'rule_key', c ->> 'rule_key', 'label', c ->> 'label',
                                               'reason', item ->> 'reason');
      ELSE
        SELECT v.label INTO held FROM rulekeeper.rule_version v
         WHERE v.rule_key = item ->> 'rule_key' AND v.content_sha256 = item ->> 'content_sha256' LIMIT 1;
        target_changes := COALESCE(changed_here -> (item ->> 'rule_key'), '[]'::jsonb);
        IF held IS NOT NULL THEN
          already := already || jsonb_build_object('change_id', c ->> 'change_id', 'rule_key', item ->> 'rule_key',
                                                   'label', item ->> 'label', 'held_as', held);
        ELSIF jsonb_array_length(target_changes) > 0 THEN
          conflicts := conflicts || jsonb_build_object('rule_key', item ->> 'rule_key', 'label', item ->> 'label',
                                                       'target_changes', target_changes);
          IF NOT dry_run THEN
            INSERT INTO rulekeeper.conflict (rule_key, source_change, target_changes)
            VALUES (item ->> 'rule_key', c, target_changes);
          END IF;
        ELSE
          recovered := recovered || jsonb_build_object('change_id', c ->> 'change_id', 'rule_key', item ->> 'rule_key',
                                                       'original_label', item ->> 'label');
          IF NOT dry_run THEN
            PERFORM rulekeeper._recover_version(item, c);
          END IF;
        END IF;
      END IF;
    ELSIF c ->> 'kind' = 'rule' AND item IS NOT NULL AND item <> 'null'::jsonb THEN
      IF NOT dry_run AND NOT EXISTS (SELECT 1 FROM rulekeeper.rule r WHERE r.rule_key = item ->> 'rule_key') THEN
        INSERT INTO rulekeeper.rule (rule_key, ruleset, description, created_at, created_by, change_id)
        VALUES (item ->> 'rule_key', item ->> 'ruleset', COALESCE(item ->> 'description', ''),
                (item ->> 'created_at')::timestamptz, item ->> 'created_by', (c ->> 'change_id')::uuid);
      END IF;
    ELSE
      listed := listed || jsonb_build_object('change_id', c ->> 'change_id', 'kind', c ->> 'kind',
                                             'rule_key', c ->> 'rule_key', 'label', c ->> 'label',
                                             'payload', c -> 'payload');
    END IF;
    n_records := n_records + 1;
  END LOOP;
  RETURN jsonb_build_object('dry_run', dry_run, 'source', bundle -> 'source', 'records', n_records,
                            'recovered', recovered, 'already_held', already, 'conflicts', conflicts,
                            'listed_not_applied', listed, 'signature', signature,
                            'open_conflicts', (SELECT count(*) FROM rulekeeper.conflict WHERE status = 'open'));
END
$$;
