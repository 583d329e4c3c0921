-- A channel that is not one (issue 15 item 19): every SQL function taking a
-- channel raises an error naming the channels. Before, effective_rules('green')
-- answered no rows and effective_version(k, 'blue') NULL: a pod configured
-- with a colour ran without rules. Runs as site ipc2 in environment e3.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;
ALTER SYSTEM SET rulekeeper.site = 'ipc2';
ALTER SYSTEM SET rulekeeper.environment = 'e3';
SELECT pg_reload_conf();
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e3'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;

-- The pods' reads.
SELECT * FROM rulekeeper.effective_rules('green');
SELECT rulekeeper.effective_version('pricing.discount', 'blue');
SELECT count(*) FROM rulekeeper.effective_rules('');
-- Through a parameter (a prepared statement, as a driver sends it).
PREPARE pod(text) AS SELECT count(*) FROM rulekeeper.effective_rules($1);
EXECUTE pod('sl');
EXECUTE pod('green');
PREPARE pod_version(text, text) AS SELECT rulekeeper.effective_version($1, $2);
EXECUTE pod_version('pricing.discount', 'prod');
EXECUTE pod_version('pricing.discount', 'PROD');
-- The real channels answer as before: nothing active, no error.
SELECT count(*) AS sl_rules FROM rulekeeper.effective_rules('sl');
SELECT rulekeeper.effective_version('pricing.discount', 'prod') IS NULL AS prod_none;
-- NULL stays NULL (the functions are STRICT).
SELECT rulekeeper.effective_version('pricing.discount', NULL) IS NULL AS null_channel;
SELECT count(*) FROM rulekeeper.effective_rules(NULL);

-- The changes and the reads rulectl makes.
SELECT rulekeeper.activate('pricing.discount', '1', 'green');
SELECT rulekeeper.deactivate('pricing.discount', 'blue');
SELECT rulekeeper.rollback('pricing.discount', 'green');
SELECT rulekeeper.rollback_target('pricing.discount', 'green');
SELECT rulekeeper.pin('pricing.discount', 'green', '1');
SELECT rulekeeper.unpin('pricing.discount', 'green');
SELECT * FROM rulekeeper.channel_activation('pricing.discount', 'blue');
SELECT * FROM rulekeeper.channel_bucket_versions('green', ARRAY[1]);
SELECT rulekeeper.snapshot_checksum('green');

ALTER SYSTEM RESET rulekeeper.site;
ALTER SYSTEM RESET rulekeeper.environment;
SELECT pg_reload_conf();
-- Back to this suite's own settings before the next file starts.
\set ECHO none
SELECT 'DO $$BEGIN IF current_setting(''rulekeeper.environment'') <> ''e1'' THEN PERFORM pg_sleep(0.01); END IF; END$$'
  FROM generate_series(1, 500) \gexec
\set ECHO all
SELECT current_setting('rulekeeper.site') AS site, current_setting('rulekeeper.environment') AS environment;
