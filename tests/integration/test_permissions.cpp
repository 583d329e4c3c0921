// The permission matrix (issue #8, item 1): every table, view and function of
// schema rulekeeper, called from a real connection as each rulekeeper role, a
// plain login role and the owner (postgres), against the outcome the matrix
// below says. The matrix is data: the same rows render docs/permissions.md
// (PermissionsDocs.DocsMatchMatrix fails when the file and the data drift apart;
// RULEKEEPER_UPDATE_DOCS=1 rewrites it). Then the hijack cases: a caller's
// own schema first on search_path, temporary tables named like the
// extension's, and operators on text (and others) placed before pg_catalog
// must not change any function's answer or effect.
// Ports: integration_permissions in tests/ports.txt (e3 site ipc2, e1).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <libpq-fe.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "pipeline.hpp"
#include "raw_connection.hpp"

using rulekeeper::testing::Raw;

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::sql_value;

namespace {

constexpr int kPortE3 = ports::integration_permissions[0];
constexpr int kPortE1 = ports::integration_permissions[1];

// ---------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------

// Columns, in order. Each rulekeeper role gets a login role that is a member
// of it and nothing else; `rk_plain` is a login role with no grant at all;
// `postgres` owns the extension (the reference that the call itself works).
struct Column {
  const char* heading;
  const char* login;
  const char* member_of;  // nullptr: none (plain) / superuser
};
const Column kColumns[] = {
    {"reader", "rk_reader", "rulekeeper_reader"},       {"author", "rk_author", "rulekeeper_author"},
    {"releaser", "rk_releaser", "rulekeeper_releaser"}, {"hotfix", "rk_hotfix", "rulekeeper_hotfix"},
    {"admin", "rk_admin", "rulekeeper_admin"},          {"plain login", "rk_plain", nullptr},
    {"postgres (owner)", "postgres", nullptr},
};
constexpr int kNColumns = 7;

// Outcomes, one letter per column:
//   A  allowed: the call succeeds;
//   D  denied: SQLSTATE 42501, "permission denied for ..." (table, function,
//      schema) — the privilege check, before any rule of the extension runs;
//   R  the privilege check passes, an extension rule refuses (a trigger, a
//      foreign key): any error but 42501.
// Every row has at least one A or R, so a denial is about the role, never the
// call or the data.
struct Row {
  std::string object;       // regprocedure / relation name as pg_catalog prints it
  std::string kind;         // table, view, function, procedure, trigger function
  std::string site;         // e3 (site ipc2) or e1
  std::string sql;          // the call; {placeholders} are filled in from the setup
  std::string expect;       // kNColumns letters
  bool autocommit = false;  // run outside BEGIN ... ROLLBACK (a procedure that commits)
};

// Tables: (name, a column to "update" and whether postgres's TRUNCATE is
// refused by a rule: an append-only trigger or a foreign key onto it).
struct TableSpec {
  const char* name;
  const char* column;
  bool truncate_refused;
  bool admin_writes = false;  // configuration rulekeeper_admin writes directly
};
const TableSpec kTables[] = {
    {"activation", "label", false},
    {"activation_history", "label", false},
    {"checksum_bucket", "sum", false},
    {"conflict", "status", false},
    {"failover_event", "details", false},
    {"failover_annotation", "details", false},
    {"heartbeat", "beat_seq", false},
    {"hotfix", "reason", false},
    {"hotfix_policy", "allowed_paths", false, true},
    {"incarnation", "site", false},
    {"journal", "kind", true},
    {"notification_hold", "reason", true},
    {"qualification_history", "reason", true},
    {"release_log", "drift", false},
    {"rule", "description", true},
    {"rule_version", "annotations", true},
    {"trusted_key", "reason", false},
};
const char* kViews[] = {"channel_admission",  "qualification", "qualification_transition",
                        "replication_status", "rule_state",    "version_state"};

// Grants as the install script makes them (reader's are inherited by author,
// releaser and hotfix, which are members of rulekeeper_reader).
const char* kReaders = "AAAAADA";
const char* kAuthor = "DADDADA";
const char* kReleaser = "DDADADA";
const char* kHotfix = "DDDAADA";
const char* kAdminOnly = "DDDDADA";
// The extension owner's alone, not even rulekeeper_admin's (issue #13): the
// site lock taken bare could stop every writer, the audit fields set by hand
// could forge history, and the internal writers trust their arguments — each
// is reached by everyone only through the functions that call it.
const char* kOwnerOnly = "DDDDDDA";
const char* kExporters = "DAADADA";

std::vector<Row> function_rows() {
  std::vector<Row> f = {
      // What pods and every role read.
      {"rulekeeper.effective_rules(text)", "function", "e3", "SELECT count(*) FROM rulekeeper.effective_rules('prod')",
       kReaders},
      {"rulekeeper.effective_version(text,text)", "function", "e3",
       "SELECT rulekeeper.effective_version('perm.a', 'prod')", kReaders},
      {"rulekeeper.activation_epoch()", "function", "e3", "SELECT rulekeeper.activation_epoch()", kReaders},
      {"rulekeeper.wait_for_epoch(bigint,integer,bigint)", "procedure", "e3", "CALL rulekeeper.wait_for_epoch(0, 100)",
       kReaders, true},
      {"rulekeeper._in_transaction_block()", "function", "e3", "SELECT rulekeeper._in_transaction_block()", kReaders},
      {"rulekeeper._require_channel(text)", "function", "e3", "SELECT rulekeeper._require_channel('prod')", kReaders},
      {"rulekeeper.version_vector()", "function", "e3", "SELECT rulekeeper.version_vector()", kReaders},
      {"rulekeeper.journal_since(jsonb)", "function", "e3", "SELECT count(*) FROM rulekeeper.journal_since('{}')",
       kReaders},
      {"rulekeeper.bucket_versions(integer[])", "function", "e3",
       "SELECT count(*) FROM rulekeeper.bucket_versions(ARRAY[0, 1, 2])", kReaders},
      {"rulekeeper.snapshot_checksum(text)", "function", "e3", "SELECT rulekeeper.snapshot_checksum('all')", kReaders},
      {"rulekeeper.checksum_buckets(text)", "function", "e3", "SELECT count(*) FROM rulekeeper.checksum_buckets('all')",
       kReaders},
      {"rulekeeper.verify_checksums()", "function", "e3", "SELECT count(*) FROM rulekeeper.verify_checksums()",
       kReaders},
      // The journal hash chain (docs/tamper-evidence.md).
      {"rulekeeper.verify_history()", "function", "e3", "SELECT count(*) FROM rulekeeper.verify_history()", kReaders},
      {"rulekeeper.chain_heads()", "function", "e3", "SELECT count(*) FROM rulekeeper.chain_heads()", kReaders},
      {"rulekeeper.chain_hash_at(text,integer,bigint)", "function", "e3",
       "SELECT rulekeeper.chain_hash_at('ipc2', 1, 1)", kReaders},
      {"rulekeeper.timeline()", "function", "e3", "SELECT rulekeeper.timeline()", kReaders},
      {"rulekeeper.canonical_json(jsonb)", "function", "e3", "SELECT rulekeeper.canonical_json('{\"b\": 1, \"a\": 2}')",
       kReaders},
      {"rulekeeper.content_sha256(jsonb)", "function", "e3", "SELECT rulekeeper.content_sha256('{}')", kReaders},
      {"rulekeeper.entry_digest(text,text,text)", "function", "e3",
       "SELECT rulekeeper.entry_digest('perm.a', '1', repeat('0', 64))", kReaders},
      {"rulekeeper.bucket_of(text)", "function", "e3", "SELECT rulekeeper.bucket_of('perm.a')", kReaders},
      {"rulekeeper.checksum_algorithm()", "function", "e3", "SELECT rulekeeper.checksum_algorithm()", kReaders},
      {"rulekeeper._qualifications()", "function", "e3", "SELECT count(*) FROM rulekeeper._qualifications()", kReaders},
      {"rulekeeper._transitions()", "function", "e3", "SELECT count(*) FROM rulekeeper._transitions()", kReaders},
      {"rulekeeper._channel_admissions()", "function", "e3", "SELECT count(*) FROM rulekeeper._channel_admissions()",
       kReaders},
      {"rulekeeper._admission_list(text)", "function", "e3", "SELECT rulekeeper._admission_list('prod')", kReaders},
      {"rulekeeper.rollback_target(text,text)", "function", "e3", "SELECT rulekeeper.rollback_target('perm.a', 'sl')",
       kReaders},
      {"rulekeeper.diff(text,text,text)", "function", "e3", "SELECT count(*) FROM rulekeeper.diff('perm.a', '1', '2')",
       kReaders},
      {"rulekeeper._json_diff(jsonb,jsonb)", "function", "e3",
       "SELECT count(*) FROM rulekeeper._json_diff('{\"a\": 1}', '{\"a\": 2}')", kReaders},
      {"rulekeeper._replication_status()", "function", "e3", "SELECT count(*) FROM rulekeeper._replication_status()",
       kReaders},
      {"rulekeeper.export_changes(jsonb)", "function", "e3", "SELECT rulekeeper.export_changes('{}') ->> 'format'",
       kReaders},
      // What rulectl reads instead of tables: hotfix, reconcile, conflicts.
      {"rulekeeper.hotfixes(text,boolean)", "function", "e3", "SELECT count(*) FROM rulekeeper.hotfixes()", kReaders},
      {"rulekeeper.last_release_at()", "function", "e3", "SELECT rulekeeper.last_release_at()", kReaders},
      {"rulekeeper.hotfix_classifications(uuid)", "function", "e3",
       "SELECT count(*) FROM rulekeeper.hotfix_classifications('00000000-0000-4000-8000-000000000000')", kReaders},
      {"rulekeeper.hotfix_acknowledgements(uuid)", "function", "e3",
       "SELECT count(*) FROM rulekeeper.hotfix_acknowledgements('00000000-0000-4000-8000-000000000000')", kReaders},
      {"rulekeeper.version_with_content(text,text)", "function", "e3",
       "SELECT count(*) FROM rulekeeper.version_with_content('perm.a', repeat('0', 64))", kReaders},
      {"rulekeeper.recovered_label(text)", "function", "e3",
       "SELECT rulekeeper.recovered_label('00000000-0000-4000-8000-000000000000')", kReaders},
      {"rulekeeper.conflicts(boolean,text)", "function", "e3", "SELECT count(*) FROM rulekeeper.conflicts(true)",
       kReaders},
      // rulectl read functions: failover/rejoin.
      {"rulekeeper.latest_failover_event()", "function", "e3",
       "SELECT count(*) FROM rulekeeper.latest_failover_event()", kReaders},
      // Every promotion recorded by the extension (issue 16, extension 0.2).
      {"rulekeeper.failover_events()", "function", "e3", "SELECT count(*) FROM rulekeeper.failover_events()", kReaders},
      {"rulekeeper.expect_promotion(text,boolean,jsonb)", "function", "e3",
       "SELECT rulekeeper.expect_promotion('ipc0', false, '{}')", kReleaser},
      {"rulekeeper._parent_timeline(integer)", "function", "e3", "SELECT rulekeeper._parent_timeline(2)", kOwnerOnly},
      {"rulekeeper._take_promotion_intent(integer)", "function", "e3", "SELECT rulekeeper._take_promotion_intent(1)",
       kOwnerOnly},
      {"rulekeeper._promotion_event_here()", "function", "e3",
       "SELECT count(*) FROM rulekeeper._promotion_event_here()", kOwnerOnly},
      {"rulekeeper._record_promotion(text)", "function", "e3", "SELECT rulekeeper._record_promotion('matrix')",
       kOwnerOnly},
      {"rulekeeper.heartbeat_of(text)", "function", "e3", "SELECT count(*) FROM rulekeeper.heartbeat_of('ipc2')",
       kReaders},
      // rulectl's reads for release, channels, compare, at-risk and status.
      {"rulekeeper.release_versions_present(jsonb)", "function", "e3",
       "SELECT count(*) FROM rulekeeper.release_versions_present({bundle})", kReaders},
      {"rulekeeper.channel_activation(text,text)", "function", "e3",
       "SELECT count(*) FROM rulekeeper.channel_activation('perm.a', 'prod')", kReaders},
      {"rulekeeper.channel_bucket_versions(text,integer[])", "function", "e3",
       "SELECT count(*) FROM rulekeeper.channel_bucket_versions('prod', ARRAY[0, 1, 2])", kReaders},
      {"rulekeeper.journal_from_lsn(pg_lsn)", "function", "e3",
       "SELECT count(*) FROM rulekeeper.journal_from_lsn('0/0')", kReaders},
      // Monitoring (issue #17): figures only, for rulekeeper_monitor (of which
      // rulekeeper_reader is a member); test_monitoring.cpp checks that a
      // login granted only rulekeeper_monitor can call these and nothing else.
      {"rulekeeper.monitor_node()", "function", "e3", "SELECT count(*) FROM rulekeeper.monitor_node()", kReaders},
      {"rulekeeper.monitor_channels()", "function", "e3", "SELECT count(*) FROM rulekeeper.monitor_channels()",
       kReaders},
      {"rulekeeper.monitor_versions()", "function", "e3", "SELECT count(*) FROM rulekeeper.monitor_versions()",
       kReaders},
      // Per-channel epochs and what a gateway serves (issue #18): pods and
      // gateways read them with rulekeeper_reader.
      {"rulekeeper.activation_epoch(text)", "function", "e3", "SELECT rulekeeper.activation_epoch('prod')", kReaders},
      {"rulekeeper.wait_for_epoch(text,bigint,integer,bigint)", "procedure", "e3",
       "CALL rulekeeper.wait_for_epoch('prod', 0, 100)", kReaders, true},
      {"rulekeeper.effective_rules(text,bigint)", "function", "e3",
       "SELECT count(*) FROM rulekeeper.effective_rules('prod', rulekeeper.activation_epoch('prod'))", kReaders},
      {"rulekeeper.notification_state(text)", "function", "e3",
       "SELECT count(*) FROM rulekeeper.notification_state('ipc1')", kReaders},
      // The portal's reads (issue #19): every rulekeeper role, like the tables.
      {"rulekeeper.rules_served(text,text)", "function", "e3", "SELECT count(*) FROM rulekeeper.rules_served()",
       kReaders},
      {"rulekeeper.rule_versions(text)", "function", "e3", "SELECT count(*) FROM rulekeeper.rule_versions('perm.a')",
       kReaders},
      {"rulekeeper.rule_history(text)", "function", "e3", "SELECT count(*) FROM rulekeeper.rule_history('perm.a')",
       kReaders},
      {"rulekeeper.version_body(text,text)", "function", "e3", "SELECT rulekeeper.version_body('perm.a', '1')",
       kReaders},
      // Holds of a (site, channel) notification scope: releasers, at the E3
      // primary. Nothing is held in the setup: a release is refused there.
      {"rulekeeper.hold_notifications(text,text,text)", "function", "e3",
       "SELECT rulekeeper.hold_notifications('ipc1', 'prod', 'matrix')", kReleaser},
      {"rulekeeper.release_notifications(text,text,text)", "function", "e3",
       "SELECT rulekeeper.release_notifications('ipc1', 'prod', 'matrix')", "DDRDRDR"},
      {"rulekeeper._notification_scope(text,text)", "function", "e3",
       "SELECT count(*) FROM rulekeeper._notification_scope('ipc1', 'prod')", kOwnerOnly},
      {"rulekeeper._require_notification_scope(text,text,text)", "function", "e3",
       "SELECT rulekeeper._require_notification_scope('ipc1', 'prod', 'matrix')", kOwnerOnly},
      // Authoring, at e1.
      {"rulekeeper.create_rule(text,text,text)", "function", "e1", "SELECT rulekeeper.create_rule('perm.new', 'perm')",
       kAuthor},
      {"rulekeeper.create_version(text,jsonb)", "function", "e1",
       "SELECT rulekeeper.create_version('perm.e1', '{\"rate\": 9}'::jsonb)", kAuthor},
      {"rulekeeper.create_version(text,text)", "function", "e1",
       "SELECT rulekeeper.create_version('perm.e1', '{\"rate\": 9}'::text)", kAuthor},
      {"rulekeeper.export_release(text[])", "function", "e1", "SELECT rulekeeper.export_release() ->> 'format'",
       kExporters},
      {"rulekeeper.export_release_again(text[])", "function", "e1",
       "SELECT rulekeeper.export_release_again() ->> 'format'", kExporters},
      {"rulekeeper._release_bundle(text,text[],text,text)", "function", "e1",
       "SELECT rulekeeper._release_bundle('draft', NULL, 'e1', 'e1') ->> 'format'", kOwnerOnly},
      // Releases, validation, activation.
      {"rulekeeper.import_release(jsonb,text)", "function", "e3",
       "SELECT rulekeeper.import_release({bundle}) ->> 'imported'", kReleaser},
      {"rulekeeper.import_release_text(text,text)", "function", "e3",
       "SELECT rulekeeper.import_release_text({bundle}) ->> 'imported'", kReleaser},
      {"rulekeeper.transition(text,text,text,text)", "function", "e3",
       "SELECT rulekeeper.transition('perm.a', '2', 'sl_validated', 'matrix')", kReleaser},
      {"rulekeeper.activate(text,text,text,boolean,bigint,text[])", "function", "e3",
       "SELECT rulekeeper.activate('perm.a', '1', 'sl')", kReleaser},
      {"rulekeeper.deactivate(text,text,boolean,bigint,text[])", "function", "e3",
       "SELECT rulekeeper.deactivate('perm.a', 'sl')", kReleaser},
      {"rulekeeper.rollback(text,text,boolean,bigint,text[])", "function", "e3",
       "SELECT rulekeeper.rollback('perm.a', 'sl')", kReleaser},
      {"rulekeeper.pin(text,text,text,boolean,text[])", "function", "e3", "SELECT rulekeeper.pin('perm.a', 'sl', '2')",
       kReleaser},
      {"rulekeeper.unpin(text,text)", "function", "e3", "SELECT rulekeeper.unpin('perm.a', 'prod')", kReleaser},
      {"rulekeeper.cutover(boolean,text[])", "function", "e3", "SELECT rulekeeper.cutover()", kReleaser},
      {"rulekeeper.record_failover(text,boolean,jsonb)", "function", "e3",
       "SELECT rulekeeper.record_failover('ipc0', false)", kReleaser},
      {"rulekeeper.import_changes(jsonb,boolean)", "function", "e3",
       "SELECT rulekeeper.import_changes({changes}::jsonb) ->> 'records'", kReleaser},
      {"rulekeeper.import_changes(text,boolean)", "function", "e3",
       "SELECT rulekeeper.import_changes({changes}::text) ->> 'records'", kReleaser},
      {"rulekeeper.resolve_conflict(uuid,text)", "function", "e3",
       "SELECT rulekeeper.resolve_conflict({conflict}, 'target')", kReleaser},
      // Hotfix.
      {"rulekeeper.hotfix(text,jsonb,text,text)", "function", "e3",
       "SELECT rulekeeper.hotfix('perm.a', '{\"rate\": 1.5, \"name\": \"a\"}'::jsonb, 'matrix')", kHotfix},
      {"rulekeeper.hotfix(text,text,text,text)", "function", "e3",
       "SELECT rulekeeper.hotfix('perm.a', '{\"rate\": 1.5, \"name\": \"a\"}'::text, 'matrix')", kHotfix},
      // Internal: admin (and the owner) only.
      {"rulekeeper.incarnation()", "function", "e3", "SELECT rulekeeper.incarnation()", kAdminOnly},
      {"rulekeeper._canonical_json_via_text(jsonb)", "function", "e3",
       "SELECT rulekeeper._canonical_json_via_text('{\"b\": 1}')", kAdminOnly},
      {"rulekeeper._adhash_add(bytea,bytea)", "function", "e3",
       "SELECT rulekeeper._adhash_add(decode(repeat('00', 32), 'hex'), decode(repeat('01', 32), 'hex'))", kAdminOnly},
      {"rulekeeper._require_environment(text,text)", "function", "e3",
       "SELECT rulekeeper._require_environment('e3', 'matrix')", kAdminOnly},
      {"rulekeeper._require_site(text)", "function", "e3", "SELECT rulekeeper._require_site('matrix')", kAdminOnly},
      {"rulekeeper._lock_site()", "function", "e3", "SELECT rulekeeper._lock_site()", kOwnerOnly},
      {"rulekeeper._audit_set(text,text)", "function", "e3", "SELECT rulekeeper._audit_set('reason', 'matrix')",
       kOwnerOnly},
      {"rulekeeper._audit_get(text)", "function", "e3", "SELECT rulekeeper._audit_get('reason')", kOwnerOnly},
      {"rulekeeper._require_reason(text,text)", "function", "e3",
       "SELECT rulekeeper._require_reason('matrix', 'a change')", kOwnerOnly},
      {"rulekeeper._is_blank(text)", "function", "e3", "SELECT rulekeeper._is_blank(' ')", kAdminOnly},
      {"rulekeeper._journal(text,text,text,jsonb)", "function", "e3",
       "SELECT rulekeeper._journal('matrix', NULL, NULL, '{}')", kOwnerOnly},
      {"rulekeeper._journal_check(uuid,text,text,text)", "function", "e3",
       "SELECT rulekeeper._journal_check({rule_change}, 'rule', 'perm.a', NULL)", kAdminOnly},
      {"rulekeeper._next_epoch()", "function", "e3", "SELECT rulekeeper._next_epoch()", kAdminOnly},
      {"rulekeeper._journal_entry_hash(text,rulekeeper.journal)", "function", "e3",
       "SELECT rulekeeper._journal_entry_hash(repeat('0', 64), j) FROM rulekeeper.journal j LIMIT 1", kAdminOnly},
      {"rulekeeper._check_changes_entries(jsonb)", "function", "e3",
       "SELECT rulekeeper._check_changes_entries({changes})", kAdminOnly},
      {"rulekeeper._boundary_selftest(text)", "function", "e3", "SELECT rulekeeper._boundary_selftest('count')",
       kAdminOnly},
      {"rulekeeper._check_transition(text,text,text,text)", "function", "e3",
       "SELECT rulekeeper._check_transition('perm.a', '2', 'awaiting_sl', 'sl_validated')", kAdminOnly},
      {"rulekeeper._jcs_sha256(jsonb)", "function", "e3", "SELECT rulekeeper._jcs_sha256('{}')", kAdminOnly},
      {"rulekeeper._classify(jsonb,jsonb)", "function", "e3", "SELECT rulekeeper._classify('[]', '{}')", kAdminOnly},
      {"rulekeeper._paths_outside(text[],text[])", "function", "e3",
       "SELECT rulekeeper._paths_outside(ARRAY['/rate'], ARRAY['/rate'])", kAdminOnly},
      {"rulekeeper._diff_json(jsonb,jsonb)", "function", "e3",
       "SELECT rulekeeper._diff_json('{\"a\": 1}', '{\"a\": 2}')", kAdminOnly},
      {"rulekeeper._diff_text(jsonb)", "function", "e3", "SELECT rulekeeper._diff_text('[]')", kAdminOnly},
      {"rulekeeper._combine(text[])", "function", "e3", "SELECT rulekeeper._combine(ARRAY['included'])", kAdminOnly},
      {"rulekeeper._annotate_hotfixes(text,text)", "function", "e3",
       "SELECT rulekeeper._annotate_hotfixes('perm.a', '2')", kAdminOnly},
      {"rulekeeper._undone_hotfixes(text,text,text)", "function", "e3",
       "SELECT rulekeeper._undone_hotfixes('perm.a', '1', '2')", kAdminOnly},
      {"rulekeeper._undone_names(jsonb)", "function", "e3",
       "SELECT rulekeeper._undone_names(rulekeeper._undone_hotfixes('perm.a', '1', NULL))", kAdminOnly},
      {"rulekeeper._undone_detail(jsonb,text)", "function", "e3",
       "SELECT rulekeeper._undone_detail(rulekeeper._undone_hotfixes('perm.a', '1', NULL), NULL)", kAdminOnly},
      // Issue 15: the hotfix gate as one list, acknowledged exactly
      // (docs/hotfix.md "Acknowledging exactly what was shown"); readers may
      // see the list (dry runs, plans), only the functions check it.
      {"rulekeeper.hotfix_gate(text,text)", "function", "e3", "SELECT rulekeeper.hotfix_gate('perm.a', '2')", kReaders},
      {"rulekeeper._hotfix_gate(text,text,text)", "function", "e3",
       "SELECT rulekeeper._hotfix_gate('perm.a', '1', '2')", kAdminOnly},
      {"rulekeeper._gate_names(jsonb)", "function", "e3", "SELECT rulekeeper._gate_names('[]')", kAdminOnly},
      {"rulekeeper._gate_detail(jsonb,text)", "function", "e3", "SELECT rulekeeper._gate_detail('[]', '2')",
       kAdminOnly},
      {"rulekeeper._ack_labels(text[])", "function", "e3", "SELECT rulekeeper._ack_labels(ARRAY['1.1'])", kAdminOnly},
      {"rulekeeper._require_hotfix_acknowledgement(jsonb,text[],text,text,text)", "function", "e3",
       "SELECT rulekeeper._require_hotfix_acknowledgement('[]', NULL, 'matrix', NULL, NULL)", kAdminOnly},
      {"rulekeeper._gate_record(jsonb,text[])", "function", "e3", "SELECT rulekeeper._gate_record('[]', NULL)",
       kAdminOnly},
      {"rulekeeper._heartbeat_age(timestamp with time zone)", "function", "e3",
       "SELECT rulekeeper._heartbeat_age(now())", kAdminOnly},
      {"rulekeeper._check_json_text(text)", "function", "e3", "SELECT rulekeeper._check_json_text('{}')", kAdminOnly},
      {"rulekeeper._check_body_text(text)", "function", "e3", "SELECT rulekeeper._check_body_text('{}')", kAdminOnly},
      {"rulekeeper._validate_bundle(jsonb,text,text)", "function", "e3",
       "SELECT rulekeeper._validate_bundle('{\"format\": \"rulekeeper-bundle/1\", \"rules\": [], \"source\": "
       "{\"environment\": \"e2\", \"site\": \"e2\"}, \"versions\": [], \"bundle_sha256\": "
       "\"f1e4be1e3d8a4ea0b12295bd8693ccaca0106bd630ec0323dc0f1df515fe6e21\"}', 'e3', 'ipc2')",
       kAdminOnly},
      {"rulekeeper._set_activation(text,text,text,boolean,bigint,text,boolean,text[])", "function", "e3",
       "SELECT rulekeeper._set_activation('perm.a', '1', 'sl', false, NULL, 'activate')", kOwnerOnly},
      // Bundle signatures (docs/keys.md): admin trusts and revokes keys (through
      // the functions only); only the owner signs.
      {"rulekeeper.signing_public_key()", "function", "e3", "SELECT key_id FROM rulekeeper.signing_public_key()",
       kReaders},
      {"rulekeeper.trusted_keys()", "function", "e3", "SELECT count(*) FROM rulekeeper.trusted_keys()", kReaders},
      {"rulekeeper.trust_key(text,text,text)", "function", "e3",
       "SELECT rulekeeper.trust_key('e1', public_key, 'matrix') FROM rulekeeper.signing_public_key()", kAdminOnly},
      {"rulekeeper.revoke_key(text,text)", "function", "e3",
       "SELECT rulekeeper.revoke_key(key_id, 'matrix') FROM rulekeeper.signing_public_key()", kAdminOnly},
      {"rulekeeper.sign_bundle(jsonb)", "function", "e3",
       "SELECT rulekeeper.sign_bundle('{\"format\": \"rulekeeper-bundle/1\", \"bundle_sha256\": \"\"}')", "DDDDDDA"},
      {"rulekeeper._sign_checksum(text,text)", "function", "e3", "SELECT rulekeeper._sign_checksum('f', 'c')",
       "DDDDDDA"},
      {"rulekeeper._bundle_signature(text,text)", "function", "e3", "SELECT rulekeeper._bundle_signature('f', 'c')",
       "DDDDDDA"},
      {"rulekeeper._signing_key_info()", "function", "e3", "SELECT rulekeeper._signing_key_info()", "DDDDDDA"},
      {"rulekeeper._ed25519_public_key(text)", "function", "e3",
       "SELECT rulekeeper._ed25519_public_key(public_key) FROM rulekeeper.signing_public_key()", kAdminOnly},
      {"rulekeeper._verify_bundle_signature(bytea,text,text,text)", "function", "e3",
       "SELECT rulekeeper._verify_bundle_signature('\\x00', 'f', 'c', 'v')", kAdminOnly},
      {"rulekeeper._check_bundle_signature(jsonb,text,text,text,text)", "function", "e3",
       "SELECT rulekeeper._check_bundle_signature({bundle}::jsonb -> 'signature', 'rulekeeper-bundle/1', "
       "{bundle}::jsonb ->> 'bundle_sha256', 'e2', 'release')",
       kAdminOnly},
      {"rulekeeper._recover_version(jsonb,jsonb)", "function", "e3",
       "SELECT rulekeeper._recover_version('{\"rule_key\": \"perm.a\", \"version\": 1, \"hotfix\": 0, \"label\": "
       "\"1\", "
       "\"body\": {\"rate\": 7, \"name\": \"a\"}}', '{\"change_id\": \"00000000-0000-4000-8000-000000000000\", "
       "\"origin_site\": \"ipc0\", \"origin_incarnation\": 1}')",
       kOwnerOnly},
      {"rulekeeper._return_released_version(jsonb,jsonb,jsonb)", "function", "e3",
       "SELECT rulekeeper._return_released_version('{\"rule_key\": \"perm.a\", \"version\": 1, \"hotfix\": 0, "
       "\"label\": \"1\", \"body\": {\"rate\": 7, \"name\": \"a\"}}', '{\"change_id\": "
       "\"00000000-0000-4000-8000-000000000000\", \"origin_site\": \"ipc0\", \"origin_incarnation\": 1}', NULL)",
       kOwnerOnly},
  };
  // Trigger functions cannot be called (not even by the owner: "trigger
  // functions can only be called as triggers"); their EXECUTE grant is
  // checked in the catalog instead (has_function_privilege), where the owner
  // and admin hold it and nobody else does.
  for (const char* t : {"_journal_activation", "_journal_hotfix_policy", "_journal_row", "_refuse_change",
                        "_rule_version_after_insert", "_rule_version_after_update", "_rule_version_before_insert",
                        "_rule_version_before_update", "_rule_version_journal_flush", "_trusted_key_update"})
    f.push_back({fmt::format("rulekeeper.{}()", t), "trigger function", "e3", "", kAdminOnly});
  return f;
}

std::vector<Row> matrix() {
  std::vector<Row> rows;
  for (const TableSpec& t : kTables) {
    const std::string q = fmt::format("rulekeeper.{}", t.name);
    rows.push_back({q, "table", "e3", fmt::format("SELECT count(*) FROM {}", q), "AAAAADA"});
    // Direct writes: the owner's; rulekeeper_admin's on configuration only.
    const char* writers = t.admin_writes ? "DDDDADA" : "DDDDDDA";
    rows.push_back({q, "table", "e3", fmt::format("INSERT INTO {0} SELECT * FROM {0} WHERE false", q), writers});
    rows.push_back(
        {q, "table", "e3", fmt::format("UPDATE {} SET {} = {} WHERE false", q, t.column, t.column), writers});
    rows.push_back({q, "table", "e3", fmt::format("DELETE FROM {} WHERE false", q), writers});
    rows.push_back({q, "table", "e3", fmt::format("TRUNCATE {}", q), t.truncate_refused ? "DDDDDDR" : "DDDDDDA"});
  }
  for (const char* v : kViews)
    rows.push_back({fmt::format("rulekeeper.{}", v), "view", "e3", fmt::format("SELECT count(*) FROM rulekeeper.{}", v),
                    "AAAAADA"});
  for (Row& r : function_rows()) rows.push_back(std::move(r));
  return rows;
}

// ---------------------------------------------------------------------------
// docs/permissions.md, rendered from the matrix
// ---------------------------------------------------------------------------

std::string cell(char c) {
  switch (c) {
    case 'A': return "yes";
    case 'D': return "**denied**";
    case 'R': return "refused (rule)";
  }
  return "?";
}

std::string md_code(const std::string& s) {
  std::string out;
  for (char c : s) out += (c == '|') ? std::string("\\|") : std::string(1, c);
  return "`" + out + "`";
}

std::string render_docs() {
  std::ostringstream md;
  md << "# Permissions: who may call what\n\n"
        "<!-- Generated from the matrix in tests/integration/test_permissions.cpp; do not edit by hand.\n"
        "     PermissionsDocs.DocsMatchMatrix fails when this file and the matrix differ;\n"
        "     RULEKEEPER_UPDATE_DOCS=1 build/tests/integration/hardening_tests "
        "--gtest_filter=PermissionsDocs.DocsMatchMatrix rewrites it. -->\n\n"
        "Every row below is executed by `Permissions.MatrixHoldsOnRealConnections` from a real connection\n"
        "(`host=127.0.0.1 user=<login>`) as a login role that is a member of exactly one rulekeeper role,\n"
        "as a plain login role with no grant (`rk_plain`), and as the owner `postgres`, each call inside\n"
        "`BEGIN … ROLLBACK` (the procedure in autocommit), on a site `ipc2` in environment e3 (authoring\n"
        "rows: a site in e1). The outcome must be exactly the one shown:\n\n"
        "- **yes**: the call succeeds;\n"
        "- **denied**: SQLSTATE 42501 `permission denied for table|function|schema …` — the privilege\n"
        "  check, before any rule of the extension runs;\n"
        "- **refused (rule)**: the privilege check passes and a rule of the extension refuses (an\n"
        "  append-only trigger, a foreign key onto the table): an error that is not 42501.\n\n"
        "Every row has a column that is *yes* (or *refused (rule)*, where not even the owner may do it),\n"
        "so each denial is about the role, never about the call or the data. `rulekeeper_author`,\n"
        "`rulekeeper_releaser`, `rulekeeper_hotfix` and `rulekeeper_admin` are members of\n"
        "`rulekeeper_reader`. A plain login role has no `USAGE` on schema `rulekeeper`. The test also\n"
        "checks that the matrix names every table, view and function the extension has (a new object\n"
        "without a row fails it).\n\n"
        "## What rulekeeper_admin may write directly\n\n"
        "`rulekeeper_admin` may call every function and writes **configuration** directly: the\n"
        "`hotfix_policy` table (which paths a hotfix may change), where a trigger journals every insert,\n"
        "update and delete (kind `hotfix_policy`, with the actor) and a row arriving with a `change_id`\n"
        "(pg_restore) must match the newest policy entry of its ruleset. It does **not** write history or the\n"
        "state derived from it: `journal`, `rule`, `rule_version` (annotations included),\n"
        "`qualification_history`, `activation`, `activation_history`, `release_log`, `hotfix`,\n"
        "`incarnation`, `conflict`, `failover_event`, `checksum_bucket`, `heartbeat`, `notification_hold`\n"
        "(held and released through `hold_notifications()` and `release_notifications()`) and `trusted_key`\n"
        "(trusted through `trust_key()`, revoked through `revoke_key()`, both journaled) are written only\n"
        "by the functions (SECURITY DEFINER, as the owner) and by the superuser. A direct row could carry\n"
        "any `change_id`, epoch, actor, site or date and skip admission, the hotfix gate and the journal,\n"
        "and no trigger can tell it from a row `pg_restore` brings back (restore COPYs these tables as the\n"
        "superuser with triggers enabled: docs/backup.md). Each forgery found in issue #13 (an activation\n"
        "of an `awaiting_sl` version into prod, a reused `change_id`, a version born `sl_validated` over\n"
        "`max_body_bytes` with a journal entry naming another site and actor, qualification and\n"
        "activation history that never happened — an epoch of 2^63-1 —, annotations edited without a\n"
        "journal entry, a heartbeat dated in the future) is refused to the admin with 42501 by\n"
        "`AdminWrites.EveryForgeryOfTheIssueIsRefusedToTheAdmin`. The internal writers that trust their\n"
        "arguments (`_journal`, `_set_activation`, `_recover_version`) are the owner's only. A heartbeat\n"
        "dated in the future (a skewed clock, or a row the superuser wrote) reads as an unknown age, never\n"
        "as a negative lag. TRUNCATE is granted to nobody. What a superuser can still do is found by\n"
        "`verify_checksums()` and the journal checks (docs/checksums.md).\n\n"
        "A few internal functions are the extension owner's alone, not even `rulekeeper_admin`'s: the\n"
        "site lock (`_lock_site`: whoever could take it bare could hold it and stop every writer; it is\n"
        "a lock no SQL function of PostgreSQL can take, held only by rulekeeper's own writes until they\n"
        "commit) and the audit fields of history rows (`_audit_set`, `_audit_get`: the action,\n"
        "acknowledgement and reason the functions hand to their triggers in backend memory, so that no\n"
        "caller can forge them with a setting). A direct write (the admin's to `hotfix_policy`, the\n"
        "superuser's anywhere) is recorded as `direct insert|update|delete` (reason `direct UPDATE`). See\n"
        "[site-lock-and-audit-fields.md](site-lock-and-audit-fields.md).\n\n"
        "`{bundle}`, `{changes}`, `{conflict}`, `{rule_change}` stand for literals the test prepares: a\n"
        "valid bundle from e2, this site's own `export_changes('{}')`, an open conflict's id, the\n"
        "`change_id` of a rule's journal entry.\n\n";
  auto header = [&](const char* first) {
    md << "| " << first << " | call";
    for (const Column& c : kColumns) md << " | " << c.heading;
    md << " |\n|---|---";
    for (int i = 0; i < kNColumns; ++i) md << "|:-:";
    md << "|\n";
  };
  std::vector<Row> rows = matrix();
  md << "## Tables\n\n";
  header("table");
  for (const Row& r : rows)
    if (r.kind == "table") {
      md << "| " << md_code(r.object) << " | " << md_code(r.sql);
      for (char c : r.expect) md << " | " << cell(c);
      md << " |\n";
    }
  md << "\n## Views\n\n";
  header("view");
  for (const Row& r : rows)
    if (r.kind == "view") {
      md << "| " << md_code(r.object) << " | " << md_code(r.sql);
      for (char c : r.expect) md << " | " << cell(c);
      md << " |\n";
    }
  md << "\n## Functions and procedures\n\n"
        "SECURITY DEFINER functions set `search_path = pg_catalog, rulekeeper, pg_temp`; the SECURITY\n"
        "INVOKER hot path (`effective_rules`, `effective_version`, `activation_epoch`, `wait_for_epoch`)\n"
        "names every table, function and operator schema-qualified. The `Permissions.Hijack*` tests check\n"
        "that a caller's schema, temporary tables and operators cannot change an answer or an effect.\n\n";
  header("function");
  for (const Row& r : rows)
    if (r.kind == "function" || r.kind == "procedure") {
      md << "| " << md_code(r.object) << (r.site == "e1" ? " (at e1)" : "") << " | " << md_code(r.sql);
      for (char c : r.expect) md << " | " << cell(c);
      md << " |\n";
    }
  md << "\n## Trigger functions\n\n"
        "Not callable by anyone (\"trigger functions can only be called as triggers\"); the EXECUTE grant,\n"
        "checked with `has_function_privilege`, is the owner's and `rulekeeper_admin`'s only.\n\n"
        "| trigger function | EXECUTE";
  for (const Column& c : kColumns) md << " | " << c.heading;
  md << " |\n|---|---";
  for (int i = 0; i < kNColumns; ++i) md << "|:-:";
  md << "|\n";
  for (const Row& r : rows)
    if (r.kind == "trigger function") {
      md << "| " << md_code(r.object) << " | has_function_privilege";
      for (char c : r.expect) md << " | " << (c == 'A' ? "yes" : "no");
      md << " |\n";
    }
  return md.str();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------------------
// Clusters
// ---------------------------------------------------------------------------

std::string sql_literal(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string conninfo_as(const cluster::Node& n, const std::string& user, const std::string& db = "rules") {
  return fmt::format("host=127.0.0.1 port={} user={} dbname={} connect_timeout=5", n.port(), user, db);
}

void create_logins(cluster::Node& n) {
  auto c = n.connect("postgres");
  pqxx::nontransaction tx(*c);
  for (const Column& col : kColumns) {
    if (std::string(col.login) == "postgres") continue;
    tx.exec0(fmt::format("CREATE ROLE {} LOGIN{}", col.login,
                         col.member_of ? std::string(" IN ROLE ") + col.member_of : std::string()));
  }
}

// A bundle "from e2" as any tool outside could write one, signed with the
// node's key (trusted in seed_e3 for e2).
std::string make_bundle(const cluster::Node& n, const std::string& db, const std::string& rules_json,
                        const std::string& versions_json) {
  auto c = n.connect(db);
  pqxx::nontransaction tx(*c);
  return tx
      .exec_params(
          "SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))::text "
          "FROM ("
          " SELECT jsonb_build_object('format', 'rulekeeper-bundle/1',"
          "  'source', jsonb_build_object('site', 'e2', 'environment', 'e2'), 'rules', $1::jsonb,"
          "  'versions', (SELECT jsonb_agg(v || jsonb_build_object('content_sha256', rulekeeper.content_sha256(v -> "
          "'body')))"
          "                FROM jsonb_array_elements($2::jsonb) v)) b) x",
          rules_json, versions_json)[0][0]
      .c_str();
}

// The e3 state every matrix row and hijack case starts from: rule perm.a
// with 1 (sl_validated, prod pinned) and 2 (awaiting_sl, in sl), a hotfix
// policy for ruleset perm, an open conflict.
void seed_e3(cluster::Node& n, const std::string& db) {
  {
    // The node's own key signs the test's "e2" bundles and its own changes
    // bundles (docs/keys.md).
    auto c = n.connect(db);
    pqxx::nontransaction tx(*c);
    for (const char* env : {"e2", "e3"})
      tx.exec_params("SELECT rulekeeper.trust_key($1, public_key, 'matrix seed') FROM rulekeeper.signing_public_key()",
                     env);
  }
  std::string bundle = make_bundle(n, db, R"([{"rule_key": "perm.a", "ruleset": "perm", "description": "matrix"}])",
                                   R"([{"rule_key": "perm.a", "label": "1", "body": {"rate": 1, "name": "a"}},
          {"rule_key": "perm.a", "label": "2", "body": {"rate": 2, "name": "a"}}])");
  auto c = n.connect(db);
  pqxx::nontransaction tx(*c);
  tx.exec_params("SELECT rulekeeper.import_release($1::jsonb)", bundle);
  tx.exec("SELECT rulekeeper.activate('perm.a', '1', 'sl')");
  tx.exec("SELECT rulekeeper.transition('perm.a', '1', 'sl_validated', 'seed')");
  tx.exec("SELECT rulekeeper.activate('perm.a', '1', 'prod')");
  tx.exec("SELECT rulekeeper.activate('perm.a', '2', 'sl')");
  tx.exec("SELECT rulekeeper.pin('perm.a', 'prod', '1')");
  tx.exec("INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('perm', ARRAY['/rate'])");
  tx.exec(
      "INSERT INTO rulekeeper.conflict (rule_key, source_change, target_changes) "
      "VALUES ('perm.a', '{\"row\": null}', '[]')");
}

void seed_e1(cluster::Node& n, const std::string& db) {
  auto c = n.connect(db);
  pqxx::nontransaction tx(*c);
  tx.exec("SELECT rulekeeper.create_rule('perm.e1', 'perm')");
  tx.exec("SELECT rulekeeper.create_version('perm.e1', '{\"rate\": 1}')");
}

struct Outcome {
  char letter = '?';
  std::string detail;
};

Outcome run_call(Raw& c, const std::string& sql, bool autocommit) {
  Outcome o;
  if (!autocommit) c.exec("BEGIN");
  Raw::Result r = c.exec(sql);
  if (r.ok) {
    o.letter = 'A';
  } else {
    if (r.sqlstate == "42501" && r.message.find("permission denied for") != std::string::npos)
      o.letter = 'D';
    else if (r.sqlstate == "42501")
      o.letter = '!';  // 42501 from a rule: would blur denials and refusals
    else
      o.letter = 'R';
    o.detail = r.sqlstate + " " + r.message;
  }
  if (!autocommit) c.exec("ROLLBACK");
  return o;
}

class Permissions : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    if (!cluster::extension_installed()) return;
    set_ = new cluster::ClusterSet(rulekeeper::testing::fresh_cluster_options());
    e3_ = &set_->add({"ipc2", "e3", kPortE3});
    e1_ = &set_->add({"e1", "e1", kPortE1});
    for (cluster::Node* n : {e3_, e1_}) {
      n->init_primary();
      n->create_database();
      create_logins(*n);
    }
    seed_e3(*e3_, "rules");
    seed_e1(*e1_, "rules");
  }
  static void TearDownTestSuite() {
    delete set_;
    set_ = nullptr;
  }
  void SetUp() override {
    if (!cluster::extension_installed()) GTEST_SKIP() << "rulekeeper is not installed";
  }

