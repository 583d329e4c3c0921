// Who is notified (issue #18 item 3, docs/notifications.md) on real clusters
// (pipeline.hpp: e1, e2, ipc2 the E3 primary, ipc1 its streaming standby):
//
// - `rulectl notify hold --site ipc1 --channel prod` is written at ipc2 and
//   replicates: ipc1's notification_state() shows prod held at the epoch that
//   was current, while prod moves on at both; effective_rules(prod, held)
//   at ipc1 is the old set; the hold survives restarts of both nodes;
//   `rulectl status` shows current and served epoch per site and channel;
//   release replicates too.
// - The verbs' contract: exit codes (2 unknown site or channel, a site not
//   in E3, no terminal and no --yes; 3 held twice, released when not held),
//   --json, and a dry run that changes nothing.
//
// One pipeline for the suite (four clusters take most of the time).
// Ports: integration_notification_hold in tests/ports.txt.
#include <memory>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline.hpp"

using namespace rulekeeper;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;
namespace ports = rulekeeper::testing::ports;

namespace {

class NotificationHold : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    p_ = std::make_unique<Pipeline>(ports::integration_notification_hold[0]);
    p_->create_rule("nh.a", "nh");
    p_->create_version("nh.a", R"({"rate": 1})");
    p_->create_version("nh.a", R"({"rate": 2})");
    p_->ship();
    p_->to_prod("nh.a", "1");
  }
  static void TearDownTestSuite() { p_.reset(); }

  static Pipeline& p() { return *p_; }

  static json parse(const CommandResult& r) {
    json doc = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(doc.is_discarded()) << "not one JSON document:\n" << r.out << "\n" << r.err;
    return doc;
  }

  // notification_state(site) at `node` for one channel: "held|held_epoch|current_epoch".
  static std::string state(const cluster::Node& node, const std::string& site, const std::string& channel) {
    return sql_value(node,
                     "SELECT held || '|' || coalesce(held_epoch::text, '') || '|' || current_epoch "
                     "FROM rulekeeper.notification_state($1) WHERE channel = $2",
                     site, channel);
  }
  static std::string prod_epoch(const cluster::Node& node) {
    return sql_value(node, "SELECT rulekeeper.activation_epoch('prod')");
  }
  static std::string rules_at(const cluster::Node& node, const std::string& as_of) {
    return sql_value(node,
                     "SELECT string_agg(rule_key || '=' || label, ',' ORDER BY rule_key) "
                     "FROM rulekeeper.effective_rules('prod', $1::bigint)",
                     as_of);
  }
  static json status_row(const json& status, const std::string& site, const std::string& channel) {
    for (const auto& r : status["notifications"])
      if (r["site"] == site && r["channel"] == channel) return r;
    return nullptr;
  }

  static std::unique_ptr<Pipeline> p_;
};
std::unique_ptr<Pipeline> NotificationHold::p_;

