// Tests of core/version_vector.cpp: origins, pointwise operations, the ranges
// one site must send another, and the JSON form (strict both ways).
#include "rulekeeper/version_vector.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace rulekeeper;
using rulekeeper::testing::throws_error;

namespace {
Origin o(const std::string& site, std::int32_t inc) { return Origin{site, inc}; }
}  // namespace

TEST(Origin, KeyRoundTrip) {
  EXPECT_EQ(o("ipc2", 3).key(), "ipc2:3");
  EXPECT_EQ(Origin::from_key("ipc2:3"), o("ipc2", 3));
  // The last ':' separates, so a site may contain ':'.
  EXPECT_EQ(Origin::from_key("a:b:7"), o("a:b", 7));
  EXPECT_EQ(Origin::from_key("e1:2147483647"), o("e1", 2147483647));
}

TEST(Origin, BadKeys) {
  for (const char* bad : {"", "e1", "e1:", ":1", "e1:0", "e1:-1", "e1:01", "e1:+1", "e1:2147483648", "e1:1x", "e1: 1",
                          "e1:1 ", "e1:99999999999999999999"}) {
    EXPECT_TRUE(throws_error([&] { Origin::from_key(bad); }, ErrorKind::invalid_input,
                             std::string("invalid origin '") + bad + "': expected 'site:incarnation'"))
        << bad;
  }
}

TEST(VersionVector, GetSetObserve) {
  VersionVector v;
  EXPECT_EQ(v.get(o("e1", 1)), 0);
  v.set(o("e1", 1), 5);
  EXPECT_EQ(v.get(o("e1", 1)), 5);
  v.observe(o("e1", 1), 3);  // never goes back
  EXPECT_EQ(v.get(o("e1", 1)), 5);
  v.observe(o("e1", 1), 9);
  EXPECT_EQ(v.get(o("e1", 1)), 9);
  v.set(o("e1", 1), 2);  // set may go back
  EXPECT_EQ(v.get(o("e1", 1)), 2);
  v.set(o("e1", 1), 0);  // 0 erases, so it equals the empty vector
  EXPECT_TRUE(v.entries().empty());
  EXPECT_EQ(v, VersionVector());
  v.observe(o("e1", 1), 0);
  EXPECT_TRUE(v.entries().empty());
}

TEST(VersionVector, RefusesNegativeSeqsAndBadOrigins) {
  VersionVector v;
  EXPECT_TRUE(
      throws_error([&] { v.set(o("e1", 1), -1); }, ErrorKind::invalid_input, "invalid sequence -1 for origin 'e1:1'"));
  EXPECT_TRUE(throws_error([&] { v.observe(o("e1", 1), -1); }, ErrorKind::invalid_input, "must be >= 0"));
  EXPECT_TRUE(throws_error([&] { v.set(o("", 1), 1); }, ErrorKind::invalid_input, "invalid origin ':1'"));
  EXPECT_TRUE(throws_error([&] { v.set(o("e1", 0), 1); }, ErrorKind::invalid_input, "invalid origin 'e1:0'"));
}

TEST(VersionVector, MergeCoversMissingTotal) {
  VersionVector a, b;
  a.set(o("e1", 1), 10);
  a.set(o("ipc2", 2), 4);
  b.set(o("e1", 1), 7);
  b.set(o("ipc2", 2), 6);
  b.set(o("ipc1", 3), 2);

  EXPECT_FALSE(a.covers(b));
  EXPECT_FALSE(b.covers(a));
  EXPECT_TRUE(a.covers(a));
  EXPECT_TRUE(a.covers(VersionVector()));
  EXPECT_FALSE(VersionVector().covers(a));
  EXPECT_EQ(a.total(), 14);
  EXPECT_EQ(b.total(), 15);
  EXPECT_EQ(VersionVector().total(), 0);

  auto missing = a.missing_from(b);  // what a holds that b lacks
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].origin, o("e1", 1));
  EXPECT_EQ(missing[0].after, 7);
  EXPECT_EQ(missing[0].upto, 10);
  EXPECT_EQ(missing[0].count(), 3);

  missing = b.missing_from(a);  // in map order: (ipc1,3) then (ipc2,2)
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(missing[0].origin, o("ipc1", 3));
  EXPECT_EQ(missing[0].after, 0);
  EXPECT_EQ(missing[0].upto, 2);
  EXPECT_EQ(missing[1].origin, o("ipc2", 2));
  EXPECT_EQ(missing[1].after, 4);
  EXPECT_EQ(missing[1].count(), 2);

  VersionVector m = a;
  m.merge(b);
  EXPECT_EQ(m.get(o("e1", 1)), 10);
  EXPECT_EQ(m.get(o("ipc2", 2)), 6);
  EXPECT_EQ(m.get(o("ipc1", 3)), 2);
  EXPECT_TRUE(m.covers(a));
  EXPECT_TRUE(m.covers(b));
  EXPECT_TRUE(m.missing_from(m).empty());
  EXPECT_TRUE(a.missing_from(m).empty());
  VersionVector m2 = b;
  m2.merge(a);
  EXPECT_EQ(m, m2);  // merge is commutative
}

