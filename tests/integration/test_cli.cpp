// rulectl's error paths that need no server: usage errors and bad config
// files exit 2 and name what is wrong.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.hpp"

using rulekeeper::testing::run_rulectl;
using rulekeeper::testing::write_temp_file;

namespace {
bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}
}  // namespace

TEST(Cli, UsageErrorsExit2) {
  EXPECT_EQ(run_rulectl({}).exit_code, 2);  // no verb
  EXPECT_EQ(run_rulectl({"status", "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(run_rulectl({"no-such-verb"}).exit_code, 2);
  EXPECT_EQ(run_rulectl({"sandbox"}).exit_code, 2);  // no sandbox verb
  EXPECT_EQ(run_rulectl({"--help"}).exit_code, 0);
}

TEST(Cli, MissingConfigFileExits2AndNamesIt) {
  auto r = run_rulectl({"--config", "/nonexistent/rulectl.toml", "status"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "/nonexistent/rulectl.toml")) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(Cli, BadConfigValuesExit2AndNameFileAndKey) {
  struct Case {
    std::string toml, key;
  } cases[] = {
      {"[sites.e1]\nconninfo = \"port=1\"\nenvironment = \"e4\"\n", "sites.e1.environment"},
      {"[sites.e1]\nenvironment = \"e1\"\n", "sites.e1.conninfo"},
      {"[sites.e1]\nconninfo = \"port=1\"\nenvironment = \"e1\"\nenviroment = \"e1\"\n", "sites.e1.enviroment"},
      {"[sites.e1]\nconninfo = \"port=1\"\nenvironment = \"e3\"\ndr = \"yes\"\n", "sites.e1.dr"},
      {"[sites.e1]\nconninfo = \"port=1\"\nenvironment = \"e1\"\ndr = true\n", "sites.e1.dr"},
      {"[rulectl]\nstate_dir = 3\n[sites.e1]\nconninfo = \"port=1\"\nenvironment = \"e1\"\n", "rulectl.state_dir"},
      {"[rulectl]\n", "sites"},
  };
  for (const auto& c : cases) {
    auto path = write_temp_file("rulectl.toml", c.toml);
    auto r = run_rulectl({"--config", path.string(), "status"});
    EXPECT_EQ(r.exit_code, 2) << c.toml;
    EXPECT_TRUE(contains(r.err, path.string() + ": " + c.key)) << c.toml << "\n" << r.err;
    std::filesystem::remove_all(path.parent_path());
  }
}

TEST(Cli, UnparsableConfigExit2WithLine) {
  auto path = write_temp_file("rulectl.toml", "[sites.e1\nconninfo = 1\n");
  auto r = run_rulectl({"--config", path.string(), "status"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, path.string() + ":1:")) << r.err;
  std::filesystem::remove_all(path.parent_path());
}

TEST(Cli, AtRiskAndCompareUsageAndUnreachable) {
  // Nothing listens on the last port of integration_cli (tests/ports.txt).
  const std::string port = std::to_string(rulekeeper::testing::ports::integration_cli.last);
  auto path = write_temp_file("rulectl.toml", "[sites.ipc2]\nconninfo = \"host=127.0.0.1 port=" + port +
                                                  " user=postgres dbname=rules\"\nenvironment = \"e3\"\n"
                                                  "[sites.ipc1]\nconninfo = \"host=127.0.0.1 port=" +
                                                  port +
                                                  " user=postgres dbname=rules\"\nenvironment = \"e3\"\n"
                                                  "dr = true\n");
  const std::string cfg = path.string();
  auto r = run_rulectl({"--config", cfg, "at-risk", "--primary", "nosuch", "--standby", "ipc1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--primary nosuch: no such site")) << r.err;
  // No --standby: every other E3 site (ipc1) — and ipc2 does not answer here.
  EXPECT_EQ(run_rulectl({"--config", cfg, "at-risk", "--primary", "ipc2"}).exit_code, 4);
  r = run_rulectl({"--config", cfg, "at-risk", "--slot", "s"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--slot needs --standby")) << r.err;
  r = run_rulectl({"--config", cfg, "at-risk", "--primary", "nosuch", "--standby", "ipc1"});
  EXPECT_TRUE(contains(r.err, "(sites: ipc2, ipc1)")) << r.err;
  r = run_rulectl({"--config", cfg, "at-risk", "--primary", "ipc2", "--standby", "ipc2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "the same site")) << r.err;
  r = run_rulectl({"--config", cfg, "compare", "ipc2", "ipc2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "two different sites")) << r.err;
  EXPECT_EQ(run_rulectl({"--config", cfg, "compare", "ipc2", "ipc1", "--scope", "nope"}).exit_code, 2);
  r = run_rulectl({"--config", cfg, "compare", "ipc2", "nosuch"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "nosuch: no such site")) << r.err;

  r = run_rulectl({"--config", cfg, "compare", "ipc2", "ipc1", "--json"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(contains(r.err, "ipc2 is unreachable")) << r.err;
  EXPECT_TRUE(contains(r.err, "ipc1 is unreachable")) << r.err;
  // --json: the failure is one JSON document on stdout (issue #15 item 14).
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["error"], "unreachable") << r.out;
  EXPECT_EQ(doc["exit_code"], 4) << r.out;
  r = run_rulectl({"--config", cfg, "at-risk", "--primary", "ipc2", "--standby", "ipc1"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(contains(r.err, "primary ipc2 is unreachable")) << r.err;
  std::filesystem::remove_all(path.parent_path());
}
