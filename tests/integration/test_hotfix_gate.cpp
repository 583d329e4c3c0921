// The hotfix gate compares bodies, not annotations (issue #13, class 4): a
// planned version that reached E3 before the hotfixes (so it was never
// annotated) must not take a hotfixed path back in prod without an
// acknowledgement — by activate, deactivate or cutover — and a pinned prod
// moves only inside hotfix(), never by a plain activate() of an old hotfix.
// Every call is made on a real connection (host=127.0.0.1) as the role that
// does it in production: rk_releaser (rulekeeper_releaser), rk_fixer
// (rulekeeper_hotfix). docs/hotfix.md "What prod serves is compared, not the
// annotation".
// Ports: integration_hotfix_gate in tests/ports.txt (site ipc2 in e3).
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "raw_connection.hpp"
#include "test_support.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Raw;

namespace {

constexpr int kPort = ports::integration_hotfix_gate[0];
constexpr const char* kRule = "pricing.discount";

std::string conninfo_as(const cluster::Node& n, const std::string& user) {
  return fmt::format("host=127.0.0.1 port={} user={} dbname=rules connect_timeout=5", n.port(), user);
}

// A bundle "from e2" as any tool outside could write one (built by the owner:
// _jcs_sha256 is internal).
std::string bundle(const cluster::Node& n, const std::string& rules_json, const std::string& versions_json) {
  auto c = n.connect();
  pqxx::nontransaction tx(*c);
  return tx
      .exec_params(
          "SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))::text "
          "FROM ("
          " SELECT jsonb_build_object('format', 'rulekeeper-bundle/1',"
          "  'source', jsonb_build_object('site', 'e2', 'environment', 'e2'), 'rules', $1::jsonb,"
          "  'versions', (SELECT jsonb_agg(v || jsonb_build_object('content_sha256', "
          "rulekeeper.content_sha256(v -> 'body'))) FROM jsonb_array_elements($2::jsonb) v)) b) x",
          rules_json, versions_json)[0][0]
      .c_str();
}

void ok(Raw& c, const std::string& sql) {
  Raw::Result r = c.exec(sql);
  ASSERT_TRUE(r.ok) << sql << ": " << r.message;
}

class HotfixGate : public ::testing::Test {
protected:
  void SetUp() override {
    if (!rulekeeper::testing::with_extension()) GTEST_SKIP() << "needs the extension";
    set_ = std::make_unique<cluster::ClusterSet>(rulekeeper::testing::fresh_cluster_options());
    e3_ = &set_->add({"ipc2", "e3", kPort});
    e3_->init_primary();
    e3_->create_database();
    // Bundles "from e2" are signed with this node's key, trusted for e2 (docs/keys.md).
    e3_->query_value(
        "SELECT count(*) FROM rulekeeper.signing_public_key() k, "
        "rulekeeper.trust_key('e2', k.public_key, 'test: this node stands in for e2') t");
    e3_->exec("CREATE ROLE rk_releaser LOGIN IN ROLE rulekeeper_releaser");
    e3_->exec("CREATE ROLE rk_fixer LOGIN IN ROLE rulekeeper_hotfix");
    e3_->exec(
        "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('pricing', ARRAY['/rate', '/tiers'])");
  }
  std::string prod(const std::string& rule = kRule) {
    return e3_->query_value(fmt::format("SELECT rulekeeper.effective_version('{}', 'prod')", rule));
  }
  std::unique_ptr<cluster::ClusterSet> set_;
  cluster::Node* e3_ = nullptr;
};

}  // namespace

