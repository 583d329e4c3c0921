// The strict reader in front of every JSON file rulectl reads.
#include <gtest/gtest.h>

#include "common/errors.hpp"
#include "common/json_file.hpp"

namespace rulekeeper::common {
namespace {

TEST(StrictJson, DuplicateKeyIsRefusedWithTheKeyNamed) {
  try {
    parse_strict_json(R"({"rate": 0.1, "tiers": [1], "rate": 0.2})", "hotfix body file fix.json");
    FAIL() << "accepted a duplicate key";
  } catch (const ExitError& e) {
    EXPECT_EQ(e.code(), exit_usage);
    const std::string what = e.what();
    EXPECT_NE(what.find("hotfix body file fix.json"), std::string::npos) << what;
    EXPECT_NE(what.find("duplicate object key \"rate\""), std::string::npos) << what;
  }
}

TEST(StrictJson, NestedDuplicateAndBadUtf8AreRefused) {
  EXPECT_THROW(parse_strict_json(R"({"a": {"b": 1, "b": 1}})", "x"), ExitError);
  EXPECT_THROW(parse_strict_json("{\"a\": \"\xff\"}", "x"), ExitError);
  EXPECT_THROW(parse_strict_json(R"({"a": 1} trailing)", "x"), ExitError);
}

TEST(StrictJson, AcceptedDocumentsReadTheSame) {
  const nlohmann::json j = parse_strict_json(R"({"rate": 0.125, "tiers": [100, 500], "name": "é"})", "x");
  EXPECT_EQ(j["rate"], 0.125);
  EXPECT_EQ(j["tiers"][1], 500);
  EXPECT_EQ(j["name"], "é");
}

TEST(StrictJson, MissingFileIsAUsageError) {
  try {
    read_json_file("/nonexistent/receipt.json", "receipt /nonexistent/receipt.json");
    FAIL();
  } catch (const ExitError& e) {
    EXPECT_EQ(e.code(), exit_usage);
  }
}

}  // namespace
}  // namespace rulekeeper::common

#include "common/time.hpp"

namespace rulekeeper::common {
namespace {

TEST(Time, PostgresTimestampsBecomeRfc3339Utc) {
  EXPECT_EQ(rfc3339_from_pg("2026-11-26 14:34:55.557544+00"), "2026-11-26T14:34:55.557Z");
  EXPECT_EQ(rfc3339_from_pg("2026-11-26 15:34:55.5+01"), "2026-11-26T14:34:55.500Z");
  EXPECT_EQ(rfc3339_from_pg("2026-11-27 01:04:55+05:30"), "2026-11-26T19:34:55.000Z");
  EXPECT_EQ(rfc3339_from_pg("2026-11-26 14:34:55"), "2026-11-26T14:34:55.000Z");
  EXPECT_EQ(rfc3339_from_pg("not a time"), "not a time");
  EXPECT_EQ(rfc3339_from_pg("2026-11-26 14:34:55 garbage"), "2026-11-26 14:34:55 garbage");
}

TEST(Time, Rfc3339HasMillisecondsAndZ) {
  const std::string now = utc_now_text();
  ASSERT_EQ(now.size(), 24u) << now;
  EXPECT_EQ(now[10], 'T');
  EXPECT_EQ(now[19], '.');
  EXPECT_EQ(now.back(), 'Z');
}

}  // namespace
}  // namespace rulekeeper::common
