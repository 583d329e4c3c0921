-- The monitoring functions (issue #17 item 4, docs/monitoring.md): figures
-- only, for role rulekeeper_monitor, which may call them and nothing else of
-- the extension. Runs at the suite's e1. (The real exporter scraping a
-- primary and a standby: tests/integration/test_monitoring.cpp.)
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS rulekeeper CASCADE;
CREATE EXTENSION rulekeeper;
RESET client_min_messages;

-- A fresh node: epoch 0, no release, no heartbeat (e1 does not beat), nothing to alert on.
SELECT site, environment, role, activation_epoch, epoch_incarnation, heartbeat_site, heartbeat_age_seconds,
       replay_lag_upper_bound_seconds, open_conflicts, last_release_at, last_release_drift,
       last_release_drifted_rules, drift_since_last_release, hotfixes_since_last_release
  FROM rulekeeper.monitor_node();
SELECT * FROM rulekeeper.monitor_channels();
-- Every qualification of the node's environment, zero included.
SELECT * FROM rulekeeper.monitor_versions();
SELECT rulekeeper.create_rule('mon.a', 'mon');
SELECT rulekeeper.create_version('mon.a', '{"rate": 1}');
SELECT rulekeeper.create_version('mon.a', '{"rate": 2}');
SELECT * FROM rulekeeper.monitor_versions();

-- rulekeeper_monitor: the three functions, and not one rule.
CREATE ROLE rk_monitor_only IN ROLE rulekeeper_monitor;
SET ROLE rk_monitor_only;
SELECT site, role, activation_epoch, open_conflicts FROM rulekeeper.monitor_node();
SELECT count(*) FROM rulekeeper.monitor_channels();
SELECT qualification, versions FROM rulekeeper.monitor_versions() WHERE versions > 0;
SELECT count(*) FROM rulekeeper.rule_version;
SELECT count(*) FROM rulekeeper.effective_rules('prod');
SELECT rulekeeper.activation_epoch();
SELECT * FROM rulekeeper.replication_status;
SELECT rulekeeper.create_version('mon.a', '{"rate": 3}');
RESET ROLE;
DROP ROLE rk_monitor_only;
-- Every rulekeeper role reads the same figures (rulekeeper_reader is a member).
SELECT pg_has_role('rulekeeper_reader', 'rulekeeper_monitor', 'MEMBER') AS reader_is_member,
       pg_has_role('rulekeeper_monitor', 'rulekeeper_reader', 'MEMBER') AS monitor_is_not_a_reader;
