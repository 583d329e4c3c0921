// Audit fields not settable by the caller (issue #13, class 5): the action,
// acknowledgement and reason that history rows carry come from the function
// that made the change (or say "direct ..."), never from a setting the
// caller SET before the call — neither for the session (SET) nor inside the
// same transaction (set_config(..., true)). Each role that can reach the
// history tries it on a real connection: the releaser (activate, deactivate,
// transition), the hotfix role (hotfix) and the admin (direct writes).
// Port: integration_audit_fields in tests/ports.txt (ipc2, e3).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pipeline.hpp"
#include "raw_connection.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Raw;
using rulekeeper::testing::sql_value;

namespace {

constexpr int kPort = ports::integration_audit_fields[0];

std::string conninfo_as(const cluster::Node& n, const std::string& user) {
  return fmt::format("host=127.0.0.1 port={} user={} dbname=rules connect_timeout=5", n.port(), user);
}

void expect_ok(const Raw::Result& r, const std::string& what) {
  EXPECT_TRUE(r.ok) << what << ": " << r.sqlstate << " " << r.message;
}

// The settings that used to carry the audit fields, set for the session.
void forge_for_session(Raw& c) {
  expect_ok(c.exec(R"(SET rulekeeper_txn.acknowledged = '{"forged": "session"}')"), "SET acknowledged");
  expect_ok(c.exec("SET rulekeeper_txn.action = 'forged session action'"), "SET action");
  expect_ok(c.exec("SET rulekeeper_txn.reason = 'forged session reason'"), "SET reason");
}

// The same, local to the open transaction.
void forge_in_transaction(Raw& c) {
  expect_ok(c.exec(R"(SELECT set_config('rulekeeper_txn.acknowledged', '{"forged": "transaction"}', true),
                             set_config('rulekeeper_txn.action', 'forged transaction action', true),
                             set_config('rulekeeper_txn.reason', 'forged transaction reason', true))"),
            "set_config");
}

class AuditFields : public ::testing::Test {
protected:
  void SetUp() override {
    if (!cluster::extension_installed()) GTEST_SKIP() << "rulekeeper is not installed";
    set_ = std::make_unique<cluster::ClusterSet>(rulekeeper::testing::fresh_cluster_options());
    n_ = &set_->add({"ipc2", "e3", kPort});
    n_->init_primary();
    n_->create_database();
    auto c = n_->connect();
    pqxx::nontransaction tx(*c);
    tx.exec("CREATE ROLE rk_releaser LOGIN IN ROLE rulekeeper_releaser");
    tx.exec("CREATE ROLE rk_hotfix LOGIN IN ROLE rulekeeper_hotfix");
    tx.exec("CREATE ROLE rk_admin LOGIN IN ROLE rulekeeper_admin");
    tx.exec("INSERT INTO rulekeeper.hotfix_policy VALUES ('audit', ARRAY['/rate', '/note'])");
    // Bundles "from e2" are signed with this node's key, trusted for e2 (docs/keys.md).
    tx.exec(
        "SELECT rulekeeper.trust_key('e2', public_key, 'test: this node stands in for e2') FROM "
        "rulekeeper.signing_public_key()");
    // Rules audit.a, audit.b, audit.c with versions 1..3; audit.a 1 in sl
    // (validated) and prod; audit.b 1 in sl.
    tx.exec(R"SQL(
      SELECT rulekeeper.import_release(rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))) FROM (
        SELECT jsonb_build_object('format', 'rulekeeper-bundle/1',
          'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),
          'rules', (SELECT jsonb_agg(jsonb_build_object('rule_key', r, 'ruleset', 'audit'))
                      FROM unnest(ARRAY['audit.a', 'audit.b', 'audit.c']) r),
          'versions', (SELECT jsonb_agg(jsonb_build_object('rule_key', r, 'label', l::text,
                          'body', jsonb_build_object('rate', l),
                          'content_sha256', rulekeeper.content_sha256(jsonb_build_object('rate', l))))
                         FROM unnest(ARRAY['audit.a', 'audit.b', 'audit.c']) r, generate_series(1, 3) l)) b) x)SQL");
    tx.exec("SELECT rulekeeper.activate('audit.a', '1', 'sl')");
    tx.exec("SELECT rulekeeper.transition('audit.a', '1', 'sl_validated', 'setup')");
    tx.exec("SELECT rulekeeper.activate('audit.a', '1', 'prod')");
    tx.exec("SELECT rulekeeper.activate('audit.b', '1', 'sl')");
  }
  void TearDown() override { set_.reset(); }

  // "action|acknowledged" of the newest history row of (rule, channel), with
  // the action its journal entry carries: "action|acknowledged|journal action".
  std::string last_activation(const std::string& rule, const std::string& channel) {
    return sql_value(*n_,
                     "SELECT h.action || '|' || coalesce(h.acknowledged::text, 'NULL') || '|' || "
                     "coalesce(j.payload ->> 'action', 'NULL') "
                     "FROM rulekeeper.activation_history h JOIN rulekeeper.journal j USING (change_id) "
                     "WHERE h.rule_key = $1 AND h.channel = $2 ORDER BY h.epoch DESC LIMIT 1",
                     rule, channel);
  }
  // The reason of the newest qualification change of (rule, label), and the
  // reason its journal entry carries.
  std::string last_reason(const std::string& rule, const std::string& label) {
    return sql_value(*n_,
                     "SELECT coalesce(h.reason, 'NULL') || '|' || coalesce(j.payload ->> 'reason', 'NULL') "
                     "FROM rulekeeper.qualification_history h JOIN rulekeeper.journal j USING (change_id) "
                     "WHERE h.rule_key = $1 AND h.label = $2 ORDER BY h.recorded_at DESC, j.origin_seq DESC LIMIT 1",
                     rule, label);
  }
  // Nothing forged anywhere in the history or the journal.
  void expect_nothing_forged() {
    EXPECT_EQ(sql_value(*n_,
                        "SELECT count(*) FROM rulekeeper.activation_history "
                        "WHERE action LIKE '%forged%' OR acknowledged::text LIKE '%forged%'"),
              "0");
    EXPECT_EQ(sql_value(*n_, "SELECT count(*) FROM rulekeeper.qualification_history WHERE reason LIKE '%forged%'"),
              "0");
    EXPECT_EQ(sql_value(*n_, "SELECT count(*) FROM rulekeeper.journal WHERE payload::text LIKE '%forged%'"), "0");
  }

  std::unique_ptr<cluster::ClusterSet> set_;
  cluster::Node* n_ = nullptr;
};

}  // namespace

