// Mistakes an operator makes in what rulectl reads (issue 15 items 17 and
// 27): a configuration mistake is a configuration error (exit 2), named,
// whichever verb meets it first — never "unreachable" (exit 4) or a warning —
// and a number in a body file that JCS cannot write exactly is refused
// quoting the author's own literal. Ports: integration_operator_input.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sandbox/cluster.hpp"
#include "test_support.hpp"

using namespace rulekeeper;
using nlohmann::json;
using rulekeeper::testing::run_rulectl;
using rulekeeper::testing::write_temp_file;
namespace ports = rulekeeper::testing::ports;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string describe(const rulekeeper::testing::CommandResult& r) {
  return fmt::format("exit {}\n--- stdout\n{}\n--- stderr\n{}", r.exit_code, r.out, r.err);
}

// Nothing listens here.
const std::string kDeadPort = std::to_string(ports::integration_operator_input.last);

}  // namespace

// A misspelt conninfo keyword: every verb refuses the file before connecting
// anywhere, naming the file and the key. Before, `compare` reported the site
// "unreachable" (exit 4) and `status` named no file.
TEST(OperatorInput, BadConninfoKeywordIsAConfigurationErrorForEveryVerb) {
  auto path =
      write_temp_file("rulectl.toml",
                      "[sites.e1]\nconninfo = \"host=127.0.0.1 port=" + kDeadPort +
                          " user=postgres dbname=rules\"\nenvironment = \"e1\"\n[sites.ipc2]\nconninfo = "
                          "\"host=127.0.0.1 port=" +
                          kDeadPort + " user=postgres dbname=rules connect_timeuot=3\"\nenvironment = \"e3\"\n");
  const std::string cfg = path.string();
  for (const std::vector<std::string>& verb : std::vector<std::vector<std::string>>{
           {"status"}, {"compare", "e1", "ipc2"}, {"compare", "ipc2", "e1"}, {"at-risk"}, {"watch", "--count", "1"}}) {
    std::vector<std::string> args{"--config", cfg};
    args.insert(args.end(), verb.begin(), verb.end());
    auto r = run_rulectl(args);
    EXPECT_EQ(r.exit_code, 2) << verb[0] << "\n" << describe(r);
    EXPECT_TRUE(contains(r.err, cfg + ": sites.ipc2.conninfo: does not parse: invalid connection option "
                                      "\"connect_timeuot\""))
        << verb[0] << "\n"
        << describe(r);
    EXPECT_FALSE(contains(r.err, "unreachable")) << verb[0] << "\n" << describe(r);
  }
  std::filesystem::remove_all(path.parent_path());
}

// A body file holding 1e400: refused before any site is asked, the hint
// quoting "1e400" (the server's jsonb would have quoted its own 400-digit
// rewrite, cut at 80).
TEST(OperatorInput, InexactNumberInABodyFileIsQuotedAsWritten) {
  auto path = write_temp_file("rulectl.toml", "[sites.ipc2]\nconninfo = \"host=127.0.0.1 port=" + kDeadPort +
                                                  " user=postgres dbname=rules\"\nenvironment = \"e3\"\n");
  auto body = write_temp_file("body.json", R"({"rate": 0.1, "limit": 1e400})");
  auto r = run_rulectl({"--config", path.string(), "--yes", "hotfix", "--site", "e3", "--rule", "r", "--body-file",
                        body.string(), "--reason", "test"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "number 1e400 cannot be represented exactly")) << describe(r);
  EXPECT_TRUE(contains(r.err, "store it as a string, e.g. \"1e400\"")) << describe(r);
  EXPECT_FALSE(contains(r.err, "00000000000000000000")) << describe(r);
  std::filesystem::remove_all(path.parent_path());
  std::filesystem::remove_all(body.parent_path());
}

// One real E3 node (ipc2). rulectl.toml calling it an e2 site is a
// configuration error (exit 2) that names both values, and the status table
// shows the server's value; every E3 site refusing rulectl's login is said
// to be that — a configuration problem, not an outage (before: "primary:
// UNREACHABLE", exit 4).
TEST(OperatorInput, EnvironmentMismatchAndRefusedLoginAreConfigurationErrors) {
  if (!rulekeeper::testing::with_extension()) GTEST_SKIP() << "needs the extension";
  const int port = ports::integration_operator_input[0];
  cluster::ClusterSet set(rulekeeper::testing::fresh_cluster_options());
  cluster::Node& n = set.add({"ipc2", "e3", port});
  n.init_primary();
  n.create_database();
  n.exec("CREATE ROLE watcher NOLOGIN IN ROLE rulekeeper_reader");
  auto toml = [&](const std::string& env, const std::string& user) {
    return fmt::format(
        "[sites.ipc2]\nconninfo = \"host=127.0.0.1 port={} user={} dbname=rules\"\nenvironment = \"{}\"\n", port, user,
        env);
  };

  auto wrong_env = write_temp_file("rulectl.toml", toml("e2", "postgres"));
  auto r = run_rulectl({"--config", wrong_env.string(), "status"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err,
                       "configuration error: site ipc2: the server says rulekeeper.environment = 'e3' but "
                       "rulectl.toml says environment = \"e2\""))
      << describe(r);
  EXPECT_TRUE(contains(r.out, "e3 (toml: e2)")) << describe(r);
  r = run_rulectl({"--config", wrong_env.string(), "--json", "status"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(json::parse(r.out)["configuration_errors"].size(), 1u) << r.out;
  // A verb that acts at the site refuses it too, before doing anything.
  r = run_rulectl({"--config", wrong_env.string(), "hotfix", "list", "--site", "ipc2"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "the server says rulekeeper.environment = 'e3'")) << describe(r);

  auto refused = write_temp_file("rulectl.toml", toml("e3", "watcher"));
  r = run_rulectl({"--config", refused.string(), "status"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.out, "primary: UNKNOWN: E3 refused rulectl's login (a configuration problem, not an outage)"))
      << describe(r);
  EXPECT_TRUE(contains(r.out, "every E3 site refused rulectl's login")) << describe(r);
  EXPECT_TRUE(contains(r.out, "is not permitted to log in")) << describe(r);
  EXPECT_FALSE(contains(r.out, "UNREACHABLE")) << describe(r);
  EXPECT_TRUE(contains(r.err, "configuration error: site ipc2: the server answered and refused rulectl's login"))
      << describe(r);
  std::filesystem::remove_all(wrong_env.parent_path());
  std::filesystem::remove_all(refused.parent_path());
}