  static cluster::ClusterSet* set_;
  static cluster::Node* e3_;
  static cluster::Node* e1_;
};
cluster::ClusterSet* Permissions::set_ = nullptr;
cluster::Node* Permissions::e3_ = nullptr;
cluster::Node* Permissions::e1_ = nullptr;

}  // namespace

// The file in docs/ is the matrix, rendered (no cluster needed).
TEST(PermissionsDocs, DocsMatchMatrix) {
  const std::string path = std::string(RULEKEEPER_SOURCE_DIR) + "/docs/permissions.md";
  const std::string rendered = render_docs();
  const char* update = std::getenv("RULEKEEPER_UPDATE_DOCS");
  if (update != nullptr && std::string(update) == "1") std::ofstream(path) << rendered;
  EXPECT_EQ(read_text(path), rendered)
      << "docs/permissions.md differs from the matrix in tests/integration/test_permissions.cpp; regenerate it with "
         "RULEKEEPER_UPDATE_DOCS=1 hardening_tests --gtest_filter=PermissionsDocs.DocsMatchMatrix";
}

// Every row has a column where the privilege check passes, and no row
// expects the impossible.
TEST(PermissionsDocs, EveryDenialHasAnAllowedRole) {
  for (const Row& r : matrix()) {
    ASSERT_EQ(r.expect.size(), static_cast<size_t>(kNColumns)) << r.object;
    EXPECT_NE(r.expect.find_first_of("AR"), std::string::npos) << r.object << ": " << r.sql;
  }
}

