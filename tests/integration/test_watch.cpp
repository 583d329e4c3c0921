// `rulectl watch` as an on-call person relies on it (issue #15 items 9-13):
// started while the primary is already down, a login the server refuses, a
// least-privilege monitoring role, --on-fail in the background with a
// timeout and an honest exit code, and --json as NDJSON while it runs. Real
// clusters (pipeline.hpp: e1, e2, ipc2 the E3 primary, ipc1 its streaming
// standby), the built rulectl. Ports: integration_watch in tests/ports.txt
// (four per test). No assertion on wall-clock speed: every wait is bounded
// and every watch run is bounded by --count.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "background_rulectl.hpp"
#include "failover_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing::fo;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
namespace ports = rulekeeper::testing::ports;
namespace fs = std::filesystem;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;

namespace {

// Until ipc1 holds a heartbeat of ipc2 (the worker starts a few seconds
// after the extension exists).
void wait_heartbeat(Pipeline& p) {
  p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));
  ASSERT_TRUE(wait_until([&] {
    return sql_value(*p.ipc1, "SELECT count(*) FROM rulekeeper.heartbeat WHERE site = 'ipc2'") != "0";
  })) << "ipc1 never replayed a heartbeat of ipc2";
}

std::vector<std::string> with_config(const Pipeline& p, std::vector<std::string> args) {
  args.insert(args.begin(), {"--config", p.config});
  return args;
}

// A rulectl run with its own --config, in the transcript like fo::run's.
CommandResult run_logged(const std::vector<std::string>& args) {
  CommandResult r = rulekeeper::testing::run_rulectl(args);
  rulekeeper::testing::append_transcript("RULEKEEPER_FAILOVER_TRANSCRIPT", args, r);
  return r;
}

// p.config with every site's user replaced: the watch of a monitoring role.
std::string config_as(const Pipeline& p, const std::string& user) {
  std::string toml = read_text(p.config);
  for (std::size_t at = 0; (at = toml.find("user=postgres", at)) != std::string::npos;)
    toml.replace(at, 13, "user=" + user);
  const fs::path path = rulekeeper::testing::write_temp_file("rulectl-" + user + ".toml", toml);
  return path.string();
}

}  // namespace

// Item 9: watch started after the primary died. No site accepts writes, so
// the primary cannot be learned from a writable one: it is the one ipc1 last
// heard from (its heartbeat), followed and counted as failing.
TEST(Watch, StartedWhilePrimaryDown_FollowsLastKnownPrimaryAndFires) {
  Pipeline p(ports::integration_watch[0]);
  write_control_toml(p);
  wait_heartbeat(p);
  p.ipc2->kill9();
  CommandResult r = run(p, {"watch", "--interval", "200", "--fail-after", "3", "--count", "100"});
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_TRUE(contains(r.out, "e3       (start) -> primary ipc2 (last known)")) << describe(r);
  EXPECT_TRUE(contains(r.out, "E3 PRIMARY ipc2 FAILED 3 consecutive checks")) << describe(r);
  EXPECT_TRUE(contains(r.out, "to promote: rulectl failover --to ipc1")) << describe(r);
}

// Item 10: the server answering and refusing the login (a role no longer
// permitted to log in) is a configuration alert, never "PRIMARY FAILED …
// to promote".
TEST(Watch, LoginRefusedByServer_IsAConfigurationAlertNotAnOutage) {
  Pipeline p(ports::integration_watch[4]);
  write_control_toml(p);
  for (cluster::Node* n : {p.e1, p.e2, p.ipc2}) sql_value(*n, "CREATE ROLE watcher LOGIN IN ROLE rulekeeper_reader");
  p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));
  Background w("watch", {"--config", config_as(p, "watcher"), "watch", "--interval", "200", "--fail-after", "3",
                         "--count", "60"});
  ASSERT_TRUE(w.wait_for_output("ipc2     (start) -> primary")) << w.out();
  // The kept connection ends; every new one is refused.
  sql_value(*p.ipc2, "ALTER ROLE watcher NOLOGIN");
  sql_value(*p.ipc2, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'watcher'");
  CommandResult r = w.finish();
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.out, "ipc2     primary -> REFUSED BY SERVER")) << describe(r);
  EXPECT_TRUE(contains(r.out, "is not permitted to log in")) << describe(r);
  EXPECT_TRUE(contains(r.out, "CONFIGURATION: the server of ipc2 answered and refused rulectl's login")) << describe(r);
  EXPECT_FALSE(contains(r.out, "FAILED")) << describe(r);
  EXPECT_FALSE(contains(r.out, "rulectl failover")) << describe(r);
  EXPECT_FALSE(contains(r.out, "UNREACHABLE")) << describe(r);

  // status classifies the same failure the same way (site/connect.hpp).
  r = run_logged({"--config", config_as(p, "watcher"), "--json", "status"});
  json doc = json::parse(r.out);
  bool seen = false;
  for (const auto& s : doc["sites"]) {
    if (s["site"] != "ipc2") continue;
    seen = true;
    EXPECT_EQ(s["role"], "refused") << r.out;
    EXPECT_EQ(s["refused_by_server"], true) << r.out;
  }
  EXPECT_TRUE(seen) << r.out;
  r = run_logged({"--config", config_as(p, "watcher"), "status"});
  EXPECT_TRUE(contains(r.out, "ipc2: the server refused rulectl's login (a configuration problem, not an outage)"))
      << describe(r);
}

