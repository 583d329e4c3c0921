// rulectl with hostile arguments (issue #8): rule keys and reasons holding
// quotes, semicolons, backslashes and SQL travel as parameters end to end —
// release, validate, activate, hotfix, diff — and are stored verbatim; no
// statement is ever built from them, so nothing else is touched.
#include <gtest/gtest.h>

#include "pipeline.hpp"
#include "test_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing;

TEST(HostileCli, QuotesSemicolonsAndSqlInKeysAndReasonsAreJustText) {
  if (!with_extension()) GTEST_SKIP() << "needs the extension";
  Pipeline p(ports::integration_hostile_cli[0], /*with_ipc1=*/false);
  const std::string key = "x'); DROP TABLE rulekeeper.journal; --\"\\ ;";
  const std::string reason = "'); DELETE FROM rulekeeper.rule_version; SELECT ('";
  p.create_rule(key, "evil'ruleset");
  p.create_version(key, R"({"rate": 1, "note": "a'b;c"})");
  p.ok({"release", "--from", "e1", "--to", "e2", "--rule", key});
  p.ok({"validate", "--site", "e2", "--rule", key, "--version", "1", "--result", "passed", "--reason", reason});
  p.ok({"release", "--from", "e2", "--to", "e3", "--rule", key});
  p.to_prod(key, "1");
  EXPECT_EQ(effective(*p.ipc2, "prod"), key + "=1");

  sql_value(*p.ipc2, "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ($1, ARRAY['/rate'])",
            "evil'ruleset");
  const auto body = write_temp_file("hostile-body.json", R"({"rate": 2, "note": "a'b;c"})").string();
  p.ok({"hotfix", "--site", "e3", "--rule", key, "--body-file", body, "--reason", reason});
  auto d = p.ok({"--json", "diff", "--site", "e3", "--rule", key, "--from", "1", "--to", "1.1"});
  EXPECT_NE(d.out.find("/rate"), std::string::npos) << d.out;

  // Stored verbatim, nothing else touched.
  EXPECT_EQ(sql_value(*p.ipc2, "SELECT reason FROM rulekeeper.hotfix WHERE rule_key = $1", key), reason);
  EXPECT_EQ(sql_value(*p.e2, "SELECT reason FROM rulekeeper.qualification_history WHERE rule_key = $1", key), reason);
  EXPECT_EQ(sql_value(*p.ipc2, "SELECT count(*) FROM rulekeeper.rule_version WHERE rule_key = $1", key), "2");
  EXPECT_EQ(sql_value(*p.ipc2, "SELECT ruleset FROM rulekeeper.rule WHERE rule_key = $1", key), "evil'ruleset");
  EXPECT_EQ(sql_value(*p.ipc2, "SELECT to_regclass('rulekeeper.journal') IS NOT NULL"), "t");
  EXPECT_EQ(sql_value(*p.ipc2,
                      "SELECT max(origin_seq) = count(*) FROM rulekeeper.journal "
                      "WHERE origin_site = 'ipc2'"),
            "t");
  EXPECT_EQ(sql_value(*p.ipc2, "SELECT count(*) FROM rulekeeper.verify_checksums()"), "0");
}