// Every row, as every role, from a real connection.
TEST_F(Permissions, MatrixHoldsOnRealConnections) {
  std::map<std::string, std::string> fill;
  {
    auto c = e3_->connect();
    pqxx::nontransaction tx(*c);
    fill["{bundle}"] = sql_literal(make_bundle(*e3_, "rules", R"([{"rule_key": "perm.b", "ruleset": "perm"}])",
                                               R"([{"rule_key": "perm.b", "label": "1", "body": {"x": 1}}])"));
    fill["{changes}"] = sql_literal(tx.exec("SELECT rulekeeper.export_changes('{}')::text")[0][0].c_str());
    fill["{conflict}"] = sql_literal(tx.exec("SELECT conflict_id::text FROM rulekeeper.conflict")[0][0].c_str());
    fill["{rule_change}"] = sql_literal(
        tx.exec("SELECT change_id::text FROM rulekeeper.journal WHERE kind = 'rule' AND rule_key = 'perm.a'")[0][0]
            .c_str());
  }
  const std::string before = rulekeeper::testing::state_fingerprint(*e3_);

  std::map<std::string, std::unique_ptr<Raw>> conns;
  auto conn = [&](cluster::Node& n, const std::string& login) -> Raw& {
    std::string key = n.site() + "/" + login;
    auto it = conns.find(key);
    if (it == conns.end()) it = conns.emplace(key, std::make_unique<Raw>(conninfo_as(n, login))).first;
    return *it->second;
  };

  std::vector<std::string> mismatches;
  int executed = 0;
  for (const Row& r : matrix()) {
    cluster::Node& node = r.site == "e1" ? *e1_ : *e3_;
    std::string expect_seen;
    std::string got_seen;
    std::string details;
    for (int i = 0; i < kNColumns; ++i) {
      char got;
      std::string detail;
      if (r.kind == "trigger function") {
        got = sql_value(node, "SELECT has_function_privilege($1, $2::regprocedure, 'EXECUTE')", kColumns[i].login,
                        r.object) == "t"
                  ? 'A'
                  : 'D';
      } else {
        std::string sql = r.sql;
        for (const auto& [k, v] : fill)
          for (size_t p; (p = sql.find(k)) != std::string::npos;) sql.replace(p, k.size(), v);
        Outcome o = run_call(conn(node, kColumns[i].login), sql, r.autocommit);
        got = o.letter;
        detail = o.detail;
        ++executed;
      }
      if (got != r.expect[i])
        details += fmt::format("\n    {}: expected {} got {} {}", kColumns[i].heading, r.expect[i], got, detail);
      got_seen += got;
    }
    if (!details.empty()) mismatches.push_back(fmt::format("{} [{}] {}{}", r.object, r.sql, got_seen, details));
  }
  EXPECT_GT(executed, 500);
  std::string report;
  for (const auto& m : mismatches) report += m + "\n";
  EXPECT_TRUE(mismatches.empty()) << mismatches.size() << " row(s) differ from the matrix:\n" << report;
  // Every call was rolled back (or read only): nothing changed.
  EXPECT_EQ(rulekeeper::testing::state_fingerprint(*e3_), before);
}

