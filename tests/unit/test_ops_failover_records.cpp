// What rulectl writes into the journal through record_failover and the
// decisions of issue #14 items 1 and 4, without servers:
//   - every step time and every double of a failover's details survives the
//     extension's JCS export (ops::steps_json writes whole milliseconds,
//     common::dump_exact the shortest round-trip digits) — over many values,
//     some of which nlohmann::json's own dump writes with non-shortest digits;
//   - synchronous_standby_names parsed as PostgreSQL reads it, and whether
//     the standbys following a promotion target can satisfy it;
//   - the last E3 primary is the newest timeline, whatever the order.
#include <cmath>
#include <cstring>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/exact_json.hpp"
#include "ops/last_primary.hpp"
#include "ops/steps.hpp"
#include "ops/sync_promotion.hpp"
#include "rulekeeper/canonical_json.hpp"

using namespace rulekeeper;
using nlohmann::json;

namespace {

bool exportable(const std::string& text) {
  try {
    canonicalize_text(text);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// Durations as Steps computes them: differences of steady-clock seconds.
std::vector<double> durations(std::size_t n) {
  std::mt19937_64 rng(14);
  std::uniform_real_distribution<double> start(0, 100), took(0, 2);
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i) {
    const double a = start(rng), b = a + took(rng);
    out.push_back(b - a);
  }
  return out;
}

}  // namespace

TEST(FailoverRecords, NlohmannDumpIsNotAlwaysShortest_TheBugTheseTestsGuard) {
  // Without this, the tests below could pass for want of a bad value.
  int refused = 0;
  for (double d : durations(20000)) refused += exportable(json(d).dump()) ? 0 : 1;
  EXPECT_GT(refused, 0);
}

TEST(FailoverRecords, StepTimesAreWholeMilliseconds_EveryDocumentExports) {
  std::vector<ops::Step> steps;
  const auto d = durations(20000);
  for (std::size_t i = 0; i + 1 < d.size(); i += 2)
    steps.push_back({"step " + std::to_string(i), "detail", d[i] * 50, d[i + 1], "2026-12-06T11:00:00.000Z"});
  const json doc = ops::steps_json(steps);
  for (const auto& s : doc) {
    ASSERT_TRUE(s["started_ms"].is_number_integer()) << s.dump();
    ASSERT_TRUE(s["took_ms"].is_number_integer()) << s.dump();
  }
  // As record_failover writes it, and as nlohmann would.
  EXPECT_TRUE(exportable(common::dump_exact(json{{"steps", doc}})));
  EXPECT_TRUE(exportable(json{{"steps", doc}}.dump()));
  EXPECT_EQ(ops::whole_ms(0.07061321499999999), 71);
}

TEST(FailoverRecords, DumpExactWritesShortestDigits_ForAnyDouble) {
  std::mt19937_64 rng(15);
  std::uniform_int_distribution<std::uint64_t> bits;
  int checked = 0;
  for (double d : durations(20000)) {
    const std::string text = common::dump_exact(json{{"age_seconds", d}, {"nested", {d, {{"x", -d}}}}});
    ASSERT_TRUE(exportable(text)) << text;
    EXPECT_EQ(json::parse(text)["age_seconds"].get<double>(), d);
    ++checked;
  }
  for (int i = 0; i < 20000; ++i) {  // arbitrary finite doubles, all exponents
    std::uint64_t b = bits(rng);
    double d;
    std::memcpy(&d, &b, sizeof d);
    if (!std::isfinite(d)) continue;
    const std::string text = common::dump_exact(json{{"v", d}});
    ASSERT_TRUE(exportable(text)) << text;
    ++checked;
  }
  EXPECT_GT(checked, 30000);
  // Strings, integers, booleans and null as nlohmann writes them; non-finite as null.
  const json mixed = {
      {"s", "a\"b\\c\u00e9\n"}, {"i", -42}, {"u", 18446744073709551615ULL}, {"b", true}, {"n", nullptr}};
  EXPECT_EQ(json::parse(common::dump_exact(mixed)), mixed);
  EXPECT_EQ(common::dump_exact(json(std::nan(""))), "null");
}

TEST(SyncPromotion, ParsesSynchronousStandbyNamesAsPostgresDoes) {
  EXPECT_EQ(ops::parse_sync_standby_names("").num_sync, 0);
  EXPECT_EQ(ops::parse_sync_standby_names("  ").num_sync, 0);
  auto s = ops::parse_sync_standby_names("ipc2b");
  EXPECT_EQ(s.num_sync, 1);
  EXPECT_FALSE(s.any);
  EXPECT_EQ(s.names, std::vector<std::string>{"ipc2b"});
  s = ops::parse_sync_standby_names("ipc2b, ipc1");
  EXPECT_EQ(s.num_sync, 1);
  EXPECT_EQ(s.names, (std::vector<std::string>{"ipc2b", "ipc1"}));
  s = ops::parse_sync_standby_names("FIRST 2 (a, \"B c\", *)");
  EXPECT_EQ(s.num_sync, 2);
  EXPECT_EQ(s.names, (std::vector<std::string>{"a", "B c", "*"}));
  s = ops::parse_sync_standby_names("any 1 (\"first\")");
  EXPECT_TRUE(s.any);
  EXPECT_EQ(s.names, std::vector<std::string>{"first"});
  s = ops::parse_sync_standby_names("2 (x,y)");
  EXPECT_EQ(s.num_sync, 2);
  EXPECT_THROW(ops::parse_sync_standby_names("FIRST 1 (a"), std::invalid_argument);
  EXPECT_THROW(ops::parse_sync_standby_names("a,,b"), std::invalid_argument);
  EXPECT_THROW(ops::parse_sync_standby_names("\"a"), std::invalid_argument);
}

TEST(SyncPromotion, SatisfiableOnlyByStandbysThatFollowTheTarget) {
  const auto one = ops::parse_sync_standby_names("ipc2b");
  EXPECT_FALSE(ops::sync_satisfiable(one, {}));  // ipc2b follows the old primary
  EXPECT_FALSE(ops::sync_satisfiable(one, {"ipc1"}));
  EXPECT_TRUE(ops::sync_satisfiable(one, {"IPC2B"}));
  const auto two = ops::parse_sync_standby_names("ANY 2 (ipc2b, ipc1, ipc3)");
  EXPECT_FALSE(ops::sync_satisfiable(two, {"ipc1"}));
  EXPECT_TRUE(ops::sync_satisfiable(two, {"ipc1", "ipc3"}));
  EXPECT_TRUE(ops::sync_satisfiable(ops::parse_sync_standby_names("*"), {"anything"}));
  EXPECT_TRUE(ops::sync_satisfiable(ops::parse_sync_standby_names(""), {}));
}

TEST(LastPrimary, NewestTimelineWinsWhateverTheOrder) {
  const ops::PrimaryClaim ipc2{"ipc2", 1, "ipc2b follows it", ""};
  const ops::PrimaryClaim ipc1{"ipc1", 2, "rulectl's record of its failover to it", "2026-12-06T11:00:00.000Z"};
  EXPECT_EQ(ops::newest_claim({ipc2, ipc1})->site, "ipc1");
  EXPECT_EQ(ops::newest_claim({ipc1, ipc2})->site, "ipc1");
  EXPECT_FALSE(ops::newest_claim({}).has_value());
  // Same timeline: a site that accepts writes outranks what others say.
  const ops::PrimaryClaim live{"ipc1", 2, "it accepts writes", ""};
  const ops::PrimaryClaim said{"ipc2b", 2, "the failover ipc1 -> ipc2b", "2026-12-06T12:00:00.000Z"};
  EXPECT_EQ(ops::newest_claim({said, live})->site, "ipc1");
  EXPECT_EQ(ops::newest_claim({ipc2, said})->site, "ipc2b");
}

// Issue 16: every promotion is recorded by the promoted server itself, so on
// the same timeline its event outranks rulectl's local state_dir record,
// even a later one (that file knows only this host's rulectl's failovers).
TEST(LastPrimary, ServersEventOutranksTheLocalRecordOnOneTimeline) {
  ops::PrimaryClaim file{"ipc1", 3, "rulectl's record of its failover to it", "2026-12-06T13:00:00.000Z"};
  file.from_state_dir = true;
  const ops::PrimaryClaim event{"ipc2b", 3, "the failover ipc1 -> ipc2b (promoted by external)",
                                "2026-12-06T12:00:00.000Z"};
  EXPECT_EQ(ops::newest_claim({file, event})->site, "ipc2b");
  EXPECT_EQ(ops::newest_claim({event, file})->site, "ipc2b");
  // A newer timeline still wins whoever says it.
  file.timeline = 4;
  EXPECT_EQ(ops::newest_claim({file, event})->site, "ipc1");
}
