// Faults at E3 around a failover (issue #14 items 1, 3, 4, 8, 9; docs/failover.md
// "Synchronous standbys and promotion", "A second failover before the
// rejoin", "A paused target"; docs/data-loss.md):
//   - the runbook's two-AZ switch-back (kill -9 ipc2; failover --to ipc1
//     --force; rejoin ipc2b; rejoin ipc2; failover --to ipc2) finishes: the
//     promotion relaxes ipc2's synchronous replication (ipc2b follows ipc1)
//     and says so, the failover record does not wait, and `rejoin --site
//     ipc2b` restores it; every failover event exports (JCS);
//   - a second failover before the first rejoin names the last primary by
//     its timeline (ipc1), not the stale upstream of the target (ipc2);
//   - a paused target is refused at once, before anything is stopped;
//   - a connection lost mid-release names the site and says nothing was
//     committed.
// Every rulectl run is bounded (60 s, test_support.cpp) and every statement
// the test runs has a statement_timeout, so a regression fails, never hangs.
// Ports: integration_switch_back in tests/ports.txt (+0 and +5: five nodes;
// +10: four; +15: three).
#include <chrono>
#include <future>

#include "failover_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing::fo;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Pipeline;

namespace {

constexpr int kBase = ports::integration_switch_back[0];
const char* kRule = "routing.weights";

// A connection whose statements end after 20 s: a commit that waits for a
// synchronous standby is not ended by it (docs/design/postgres-traps.md
// "Synchronous commit"), so the test writes through rulectl (bounded) only.
std::unique_ptr<pqxx::connection> bounded(const cluster::Node& n) {
  return std::make_unique<pqxx::connection>(n.conninfo("rules") + " options='-c statement_timeout=20000'");
}

std::string value(const cluster::Node& n, const std::string& sql) {
  auto c = bounded(n);
  pqxx::nontransaction tx(*c);
  pqxx::result r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].c_str();
}

bool streams(const cluster::Node& primary, const std::string& standby) {
  for (int i = 0; i < 200; ++i) {
    if (value(primary, "SELECT count(*) FROM pg_stat_replication WHERE application_name = '" + standby +
                           "' AND state = 'streaming'") == "1")
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// export_changes since nothing at `n`: every change and failover event it
// holds must survive the JCS export (issue #14 item 3).
void expect_exports(const cluster::Node& n) {
  try {
    const std::string bundle = value(n, "SELECT rulekeeper.export_changes('{}'::jsonb)::text");
    EXPECT_FALSE(bundle.empty()) << n.site();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "export_changes at " << n.site() << " refused: " << e.what();
  }
}

// e1, e2, ipc2 (primary), ipc1 (async standby, dr), ipc2b (standby of ipc2,
// synchronous when `sync`), a rule in prod.
void two_az(Pipeline& p, cluster::Node*& ipc2b, bool sync) {
  ipc2b = &p.set.add({"ipc2b", "e3", p.ipc2->port() + 2});
  ipc2b->init_standby_of(*p.ipc2);
  ipc2b->wait_ready();
  if (sync) {
    p.ipc2->options().synchronous_standby_names = "ipc2b";
    p.ipc2->write_config();
    p.ipc2->exec("SELECT pg_reload_conf()", "postgres");
    ASSERT_TRUE(wait_sync(*p.ipc2, "ipc2b"));
  }
  write_control_toml(p);
  p.create_rule(kRule, "routing");
  p.create_version(kRule, R"({"a": 50, "b": 50})");
  p.ship();
  p.to_prod(kRule, "1");
  value(*p.ipc2,
        "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('routing', ARRAY['/a', '/b']) "
        "RETURNING ruleset");
  p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));
  ipc2b->wait_replayed(*p.ipc2, std::chrono::seconds(60));
}

}  // namespace