// The matrix names every table, view, function and procedure the extension
// has: a new object without a row (and a decision about who may call it)
// fails here.
TEST_F(Permissions, MatrixCoversEveryObject) {
  std::set<std::string> in_matrix;
  for (const Row& r : matrix()) in_matrix.insert(r.object);
  std::set<std::string> in_db;
  auto c = e3_->connect();
  pqxx::nontransaction tx(*c);
  for (const auto& row : tx.exec("SELECT p.oid::regprocedure::text FROM pg_proc p "
                                 "WHERE p.pronamespace = 'rulekeeper'::regnamespace"))
    in_db.insert(row[0].c_str());
  for (const auto& row :
       tx.exec("SELECT c.oid::regclass::text FROM pg_class c "
               "WHERE c.relnamespace = 'rulekeeper'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S')"))
    in_db.insert(row[0].c_str());
  std::vector<std::string> missing, stale;
  std::set_difference(in_db.begin(), in_db.end(), in_matrix.begin(), in_matrix.end(), std::back_inserter(missing));
  std::set_difference(in_matrix.begin(), in_matrix.end(), in_db.begin(), in_db.end(), std::back_inserter(stale));
  EXPECT_TRUE(missing.empty()) << "objects without a row in the permission matrix: "
                               << fmt::format("{}", fmt::join(missing, ", "));
  EXPECT_TRUE(stale.empty()) << "matrix rows for objects that do not exist: "
                             << fmt::format("{}", fmt::join(stale, ", "));
}