TEST_F(AuditFields, ReleaserAndHotfixRoleCannotForgeThem) {
  Raw releaser(conninfo_as(*n_, "rk_releaser"));
  forge_for_session(releaser);
  expect_ok(releaser.exec("SELECT rulekeeper.activate('audit.a', '2', 'sl')"), "activate");
  EXPECT_EQ(last_activation("audit.a", "sl"), "activate|NULL|activate");
  expect_ok(releaser.exec("SELECT rulekeeper.transition('audit.a', '2', 'sl_validated', 'soft launch clean')"),
            "transition");
  EXPECT_EQ(last_reason("audit.a", "2"), "soft launch clean|soft launch clean");
  expect_ok(releaser.exec("SELECT rulekeeper.deactivate('audit.b', 'sl')"), "deactivate");
  EXPECT_EQ(last_activation("audit.b", "sl"), "deactivate|NULL|deactivate");

  // Set inside the same transaction, right before the calls.
  expect_ok(releaser.exec("BEGIN"), "BEGIN");
  forge_in_transaction(releaser);
  expect_ok(releaser.exec("SELECT rulekeeper.activate('audit.b', '2', 'sl')"), "activate");
  expect_ok(releaser.exec("COMMIT"), "COMMIT");
  EXPECT_EQ(last_activation("audit.b", "sl"), "activate|NULL|activate");
  expect_ok(releaser.exec("BEGIN"), "BEGIN");
  forge_in_transaction(releaser);
  expect_ok(releaser.exec("SELECT rulekeeper.transition('audit.b', '2', 'sl_validated', 'validated in sl')"),
            "transition");
  expect_ok(releaser.exec("SELECT rulekeeper.deactivate('audit.b', 'sl')"), "deactivate");
  expect_ok(releaser.exec("SELECT rulekeeper.rollback('audit.a', 'sl')"), "rollback");
  expect_ok(releaser.exec("COMMIT"), "COMMIT");
  EXPECT_EQ(last_reason("audit.b", "2"), "validated in sl|validated in sl");
  EXPECT_EQ(last_activation("audit.b", "sl"), "deactivate|NULL|deactivate");
  EXPECT_EQ(last_activation("audit.a", "sl"), "rollback|NULL|rollback");

  // The hotfix role: hotfix() after SET, and with set_config in its transaction.
  {
    Raw hotfix(conninfo_as(*n_, "rk_hotfix"));
    forge_for_session(hotfix);
    expect_ok(hotfix.exec(R"(SELECT rulekeeper.hotfix('audit.a', '{"rate": 1.5}', 'the real reason'))"), "hotfix");
    EXPECT_EQ(last_activation("audit.a", "prod"), "hotfix|NULL|hotfix");
    expect_ok(hotfix.exec("BEGIN"), "BEGIN");
    forge_in_transaction(hotfix);
    expect_ok(hotfix.exec(R"(SELECT rulekeeper.hotfix('audit.a', '{"rate": 1.5, "note": "n"}', 'the second reason'))"),
              "hotfix");
    expect_ok(hotfix.exec("COMMIT"), "COMMIT");
    EXPECT_EQ(last_activation("audit.a", "prod"), "hotfix|NULL|hotfix");
    EXPECT_EQ(sql_value(*n_, "SELECT string_agg(reason, ',' ORDER BY created_at) FROM rulekeeper.hotfix"),
              "the real reason,the second reason");
  }
  // An acknowledgement given is recorded as given, not as forged: prod moves
  // from the hotfix to the validated version 2, acknowledging the hotfixes
  // the gate lists (docs/hotfix.md "Acknowledging exactly what was shown").
  expect_ok(releaser.exec("BEGIN"), "BEGIN");
  forge_in_transaction(releaser);
  expect_ok(releaser.exec("SELECT rulekeeper.activate('audit.a', '2', 'prod', acknowledge_hotfixes => ARRAY("
                          "SELECT g ->> 'label' FROM jsonb_array_elements(rulekeeper.hotfix_gate('audit.a', '2')) g))"),
            "acknowledged activation");
  expect_ok(releaser.exec("COMMIT"), "COMMIT");
  const std::string prod = last_activation("audit.a", "prod");
  EXPECT_EQ(prod.rfind("activate|{", 0), 0u) << prod;
  expect_nothing_forged();
}