TEST_F(NotificationHold, HoldReplicatesSurvivesRestartsAndRelease) {
  const std::string held = prod_epoch(*p().ipc2);
  ASSERT_NE(held, "0");

  CommandResult r = p().rulectl(
      {"--json", "--yes", "notify", "hold", "--site", "ipc1", "--channel", "prod", "--reason", "ipc1 an hour later"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json doc = parse(r);
  EXPECT_EQ(doc["action"], "hold");
  EXPECT_EQ(doc["site"], "ipc1");
  EXPECT_EQ(doc["channel"], "prod");
  EXPECT_EQ(doc["primary"], "ipc2");
  EXPECT_EQ(doc["dry_run"], false);
  EXPECT_EQ(doc["held_epoch"].dump(), held);
  EXPECT_EQ(doc["reason"], "ipc1 an hour later");
  EXPECT_EQ(sql_value(*p().ipc2,
                      "SELECT count(*) FROM rulekeeper.journal WHERE kind = 'notification' "
                      "AND payload ->> 'site' = 'ipc1' AND payload ->> 'action' = 'hold'"),
            "1");

  // The hold reaches the standby; prod moves on at both nodes, ipc1's
  // prod stays held at the old epoch with the old set.
  p().ipc1->wait_replayed(*p().ipc2);
  EXPECT_EQ(state(*p().ipc1, "ipc1", "prod"), fmt::format("true|{}|{}", held, held));
  EXPECT_EQ(state(*p().ipc1, "ipc1", "sl").substr(0, 6), "false|");
  EXPECT_EQ(state(*p().ipc1, "ipc2", "prod").substr(0, 6), "false|");
  p().to_prod("nh.a", "2");
  p().ipc1->wait_replayed(*p().ipc2);
  const std::string now = prod_epoch(*p().ipc1);
  ASSERT_GT(std::stoll(now), std::stoll(held));
  EXPECT_EQ(state(*p().ipc1, "ipc1", "prod"), fmt::format("true|{}|{}", held, now));
  EXPECT_EQ(rules_at(*p().ipc1, held), "nh.a=1");
  EXPECT_EQ(rules_at(*p().ipc1, now), "nh.a=2");
  EXPECT_EQ(rulekeeper::testing::effective(*p().ipc1, "prod"), "nh.a=2");

  // Restarts: the hold is in the database, not in memory.
  p().ipc1->restart();
  p().ipc2->restart();
  p().ipc1->wait_ready();
  EXPECT_EQ(state(*p().ipc1, "ipc1", "prod"), fmt::format("true|{}|{}", held, now));
  EXPECT_EQ(state(*p().ipc2, "ipc1", "prod"), fmt::format("true|{}|{}", held, now));

  // status: per site and channel, the current and the served epoch.
  r = p().rulectl({"--json", "status"});
  doc = parse(r);
  const json ipc1_prod = status_row(doc, "ipc1", "prod");
  ASSERT_TRUE(ipc1_prod.is_object()) << r.out;
  EXPECT_EQ(ipc1_prod["held"], true);
  EXPECT_EQ(ipc1_prod["held_epoch"].dump(), held);
  EXPECT_EQ(ipc1_prod["served_epoch"].dump(), held);
  EXPECT_EQ(ipc1_prod["current_epoch"].dump(), now);
  EXPECT_EQ(ipc1_prod["reason"], "ipc1 an hour later");
  const json ipc2_prod = status_row(doc, "ipc2", "prod");
  ASSERT_TRUE(ipc2_prod.is_object()) << r.out;
  EXPECT_EQ(ipc2_prod["held"], false);
  EXPECT_EQ(ipc2_prod["served_epoch"].dump(), now);
  EXPECT_TRUE(status_row(doc, "e1", "prod").is_null()) << "only E3 sites have gateways";
  r = p().rulectl({"status"});
  EXPECT_NE(r.out.find("notifications (e3)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HELD at " + held), std::string::npos) << r.out;

  // Release: replicates; ipc1's prod follows the channel again.
  r = p().rulectl({"--yes", "notify", "release", "--site", "ipc1", "--channel", "prod", "--reason", "go"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("released"), std::string::npos) << r.out;
  p().ipc1->wait_replayed(*p().ipc2);
  EXPECT_EQ(state(*p().ipc1, "ipc1", "prod"), fmt::format("false||{}", now));
  doc = parse(p().rulectl({"--json", "status"}));
  EXPECT_EQ(status_row(doc, "ipc1", "prod")["served_epoch"].dump(), now);
  EXPECT_EQ(sql_value(*p().ipc2, "SELECT count(*) FROM rulekeeper.verify_history()"), "0");
}

TEST_F(NotificationHold, VerbsExitCodesJsonAndDryRun) {
  const auto journal = [] { return sql_value(*p().ipc2, "SELECT count(*) FROM rulekeeper.journal"); };
  const std::string before = journal();

  // Usage errors (2), before anything is asked of a server.
  CommandResult r = p().rulectl({"--json", "--yes", "notify", "hold", "--site", "ipc9", "--channel", "prod"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("unknown E3 site"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ipc2, ipc1"), std::string::npos) << r.out;
  r = p().rulectl({"--yes", "notify", "hold", "--site", "e2", "--channel", "prod"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  r = p().rulectl({"--yes", "notify", "hold", "--site", "ipc1", "--channel", "green"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("the channels are sl and prod"), std::string::npos) << r.err;
  r = p().rulectl({"--yes", "notify", "hold", "--site", "ipc1"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  // No terminal and no --yes: refused before any change.
  r = p().rulectl({"notify", "hold", "--site", "ipc1", "--channel", "sl"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(journal(), before);

  // A dry run: the database's checks, the row it would write, nothing kept.
  r = p().rulectl({"--json", "notify", "hold", "--dry-run", "--site", "ipc1", "--channel", "sl"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json doc = parse(r);
  EXPECT_EQ(doc["dry_run"], true);
  EXPECT_EQ(doc["held_epoch"].dump(), sql_value(*p().ipc2, "SELECT rulekeeper.activation_epoch('sl')"));
  r = p().rulectl({"notify", "hold", "--dry-run", "--site", "ipc1", "--channel", "sl"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("DRY RUN"), std::string::npos) << r.out;
  EXPECT_EQ(journal(), before);
  EXPECT_EQ(state(*p().ipc2, "ipc1", "sl").substr(0, 6), "false|");
  // A dry run of a release that is not held: refused as the real one.
  r = p().rulectl({"notify", "release", "--dry-run", "--site", "ipc1", "--channel", "sl"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;

  // Refusals (3): releasing what is not held, holding twice.
  r = p().rulectl({"--json", "--yes", "notify", "release", "--site", "ipc1", "--channel", "sl"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("not held"), std::string::npos) << r.out;
  EXPECT_EQ(journal(), before);
  r = p().rulectl({"--yes", "notify", "hold", "--site", "ipc2", "--channel", "sl"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("held at epoch"), std::string::npos) << r.out;
  r = p().rulectl({"--yes", "notify", "hold", "--site", "ipc2", "--channel", "sl"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("already held"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rulectl notify release --site ipc2 --channel sl"), std::string::npos) << r.err;
  // A dry run of that release: would be done, and is not.
  r = p().rulectl({"--json", "notify", "release", "--dry-run", "--site", "ipc2", "--channel", "sl"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(parse(r)["action"], "release");
  EXPECT_EQ(state(*p().ipc2, "ipc2", "sl").substr(0, 5), "true|");
  r = p().rulectl({"--json", "--yes", "notify", "release", "--site", "ipc2", "--channel", "sl"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(state(*p().ipc2, "ipc2", "sl").substr(0, 6), "false|");
}

}  // namespace
