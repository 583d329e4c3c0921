// The cluster fixture itself, against real servers: a streaming standby
// follows its primary, kill -9 and restart work, paused replay holds a change
// back until resumed, promotion makes a standby writable.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "sandbox/cluster.hpp"
#include "test_support.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;

namespace {

struct Pair {
  cluster::ClusterSet set;
  cluster::Node& primary;
  cluster::Node& standby;
  explicit Pair(int port)
      : set(rulekeeper::testing::fresh_cluster_options()),
        primary(set.add({"ipc2", "e3", port})),
        standby(set.add({"ipc1", "e3", port + 1})) {
    primary.init_primary();
    primary.create_database();
    standby.init_standby_of(primary);
    standby.wait_replayed(primary);
  }
};

}  // namespace

TEST(Fixture, StandbyReceivesWhatThePrimaryWrites) {
  Pair c(ports::integration_fixture[0]);
  EXPECT_FALSE(c.primary.in_recovery());
  EXPECT_TRUE(c.standby.in_recovery());
  // Node identity comes from the node conf outside PGDATA, not from the
  // primary's files that pg_basebackup copied.
  EXPECT_EQ(c.standby.query_value("SELECT current_setting('rulekeeper.site', true)"), "ipc1");
  EXPECT_EQ(c.primary.query_value("SELECT current_setting('rulekeeper.site', true)"), "ipc2");
  EXPECT_EQ(c.standby.query_value("SHOW port"), std::to_string(ports::integration_fixture[1]));
  EXPECT_EQ(c.primary.query_value("SELECT application_name FROM pg_stat_replication"), "ipc1");
  EXPECT_EQ(c.primary.query_value("SELECT active FROM pg_replication_slots WHERE slot_name = 'ipc1'"), "t");

  c.primary.exec("CREATE TABLE t (x int)");
  c.primary.exec("INSERT INTO t VALUES (42)");
  c.standby.wait_replayed(c.primary);
  EXPECT_EQ(c.standby.query_value("SELECT x FROM t"), "42");
}

TEST(Fixture, Kill9ThenRestartKeepsCommittedRows) {
  cluster::ClusterSet set(rulekeeper::testing::fresh_cluster_options());
  cluster::Node& n = set.add({"e1", "e1", ports::integration_fixture[2]});
  n.init_primary();
  n.create_database();
  n.exec("CREATE TABLE t (x int)");
  n.exec("INSERT INTO t VALUES (1)");
  // A session open at the crash: its backend must not keep the node from
  // starting again.
  auto held = n.connect();

  n.kill9();
  EXPECT_FALSE(n.running());
  n.start();
  EXPECT_TRUE(n.running());
  EXPECT_EQ(n.query_value("SELECT count(*) FROM t"), "1");

  // And once more: the zombie trap bites on the second round as well.
  n.kill9();
  n.start();
  EXPECT_EQ(n.query_value("SELECT count(*) FROM t"), "1");
}

TEST(Fixture, PausedReplayHoldsBackUntilResumed) {
  Pair c(ports::integration_fixture[4]);
  c.primary.exec("CREATE TABLE t (x int)");
  c.standby.wait_replayed(c.primary);

  c.standby.pause_replay();
  c.primary.exec("INSERT INTO t VALUES (7)");
  // Received, not replayed: the standby must still show the old state.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(c.standby.query_value("SELECT count(*) FROM t"), "0");
  EXPECT_THROW(c.standby.wait_replayed(c.primary, std::chrono::seconds(1)), std::runtime_error);

  c.standby.resume_replay();
  c.standby.wait_replayed(c.primary);
  EXPECT_EQ(c.standby.query_value("SELECT count(*) FROM t"), "1");
}

TEST(Fixture, PromotedStandbyAcceptsWrites) {
  Pair c(ports::integration_fixture[6]);
  c.primary.exec("CREATE TABLE t (x int)");
  c.standby.wait_replayed(c.primary);
  c.primary.stop(cluster::StopMode::fast);
  c.standby.promote();
  EXPECT_FALSE(c.standby.in_recovery());
  c.standby.exec("INSERT INTO t VALUES (3)");
  EXPECT_EQ(c.standby.query_value("SELECT count(*) FROM t"), "1");
}

TEST(Fixture, TimeoutMessagesSayWhatWasAwaited) {
  cluster::ClusterSet set(rulekeeper::testing::fresh_cluster_options());
  cluster::Node& n = set.add({"e1", "e1", ports::integration_fixture[8]});
  n.init_primary();
  try {
    n.wait_ready("no_such_database", std::chrono::seconds(1));
    FAIL() << "wait_ready returned for a database that does not exist";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("site e1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no_such_database"), std::string::npos) << e.what();
  }
}
