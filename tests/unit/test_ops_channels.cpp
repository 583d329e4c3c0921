// ops/channels: the JSON documents of the channel verbs — "changed" is the
// before/after of the activation, the replication keys appear only where
// the verb could wait (cutover: only when something moved).
#include "ops/channels.hpp"

#include <gtest/gtest.h>

using namespace rulekeeper;
using nlohmann::json;

TEST(OpsChannels, ChangedComparesTheActivationBeforeAndAfter) {
  ops::ChannelReport r;
  r.site = "ipc2";
  r.action = ops::ChannelAction::activate;
  r.rule_key = "a";
  r.channel = "sl";
  r.version = "2";
  r.before = site::client::Activation{"1", false, 5};
  r.after = site::client::Activation{"1", false, 5};
  r.epoch = 5;
  EXPECT_FALSE(r.changed());
  r.after = site::client::Activation{"2", false, 6};
  EXPECT_TRUE(r.changed());
  r.after = site::client::Activation{"1", true, 5};  // a pin alone is a change
  EXPECT_TRUE(r.changed());
  EXPECT_FALSE(ops::ChannelReport().changed());  // not active before nor after

  r.before = site::client::Activation{"1", false, 5};
  r.after = site::client::Activation{"2", true, 7};
  r.epoch = 7;
  const json doc = r.to_json();
  EXPECT_EQ(doc["action"], "activate");
  EXPECT_EQ(doc["before"], json({{"label", "1"}, {"pinned", false}, {"epoch", 5}}));
  EXPECT_EQ(doc["after"], json({{"label", "2"}, {"pinned", true}, {"epoch", 7}}));
  EXPECT_EQ(doc["changed"], true);
  EXPECT_TRUE(doc["replication"].is_null());  // no wait asked for: null, and no summary
  EXPECT_FALSE(doc.contains("replication_summary"));

  r.replication = ops::ReplicationOutcome{{{"replicated", false}}, "committed, NOT replicated to ipc1 (x)"};
  const json waited = r.to_json();
  EXPECT_EQ(waited["replication"]["replicated"], false);
  EXPECT_EQ(waited["replication_summary"], "committed, NOT replicated to ipc1 (x)");
}

TEST(OpsChannels, ActionNames) {
  EXPECT_EQ(ops::to_string(ops::ChannelAction::activate), "activate");
  EXPECT_EQ(ops::to_string(ops::ChannelAction::deactivate), "deactivate");
  EXPECT_EQ(ops::to_string(ops::ChannelAction::rollback), "rollback");
  EXPECT_EQ(ops::to_string(ops::ChannelAction::pin), "pin");
  EXPECT_EQ(ops::to_string(ops::ChannelAction::unpin), "unpin");
}

TEST(OpsChannels, CutoverSaysNothingOfReplicationWhenNothingMoved) {
  ops::CutoverReport r;
  r.site = "ipc2";
  r.result.document = {{"moved", json::array()}, {"stays", json::array()}};
  json doc = r.to_json();
  EXPECT_EQ(doc["action"], "cutover");
  EXPECT_FALSE(doc.contains("replication"));
  r.result.moved.push_back({"a", std::nullopt, "2", {}});
  doc = r.to_json();
  ASSERT_TRUE(doc.contains("replication"));
  EXPECT_TRUE(doc["replication"].is_null());
}

TEST(OpsChannels, ValidateDocument) {
  ops::ValidateReport r{"e2", "a", "1", std::nullopt, "test_passed", "rulectl validate --result passed", 0};
  json doc = r.to_json();
  EXPECT_EQ(doc["action"], "validate");
  EXPECT_EQ(doc["from"], "");  // the server did not say
  r.from = "in_test";
  EXPECT_EQ(r.to_json()["from"], "in_test");
}

// A dry run says so in its document, and the gate's hotfixes come back as
// the lines a plan or a dry run prints: each hotfix's diff, then what the
// change would serve instead.
TEST(OpsChannels, DryRunDocumentAndGateLines) {
  ops::ChannelReport r;
  r.action = ops::ChannelAction::activate;
  EXPECT_EQ(r.to_json()["dry_run"], false);
  r.dry_run = true;
  r.gate = json::parse(R"([{"label": "2.1", "classification": "overrides",
                            "diff": [{"path": "/rate", "op": "replace", "old_value": 0.1, "new_value": 0.15}],
                            "paths": [{"path": "/rate", "prod": 0.15, "candidate": 0.1}]},
                           {"label": "2.2", "classification": null,
                            "diff": [{"path": "/cap", "op": "add", "new_value": 5}],
                            "paths": [{"path": "/cap", "prod": 5, "candidate": null}]}])");
  r.acknowledged_hotfixes = {"2.1", "2.2"};
  const json doc = r.to_json();
  EXPECT_EQ(doc["dry_run"], true);
  EXPECT_EQ(doc["hotfix_gate"].size(), 2u);
  EXPECT_EQ(doc["acknowledged_hotfixes"], json({"2.1", "2.2"}));
  EXPECT_EQ(ops::gate_lines(r.gate),
            (std::vector<std::string>{"hotfix 2.1 (the version's annotation: overrides) changed:",
                                      "  /rate: 0.1 -> 0.15", "  the change would serve /rate: 0.1 (prod serves 0.15)",
                                      "hotfix 2.2 changed:", "  /cap: (absent) -> 5",
                                      "  the change would serve /cap: (absent) (prod serves 5)"}));
}