// The admin's direct writes are recorded as "direct insert/update/delete"
// (and a qualification UPDATE as reason "direct UPDATE") whatever the admin
// SET first. A write the extension refuses to the admin outright leaves no
// history at all, which is as good.
TEST_F(AuditFields, AdminDirectWritesAreRecordedAsDirect) {
  Raw admin(conninfo_as(*n_, "rk_admin"));
  forge_for_session(admin);
  int written = 0;
  auto write = [&](const std::string& sql, const std::string& rule, const std::string& channel,
                   const std::string& expected) {
    Raw::Result r = admin.exec(sql);
    if (!r.ok) return;  // refused to the admin: nothing recorded
    ++written;
    EXPECT_EQ(last_activation(rule, channel), expected) << sql;
  };
  write("INSERT INTO rulekeeper.activation (channel, rule_key, label, epoch) VALUES ('sl', 'audit.c', '1', 0)",
        "audit.c", "sl", "direct insert|NULL|direct insert");
  write("UPDATE rulekeeper.activation SET label = '2' WHERE channel = 'sl' AND rule_key = 'audit.c'", "audit.c", "sl",
        "direct update|NULL|direct update");
  expect_ok(admin.exec("BEGIN"), "BEGIN");
  forge_in_transaction(admin);
  if (admin.exec("DELETE FROM rulekeeper.activation WHERE channel = 'sl' AND rule_key = 'audit.c'").ok) {
    ++written;
    expect_ok(admin.exec("COMMIT"), "COMMIT");
    EXPECT_EQ(last_activation("audit.c", "sl"), "direct delete|NULL|direct delete");
  } else {
    admin.exec("ROLLBACK");
  }
  Raw::Result r = admin.exec(
      "UPDATE rulekeeper.rule_version SET qualification = 'sl_validated' WHERE rule_key = 'audit.b' AND label = '1'");
  if (r.ok) {
    ++written;
    EXPECT_EQ(last_reason("audit.b", "1"), "direct UPDATE|direct UPDATE");
  }
  // The owner's own direct UPDATE, with the setting forged in its transaction.
  {
    Raw owner(conninfo_as(*n_, "postgres"));
    expect_ok(owner.exec("BEGIN"), "BEGIN");
    forge_in_transaction(owner);
    expect_ok(owner.exec("UPDATE rulekeeper.rule_version SET qualification = 'sl_failed' "
                         "WHERE rule_key = 'audit.a' AND label = '1'"),
              "owner's direct UPDATE");
    expect_ok(owner.exec("COMMIT"), "COMMIT");
    EXPECT_EQ(last_reason("audit.a", "1"), "direct UPDATE|direct UPDATE");
  }
  RecordProperty("admin_direct_writes_allowed", written);
  expect_nothing_forged();
}