// Version 2 (rate 0.1, a third tier) reaches E3 and passes SL before the
// hotfixes; SL goes back to 1. Hotfix 1.1 raises /rate, hotfix 1.2 adds the
// same third tier version 2 has. Version 2 is not annotated, and today's gate
// let it into prod silently (1.2's change is in it; 1.1's is not).
TEST_F(HotfixGate, UnannotatedPlannedVersionCannotSilentlyUndoAnEarlierHotfix) {
  Raw releaser(conninfo_as(*e3_, "rk_releaser"));
  Raw fixer(conninfo_as(*e3_, "rk_fixer"));
  const std::string b = bundle(*e3_, R"([{"rule_key": "pricing.discount", "ruleset": "pricing", "description": ""}])",
                               R"([{"rule_key": "pricing.discount", "label": "1",
                                    "body": {"rate": 0.1, "tiers": [100, 500], "name": "summer"}},
                                   {"rule_key": "pricing.discount", "label": "2",
                                    "body": {"rate": 0.1, "tiers": [100, 500, 1000], "name": "summer"}}])");
  Raw::Result imp = releaser.exec("SELECT rulekeeper.import_release($1::jsonb)", &b);
  ASSERT_TRUE(imp.ok) << imp.message;
  ok(releaser, "SELECT rulekeeper.activate('pricing.discount', '1', 'sl')");
  ok(releaser, "SELECT rulekeeper.transition('pricing.discount', '1', 'sl_validated', 'clean')");
  ok(releaser, "SELECT rulekeeper.activate('pricing.discount', '1', 'prod')");
  ok(releaser, "SELECT rulekeeper.activate('pricing.discount', '2', 'sl')");
  ok(releaser, "SELECT rulekeeper.transition('pricing.discount', '2', 'sl_validated', 'clean')");
  ok(releaser, "SELECT rulekeeper.activate('pricing.discount', '1', 'sl')");
  ok(fixer,
     "SELECT rulekeeper.hotfix('pricing.discount', '{\"rate\": 0.15, \"tiers\": [100, 500], \"name\": \"summer\"}', "
     "'rate too low')");
  ok(fixer,
     "SELECT rulekeeper.hotfix('pricing.discount', '{\"rate\": 0.15, \"tiers\": [100, 500, 1000], \"name\": "
     "\"summer\"}', 'the third tier now')");
  ASSERT_EQ(prod(), "1.2");
  // The precondition of the case: nothing annotated version 2.
  ASSERT_EQ(e3_->query_value("SELECT annotations::text FROM rulekeeper.rule_version WHERE label = '2'"), "{}");
  const std::string journal_before = e3_->query_value("SELECT count(*) FROM rulekeeper.journal");

  // Deactivating prod would undo both hotfixes: both are named, with paths.
  Raw::Result r = releaser.exec("SELECT rulekeeper.deactivate('pricing.discount', 'prod')");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.sqlstate, "23514") << r.message;
  EXPECT_NE(r.message.find("would undo hotfix(es) 1.1 (/rate), 1.2 (/tiers/2)"), std::string::npos) << r.message;

  // Cutover with version 2 in SL: held back by the gate, nothing moves.
  ok(releaser, "SELECT rulekeeper.activate('pricing.discount', '2', 'sl')");
  const std::string journal_sl = e3_->query_value("SELECT count(*) FROM rulekeeper.journal");
  r = releaser.exec("SELECT rulekeeper.cutover()");
  ASSERT_FALSE(r.ok) << "cutover moved prod off hotfix 1.1 without acknowledgement";
  EXPECT_EQ(r.sqlstate, "23514") << r.message;
  EXPECT_NE(r.message.find("pricing.discount 2 (would undo hotfix(es) 1.1 (/rate))"), std::string::npos) << r.message;
  EXPECT_EQ(prod(), "1.2");

  // activate: refused, naming hotfix 1.1 and /rate, what it changed and what
  // version 2 would serve instead; 1.2 (whose change version 2 carries) is not
  // named.
  r = releaser.exec("SELECT rulekeeper.activate('pricing.discount', '2', 'prod')");
  ASSERT_FALSE(r.ok) << "version 2 reached prod without acknowledgement: prod's /rate went back to 0.1";
  EXPECT_EQ(r.sqlstate, "23514") << r.message;
  EXPECT_NE(r.message.find("moving prod of rule \"pricing.discount\" from 1.2 to version 2 would undo hotfix(es) "
                           "1.1 (/rate)\n"),
            std::string::npos)
      << r.message;
  EXPECT_NE(r.message.find("/rate: 0.1 -> 0.15"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("version 2 would serve instead: /rate: 0.1 (prod serves 0.15)"), std::string::npos)
      << r.message;
  EXPECT_EQ(r.message.find("1.2 ("), std::string::npos) << r.message;
  EXPECT_EQ(prod(), "1.2");
  EXPECT_EQ(e3_->query_value("SELECT count(*) FROM rulekeeper.journal"), journal_sl) << "a refusal writes nothing";
  EXPECT_NE(journal_sl, journal_before);

  // Acknowledged: it goes through, and the acknowledgement names hotfix 1.1
  // and the path, by the releaser.
  ok(releaser, "SELECT rulekeeper.activate('pricing.discount', '2', 'prod', acknowledge_hotfixes => '{1.1}')");
  EXPECT_EQ(prod(), "2");
  EXPECT_EQ(e3_->query_value("SELECT actor || ' ' || (payload ->> 'action') || ' ' || "
                             "(payload -> 'undone_hotfixes' -> 0 ->> 'label') || ' ' || "
                             "(payload -> 'undone_hotfixes' -> 0 -> 'paths' -> 0 ->> 'path') "
                             "FROM rulekeeper.journal WHERE kind = 'acknowledgement' AND label = '2'"),
            "rk_releaser activate 1.1 /rate");
  EXPECT_EQ(e3_->query_value("SELECT acknowledged -> 'undone_hotfixes' -> 0 ->> 'label' FROM "
                             "rulekeeper.activation_history WHERE channel = 'prod' AND label = '2'"),
            "1.1");
  EXPECT_EQ(e3_->query_value("SELECT count(*) FROM rulekeeper.hotfix_acknowledgements("
                             "(SELECT hotfix_id FROM rulekeeper.hotfix WHERE label = '1.1'))"),
            "1");
  EXPECT_EQ(e3_->query_value("SELECT count(*) FROM rulekeeper.verify_checksums()"), "0");
}

