-- Journaling for the low-volume tables, one function driven by its trigger
-- arguments: journal a row that arrives without a change_id; check one that
-- arrives with it (pg_restore, reconcile). Arguments:
--   0      the journal kind;
--   1, 2   the columns that give the entry's rule_key and label ('' = none);
--   3...   the payload, one member per argument: 'col' (the column under its
--          own name), 'key=col' (under another name), 'key=col.member' (the
--          text of a member of a jsonb column), or '*' (the whole row but
--          change_id).
CREATE FUNCTION rulekeeper._journal_row() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, rulekeeper, pg_temp AS $$
DECLARE
  r jsonb := to_jsonb(NEW);
  payload jsonb := '{}';
  key text;
  path text[];
BEGIN
  IF NEW.change_id IS NOT NULL THEN
    PERFORM rulekeeper._journal_check(NEW.change_id, TG_ARGV[0], r ->> TG_ARGV[1], r ->> TG_ARGV[2]);
    RETURN NEW;
  END IF;
  FOR i IN 3 .. TG_NARGS - 1 LOOP
    IF TG_ARGV[i] = '*' THEN
      payload := payload || (r - 'change_id');
      CONTINUE;
    END IF;
    key := split_part(TG_ARGV[i], '=', 1);
    path := string_to_array(COALESCE(NULLIF(split_part(TG_ARGV[i], '=', 2), ''), key), '.');
    payload := payload || jsonb_build_object(key, CASE WHEN cardinality(path) = 1 THEN r -> path[1]
                                                       ELSE to_jsonb(r #>> path) END);
  END LOOP;
  NEW.change_id := rulekeeper._journal(TG_ARGV[0], r ->> TG_ARGV[1], r ->> TG_ARGV[2], payload);
  RETURN NEW;
END
$$;
