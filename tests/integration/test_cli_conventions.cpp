// rulectl's conventions a script or a DBA relies on (issue #15 items 14, 15,
// 22): a mistyped verb names the closest one; `--version`/`version` report
// rulectl's and every site's extension version; with --json a refusal or an
// error is still one JSON document on stdout; every connection carries
// "rulectl <verb>" as application_name.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline.hpp"
#include "ports.hpp"
#include "test_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing;
using nlohmann::json;

namespace {
bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}
std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST(CliConventions, AMistypedVerbNamesTheClosestOne) {
  auto r = run_rulectl({"statsu"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "unknown command 'statsu'; did you mean 'status'?")) << r.err;
  r = run_rulectl({"--config", "/nonexistent.toml", "hotifx", "list"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "did you mean 'hotfix'?")) << r.err;
  r = run_rulectl({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "unknown command 'frobnicate'; the commands are: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "status")) << r.err;
  // With --json the usage error is a document too.
  r = run_rulectl({"--json", "statsu"});
  EXPECT_EQ(r.exit_code, 2);
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc["error"], "usage") << r.out;
  EXPECT_EQ(doc["exit_code"], 2) << r.out;
  EXPECT_TRUE(contains(doc["message"].get<std::string>(), "did you mean 'status'?")) << r.out;
}

TEST(CliConventions, JsonErrorsAreOneDocumentOnStdout) {
  auto r = run_rulectl({"--json", "--config", "/nonexistent/rulectl.toml", "status"});
  EXPECT_EQ(r.exit_code, 2);
  json doc = json::parse(r.out);
  EXPECT_EQ(doc["error"], "usage");
  EXPECT_TRUE(contains(doc["message"].get<std::string>(), "/nonexistent/rulectl.toml")) << r.out;
  EXPECT_TRUE(doc["sqlstate"].is_null()) << r.out;
  r = run_rulectl({"status", "--json", "--no-such-flag"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(json::parse(r.out)["exit_code"], 2) << r.out;
  // Without --json stdout stays empty.
  r = run_rulectl({"--config", "/nonexistent/rulectl.toml", "status"});
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(CliConventions, VersionsAndServerRefusalsAsJson) {
  if (!with_extension()) GTEST_SKIP() << "needs the extension";
  auto bare = run_rulectl({"--version"});
  EXPECT_EQ(bare.exit_code, 0) << bare.err;
  EXPECT_TRUE(contains(bare.out, "rulectl 0.2.0 (built for extension rulekeeper 0.2)")) << bare.out;

  Pipeline p(ports::integration_conventions[0], /*with_ipc1=*/false);
  auto v = p.ok({"--json", "version"});
  json doc = json::parse(v.out);
  EXPECT_EQ(doc["rulectl"], "0.2.0");
  ASSERT_EQ(doc["sites"].size(), 3u) << v.out;
  for (const auto& s : doc["sites"]) EXPECT_EQ(s["extension_version"], "0.2") << v.out;
  EXPECT_TRUE(doc["warnings"].empty()) << v.out;
  // A site whose extension differs (an upgrade half done) is named.
  sql_value(*p.ipc2, "UPDATE pg_catalog.pg_extension SET extversion = '0.0' WHERE extname = 'rulekeeper'");
  v = p.ok({"version"});
  EXPECT_TRUE(contains(v.err, "site ipc2 runs extension rulekeeper 0.0, this rulectl drives 0.2")) << v.err;
  EXPECT_TRUE(contains(v.out, "ipc2")) << v.out;
  sql_value(*p.ipc2, "UPDATE pg_catalog.pg_extension SET extversion = '0.2' WHERE extname = 'rulekeeper'");

  // A refusal by the server: the document names it, with SQLSTATE and hint.
  p.create_rule("conv.k");
  p.create_version("conv.k", R"({"rate": 1})");
  p.ship();
  auto r = p.rulectl(
      {"--json", "activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "conv.k", "--version", "1"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  doc = json::parse(r.out);
  EXPECT_EQ(doc["error"], "refused") << r.out;
  EXPECT_EQ(doc["exit_code"], 3) << r.out;
  ASSERT_TRUE(doc["sqlstate"].is_string()) << r.out;
  EXPECT_EQ(doc["sqlstate"].get<std::string>().size(), 5u) << r.out;
  EXPECT_TRUE(contains(doc["message"].get<std::string>(), "conv.k")) << r.out;
  EXPECT_TRUE(doc.contains("hint")) << r.out;
}

TEST(CliConventions, ConnectionsCarryTheVerbAsApplicationName) {
  if (!with_extension()) GTEST_SKIP() << "needs the extension";
  Pipeline p(ports::integration_conventions[0], /*with_ipc1=*/false);
  sql_value(*p.ipc2, "ALTER SYSTEM SET log_connections = on");
  sql_value(*p.ipc2, "SELECT pg_reload_conf()");
  p.ok({"hotfix", "list", "--site", "e3"});
  p.rulectl({"status"});
  const std::string log = read_all(p.ipc2->log_file());
  EXPECT_TRUE(contains(log, "application_name=rulectl hotfix list"))
      << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  EXPECT_TRUE(contains(log, "application_name=rulectl status"))
      << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
}

namespace {

struct HelpText {
  std::vector<std::string> subcommands;
  std::set<std::string> options;  // every --flag the Options section defines
  std::string text;
  std::string own_text;  // without the Subcommands section (a subcommand's line speaks of its own flags)
};

HelpText help_of(const std::vector<std::string>& path) {
  std::vector<std::string> args = path;
  args.push_back("--help");
  HelpText h;
  h.text = run_rulectl(args).out;
  enum { none, options, subcommands } mode = none;
  std::istringstream in(h.text);
  const std::regex flag("--[a-z][a-z0-9-]*");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Options:", 0) == 0) {
      mode = options;
      continue;
    }
    if (line.rfind("Subcommands:", 0) == 0) {
      mode = subcommands;
      continue;
    }
    if (!line.empty() && line[0] != ' ') mode = none;
    if (mode != subcommands) h.own_text += line + "\n";
    if (line.rfind("  ", 0) != 0) continue;
    const std::string entry = line.substr(line.find_first_not_of(' '));
    if (mode == options) {
      const std::string first = entry.substr(0, entry.find("  "));  // the flag column
      for (std::sregex_iterator it(first.begin(), first.end(), flag), end; it != end; ++it) h.options.insert(it->str());
    } else if (mode == subcommands) {
      h.subcommands.push_back(entry.substr(0, entry.find(' ')));
    }
  }
  return h;
}

// Every --flag a verb's help mentions (description, footer) that the verb
// does not have — unless written as another command's ("rulectl X --flag").
void check_help(const std::vector<std::string>& path, std::vector<std::string>& wrong, int& verbs) {
  const HelpText h = help_of(path);
  if (!path.empty()) {
    ++verbs;
    static const std::set<std::string> global = {"--config", "--json", "--yes", "--help", "--version"};
    const std::regex mention("(rulectl(?: [a-z-]+)*\\s+)?(--[a-z][a-z0-9-]*)");
    for (std::sregex_iterator it(h.own_text.begin(), h.own_text.end(), mention), end; it != end; ++it) {
      if ((*it)[1].matched) continue;
      const std::string f = (*it)[2].str();
      if (!h.options.count(f) && !global.count(f)) {
        std::string cmd;
        for (const auto& p : path) cmd += p + " ";
        wrong.push_back(cmd + f);
      }
    }
  }
  for (const auto& s : h.subcommands) {
    auto sub = path;
    sub.push_back(s);
    check_help(sub, wrong, verbs);
  }
}

}  // namespace

// Issue #15 item 16: a help text names only flags (and so exit reasons) the
// verb has — `validate --help` advertised --wait-replicated, which validate
// rejects.
TEST(CliConventions, HelpTextsNameOnlyTheVerbsOwnFlags) {
  std::vector<std::string> wrong;
  int verbs = 0;
  check_help({}, wrong, verbs);
  EXPECT_GE(verbs, 25) << "the walk found too few verbs: is the help format still parsed?";
  std::string list;
  for (const auto& w : wrong) list += "\n  " + w;
  EXPECT_TRUE(wrong.empty()) << "help texts mention flags their verb does not have:" << list;
}
