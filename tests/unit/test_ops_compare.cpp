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

namespace {

site::client::ChainHead head(const std::string& site, int inc, long long seq, const std::string& hash) {
  site::client::ChainHead h;
  h.origin_site = site;
  h.origin_incarnation = inc;
  h.origin = site + ":" + std::to_string(inc);
  h.origin_seq = seq;
  h.entry_hash = hash;
  return h;
}

}  // namespace

TEST(OpsCompare, ChainHeadsSideBySide) {
  using site::client::ChainHead;
  const std::vector<ChainHead> a = {head("ipc1", 2, 5, "h5"), head("ipc2", 1, 10, "h10"), head("ipc3", 1, 4, "x4"),
                                    head("ipc5", 1, 3, "k3"), head("ipc6", 1, 2, "m2")};
  const std::vector<ChainHead> b = {head("ipc2", 1, 8, "h8"), head("ipc3", 1, 4, "y4"), head("ipc5", 1, 5, "k5"),
                                    head("ipc6", 1, 2, "m2"), head("ipc7", 1, 1, "n1")};
  std::vector<std::string> asked;
  auto at_a = [&](const std::string& s, int, long long seq) {
    asked.push_back("a:" + s + "/" + std::to_string(seq));
    return s == "ipc2" && seq == 8 ? std::string("h8") : std::string("?");
  };
  auto at_b = [&](const std::string& s, int, long long seq) {
    asked.push_back("b:" + s + "/" + std::to_string(seq));
    return s == "ipc5" && seq == 3 ? std::string("other") : std::string("?");
  };
  auto d = ops::chain_differences(a, b, at_a, at_b);
  std::map<std::string, ops::ChainDifference> by;
  for (const auto& x : d) by[x.origin] = x;
  EXPECT_EQ(by.count("ipc6:1"), 0u);  // the same chain: not listed
  EXPECT_EQ(by["ipc1:2"].finding, "only_a");
  EXPECT_EQ(by["ipc2:1"].finding, "b_behind");  // b holds a prefix of a's chain
  EXPECT_EQ(by["ipc3:1"].finding, "differs");   // same length, other head
  EXPECT_EQ(by["ipc3:1"].at_seq, 4);
  EXPECT_EQ(by["ipc5:1"].finding, "differs");  // a's head is not b's entry 3
  EXPECT_EQ(by["ipc5:1"].at_seq, 3);
  EXPECT_EQ(by["ipc7:1"].finding, "only_b");
  EXPECT_EQ(asked, (std::vector<std::string>{"a:ipc2/8", "b:ipc5/3"}));

  ops::CompareReport r;
  r.a = "ipc2";
  r.b = "ipc1";
  r.checksum_a = r.checksum_b = "c";
  r.chains = {by["ipc2:1"], by["ipc1:2"]};
  EXPECT_TRUE(r.history_intact());  // behind / only on one side: not tampering
  EXPECT_EQ(r.exit_code(), common::exit_ok);
  r.chains.push_back(by["ipc3:1"]);
  EXPECT_FALSE(r.history_intact());
  EXPECT_EQ(r.exit_code(), common::exit_refused);
  EXPECT_EQ(r.to_json()["history_intact"], false);
  r.chains.pop_back();
  r.history_b.push_back({"qualification_differs", "", 0, "a", "1", "the table says sl_validated"});
  EXPECT_EQ(r.exit_code(), common::exit_refused);
  EXPECT_EQ(r.to_json()["history"]["ipc1"][0]["problem"], "qualification_differs");
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
