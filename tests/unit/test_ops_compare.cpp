// ops/compare and ops/at_risk: which buckets and rules differ, and the exit
// codes and documents of both, without a server.
#include "ops/at_risk.hpp"
#include "ops/compare.hpp"

#include <gtest/gtest.h>

#include "common/errors.hpp"

using namespace rulekeeper;
using nlohmann::json;

TEST(OpsCompare, DifferingBucketsIncludeOneSidedOnes) {
  std::map<int, std::string> a{{1, "x"}, {2, "y"}, {3, "z"}};
  std::map<int, std::string> b{{1, "x"}, {2, "Y"}, {4, "w"}};
  EXPECT_EQ(ops::differing_buckets(a, b), (std::set<int>{2, 3, 4}));
  EXPECT_TRUE(ops::differing_buckets(a, a).empty());
  EXPECT_EQ(ops::differing_buckets({}, b), (std::set<int>{1, 2, 4}));
}

TEST(OpsCompare, RuleDifferencesByLabelAndContent) {
  using V = site::client::BucketVersion;
  const auto a = ops::by_rule({V{"r", "1", "s1"}, V{"r", "2", "s2"}, V{"q", "1", "t1"}, V{"same", "1", "u"}});
  const auto b =
      ops::by_rule({V{"r", "1", "s1"}, V{"r", "2", "OTHER"}, V{"r", "3", "s3"}, V{"same", "1", "u"}, V{"p", "1", "v"}});
  const auto diffs = ops::rule_differences(a, b);
  ASSERT_EQ(diffs.size(), 3u);  // p, q, r; "same" is equal and left out
  EXPECT_EQ(diffs[0].rule_key, "p");
  EXPECT_TRUE(diffs[0].only_a.empty());
  EXPECT_EQ(diffs[0].only_b, std::vector<std::string>{"1"});
  EXPECT_EQ(diffs[1].rule_key, "q");
  EXPECT_EQ(diffs[1].only_a, std::vector<std::string>{"1"});
  EXPECT_TRUE(diffs[1].labels_b.empty());
  EXPECT_EQ(diffs[2].rule_key, "r");
  EXPECT_EQ(diffs[2].labels_a, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(diffs[2].labels_b, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(diffs[2].content_differs, std::vector<std::string>{"2"});
  EXPECT_EQ(diffs[2].only_b, std::vector<std::string>{"3"});
}

TEST(OpsCompare, EqualExits0DifferentExits3) {
  ops::CompareReport r;
  r.a = "ipc2";
  r.b = "ipc1";
  r.scope = "all";
  r.checksum_a = r.checksum_b = "c";
  r.round_trips_a = r.round_trips_b = 1;
  EXPECT_EQ(r.exit_code(), common::exit_ok);
  json doc = r.to_json();
  EXPECT_EQ(doc["equal"], true);
  EXPECT_EQ(doc["differing_buckets"], json::array());
  EXPECT_EQ(doc["rules"], json::array());
  EXPECT_EQ(doc["checksums"]["ipc1"], "c");
  EXPECT_EQ(doc["round_trips"]["ipc2"], 1);
  r.checksum_b = "d";
  EXPECT_EQ(r.exit_code(), common::exit_refused);
  EXPECT_EQ(r.to_json()["equal"], false);
}

TEST(OpsAtRisk, UnknownAndAnyChangeAreAtRisk) {
  ops::AtRiskReport r;
  r.primary = "ipc2";
  r.standby = "ipc1";
  r.standby_reachable = true;
  r.method = ops::AtRiskMethod::version_vector;
  r.standby_version_vector = VersionVector::from_json(R"({"ipc2:1": 3})");
  EXPECT_FALSE(r.at_risk());
  EXPECT_EQ(r.exit_code(), common::exit_ok);
  json doc = r.to_json();
  EXPECT_EQ(doc["method"], "version_vector");
  EXPECT_EQ(doc["estimate"], false);
  EXPECT_EQ(doc["standby_version_vector"], json({{"ipc2:1", 3}}));
  EXPECT_FALSE(doc.contains("slot"));
  EXPECT_EQ(doc["count"], 0);

  site::client::JournalEntry e;
  e.change_id = "c1";
  e.origin_site = "ipc2";
  e.origin_incarnation = 1;
  e.origin_seq = 4;
  e.kind = "version";
  e.rule_key = "a";
  e.recorded_at = "2026-12-06T08:01:27.123Z";
  r.changes.push_back(e);
  EXPECT_TRUE(r.at_risk());
  EXPECT_EQ(r.exit_code(), common::exit_refused);
  doc = r.to_json();
  EXPECT_EQ(doc["changes"][0]["origin"], "ipc2:1");
  EXPECT_EQ(doc["changes"][0]["origin_seq"], 4);
  EXPECT_TRUE(doc["changes"][0]["label"].is_null());
  EXPECT_EQ(doc["at_risk"], true);

  // The standby unreachable and no slot: unknown, which is at risk too.
  ops::AtRiskReport unknown;
  unknown.primary = "ipc2";
  unknown.standby = "ipc1";
  unknown.standby_error = "connection refused";
  unknown.method = ops::AtRiskMethod::unavailable;
  EXPECT_TRUE(unknown.at_risk());
  EXPECT_EQ(unknown.exit_code(), common::exit_refused);
  doc = unknown.to_json();
  EXPECT_EQ(doc["estimate"], true);
  EXPECT_TRUE(doc["slot"].is_null());
  EXPECT_EQ(doc["standby_error"], "connection refused");

  // An estimate from a slot names the slot.
  ops::AtRiskReport estimate = unknown;
  estimate.method = ops::AtRiskMethod::slot_estimate;
  estimate.slot_name = "ipc1";
  estimate.slot = site::client::PhysicalSlot{std::string("0/3000000"), false, std::string("reserved")};
  EXPECT_FALSE(estimate.at_risk());  // nothing after the slot position
  doc = estimate.to_json();
  EXPECT_EQ(doc["method"], "slot_estimate");
  EXPECT_EQ(doc["slot"],
            json({{"restart_lsn", "0/3000000"}, {"active", false}, {"wal_status", "reserved"}, {"slot_name", "ipc1"}}));
}