// SECURITY DEFINER only with the pinned search_path; everything else runs
// as the caller. And nothing is executable by PUBLIC.
TEST_F(Permissions, SecurityDefinerFunctionsPinSearchPath) {
  EXPECT_EQ(sql_value(*e3_,
                      "SELECT coalesce(string_agg(p.oid::regprocedure::text, ', '), '') FROM pg_proc p "
                      "WHERE p.pronamespace = 'rulekeeper'::regnamespace AND p.prosecdef "
                      "AND NOT coalesce('search_path=pg_catalog, rulekeeper, pg_temp' = ANY (p.proconfig), false)"),
            "");
  EXPECT_EQ(sql_value(*e3_,
                      "SELECT coalesce(string_agg(p.oid::regprocedure::text, ', '), '') FROM pg_proc p "
                      "WHERE p.pronamespace = 'rulekeeper'::regnamespace "
                      "AND has_function_privilege('public', p.oid, 'EXECUTE')"),
            "");
  // The hot path is SECURITY INVOKER without a SET clause (a SET would stop
  // inlining and wait_for_epoch from committing).
  EXPECT_EQ(
      sql_value(
          *e3_,
          "SELECT string_agg(p.proname || ':' || p.prosecdef || ':' || (p.proconfig IS NULL), ',' ORDER BY p.proname) "
          "FROM pg_proc p WHERE p.pronamespace = 'rulekeeper'::regnamespace AND p.proname IN "
          "('effective_rules', 'effective_version', 'activation_epoch', 'wait_for_epoch')"),
      "activation_epoch:false:true,activation_epoch:false:true,effective_rules:false:true,effective_rules:false:true,"
      "effective_version:false:true,wait_for_epoch:false:true,wait_for_epoch:false:true");
}

