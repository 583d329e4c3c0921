// Tests of core/lifecycle.cpp: the tables as docs/design/architecture.md
// ("Two facts per version at E3") states them, their
// internal consistency, lookups, admissions and the refusal messages.
#include "rulekeeper/lifecycle.hpp"
#include "rulekeeper/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <tuple>

using namespace rulekeeper;
using E = Environment;
using SV = std::string_view;

TEST(Lifecycle, Environments) {
  EXPECT_EQ(parse_environment("e1"), E::e1);
  EXPECT_EQ(parse_environment("e2"), E::e2);
  EXPECT_EQ(parse_environment("e3"), E::e3);
  for (SV bad : {"", "E1", "e4", "e0", " e1", "prod"}) EXPECT_FALSE(parse_environment(bad)) << bad;
  for (E e : {E::e1, E::e2, E::e3}) EXPECT_EQ(parse_environment(to_string(e)), e);
  EXPECT_EQ(previous_environment(E::e1), std::nullopt);
  EXPECT_EQ(previous_environment(E::e2), E::e1);
  EXPECT_EQ(previous_environment(E::e3), E::e2);
}

TEST(Lifecycle, QualificationTableMatchesDesign) {
  using Row = std::tuple<SV, E, bool, bool>;  // name, environment, initial, final
  const std::vector<Row> expected = {
      {"draft", E::e1, true, false},        {"promoted", E::e1, false, true},      {"in_test", E::e2, true, false},
      {"test_passed", E::e2, false, false}, {"test_failed", E::e2, false, true},   {"promoted", E::e2, false, true},
      {"awaiting_sl", E::e3, true, false},  {"sl_validated", E::e3, false, false}, {"sl_failed", E::e3, false, true},
      {"hotfix", E::e3, true, false},       {"recovered", E::e3, true, false},
  };
  std::vector<Row> actual;
  for (const auto& q : qualifications()) actual.emplace_back(q.name, q.environment, q.initial, q.final);
  EXPECT_EQ(actual, expected);
  for (const auto& q : qualifications()) EXPECT_FALSE(q.meaning.empty()) << q.name;
  EXPECT_NE(find_qualification("awaiting_sl")->meaning.find("awaiting SL validation"), SV::npos);
  EXPECT_NE(find_qualification("sl_validated")->meaning.find("ready for production"), SV::npos);
}

TEST(Lifecycle, TransitionTableMatchesDesign) {
  using Row = std::tuple<E, SV, SV, std::optional<SV>>;
  const std::optional<SV> none, sl = SV("sl");
  const std::vector<Row> expected = {
      {E::e1, "draft", "promoted", none},         {E::e2, "in_test", "test_passed", none},
      {E::e2, "in_test", "test_failed", none},    {E::e2, "test_passed", "promoted", none},
      {E::e3, "awaiting_sl", "sl_validated", sl}, {E::e3, "awaiting_sl", "sl_failed", sl},
      {E::e3, "sl_validated", "sl_failed", none}, {E::e3, "recovered", "sl_validated", sl},
      {E::e3, "recovered", "sl_failed", sl},
  };
  std::vector<Row> actual;
  for (const auto& t : transitions()) actual.emplace_back(t.environment, t.from, t.to, t.requires_active_in);
  EXPECT_EQ(actual, expected);
}

