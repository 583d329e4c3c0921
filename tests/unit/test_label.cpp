// Tests of core/label.cpp: one spelling per version label, everything else refused.
#include "rulekeeper/label.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace rulekeeper;
using rulekeeper::testing::throws_error;

TEST(Label, Accepts) {
  struct Case {
    const char* text;
    std::int32_t version, hotfix;
  };
  const Case cases[] = {
      {"1", 1, 0},
      {"3", 3, 0},
      {"3.1", 3, 1},
      {"10.20", 10, 20},
      {"12.345", 12, 345},
      {"2147483647", 2147483647, 0},
      {"2147483647.2147483647", 2147483647, 2147483647},
  };
  for (const auto& c : cases) {
    Label l = parse_label(c.text);
    EXPECT_EQ(l.version, c.version) << c.text;
    EXPECT_EQ(l.hotfix, c.hotfix) << c.text;
    EXPECT_EQ(l.text(), c.text);  // the one spelling round-trips
  }
}

TEST(Label, Rejects) {
  for (const char* bad : {"",   "0",     "01",          "1.0",        "1.",           ".1",   "-1",   "+1",   " 1",
                          "1 ", "1.1.1", "99999999999", "2147483648", "1.2147483648", "0.1",  "1.01", "1..1", "a",
                          "1a", "1e3",   "1,1",         "\xD9\xA1",   "1.-1",         "1.+1", "."}) {
    EXPECT_TRUE(throws_error([&] { parse_label(bad); }, ErrorKind::invalid_input,
                             std::string("invalid version label '") + bad + "'"))
        << bad;
  }
}

TEST(Label, MessageNamesTheAcceptedForms) {
  try {
    parse_label("1.0");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "invalid version label '1.0': expected 'N' (a planned version) or 'N.k' (the k-th "
                 "hotfix on version N), N and k positive integers without leading zeros");
  }
}

TEST(Label, TextAndEquality) {
  EXPECT_EQ((Label{7, 0}).text(), "7");
  EXPECT_EQ((Label{7, 2}).text(), "7.2");
  EXPECT_EQ(parse_label("7.2"), (Label{7, 2}));
  EXPECT_FALSE(parse_label("7") == (Label{7, 2}));
}