// ---------------------------------------------------------------------------
// Hijack cases
// ---------------------------------------------------------------------------

namespace {

// What a caller prepares: a schema of its own (first on search_path, before
// pg_catalog) holding tables named like the extension's and operators that
// answer differently — `=` on text always true, `=` on bigint/integer always
// true, `+` on bigint that adds 1000 — and temporary tables named like the
// extension's, full of lies. The schema is created for the login role by
// postgres (a DBA granting CREATE is enough); everything in it belongs to the
// caller.
const char* kHijackSchema = R"SQL(
CREATE FUNCTION evil.t_eq(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.t_eq);
CREATE FUNCTION evil.i8_eq(bigint, bigint) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.i8_eq);
CREATE FUNCTION evil.i4_eq(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR evil.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.i4_eq);
CREATE FUNCTION evil.i8_plus(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT $1 OPERATOR(pg_catalog.+) $2 OPERATOR(pg_catalog.+) 1000';
CREATE OPERATOR evil.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.i8_plus);
CREATE FUNCTION evil.i8_gt(bigint, bigint) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR evil.> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.i8_gt);
CREATE TABLE evil.activation (channel text, rule_key text, label text, pinned boolean, epoch bigint);
INSERT INTO evil.activation VALUES ('prod', 'perm.a', 'EVIL', false, 999999);
CREATE TABLE evil.rule_version (rule_key text, label text, body jsonb, content_sha256 text, bucket int);
INSERT INTO evil.rule_version VALUES ('perm.a', 'EVIL', '{"evil": true}', 'x', 0);
CREATE TABLE evil.activation_history (epoch bigint);
INSERT INTO evil.activation_history VALUES (999999);
CREATE TABLE evil.journal (origin_site text, origin_incarnation int, origin_seq bigint);
INSERT INTO evil.journal VALUES ('evil', 1, 424242);
)SQL";

