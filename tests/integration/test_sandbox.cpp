// `rulectl sandbox up --port-base N`, `status`, a second `up` and `down`,
// run as a program: the ports are kept in the sandbox, so `down` and a
// second `up` find the same ones. Ports: integration_sandbox in tests/ports.txt.
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "http/client.hpp"
#include "test_support.hpp"

using nlohmann::json;
using rulekeeper::testing::run_rulectl;
namespace fs = std::filesystem;

namespace {

constexpr int kSandboxPortBase = rulekeeper::testing::ports::integration_sandbox[0];
// Where a second `up` asks to move the running sandbox to (refused: nothing binds it).
constexpr int kMovedPortBase = rulekeeper::testing::ports::integration_sandbox[5];

// `sandbox down` even when an assertion fails half-way.
struct SandboxGuard {
  std::string base;
  ~SandboxGuard() {
    if (fs::exists(base)) run_rulectl({"sandbox", "down", "--base", base});
  }
};

bool portal_answers(int port) {
  try {
    return rulekeeper::http::get(fmt::format("http://127.0.0.1:{}", port), "/login").status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

bool login_works(int port, const std::string& user, const std::string& password) {
  try {
    pqxx::connection c(
        fmt::format("host=127.0.0.1 port={} user={} password={} dbname=rules connect_timeout=3", port, user, password));
    return c.is_open();
  } catch (const std::exception&) {
    return false;
  }
}

bool port_answers(int port) {
  try {
    pqxx::connection c(fmt::format("host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=3", port));
    return c.is_open();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

TEST(Sandbox, UpWithPortBaseStatusThenDown) {
  if (!rulekeeper::testing::with_extension()) GTEST_SKIP() << "the sandbox needs the rulekeeper extension";
  const std::string base = rulekeeper::testing::fresh_cluster_options().base.string();
  SandboxGuard guard{base};

  auto up = run_rulectl({"sandbox", "up", "--base", base, "--port-base", std::to_string(kSandboxPortBase), "--json"});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  json doc = json::parse(up.out);
  const std::string config = doc["config"].get<std::string>();

  auto st = run_rulectl({"--config", config, "status", "--json"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  json status = json::parse(st.out);
  ASSERT_EQ(status["sites"].size(), 4u) << st.out;
  for (const auto& s : status["sites"]) {
    EXPECT_TRUE(s["reachable"].get<bool>()) << s.dump();
    EXPECT_EQ(s["reported_site"], s["site"]);
    if (s["site"] == "ipc1")
      EXPECT_EQ(s["role"], "standby");
    else
      EXPECT_EQ(s["role"], "primary");
  }
  EXPECT_EQ(status["replication"]["primary"], "ipc2");
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(port_answers(kSandboxPortBase + i)) << kSandboxPortBase + i;
  // The admin portal (issue #19) after the gateways' ports, and its
  // sandbox-only logins, whose passwords are checked.
  const int portal_port = kSandboxPortBase + 8;
  EXPECT_EQ(doc["portal"], fmt::format("http://127.0.0.1:{}", portal_port)) << up.out;
  EXPECT_TRUE(portal_answers(portal_port));
  EXPECT_TRUE(login_works(kSandboxPortBase + 2, "portal_releaser", "portal_releaser"));
  EXPECT_FALSE(login_works(kSandboxPortBase + 2, "portal_releaser", "wrong"))
      << "scram-sha-256 for the portal's logins";

  // A second `up` without --port-base finds the same ports; a different one is refused.
  auto again = run_rulectl({"sandbox", "up", "--base", base, "--json"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(json::parse(again.out)["status"]["sites"].size(), 4u);
  auto moved = run_rulectl({"sandbox", "up", "--base", base, "--port-base", std::to_string(kMovedPortBase)});
  EXPECT_EQ(moved.exit_code, 3) << moved.err;
  EXPECT_NE(moved.err.find(std::to_string(kSandboxPortBase)), std::string::npos) << moved.err;

  // `down` without --port-base stops the servers on the ports the sandbox kept.
  auto down = run_rulectl({"sandbox", "down", "--base", base});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_FALSE(fs::exists(base));
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(port_answers(kSandboxPortBase + i)) << kSandboxPortBase + i;
  EXPECT_FALSE(portal_answers(portal_port)) << "sandbox down stops the portal";
}

// issue 15 item 24: `sandbox down` without --base takes down the sandbox
// whose rulectl.toml RULECTL_CONFIG names (the one being worked with), not
// the default directory.
TEST(Sandbox, DownWithoutBaseUsesTheSandboxOfRulectlConfig) {
  if (!rulekeeper::testing::with_extension()) GTEST_SKIP() << "the sandbox needs the rulekeeper extension";
  const std::string base = rulekeeper::testing::fresh_cluster_options().base.string();
  SandboxGuard guard{base};
  constexpr int kPortBase = rulekeeper::testing::ports::integration_sandbox_config[0];
  auto up = run_rulectl({"sandbox", "up", "--base", base, "--port-base", std::to_string(kPortBase), "--json"});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  const std::string config = json::parse(up.out)["config"].get<std::string>();

  struct EnvGuard {
    ~EnvGuard() { unsetenv("RULECTL_CONFIG"); }
  } env_guard;
  setenv("RULECTL_CONFIG", config.c_str(), 1);
  auto down = run_rulectl({"sandbox", "down"});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_NE(down.out.find("sandbox removed from " + fs::path(base).lexically_normal().string()), std::string::npos)
      << down.out;
  EXPECT_FALSE(fs::exists(base));
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(port_answers(kPortBase + i)) << kPortBase + i;
}