// Item 1 (and 3): the runbook's switch-back with IPC2's AZ-b standby.
TEST(SwitchBack, TwoAzSwitchBack_DoesNotWaitForTheSyncStandby_RestoredByRejoin) {
  Pipeline p(kBase);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  cluster::Node* ipc2b_ptr = nullptr;
  two_az(p, ipc2b_ptr, /*sync=*/true);
  cluster::Node& ipc2b = *ipc2b_ptr;

  // A commit hung on the synchronous standby shows in `status`.
  ipc2b.stop();
  std::future<void> writer;
  // Whatever happens below, the hung commit ends before `writer` is joined:
  // its backend is terminated (a SyncRep wait ends only so, or by the standby).
  struct EndSyncRepWaits {
    const cluster::Node& node;
    ~EndSyncRepWaits() {
      try {
        value(node, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
      } catch (const std::exception&) {
      }
    }
  };
  writer = std::async(std::launch::async, [&] {
    try {
      auto c = ipc2.connect();
      pqxx::nontransaction tx(*c);
      tx.exec("CREATE TABLE public.hung_writer (x int)");  // its commit waits for ipc2b
    } catch (const std::exception&) {
    }
  });
  const EndSyncRepWaits end_waits{ipc2};
  bool waiting = false;
  for (int i = 0; i < 100 && !waiting; ++i) {
    waiting = value(ipc2, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'") != "0";
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(waiting);
  CommandResult r = run(p, {"status"});
  EXPECT_TRUE(contains(r.err, "site ipc2: 1 commit(s) waiting for a synchronous standby")) << describe(r);
  EXPECT_TRUE(contains(r.err, "synchronous_standby_names = 'ipc2b'")) << describe(r);
  r = run(p, {"--json", "status"});
  json st = json::parse(r.out);
  for (const auto& s : st["sites"])
    if (s["site"] == "ipc2") {
      EXPECT_EQ(s["sync_rep_waiting"], 1) << s.dump();
    }
  ipc2b.start();
  ASSERT_EQ(writer.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  ASSERT_TRUE(wait_sync(ipc2, "ipc2b"));

  // The runbook: kill -9 ipc2; failover --to ipc1 --force; rejoin ipc2b; rejoin ipc2.
  ipc2.kill9();
  r = run(p, {"failover", "--yes", "--to", "ipc1", "--force", "--wait-catchup", "20"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  r = run(p, {"rejoin", "--yes", "--site", "ipc2b"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_TRUE(streams(ipc1, "ipc2b"));
  r = run(p, {"rejoin", "--yes", "--site", "ipc2"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_TRUE(streams(ipc1, "ipc2"));
  ASSERT_EQ(value(ipc2, "SHOW synchronous_standby_names"), "ipc2b");

  // The switch-back: ipc2b follows ipc1, which this stops. Today rulectl
  // waits forever in record_failover (killed after 60 s: exit -1).
  const auto started = std::chrono::steady_clock::now();
  r = run(p, {"failover", "--yes", "--to", "ipc2"});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_LT(took, 45) << describe(r);
  EXPECT_TRUE(contains(r.out, "synchronous replication at ipc2: RELAXED")) << describe(r);
  EXPECT_TRUE(contains(r.out + r.err, "ipc2b")) << describe(r);
  EXPECT_FALSE(ipc2.in_recovery());
  EXPECT_EQ(value(ipc2, "SHOW synchronous_standby_names"), "");
  EXPECT_EQ(value(ipc2, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"), "0");
  EXPECT_EQ(value(ipc2, "SELECT old_site FROM rulekeeper.latest_failover_event()"), "ipc1");

  // E3 writes go on (bounded: rulectl is killed after 60 s).
  hotfix(p, kRule, R"({"a": 60, "b": 40})", "after the switch-back");
  r = run(p, {"--json", "status"});
  st = json::parse(r.out);
  for (const auto& s : st["sites"])
    if (s["site"] == "ipc2") {
      EXPECT_EQ(s["sync_rep_waiting"], 0) << s.dump();
    }

  // rejoin --site ipc2b makes it follow ipc2 and restores synchronous replication.
  r = run(p, {"rejoin", "--yes", "--site", "ipc2b"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "RESTORED 'ipc2b' at ipc2")) << describe(r);
  EXPECT_EQ(value(ipc2, "SHOW synchronous_standby_names"), "ipc2b");
  EXPECT_TRUE(wait_sync(ipc2, "ipc2b"));
  hotfix(p, kRule, R"({"a": 65, "b": 35})", "two AZs again");
  ipc2b.wait_replayed(ipc2, std::chrono::seconds(60));
  EXPECT_EQ(prod_of(ipc2b, kRule), prod_of(ipc2, kRule));

  // Item 3: every failover event and step time exports.
  for (cluster::Node* n : {&ipc2, &ipc1, &ipc2b}) expect_exports(*n);
  r = run(p, {"reconcile", "--from", "ipc1", "--to", "e3", "--dry-run"});
  EXPECT_NE(r.exit_code, -1) << describe(r);
  EXPECT_FALSE(contains(r.out + r.err, "IEEE-754")) << describe(r);
}

// Item 4: ipc2 -> ipc1 (forced), ipc1 takes changes and is lost, then back
// to IPC2's AZ-b standby, which still follows the dead ipc2.
TEST(SwitchBack, SecondFailoverBeforeTheRejoin_NamesTheLastPrimaryByTimeline) {
  Pipeline p(kBase + 5);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  cluster::Node* ipc2b_ptr = nullptr;
  two_az(p, ipc2b_ptr, /*sync=*/false);
  cluster::Node& ipc2b = *ipc2b_ptr;

  ipc2.kill9();
  CommandResult r = run(p, {"failover", "--yes", "--to", "ipc1", "--force", "--wait-catchup", "20"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  hotfix(p, kRule, R"({"a": 80, "b": 20})", "only at ipc1");
  ipc1.kill9();

  // status: the last primary is ipc1 (timeline 2), though ipc2b replayed ipc2's heartbeats.
  r = run(p, {"--json", "status"});
  json st = json::parse(r.out);
  ASSERT_FALSE(st["replication"]["last_known_primary"].is_null()) << r.out;
  EXPECT_EQ(st["replication"]["last_known_primary"]["site"], "ipc1") << r.out;
  r = run(p, {"status"});
  EXPECT_TRUE(contains(r.out, "last known primary ipc1")) << describe(r);

  // The refusal talks about ipc1, whose changes ipc2b lacks.
  r = run(p, {"failover", "--yes", "--to", "ipc2b", "--wait-catchup", "5"});
  ASSERT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.out, "ipc1 is unreachable and was the last E3 primary")) << describe(r);
  EXPECT_TRUE(contains(r.out, "ipc2b follows ipc2 on timeline 1")) << describe(r);
  EXPECT_TRUE(contains(r.out, "no heartbeat of ipc1 was ever replayed at ipc2b")) << describe(r);
  EXPECT_TRUE(ipc2b.in_recovery());

  // Forced: the event records ipc1 as the old site.
  r = run(p, {"--json", "failover", "--yes", "--to", "ipc2b", "--force", "--wait-catchup", "5"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  json fo = json::parse(r.out);
  EXPECT_EQ(fo["old_primary"], "ipc1") << r.out;
  EXPECT_EQ(fo["failover_event"]["old_site"], "ipc1") << r.out;
  EXPECT_EQ(value(ipc2b, "SELECT old_site FROM rulekeeper.latest_failover_event()"), "ipc1");
  EXPECT_EQ(value(ipc2b,
                  "SELECT details -> 'last_primary' ->> 'site' FROM rulekeeper.failover_event "
                  "ORDER BY recorded_at DESC LIMIT 1"),
            "ipc1");
  expect_exports(ipc2b);
}

// Item 8: a paused target is refused before anything is stopped.
TEST(SwitchBack, PausedTarget_RefusedAtOnce_NothingStopped) {
  Pipeline p(kBase + 10);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  ASSERT_TRUE(streams(ipc2, "ipc1"));
  const std::string started_at = value(ipc2, "SELECT pg_postmaster_start_time()::text");
  value(ipc1, "SELECT pg_wal_replay_pause()");
  for (int i = 0; i < 50 && value(ipc1, "SELECT pg_get_wal_replay_pause_state()") != "paused"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));

  // Planned (ipc2 answers), default --wait-catchup (30 s).
  auto t0 = std::chrono::steady_clock::now();
  CommandResult r = run(p, {"failover", "--yes", "--to", "ipc1"});
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "ipc1's WAL replay is paused")) << describe(r);
  EXPECT_TRUE(contains(r.err, "pg_wal_replay_resume()")) << describe(r);
  EXPECT_TRUE(contains(r.err, "nothing was done")) << describe(r);
  EXPECT_LT(took, 10) << describe(r);
  // No outage: ipc2 was never stopped.
  EXPECT_EQ(value(ipc2, "SELECT pg_postmaster_start_time()::text"), started_at);
  EXPECT_FALSE(ipc2.in_recovery());

  // Old primary gone, --force: refused at once too, the target left a standby.
  ipc2.kill9();
  t0 = std::chrono::steady_clock::now();
  r = run(p, {"failover", "--yes", "--to", "ipc1", "--force"});
  took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "ipc1's WAL replay is paused")) << describe(r);
  EXPECT_LT(took, 10) << describe(r);
  EXPECT_TRUE(ipc1.in_recovery());
}

// Item 9: the target's connection is lost in the middle of a release.
TEST(SwitchBack, ConnectionLostMidRelease_NamesTheSite_NothingCommitted) {
  Pipeline p(kBase + 15, /*with_ipc1=*/false);
  p.create_rule(kRule, "routing");
  p.create_version(kRule, R"({"a": 50, "b": 50})");
  p.ok({"release", "--from", "e1", "--to", "e2"});
  p.ok({"validate", "--site", "e2", "--rule", kRule, "--version", "1", "--result", "passed", "--reason", "green"});

  // A session at ipc2 holds rule_version: the release's import waits on it.
  auto locker = bounded(*p.ipc2);
  pqxx::work lock_tx(*locker);
  lock_tx.exec("LOCK TABLE rulekeeper.rule_version IN ACCESS EXCLUSIVE MODE");
  auto release = std::async(std::launch::async, [&] {
    return p.rulectl({"release", "--from", "e2", "--to", "e3", "--yes"});
  });
  std::string victim;
  for (int i = 0; i < 300 && victim.empty(); ++i) {
    victim = value(*p.ipc2,
                   "SELECT pid FROM pg_stat_activity WHERE datname = 'rules' AND wait_event_type = 'Lock' "
                   "AND pid <> pg_backend_pid() LIMIT 1");
    if (victim.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(victim.empty()) << "the release never waited at ipc2";
  if (!victim.empty()) value(*p.ipc2, "SELECT pg_terminate_backend(" + victim + ")");
  lock_tx.abort();  // before anything can return: the release's thread must not wait on it
  CommandResult r = release.get();
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_TRUE(contains(r.err, "lost the connection to site ipc2 (the target) while importing the release from e2"))
      << describe(r);
  EXPECT_TRUE(contains(r.err, "nothing was committed")) << describe(r);
  EXPECT_FALSE(contains(r.err, "client encoding")) << describe(r);
  // Nothing committed: ipc2 lacks the version, e2 did not mark it released.
  EXPECT_EQ(value(*p.ipc2,
                  std::string("SELECT count(*) FROM rulekeeper.rule_version WHERE rule_key = '") + kRule + "'"),
            "0");
  EXPECT_EQ(value(*p.e2,
                  std::string("SELECT qualification FROM rulekeeper.rule_version WHERE rule_key = '") + kRule + "'"),
            "test_passed");
  // Run again: it goes through.
  r = p.rulectl({"release", "--from", "e2", "--to", "e3", "--yes"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}
