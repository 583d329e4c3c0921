// The refusal of a site at another extension version
// (site/extension_check.hpp): which versions are refused, and what the
// message names. The integration side (exit codes, which verbs refuse) is
// tests/integration/test_upgrade.cpp.
#include <gtest/gtest.h>

#include "site/extension_check.hpp"

using rulekeeper::site::driven_extension_version;
using rulekeeper::site::ExtensionIdentity;
using rulekeeper::site::unsupported_extension;

TEST(ExtensionCheck, TheDrivenVersionAndNoExtensionPass) {
  EXPECT_EQ(unsupported_extension("ipc2", {std::string(driven_extension_version()), "rules", false}), std::nullopt);
  EXPECT_EQ(unsupported_extension("ipc2", {std::nullopt, "rules", false}), std::nullopt);
}

TEST(ExtensionCheck, AnOlderSiteIsToldToUpdate_AStandbyAtItsPrimary) {
  const std::string driven = driven_extension_version();
  auto m = unsupported_extension("ipc2", {std::string("0.1"), "rules", false});
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, "site ipc2 runs extension rulekeeper 0.1, this rulectl drives " + driven +
                    ": run ALTER EXTENSION rulekeeper UPDATE in database rules there (docs/upgrade.md)");
  m = unsupported_extension("ipc1", {std::string("0.1"), "rules", true});
  ASSERT_TRUE(m);
  EXPECT_NE(m->find("at its primary (a standby replays it)"), std::string::npos) << *m;
}

TEST(ExtensionCheck, ANewerSiteNeedsANewerRulectl) {
  // Compared as numbers: 0.10 is newer than 0.2 and 0.9.
  for (const char* newer : {"0.10", "1.0", "0.2.1"}) {
    auto m = unsupported_extension("e1", {std::string(newer), "rules", false});
    ASSERT_TRUE(m) << newer;
    EXPECT_NE(m->find(std::string("use the rulectl that comes with extension ") + newer), std::string::npos) << *m;
  }
  auto m = unsupported_extension("e1", {std::string("0.0"), "", false});
  ASSERT_TRUE(m);
  EXPECT_NE(m->find("run ALTER EXTENSION rulekeeper UPDATE there"), std::string::npos) << *m;
}