// Properties every row must have, whatever rows are added later.
TEST(Lifecycle, TablesAreConsistent) {
  auto exists_in = [](SV name, E env) {
    return std::any_of(qualifications().begin(), qualifications().end(),
                       [&](const Qualification& q) { return q.name == name && q.environment == env; });
  };
  for (const auto& t : transitions()) {
    EXPECT_TRUE(exists_in(t.from, t.environment)) << t.from;
    EXPECT_TRUE(exists_in(t.to, t.environment)) << t.to;
    EXPECT_NE(t.from, t.to);
    if (t.requires_active_in) {
      const auto& ch = channels();
      EXPECT_NE(std::find(ch.begin(), ch.end(), *t.requires_active_in), ch.end());
    }
    EXPECT_EQ(find_transition(t.from, t.to), &t);
  }
  for (const auto& q : qualifications()) {
    if (q.final) {
      EXPECT_TRUE(allowed_next(q.name).empty()) << q.name << " is final but has transitions";
    }
    // A version is born with an initial qualification; nothing moves into one.
    if (q.initial) {
      for (const auto& t : transitions()) EXPECT_NE(t.to, q.name);
    }
  }
  // No (environment, name) pair is listed twice.
  std::set<std::pair<E, SV>> seen;
  for (const auto& q : qualifications()) EXPECT_TRUE(seen.insert({q.environment, q.name}).second) << q.name;
  for (const auto& a : channel_admissions()) {
    EXPECT_TRUE(exists_in(a.qualification, E::e3)) << a.qualification;
    const auto& ch = channels();
    EXPECT_NE(std::find(ch.begin(), ch.end(), a.channel), ch.end());
  }
}

TEST(Lifecycle, ArrivalQualifications) {
  EXPECT_EQ(arrival_qualification(E::e1), "draft");
  EXPECT_EQ(arrival_qualification(E::e2), "in_test");
  EXPECT_EQ(arrival_qualification(E::e3), "awaiting_sl");
  for (E e : {E::e1, E::e2, E::e3}) {
    const Qualification* q = find_qualification(arrival_qualification(e));
    ASSERT_NE(q, nullptr);
    EXPECT_TRUE(q->initial);
    EXPECT_EQ(q->environment, e);
  }
}

TEST(Lifecycle, Lookups) {
  EXPECT_EQ(find_qualification("nope"), nullptr);
  ASSERT_NE(find_qualification("promoted"), nullptr);
  EXPECT_EQ(find_qualification("promoted")->environment, E::e1);  // first of the two rows
  EXPECT_EQ(find_qualification("hotfix")->environment, E::e3);

  EXPECT_EQ(allowed_next("in_test"), (std::vector<SV>{"test_passed", "test_failed"}));
  EXPECT_EQ(allowed_next("awaiting_sl"), (std::vector<SV>{"sl_validated", "sl_failed"}));
  EXPECT_EQ(allowed_next("recovered"), (std::vector<SV>{"sl_validated", "sl_failed"}));
  EXPECT_EQ(allowed_next("sl_validated"), (std::vector<SV>{"sl_failed"}));
  EXPECT_TRUE(allowed_next("hotfix").empty());
  EXPECT_TRUE(allowed_next("promoted").empty());
  EXPECT_TRUE(allowed_next("nope").empty());

  for (auto [from, to] : {std::pair<SV, SV>{"sl_failed", "sl_validated"},
                          {"awaiting_sl", "promoted"},
                          {"hotfix", "sl_validated"},
                          {"draft", "sl_validated"},
                          {"sl_validated", "awaiting_sl"},
                          {"test_failed", "test_passed"},
                          {"in_test", "promoted"},
                          {"draft", "draft"}})
    EXPECT_EQ(find_transition(from, to), nullptr) << from << " -> " << to;
  ASSERT_NE(find_transition("awaiting_sl", "sl_validated"), nullptr);
  EXPECT_EQ(find_transition("awaiting_sl", "sl_validated")->requires_active_in, SV("sl"));
  ASSERT_NE(find_transition("sl_validated", "sl_failed"), nullptr);
  EXPECT_FALSE(find_transition("sl_validated", "sl_failed")->requires_active_in);
}

TEST(Lifecycle, AdmissionsMatchDesign) {
  EXPECT_EQ(channels(), (std::vector<SV>{"sl", "prod"}));
  std::set<SV> names;
  for (const auto& q : qualifications()) names.insert(q.name);
  const std::set<SV> sl_admits = {"awaiting_sl", "sl_validated", "hotfix", "recovered"};
  const std::set<SV> prod_admits = {"sl_validated", "hotfix"};
  for (SV q : names) {
    EXPECT_EQ(admits("sl", q), sl_admits.count(q) ? Admission::admitted : Admission::refused) << q;
    Admission prod = q == "recovered"       ? Admission::needs_acknowledge
                     : prod_admits.count(q) ? Admission::admitted
                                            : Admission::refused;
    EXPECT_EQ(admits("prod", q), prod) << q;
  }
  EXPECT_EQ(admits("blue", "sl_validated"), Admission::refused);
  EXPECT_EQ(admits("prod", "nope"), Admission::refused);
}

