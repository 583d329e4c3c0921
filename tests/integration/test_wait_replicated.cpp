// `--wait-replicated` says why it waits when the standby shows the cause
// (issue 15 item 23): a replay paused with pg_wal_replay_pause(), a WAL
// receiver stopped (primary_conninfo emptied). Before, the wait said only
// "missing ipc2:1 5..5" until it timed out. A real standby, paused for real.
// Ports: integration_operator_input [1..4] (e1, e2, ipc2, ipc1).
#include <chrono>
#include <regex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline.hpp"
#include "test_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout\n" + r.out + "\n--- stderr\n" + r.err;
}

// rulectl through the pipeline; RULEKEEPER_WAIT_TRANSCRIPT=FILE appends each
// run (the output quoted in docs/operator-mistakes.md).
CommandResult run(const Pipeline& p, const std::vector<std::string>& args) {
  CommandResult r = p.rulectl(args);
  append_transcript("RULEKEEPER_WAIT_TRANSCRIPT", args, r);
  return r;
}

// Until `sql` at `n` returns `want` (20 s at most).
void wait_value(const cluster::Node& n, const std::string& sql, const std::string& want) {
  for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;) {
    if (sql_value(n, sql) == want) return;
    std::this_thread::sleep_for(100ms);
  }
  ADD_FAILURE() << sql << " never returned " << want;
}

}  // namespace

TEST(WaitReplicated, SaysReplayPausedAndReceiverStopped) {
  if (!with_extension()) GTEST_SKIP() << "needs the extension";
  Pipeline p(ports::integration_operator_input[1]);
  cluster::Node& ipc1 = *p.ipc1;
  p.create_rule("pricing");
  p.create_version("pricing", R"({"rate": 1})");
  p.create_version("pricing", R"({"rate": 2})");
  p.ship();
  ipc1.wait_replayed(*p.ipc2, std::chrono::seconds(60));

  // issue 15 item 21: status shows the standby's last replayed heartbeat in
  // rulectl's one format (before: cut to whole seconds, no Z).
  auto st = run(p, {"status"});
  EXPECT_TRUE(std::regex_search(st.out, std::regex(R"(ipc2 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"))) << st.out;

  // Replay paused at ipc1: the activation commits at ipc2 and the wait names the pause.
  sql_value(ipc1, "SELECT pg_wal_replay_pause()");
  wait_value(ipc1, "SELECT pg_get_wal_replay_pause_state()", "paused");
  auto r = run(p, {"--yes", "activate", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "1",
                   "--wait-replicated", "3", "--json"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "its WAL replay is paused")) << describe(r);  // the progress line
  const auto doc = nlohmann::json::parse(r.out);
  const auto& site = doc["replication"]["sites"][0];
  EXPECT_EQ(site["site"], "ipc1") << r.out;
  EXPECT_TRUE(contains(site["why"].get<std::string>(), "its WAL replay is paused")) << r.out;
  EXPECT_TRUE(contains(doc["replication_summary"].get<std::string>(), "its WAL replay is paused")) << r.out;
  sql_value(ipc1, "SELECT pg_wal_replay_resume()");

  // The WAL receiver stopped (primary_conninfo emptied and reloaded).
  sql_value(ipc1, "ALTER SYSTEM SET primary_conninfo = ''");
  sql_value(ipc1, "SELECT pg_reload_conf()");
  wait_value(ipc1, "SELECT count(*) FROM pg_stat_wal_receiver", "0");
  r = run(p, {"--yes", "activate", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "2",
              "--wait-replicated", "3"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.out, "its WAL receiver is not running")) << describe(r);
  sql_value(ipc1, "ALTER SYSTEM RESET primary_conninfo");
  sql_value(ipc1, "SELECT pg_reload_conf()");
}