const char* kHijackTemp = R"SQL(
CREATE TEMP TABLE activation (channel text, rule_key text, label text, pinned boolean, epoch bigint);
INSERT INTO pg_temp.activation VALUES ('prod', 'perm.a', 'TEMP', false, 888888);
CREATE TEMP TABLE rule_version (rule_key text, version int, hotfix int, label text, body jsonb, content_sha256 text, bucket int, qualification text);
INSERT INTO pg_temp.rule_version VALUES ('perm.a', 1, 0, 'TEMP', '{"temp": true}', 'x', 0, 'sl_validated');
CREATE TEMP TABLE activation_history (epoch bigint, channel text, rule_key text, label text);
INSERT INTO pg_temp.activation_history VALUES (888888, 'prod', 'perm.a', 'TEMP');
CREATE TEMP TABLE journal (change_id uuid, origin_site text, origin_incarnation int, origin_seq bigint, kind text);
INSERT INTO pg_temp.journal VALUES (gen_random_uuid(), 'temp', 1, 313131, 'temp');
CREATE TEMP TABLE rule (rule_key text, ruleset text);
INSERT INTO pg_temp.rule VALUES ('perm.a', 'temp');
CREATE TEMP TABLE checksum_bucket (bucket int, sum bytea);
INSERT INTO pg_temp.checksum_bucket VALUES (0, decode(repeat('ff', 32), 'hex'));
CREATE TEMP TABLE hotfix_policy (ruleset text, allowed_paths text[]);
INSERT INTO pg_temp.hotfix_policy VALUES ('perm', ARRAY['/name']);
CREATE TEMP TABLE release_log (release_id uuid, post_checksum text, imported_at timestamptz);
CREATE TEMP TABLE hotfix (rule_key text, label text);
)SQL";

const char* kHijackPath = "SET search_path = pg_temp, evil, pg_catalog, public";

// The temporary and schema tables are left as they were.
const char* kDecoysUntouched =
    "SELECT (SELECT count(*) FROM pg_temp.activation) || '/' || (SELECT count(*) FROM pg_temp.rule_version) || '/' || "
    "(SELECT count(*) FROM pg_temp.journal) || '/' || (SELECT count(*) FROM pg_temp.rule) || '/' || "
    "(SELECT count(*) FROM pg_temp.checksum_bucket) || '/' || (SELECT count(*) FROM pg_temp.hotfix) || '/' || "
    "(SELECT count(*) FROM evil.activation) || '/' || (SELECT count(*) FROM evil.journal)";

void prepare_hijacker(cluster::Node& n, const std::string& db, const std::string& login) {
  auto c = n.connect(db);
  pqxx::nontransaction tx(*c);
  tx.exec0(fmt::format("CREATE SCHEMA IF NOT EXISTS evil AUTHORIZATION {}", login));
  tx.exec0(fmt::format("SET ROLE {}", login));
  tx.exec(kHijackSchema);
}

std::unique_ptr<pqxx::connection> hijacked(cluster::Node& n, const std::string& db, const std::string& login) {
  auto c = std::make_unique<pqxx::connection>(conninfo_as(n, login, db));
  pqxx::nontransaction tx(*c);
  tx.exec(kHijackTemp);
  tx.exec(kHijackPath);
  return c;
}

std::string one(pqxx::connection& c, const std::string& sql) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec(sql);
  std::string out;
  for (const auto& row : r) {
    for (const auto& f : row) out += (f.is_null() ? std::string("NULL") : std::string(f.c_str())) + "|";
    out += "\n";
  }
  return out;
}

// What readers ask, as the hot path and the comparison functions answer it.
const std::vector<std::string> kReaderQuestions = {
    "SELECT * FROM rulekeeper.effective_rules('prod')",
    "SELECT * FROM rulekeeper.effective_rules('sl')",
    "SELECT rulekeeper.effective_version('perm.a', 'prod')",
    "SELECT rulekeeper.effective_version('perm.a', 'sl')",
    "SELECT rulekeeper.effective_version('perm.zzz', 'prod')",
    // (A channel that is not one is refused since issue 15 item 19; a rule
    // with no activation in a real channel is the miss.)
    "SELECT rulekeeper.effective_version('perm.zzz', 'sl')",
    "SELECT rulekeeper.activation_epoch()",
    "SELECT rulekeeper.version_vector()",
    "SELECT change_id, origin_seq, kind FROM rulekeeper.journal_since('{}') ORDER BY 1",
    "SELECT count(*) FROM rulekeeper.journal_since('{\"ipc2:1\": 3}')",
    "SELECT * FROM rulekeeper.bucket_versions(ARRAY(SELECT generate_series(0, 4095)))",
    "SELECT rulekeeper.snapshot_checksum('all'), rulekeeper.snapshot_checksum('prod'), "
    "rulekeeper.snapshot_checksum('sl')",
    "SELECT * FROM rulekeeper.checksum_buckets('all')",
    "SELECT * FROM rulekeeper.verify_checksums()",
    "SELECT rulekeeper.rollback_target('perm.a', 'sl'), rulekeeper.rollback_target('perm.a', 'prod')",
    "SELECT * FROM rulekeeper.diff('perm.a', '1', '2')",
    "SELECT rulekeeper.export_changes('{}') - 'bundle_sha256'",
    "SELECT * FROM rulekeeper.rule_state",
    "SELECT * FROM rulekeeper.version_state",
    "SELECT rulekeeper.activation_epoch('prod'), rulekeeper.activation_epoch('sl')",
    "SELECT * FROM rulekeeper.effective_rules('prod', rulekeeper.activation_epoch('prod'))",
    "SELECT * FROM rulekeeper.effective_rules('sl', rulekeeper.activation_epoch('sl'))",
    "SELECT * FROM rulekeeper.notification_state('ipc1')",
};

}  // namespace

// A reader's own schema, temporary tables and operators cannot change what
// the hot path or the comparison functions answer. The hijacked session is
// a fresh backend, so the C functions' saved plans are prepared under the
// hostile search_path.
TEST_F(Permissions, HijackCannotChangeReaderAnswers) {
  prepare_hijacker(*e3_, "rules", "rk_reader");
  pqxx::connection clean(conninfo_as(*e3_, "rk_reader"));
  std::vector<std::string> want;
  for (const auto& q : kReaderQuestions) want.push_back(one(clean, q));
  ASSERT_NE(want[2].find("1|"), std::string::npos) << want[2];  // prod serves 1

  auto evil = hijacked(*e3_, "rules", "rk_reader");
  // The decoys are visible to the caller's own unqualified queries ...
  EXPECT_EQ(one(*evil, "SELECT label FROM activation"), "TEMP|\n");
  EXPECT_EQ(one(*evil, "SELECT 'a'::text = 'b'::text"), "t|\n");
  // ... and change no answer of the extension's.
  for (size_t i = 0; i < kReaderQuestions.size(); ++i)
    EXPECT_EQ(one(*evil, kReaderQuestions[i]), want[i]) << kReaderQuestions[i];
  // Inside a transaction too, and with the search_path set after a first call.
  {
    pqxx::work tx(*evil);
    EXPECT_EQ(std::string(tx.exec("SELECT rulekeeper.effective_version('perm.a', 'prod')")[0][0].c_str()), "1");
    tx.commit();
  }
  pqxx::nontransaction(clean).exec(kHijackPath);  // the hostile path after the plans were prepared
  for (size_t i = 0; i < kReaderQuestions.size(); ++i)
    EXPECT_EQ(one(clean, kReaderQuestions[i]), want[i]) << kReaderQuestions[i];
  // wait_for_epoch returns at once when the epoch is already past `after`.
  EXPECT_EQ(one(*evil, "CALL rulekeeper.wait_for_epoch(0, 50)"), one(clean, "SELECT rulekeeper.activation_epoch()"));
  EXPECT_EQ(one(*evil, kDecoysUntouched), "1/1/1/1/1/0/1/1|\n");
}