TEST(Lifecycle, DescribeRefusedTransition) {
  EXPECT_EQ(describe_refused_transition("draft", "sl_validated"),
            "transition from 'draft' to 'sl_validated' is not allowed; from 'draft' a version may become: promoted");
  EXPECT_EQ(describe_refused_transition("in_test", "promoted"),
            "transition from 'in_test' to 'promoted' is not allowed; from 'in_test' a version may become: "
            "test_passed, test_failed");
  EXPECT_EQ(describe_refused_transition("sl_failed", "sl_validated"),
            "transition from 'sl_failed' to 'sl_validated' is not allowed; 'sl_failed' is final");
  EXPECT_EQ(describe_refused_transition("promoted", "draft"),
            "transition from 'promoted' to 'draft' is not allowed; 'promoted' is final");
  EXPECT_EQ(describe_refused_transition("hotfix", "sl_validated"),
            "transition from 'hotfix' to 'sl_validated' is not allowed; from 'hotfix' a version may become: none");
  EXPECT_EQ(describe_refused_transition("bogus", "promoted"), "unknown qualification 'bogus'");
  EXPECT_EQ(describe_refused_transition("draft", "x"), "unknown qualification 'x'");
  // An allowed row refused by its condition says which condition.
  EXPECT_EQ(describe_refused_transition("awaiting_sl", "sl_validated"),
            "transition from 'awaiting_sl' to 'sl_validated' is not allowed while the version is not active in 'sl'");
}

TEST(Lifecycle, ReleaseAndValidationNames) {
  using E = Environment;
  EXPECT_EQ(soft_launch_channel, channels()[0]);
  EXPECT_EQ(production_channel, channels()[1]);
  EXPECT_EQ(released_qualification(), "promoted");
  EXPECT_EQ(releasable_qualification(E::e1), std::optional<std::string_view>("draft"));
  EXPECT_EQ(releasable_qualification(E::e2), std::optional<std::string_view>("test_passed"));
  EXPECT_EQ(releasable_qualification(E::e3), std::nullopt);
  EXPECT_EQ(validation_outcome(E::e1, true), std::nullopt);
  // Each outcome is a transition the table allows from the arrival state.
  for (E e : {E::e2, E::e3})
    for (bool passed : {true, false}) {
      auto to = validation_outcome(e, passed);
      ASSERT_TRUE(to.has_value());
      const Transition* t = find_transition(arrival_qualification(e), *to);
      ASSERT_NE(t, nullptr) << *to;
      EXPECT_EQ(t->environment, e);
    }
  EXPECT_EQ(validation_outcome(E::e2, true), std::optional<std::string_view>("test_passed"));
  EXPECT_EQ(validation_outcome(E::e3, false), std::optional<std::string_view>("sl_failed"));
}

// issue 15 item 19: a channel name that is not one is refused, naming the
// channels, rather than answering "nothing is active there".
TEST(Lifecycle, RequireChannelNamesTheChannels) {
  EXPECT_NO_THROW(require_channel("sl"));
  EXPECT_NO_THROW(require_channel("prod"));
  for (SV bad : {SV("green"), SV("blue"), SV(""), SV("PROD")}) {
    try {
      require_channel(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const rulekeeper::Error& e) {
      EXPECT_EQ(e.kind(), rulekeeper::ErrorKind::invalid_input);
      EXPECT_EQ(std::string(e.what()), "unknown channel \"" + std::string(bad) + "\"; the channels are sl and prod");
      EXPECT_NE(e.hint().find("green"), std::string::npos) << e.hint();
    }
  }
}