// Item 11: --on-fail starts in the background; the checks go on while it
// runs (ipc2 seen back before the command is let finish), its outcome is
// logged on a line of its own, and a run that saw an outage exits 3.
TEST(Watch, OnFailRunsInBackground_OutcomeLogged_Exit3) {
  Pipeline p(ports::integration_watch[8]);
  write_control_toml(p);
  const fs::path dir = rulekeeper::testing::write_temp_file("on-fail.sh", "").parent_path();
  const fs::path fired = dir / "fired", release = dir / "release";
  // Bounded by itself (at most 180 s) and by --on-fail-timeout.
  const std::string cmd = fmt::format(
      "echo \"$RULECTL_FAILED_SITE\" > {}; i=0; while [ ! -e {} ] && [ $i -lt 1800 ]; do sleep 0.1; "
      "i=$((i+1)); done; exit 7",
      fired.string(), release.string());
  Background w("watch", with_config(p, {"watch", "--interval", "200", "--fail-after", "3", "--count", "450",
                                        "--on-fail", cmd, "--on-fail-timeout", "240"}));
  ASSERT_TRUE(w.wait_for_output("ipc2     (start) -> primary")) << w.out();
  p.ipc2->kill9();
  const bool started = wait_until([&] { return fs::exists(fired); });
  EXPECT_TRUE(started) << w.out();
  if (started) {
    EXPECT_EQ(read_text(fired), "ipc2\n");
  }
  p.ipc2->start();
  // Seen while the command still waits for `release`: polling went on.
  const bool seen_back = w.wait_for_output("ipc2     UNREACHABLE -> primary");
  std::ofstream(release) << "go\n";
  EXPECT_TRUE(seen_back) << w.out();
  CommandResult r = w.finish();
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.out, "E3 PRIMARY ipc2 FAILED 3 consecutive checks")) << describe(r);
  EXPECT_TRUE(contains(r.out, "e3       --on-fail command for ipc2 started (killed after 240 s)")) << describe(r);
  EXPECT_TRUE(contains(r.out, "e3       --on-fail command for ipc2 exited 7")) << describe(r);
  EXPECT_FALSE(contains(r.out, "(start) -> --on-fail")) << describe(r);
  EXPECT_TRUE(contains(r.out, "1 outage(s) of the E3 primary during this run (exit 3)")) << describe(r);
  // The order: started, ipc2 back, then the outcome.
  EXPECT_LT(r.out.find("started (killed after"), r.out.find("UNREACHABLE -> primary")) << describe(r);
  EXPECT_LT(r.out.find("UNREACHABLE -> primary"), r.out.find("exited 7")) << describe(r);
}

// Item 12: a least-privilege monitoring role (rulekeeper_reader, no
// pg_monitor, no pg_read_all_settings) sees where the standby streams from;
// a role without even that is told what to grant, not "no upstream".
TEST(Watch, LeastPrivilegeRole_SeesStandbyUpstream) {
  Pipeline p(ports::integration_watch[12]);
  write_control_toml(p);
  for (cluster::Node* n : {p.e1, p.e2, p.ipc2}) {
    sql_value(*n, "CREATE ROLE monitor LOGIN IN ROLE rulekeeper_reader");
    sql_value(*n, "CREATE ROLE plain LOGIN");
  }
  p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));
  CommandResult r = run_logged({"--config", config_as(p, "monitor"), "watch", "--interval", "200", "--count", "5"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "ipc1     (start) -> standby, streaming from ipc2")) << describe(r);
  EXPECT_FALSE(contains(r.out, "no upstream")) << describe(r);

  r = run_logged({"--config", config_as(p, "plain"), "watch", "--interval", "200", "--count", "5"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "ipc1     (start) -> standby, upstream hidden from this role")) << describe(r);
  EXPECT_TRUE(contains(r.out, "CONFIGURATION: ipc1 runs a WAL receiver, but this role sees none of its fields"))
      << describe(r);
  EXPECT_TRUE(contains(r.out, "grant it rulekeeper_reader or pg_monitor")) << describe(r);
}

// Items 13 and 11: --json is NDJSON written as events happen (a line is
// there while the watch still runs); an --on-fail command that runs over its
// timeout is killed and said so; the outage makes the run exit 3.
TEST(Watch, JsonIsNdjsonAsItHappens_OnFailTimeoutKilled) {
  Pipeline p(ports::integration_watch[16]);
  write_control_toml(p);
  const fs::path fired = rulekeeper::testing::write_temp_file("fired", "").parent_path() / "fired-site";
  const std::string cmd = fmt::format("echo \"$RULECTL_FAILED_SITE\" > {}; exec sleep 600", fired.string());
  Background w("watch", with_config(p, {"--json", "watch", "--interval", "200", "--fail-after", "2", "--count", "150",
                                        "--on-fail", cmd, "--on-fail-timeout", "2"}));
  ASSERT_TRUE(w.wait_for_output("\"site\":\"ipc1\"")) << w.out();
  EXPECT_TRUE(w.running()) << "the event line came only at exit";
  p.ipc2->kill9();
  CommandResult r = w.finish();
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  std::vector<json> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    ASSERT_NO_THROW(lines.push_back(json::parse(line))) << line;
    ASSERT_TRUE(lines.back().is_object()) << line;
  }
  ASSERT_FALSE(lines.empty()) << describe(r);
  EXPECT_EQ(lines.back()["kind"], "summary") << describe(r);
  EXPECT_EQ(lines.back()["exit_code"], 3) << describe(r);
  EXPECT_EQ(lines.back()["outages"], 1) << describe(r);
  bool failed = false, timed_out = false;
  for (const auto& j : lines) {
    if (j["kind"] == "failed" && j["from"] == "primary ipc2") failed = true;
    if (j["kind"] == "on_fail" && j["to"] == "--on-fail command for ipc2 timed out after 2 s and was killed")
      timed_out = true;
  }
  EXPECT_TRUE(failed) << describe(r);
  EXPECT_TRUE(timed_out) << describe(r);
  EXPECT_EQ(read_text(fired), "ipc2\n");
}
