// site::choose_writer — which site a write goes to — decided from probe
// results alone (fakes: no server). The same rules the integration tests pin
// against real clusters (test_replication, test_channels), here for every
// combination of roles without starting one.
#include <gtest/gtest.h>

#include "common/errors.hpp"
#include "site/topology.hpp"

namespace rulekeeper::site {
namespace {

SiteState fake(const std::string& name, const std::string& env, const char* role, long long timeline = 1) {
  SiteState s;
  s.name = name;
  s.environment = env;
  s.timeline = timeline;
  const std::string r = role;
  if (r == "down") {
    s.error = "connection refused";
    return s;
  }
  s.reachable = true;
  if (r == "unknown") {
    s.error = "connected, but could not read its role: permission denied";
    return s;
  }
  s.recovery = (r == "standby");
  return s;
}

// The exit code and message of the refusal, or 0 and the chosen site's name.
std::pair<int, std::string> choose(const std::vector<SiteState>& probes, const std::string& name) {
  try {
    return {0, probes[choose_writer(probes, name, "activate", "rulectl.toml")].name};
  } catch (const common::ExitError& e) {
    return {e.code(), e.what()};
  }
}

TEST(ChooseWriter, E3MeansThePrimaryEvenWithAStandbyDown) {
  auto [code, what] = choose({fake("ipc2", "e3", "primary"), fake("ipc1", "e3", "down")}, "e3");
  EXPECT_EQ(code, 0);
  EXPECT_EQ(what, "ipc2");
  std::tie(code, what) = choose({fake("ipc2", "e3", "standby"), fake("ipc1", "e3", "primary", 2)}, "e3");
  EXPECT_EQ(code, 0);
  EXPECT_EQ(what, "ipc1");
}

TEST(ChooseWriter, TwoWritableE3SitesAreASplitBrainForEveryE3Write) {
  const std::vector<SiteState> probes{fake("ipc2", "e3", "primary", 1), fake("ipc1", "e3", "primary", 2)};
  for (const char* name : {"e3", "ipc2", "ipc1"}) {
    auto [code, what] = choose(probes, name);
    EXPECT_EQ(code, common::exit_refused) << name;
    EXPECT_NE(what.find("split brain"), std::string::npos) << what;
    EXPECT_NE(what.find("ipc2 (timeline 1)"), std::string::npos) << what;
    EXPECT_NE(what.find("ipc1 (timeline 2)"), std::string::npos) << what;
  }
}

TEST(ChooseWriter, ANamedStandbyIsRefusedNamingThePrimary) {
  auto [code, what] = choose({fake("ipc2", "e3", "primary"), fake("ipc1", "e3", "standby")}, "ipc1");
  EXPECT_EQ(code, common::exit_refused);
  EXPECT_NE(what.find("site ipc1 is a standby"), std::string::npos) << what;
  EXPECT_NE(what.find("the E3 primary is ipc2"), std::string::npos) << what;
}

TEST(ChooseWriter, NoPrimaryAndOneDownIsUnreachableNotRefused) {
  auto [code, what] = choose({fake("ipc2", "e3", "down"), fake("ipc1", "e3", "standby")}, "e3");
  EXPECT_EQ(code, common::exit_unreachable);
  EXPECT_NE(what.find("ipc2 (connection refused)"), std::string::npos) << what;
  EXPECT_NE(what.find("standbys: ipc1"), std::string::npos) << what;
  std::tie(code, what) = choose({fake("ipc2", "e3", "standby"), fake("ipc1", "e3", "standby")}, "e3");
  EXPECT_EQ(code, common::exit_refused);
  EXPECT_NE(what.find("every E3 site is in recovery"), std::string::npos) << what;
}

TEST(ChooseWriter, ANamedSiteThatIsDownOrUnreadable) {
  auto [code, what] = choose({fake("ipc2", "e3", "down"), fake("ipc1", "e3", "standby")}, "ipc2");
  EXPECT_EQ(code, common::exit_unreachable);
  EXPECT_NE(what.find("site ipc2 is unreachable"), std::string::npos) << what;
  // It answered, so not "unreachable" (exit 4) but failed (exit 1).
  std::tie(code, what) = choose({fake("e1", "e1", "unknown")}, "e1");
  EXPECT_EQ(code, common::exit_failed);
  EXPECT_NE(what.find("could not read its role"), std::string::npos) << what;
}

TEST(ChooseWriter, NonE3Sites) {
  EXPECT_EQ(choose({fake("e1", "e1", "primary")}, "e1"), (std::pair<int, std::string>{0, "e1"}));
  auto [code, what] = choose({fake("e2", "e2", "standby")}, "e2");
  EXPECT_EQ(code, common::exit_refused);
  EXPECT_NE(what.find("site e2 is a standby"), std::string::npos) << what;
}

TEST(ChooseWriter, NoE3SiteConfigured) {
  auto [code, what] = choose({}, "e3");
  EXPECT_EQ(code, common::exit_usage);
  EXPECT_NE(what.find("no site with environment = \"e3\""), std::string::npos) << what;
}

// Issue #15 item 25: the advice names the verb's own flag (reconcile: --to).
TEST(ChooseWriter, TheAdviceNamesTheVerbsOwnFlag) {
  try {
    choose_writer({fake("ipc2", "e3", "primary"), fake("ipc1", "e3", "standby")}, "ipc1", "reconcile", "rulectl.toml",
                  "--to");
    FAIL() << "a standby was chosen";
  } catch (const common::ExitError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("use --to ipc2 or --to e3"), std::string::npos) << what;
    EXPECT_EQ(what.find("--site"), std::string::npos) << what;
  }
  auto [code, what] = choose({fake("ipc2", "e3", "primary"), fake("ipc1", "e3", "standby")}, "ipc1");
  EXPECT_NE(what.find("use --site ipc2 or --site e3"), std::string::npos) << what;
}

}  // namespace
}  // namespace rulekeeper::site