// A hijacked wait_for_epoch still waits for, and reports, an activation made
// while it waits (behaviour, not time: the returned epoch).
//
// DISABLED: wait_for_epoch computes its deadline with an unqualified `/`
// (`GREATEST(timeout_ms, 0) / 1000.0`), so a caller's operator
// evil./(integer, numeric) — an exact match, chosen over pg_catalog's
// numeric / numeric even with pg_catalog first — sets the deadline to now and
// the procedure returns the old epoch at once. Enable once the extension
// writes OPERATOR(pg_catalog./) there.
TEST_F(Permissions, HijackCannotShortenWaitForEpoch) {
  {
    auto c = e3_->connect();
    pqxx::nontransaction tx(*c);
    tx.exec0("CREATE SCHEMA IF NOT EXISTS evil AUTHORIZATION rk_reader");
  }
  {
    pqxx::connection c(conninfo_as(*e3_, "rk_reader"));
    pqxx::nontransaction tx(c);
    tx.exec(
        "CREATE FUNCTION evil.div_zero(integer, numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT "
        "0::numeric'");
    tx.exec("CREATE OPERATOR evil./ (LEFTARG = integer, RIGHTARG = numeric, FUNCTION = evil.div_zero)");
  }
  const long long before = std::stoll(sql_value(*e3_, "SELECT rulekeeper.activation_epoch()"));
  pqxx::connection waiter(conninfo_as(*e3_, "rk_reader"));
  pqxx::nontransaction(waiter).exec("SET search_path = evil, pg_catalog");
  const int pid = std::stoi(pqxx::nontransaction(waiter).exec("SELECT pg_backend_pid()")[0][0].c_str());
  std::atomic<long long> got{-1};
  std::thread t([&] {
    pqxx::nontransaction tx(waiter);
    got = std::stoll(tx.exec(fmt::format("CALL rulekeeper.wait_for_epoch({}, 60000)", before))[0][0].c_str());
  });
  // Wait until the CALL is running (or already returned), then activate.
  for (int i = 0; i < 600 && got < 0; ++i) {
    if (sql_value(*e3_,
                  "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND query LIKE 'CALL%' AND state = 'active'",
                  pid) == "1")
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  sql_value(*e3_, "SELECT rulekeeper.deactivate('perm.a', 'sl')");
  const long long after = std::stoll(sql_value(*e3_, "SELECT rulekeeper.activation_epoch()"));
  t.join();
  EXPECT_EQ(got.load(), after) << "wait_for_epoch returned " << got << " before the activation (epoch " << after << ")";
  sql_value(*e3_, "SELECT rulekeeper.activate('perm.a', '2', 'sl')");
}

namespace {

// The state a write leaves, without what differs between two databases or
// two runs by nature (uuids, times): rows, labels, qualifications, epochs,
// journal order, checksums, version vectors.
std::string state_of(cluster::Node& n, const std::string& db) {
  auto c = n.connect(db);
  std::string s;
  for (const char* q : {
           "SELECT rule_key, ruleset, description FROM rulekeeper.rule ORDER BY 1",
           "SELECT rule_key, label, qualification, origin, parent_label, content_sha256, bucket, "
           "annotations #- '{hotfixes,0,hotfix_id}' FROM rulekeeper.rule_version ORDER BY 1, version, hotfix",
           "SELECT channel, rule_key, label, pinned, epoch FROM rulekeeper.activation ORDER BY 1, 2",
           "SELECT channel, rule_key, label, previous_label, pinned, epoch, action, acknowledged FROM "
           "rulekeeper.activation_history ORDER BY epoch, channel",
           "SELECT origin_site, origin_incarnation, origin_seq, kind, rule_key, label, actor, "
           "payload - 'hotfix_id' - 'release_id' - 'conflict_id' FROM rulekeeper.journal ORDER BY origin_seq",
           "SELECT rule_key, base_label, label, diff, reason, actor FROM rulekeeper.hotfix ORDER BY label",
           "SELECT bucket, sum FROM rulekeeper.checksum_buckets('all') ORDER BY 1",
           "SELECT rulekeeper.snapshot_checksum('all'), rulekeeper.snapshot_checksum('prod'), "
           "rulekeeper.snapshot_checksum('sl')",
           "SELECT rulekeeper.version_vector()",
           "SELECT count(*) FROM rulekeeper.verify_checksums()",
           "SELECT source_environment, bundle_sha256, pre_checksum, post_checksum, drift, imported, skipped FROM "
           "rulekeeper.release_log ORDER BY imported_at",
       })
    s += std::string(q).substr(0, 60) + ":\n" + one(*c, q);
  return s;
}

std::string without_uuids(std::string s) {
  static const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  static const std::regex ts("\"(created_at|recorded_at|imported_at|activated_at)\": \"[^\"]*\"");
  return std::regex_replace(std::regex_replace(s, uuid, "<uuid>"), ts, "\"$1\": <t>");
}

}  // namespace

// The same writes, once from clean sessions (database `clean`) and once
// from hijacked ones (database `hijack`: own schema first, temp tables,
// hostile operators), leave the same state and give the same answers — the
// SECURITY DEFINER functions (search_path pinned, pg_temp last) and the
// triggers and pre-commit work they run (under the caller's search_path)
// alike. Each write commits, so the bucket sums written at pre-commit are
// compared too.
TEST_F(Permissions, HijackCannotChangeEffects) {
  for (const char* db : {"clean", "hijack"}) {
    e3_->create_database(db);
    seed_e3(*e3_, db);
  }
  prepare_hijacker(*e3_, "hijack", "rk_releaser");
  {
    auto c = e3_->connect("hijack");
    pqxx::nontransaction tx(*c);
    tx.exec0("GRANT USAGE ON SCHEMA evil TO rk_hotfix");
    tx.exec0("GRANT SELECT ON ALL TABLES IN SCHEMA evil TO rk_hotfix");
  }
  const std::string bundle =
      make_bundle(*e3_, "clean",
                  R"([{"rule_key": "perm.b", "ruleset": "perm"}, {"rule_key": "perm.a", "ruleset": "perm"}])",
                  R"([{"rule_key": "perm.b", "label": "1", "body": {"x": 1}},
          {"rule_key": "perm.a", "label": "3", "body": {"rate": 3, "name": "a"}}])");
  ASSERT_EQ(state_of(*e3_, "clean"), state_of(*e3_, "hijack"));

  // (login, statement); every statement commits on its own.
  const std::vector<std::pair<std::string, std::string>> steps = {
      {"rk_releaser", "SELECT rulekeeper.transition('perm.a', '2', 'sl_validated', 'hijack test')"},
      {"rk_hotfix",
       "SELECT rulekeeper.hotfix('perm.a', '{\"rate\": 1.5, \"name\": \"a\"}', 'hijack test') - 'hotfix_id'"},
      {"rk_releaser", "SELECT rulekeeper.import_release(" + sql_literal(bundle) + ") - 'release_id'"},
      {"rk_releaser", "SELECT rulekeeper.import_release_text(" + sql_literal(bundle) + ") - 'release_id'"},
      {"rk_releaser", "SELECT rulekeeper.activate('perm.b', '1', 'sl')"},
      {"rk_releaser", "SELECT rulekeeper.activate('perm.a', '3', 'sl', expected_epoch => 999999)"},
      {"rk_releaser", "SELECT rulekeeper.activate('perm.a', '3', 'sl')"},
      {"rk_releaser", "SELECT rulekeeper.transition('perm.a', '3', 'sl_validated', 'hijack test')"},
      {"rk_releaser", "SELECT rulekeeper.unpin('perm.a', 'prod')"},
      {"rk_releaser", "SELECT rulekeeper.cutover()"},
      {"rk_releaser", "SELECT rulekeeper.cutover(acknowledge_hotfixes => '{perm.a@1.1}')"},
      {"rk_releaser", "SELECT rulekeeper.rollback('perm.a', 'sl')"},
      {"rk_releaser", "SELECT rulekeeper.pin('perm.b', 'sl', '1')"},
      {"rk_releaser", "SELECT rulekeeper.deactivate('perm.a', 'sl')"},
      {"rk_releaser", "SELECT rulekeeper.record_failover('ipc0', false) - 'event_id' - 'recorded_at'"},
      {"rk_releaser", "SELECT rulekeeper.export_changes('{}') -> 'vector'"},
  };
  std::map<std::string, std::unique_ptr<pqxx::connection>> evil_conns;
  for (const auto& [login, sql] : steps) {
    std::string clean_out, evil_out;
    {
      pqxx::connection c(conninfo_as(*e3_, login, "clean"));
      try {
        clean_out = one(c, sql);
      } catch (const std::exception& e) {
        clean_out = std::string("ERROR ") + e.what();
      }
    }
    auto& ec = evil_conns[login];
    if (!ec) ec = hijacked(*e3_, "hijack", login);
    try {
      evil_out = one(*ec, sql);
    } catch (const std::exception& e) {
      evil_out = std::string("ERROR ") + e.what();
    }
    EXPECT_EQ(without_uuids(evil_out), without_uuids(clean_out)) << login << ": " << sql;
    // The steps meant to be refused are; every other one went through.
    const bool refused = clean_out.rfind("ERROR", 0) == 0;
    const bool meant_to_fail = sql.find("999999") != std::string::npos || sql == "SELECT rulekeeper.cutover()";
    EXPECT_EQ(refused, meant_to_fail) << sql << " -> " << clean_out;
    EXPECT_EQ(without_uuids(state_of(*e3_, "hijack")), without_uuids(state_of(*e3_, "clean"))) << "after " << sql;
  }
  for (auto& [login, c] : evil_conns) EXPECT_EQ(one(*c, kDecoysUntouched), "1/1/1/1/1/0/1/1|\n") << login;
  EXPECT_EQ(sql_value(*e3_, "SELECT count(*) FROM rulekeeper.verify_checksums()"), "0");
}

// Authoring at e1 under the same hijack: create_rule and create_version (C,
// SECURITY DEFINER) and export_release give what clean sessions give.
TEST_F(Permissions, HijackCannotChangeAuthoring) {
  for (const char* db : {"clean", "hijack"}) e1_->create_database(db);
  prepare_hijacker(*e1_, "hijack", "rk_author");
  const std::vector<std::string> steps = {
      "SELECT rulekeeper.create_rule('auth.a', 'auth', 'x')",
      "SELECT rulekeeper.create_version('auth.a', '{\"v\": 1}')",
      "SELECT rulekeeper.create_version('auth.a', '{\"v\": 2}')",
      "SELECT rulekeeper.create_version('no.such.rule', '{\"v\": 1}')",
      "SELECT rulekeeper.create_rule('auth.a', 'auth', 'again')",
      "SELECT rulekeeper.export_release() - 'bundle_sha256'",
      "SELECT rulekeeper.export_release(ARRAY['auth.a'])->'versions'",
  };
  pqxx::connection clean(conninfo_as(*e1_, "rk_author", "clean"));
  auto evil = hijacked(*e1_, "hijack", "rk_author");
  for (const auto& sql : steps) {
    std::string a, b;
    try {
      a = one(clean, sql);
    } catch (const std::exception& e) {
      a = std::string("ERROR ") + e.what();
    }
    try {
      b = one(*evil, sql);
    } catch (const std::exception& e) {
      b = std::string("ERROR ") + e.what();
    }
    EXPECT_EQ(without_uuids(b), without_uuids(a)) << sql;
  }
  EXPECT_EQ(without_uuids(state_of(*e1_, "hijack")), without_uuids(state_of(*e1_, "clean")));
  EXPECT_EQ(one(*evil, kDecoysUntouched), "1/1/1/1/1/0/1/1|\n");
}
