// ops/release: the decisions a release makes without a server — the form of
// --expected-checksum, the exit code (drift never refuses; a replication
// wait that ran out does), and the JSON document `release --json` prints.
#include "ops/release.hpp"

#include <gtest/gtest.h>

#include "common/errors.hpp"

using namespace rulekeeper;
using nlohmann::json;

TEST(OpsRelease, ExpectedChecksumMustBe64LowercaseHexDigits) {
  const std::string good(64, 'a');
  EXPECT_TRUE(ops::is_snapshot_checksum(good));
  EXPECT_TRUE(ops::is_snapshot_checksum("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(ops::is_snapshot_checksum(std::string(63, 'a')));
  EXPECT_FALSE(ops::is_snapshot_checksum(std::string(65, 'a')));
  EXPECT_FALSE(ops::is_snapshot_checksum(std::string(64, 'A')));  // uppercase is a typo, not a checksum
  EXPECT_FALSE(ops::is_snapshot_checksum(std::string(63, 'a') + "g"));
  EXPECT_FALSE(ops::is_snapshot_checksum(""));

  EXPECT_NO_THROW(ops::check_expected_checksum(std::nullopt));
  EXPECT_NO_THROW(ops::check_expected_checksum(good));
  try {
    ops::check_expected_checksum(std::string("deadbeef"));
    FAIL() << "a short checksum was accepted";
  } catch (const common::ExitError& e) {
    EXPECT_EQ(e.code(), common::exit_usage);
    EXPECT_NE(std::string(e.what()).find("'deadbeef'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("64 lowercase hex digits"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nothing was sent"), std::string::npos) << e.what();
  }
}

TEST(OpsRelease, OnlyAReplicationWaitThatRanOutRefuses) {
  EXPECT_EQ(ops::release_exit_code(nullptr), common::exit_ok);  // no wait asked for
  EXPECT_EQ(ops::release_exit_code({{"replicated", true}}), common::exit_ok);
  EXPECT_EQ(ops::release_exit_code({{"replicated", false}}), common::exit_refused);
}

TEST(OpsRelease, DriftIsReportedNotRefused) {
  ops::ReleaseReport r;
  r.source = "e2";
  r.target = "ipc2";
  r.bundle_sha256 = "b";
  site::client::ImportReport import;
  import.document = {{"drift", true}, {"drifted_rules", { "a" }}, { "imported", 1 }};
  import.drift = true;
  r.import = import;
  r.versions.push_back({"a", "2", false, nullptr});
  r.versions.push_back({"b", "1", true, {{"hotfix_included", "no"}}});
  r.promoted = 2;
  r.replication = nullptr;
  r.summary = "committed";
  r.exit_code = ops::release_exit_code(r.replication);
  EXPECT_EQ(r.exit_code, common::exit_ok);

  const json doc = r.to_json();
  EXPECT_EQ(doc["source"], "e2");
  EXPECT_EQ(doc["target"], "ipc2");
  EXPECT_EQ(doc["report"]["drift"], true);  // the server's report, as it came
  ASSERT_EQ(doc["versions"].size(), 2u);
  EXPECT_EQ(doc["versions"][0],
            json({{"rule_key", "a"}, {"label", "2"}, {"status", "imported"}, {"annotations", nullptr}}));
  EXPECT_EQ(doc["versions"][1]["status"], "already there");
  EXPECT_EQ(doc["versions"][1]["annotations"]["hotfix_included"], "no");
  EXPECT_EQ(doc["promoted"], 2);
  EXPECT_TRUE(doc["replication"].is_null());
  EXPECT_EQ(doc["summary"], "committed");
}

TEST(OpsRelease, NothingToReleaseHasTheSameDocumentShape) {
  ops::ReleaseReport r;
  r.source = "e1";
  r.target = "e2";
  r.replication = nullptr;
  r.summary = "nothing to release: site e1 has no draft version";
  const json doc = r.to_json();
  EXPECT_TRUE(doc["report"].is_null());
  EXPECT_EQ(doc["versions"], json::array());
  EXPECT_EQ(doc["promoted"], 0);
  EXPECT_TRUE(doc["replication"].is_null());
  EXPECT_EQ(doc["summary"], r.summary);
  for (const char* key :
       {"source", "target", "bundle_sha256", "versions", "report", "promoted", "replication", "summary"})
    EXPECT_TRUE(doc.contains(key)) << key;
}