TEST(VersionVector, ToJsonSortsByKeyText) {
  VersionVector v;
  EXPECT_EQ(v.to_json(), "{}");
  // Map order is (site, incarnation): e1:9 < e1:10 and e1 < e1-x; key text
  // order is "e1-x:1" < "e1:10" < "e1:9".
  v.set(o("e1", 9), 3);
  v.set(o("e1", 10), 7);
  v.set(o("e1-x", 1), 1);
  v.set(o("ipc2", 2), 9007199254740993);
  EXPECT_EQ(v.to_json(), R"({"e1-x:1":1,"e1:10":7,"e1:9":3,"ipc2:2":9007199254740993})");
  EXPECT_EQ(VersionVector::from_json(v.to_json()), v);
}

TEST(VersionVector, ToJsonEscapesOddSiteNames) {
  VersionVector v;
  v.set(o("a\"b\\c\n", 1), 2);
  EXPECT_EQ(v.to_json(), "{\"a\\\"b\\\\c\\u000a:1\":2}");
  EXPECT_EQ(VersionVector::from_json(v.to_json()), v);
}

TEST(VersionVector, FromJson) {
  VersionVector v = VersionVector::from_json(R"( { "ipc2:2" : 7, "e1:1": 3, "a:b:4": 1, "ipc1:1": 0 } )");
  EXPECT_EQ(v.get(o("ipc2", 2)), 7);
  EXPECT_EQ(v.get(o("e1", 1)), 3);
  EXPECT_EQ(v.get(o("a:b", 4)), 1);
  EXPECT_EQ(v.entries().size(), 3u);  // the 0 entry means "none held"
  EXPECT_EQ(v.to_json(), R"({"a:b:4":1,"e1:1":3,"ipc2:2":7})");
  EXPECT_EQ(VersionVector::from_json("{}"), VersionVector());
  EXPECT_EQ(VersionVector::from_json(R"({"e1:1":9223372036854775807})").get(o("e1", 1)), INT64_MAX);
}

TEST(VersionVector, FromJsonRejects) {
  EXPECT_TRUE(throws_error([] { VersionVector::from_json("{"); }, ErrorKind::invalid_json, "byte offset 1"));
  EXPECT_TRUE(throws_error([] { VersionVector::from_json(R"({"e1:1":1,"e1:1":2})"); }, ErrorKind::invalid_json,
                           "duplicate object key \"e1:1\""));
  EXPECT_TRUE(throws_error([] { VersionVector::from_json("[]"); }, ErrorKind::invalid_input,
                           "a version vector must be a JSON object"));
  EXPECT_TRUE(
      throws_error([] { VersionVector::from_json(R"({"e1":1})"); }, ErrorKind::invalid_input, "invalid origin 'e1'"));
  for (const char* value : {"-1", "1.5", "1.0", "1e2", "\"3\"", "null", "true", "[1]", "9223372036854775808"}) {
    std::string text = std::string(R"({"e1:1":)") + value + "}";
    EXPECT_TRUE(throws_error([&] { VersionVector::from_json(text); }, ErrorKind::invalid_input,
                             "invalid version vector entry for 'e1:1': expected a non-negative integer"))
        << text;
  }
}
