// The heartbeat worker (issue 15 item 26): it beats only at E3, where
// docs/in-sync.md says it does, and while its database does not exist yet
// it waits quietly — before, every retry logged `FATAL: database "rules"
// does not exist` (every 2 s) and E1/E2 beat for nothing.
// Ports: integration_heartbeat_worker (e1, ipc2).
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "sandbox/cluster.hpp"
#include "test_support.hpp"

using namespace rulekeeper;
using namespace std::chrono_literals;
namespace ports = rulekeeper::testing::ports;

namespace {

std::string read_log(const cluster::Node& n) {
  std::ifstream in(n.log_file());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls `sql` until it returns `want` (10 s at most); returns the last value.
std::string wait_value(const cluster::Node& n, const std::string& sql, const std::string& want) {
  std::string v;
  for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
    v = n.query_value(sql);
    if (v == want) break;
    std::this_thread::sleep_for(100ms);
  }
  return v;
}

}  // namespace

TEST(HeartbeatWorker, WaitsQuietlyForItsDatabaseAndBeatsOnlyAtE3) {
  if (!rulekeeper::testing::with_extension()) GTEST_SKIP() << "needs the extension";
  cluster::ClusterSet set(rulekeeper::testing::fresh_cluster_options());
  cluster::Node& e1 = set.add({"e1", "e1", ports::integration_heartbeat_worker[0]});
  cluster::Node& ipc2 = set.add({"ipc2", "e3", ports::integration_heartbeat_worker[1]});
  e1.init_primary();
  ipc2.init_primary();
  // Three of the old worker's restart intervals with no database "rules".
  std::this_thread::sleep_for(7s);
  for (const cluster::Node* n : {&e1, &ipc2}) {
    const std::string log = read_log(*n);
    // (pg_ctl's readiness probe may log "the database system is starting
    // up"; what must not be there is the worker failing or being restarted.)
    EXPECT_EQ(log.find("database \"rules\" does not exist"), std::string::npos) << n->site() << "'s log:\n" << log;
    EXPECT_EQ(log.find("exited with exit code"), std::string::npos) << n->site() << "'s log:\n" << log;
  }

  e1.create_database();
  ipc2.create_database();
  // E3 beats once its database and extension are there...
  EXPECT_EQ(wait_value(ipc2, "SELECT count(*) FROM rulekeeper.heartbeat WHERE site = 'ipc2' AND beat_seq >= 2", "1"),
            "1");
  // ... E1 never (two seconds of beats at the default 1 s interval would show).
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(e1.query_value("SELECT count(*) FROM rulekeeper.heartbeat"), "0");
  const std::string log = read_log(e1) + read_log(ipc2);
  EXPECT_EQ(log.find("does not exist"), std::string::npos) << log;
  EXPECT_EQ(log.find("exited with exit code"), std::string::npos) << log;
}
