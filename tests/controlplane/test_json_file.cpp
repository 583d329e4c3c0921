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

// issue 15 item 21: a timestamptz inside a jsonb document the server built
// (a conflict's changes, import_changes' report) prints with a T and a
// +00:00 offset; rulectl shows it in its one format like every other.
TEST(Time, JsonbTimestampsInServerDocumentsBecomeRfc3339Utc) {
  EXPECT_EQ(rfc3339_from_pg("2026-11-26T15:34:55.557544+01:00"), "2026-11-26T14:34:55.557Z");
  EXPECT_EQ(rfc3339_from_pg("2026-11-26T14:34:55.557Z"), "2026-11-26T14:34:55.557Z");  // already ours
  nlohmann::json doc = nlohmann::json::parse(R"({
      "conflicts": [{"recorded_at": "2026-11-26T14:34:55.557544+00:00", "label": "2026-11-26 14:34:55+00",
                     "changes": [{"detected_at": "2026-11-26 14:34:55.1+00"}]}],
      "revoked_at": null, "note_at": 3})");
  rfc3339_timestamps(doc);
  EXPECT_EQ(doc["conflicts"][0]["recorded_at"], "2026-11-26T14:34:55.557Z");
  EXPECT_EQ(doc["conflicts"][0]["label"], "2026-11-26 14:34:55+00");  // not a *_at member: left alone
  EXPECT_EQ(doc["conflicts"][0]["changes"][0]["detected_at"], "2026-11-26T14:34:55.100Z");
  EXPECT_TRUE(doc["revoked_at"].is_null());
  EXPECT_EQ(doc["note_at"], 3);
}

// A rule body holding a number JCS cannot write exactly is refused quoting
// the literal as the author wrote it (issue 15 item 27).
TEST(StrictJson, BodyWithAnInexactNumberQuotesTheLiteral) {
  try {
    parse_strict_body(R"({"limit": 1e400})", "--body-file b.json");
    FAIL() << "accepted 1e400";
  } catch (const ExitError& e) {
    EXPECT_EQ(e.code(), exit_usage);
    EXPECT_NE(std::string(e.what()).find("--body-file b.json: number 1e400 cannot"), std::string::npos) << e.what();
    EXPECT_EQ(e.hint(), "store it as a string, e.g. \"1e400\"");
  }
  EXPECT_EQ(parse_strict_body(R"({"big": 1e21})", "x")["big"], 1e21);
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
