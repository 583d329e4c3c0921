// rulectl with hostile arguments (issue #8): rule keys and reasons holding
// quotes, semicolons, backslashes and SQL travel as parameters end to end —
// release, validate, activate, hotfix, diff — and are stored verbatim; no
// statement is ever built from them, so nothing else is touched. And (issue
// #13) what rulectl prints of them never drives the operator's terminal.
#include <cctype>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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
  p.ok({"release", "--yes", "--from", "e2", "--to", "e3", "--rule", key});
  p.to_prod(key, "1");
  EXPECT_EQ(effective(*p.ipc2, "prod"), key + "=1");

  sql_value(*p.ipc2, "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ($1, ARRAY['/rate'])",
            "evil'ruleset");
  const auto body = write_temp_file("hostile-body.json", R"({"rate": 2, "note": "a'b;c"})").string();
  p.ok({"hotfix", "--yes", "--site", "e3", "--rule", key, "--body-file", body, "--reason", reason});
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

namespace {

// True when `text` holds an escape or control byte that is not a newline,
// a tab or an SGR colour sequence (ESC [ digits/; m) — what could retitle a
// terminal, clear it or move its cursor.
bool has_terminal_control(const std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0x1B) {
      std::size_t j = i + 1;
      if (j >= text.size() || text[j] != '[') return true;
      ++j;
      while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == ';')) ++j;
      if (j >= text.size() || text[j] != 'm') return true;
      i = j;
    } else if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) {
      return true;
    } else if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      return true;  // a C1 control (U+0080–U+009F), e.g. U+009B = CSI
    }
  }
  return false;
}

}  // namespace

// Issue #13 class 9: a rule key and a reason holding escape sequences, stored
// by the roles that may store them (author, hotfix), are shown escaped by
// every rulectl view of them — they can neither retitle nor clear the
// operator's terminal, nor start a line of their own.
TEST(HostileCli, EscapeSequencesFromTheDatabaseNeverReachTheTerminal) {
  if (!with_extension()) GTEST_SKIP() << "needs the extension";
  Pipeline p(ports::integration_hostile_cli[0], /*with_ipc1=*/false);
  const std::string key = "k\x1b]0;retitled\x07\x1b[2J";
  const std::string reason =
      "fix\x1b]2;pwned\x07\x1b[H\x1b[2J\nprod serves 9.9 \xc2\x9b"
      "31m \xe2\x80\xae";
  p.create_rule(key, "esc");
  p.create_version(key, R"({"rate": 1})");
  p.ship();
  p.to_prod(key, "1");
  sql_value(*p.ipc2, "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('esc', ARRAY['/rate'])");
  const auto body = write_temp_file("esc-body.json", R"({"rate": 2})").string();
  const auto made = p.ok({"hotfix", "--yes", "--site", "e3", "--rule", key, "--body-file", body, "--reason", reason});
  const std::string id = sql_value(*p.ipc2, "SELECT hotfix_id FROM rulekeeper.hotfix WHERE rule_key = $1", key);
  ASSERT_FALSE(id.empty());
  // Stored verbatim: the escaping is the view's, not the data's.
  EXPECT_EQ(sql_value(*p.ipc2, "SELECT reason FROM rulekeeper.hotfix WHERE hotfix_id = $1::uuid", id), reason);

  std::vector<std::pair<std::string, CommandResult>> views = {
      {"hotfix", made},
      {"hotfix list", p.ok({"hotfix", "list", "--site", "e3"})},
      {"hotfix show", p.ok({"hotfix", "show", id, "--site", "e3"})},
      {"diff", p.ok({"diff", "--site", "e3", "--rule", key, "--from", "1", "--to", "1.1"})},
      {"status", p.rulectl({"status"})},
      // An error message quoting the key (no version 99) goes to stderr.
      {"diff error", p.rulectl({"diff", "--site", "e3", "--rule", key, "--from", "1", "--to", "99"})},
  };
  for (const auto& [what, r] : views) {
    EXPECT_FALSE(has_terminal_control(r.out)) << what << " stdout:\n" << r.out;
    EXPECT_FALSE(has_terminal_control(r.err)) << what << " stderr:\n" << r.err;
  }
  const std::string& show = views[2].second.out;
  EXPECT_NE(show.find("fix\\u001b]2;pwned\\u0007\\u001b[H\\u001b[2J\\nprod serves 9.9 \\u009b31m \\u202e"),
            std::string::npos)
      << show;
  EXPECT_NE(show.find("k\\u001b]0;retitled\\u0007\\u001b[2J"), std::string::npos) << show;
  for (const auto& [what, r] : views)
    EXPECT_EQ(r.out.find("\nprod serves 9.9"), std::string::npos) << what << " forged a line:\n" << r.out;
  EXPECT_NE(views[5].second.err.find("\\u001b]0;retitled"), std::string::npos) << views[5].second.err;

  // --json keeps the value exactly: a JSON reader gets the reason back.
  const auto j = p.ok({"--json", "hotfix", "show", id, "--site", "e3"});
  EXPECT_FALSE(has_terminal_control(j.out)) << j.out;
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["reason"].get<std::string>(), reason) << j.out;
}