// A pinned prod: hotfix() moves the pin with the fix, but a plain activate()
// of an older hotfix version — acknowledged or not — is refused like any
// other version ("unpin it first").
TEST_F(HotfixGate, PinnedProdMovesOnlyInsideHotfix) {
  Raw releaser(conninfo_as(*e3_, "rk_releaser"));
  Raw fixer(conninfo_as(*e3_, "rk_fixer"));
  const std::string b =
      bundle(*e3_, R"([{"rule_key": "pricing.pinned", "ruleset": "pricing", "description": ""}])",
             R"([{"rule_key": "pricing.pinned", "label": "1", "body": {"rate": 0.1, "tiers": [100]}}])");
  Raw::Result imp = releaser.exec("SELECT rulekeeper.import_release($1::jsonb)", &b);
  ASSERT_TRUE(imp.ok) << imp.message;
  ok(releaser, "SELECT rulekeeper.activate('pricing.pinned', '1', 'sl')");
  ok(releaser, "SELECT rulekeeper.transition('pricing.pinned', '1', 'sl_validated', 'clean')");
  ok(releaser, "SELECT rulekeeper.activate('pricing.pinned', '1', 'prod')");
  ok(fixer, "SELECT rulekeeper.hotfix('pricing.pinned', '{\"rate\": 0.15, \"tiers\": [100]}', 'rate too low')");
  ok(releaser, "SELECT rulekeeper.pin('pricing.pinned', 'prod', '1.1')");
  // Inside hotfix() the pin moves with the fix.
  ok(fixer, "SELECT rulekeeper.hotfix('pricing.pinned', '{\"rate\": 0.2, \"tiers\": [100]}', 'rate again')");
  ASSERT_EQ(prod("pricing.pinned"), "1.2");
  ASSERT_EQ(e3_->query_value("SELECT pinned FROM rulekeeper.activation WHERE channel = 'prod' AND "
                             "rule_key = 'pricing.pinned'"),
            "t");
  const std::string journal_before = e3_->query_value("SELECT count(*) FROM rulekeeper.journal");
  for (const char* ack : {"false", "true"}) {
    Raw::Result r = releaser.exec(
        fmt::format("SELECT rulekeeper.activate('pricing.pinned', '1.1', 'prod', acknowledge => {})", ack));
    ASSERT_FALSE(r.ok) << "a plain activate() moved a pinned prod to hotfix 1.1 (acknowledge => " << ack << ")";
    EXPECT_EQ(r.sqlstate, "55000") << r.message;
    EXPECT_NE(r.message.find("rule \"pricing.pinned\" is pinned in prod at version 1.2; unpin it first"),
              std::string::npos)
        << r.message;
  }
  EXPECT_EQ(prod("pricing.pinned"), "1.2");
  EXPECT_EQ(e3_->query_value("SELECT count(*) FROM rulekeeper.journal"), journal_before);
}
