// Failover, rejoin and switch-back on real clusters (issue #6;
// docs/design/contract.md "CLI"; docs/design/architecture.md "Replication
// model"; docs/design/postgres-traps.md "Planned switchover", "A crashed
// primary coming back", "Rewind after failover"). Operator steps through the
// built rulectl, checks through SQL. Ports: integration_failover
// in tests/ports.txt (four per test).
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "failover_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing::fo;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
using rulekeeper::testing::effective;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;

namespace {

constexpr int kStory = ports::integration_failover[0];
constexpr int kPlanned = ports::integration_failover[4];
constexpr int kRefusals = ports::integration_failover[8];
constexpr int kWatch = ports::integration_failover[12];

const char* kA = "fees.card";
const char* kB = "fees.wire";

// Rules A and B released to E3 and in prod at ipc2, hotfixable at /rate;
// ipc1 has replayed it all.
void two_rules_in_prod(Pipeline& p) {
  p.create_rule(kA, "fees");
  p.create_rule(kB, "fees");
  p.create_version(kA, R"({"rate": 1.5, "cap": 20})");
  p.create_version(kB, R"({"rate": 0.5, "cap": 30})");
  p.ship();
  p.to_prod(kA, "1");
  p.to_prod(kB, "1");
  sql_value(*p.ipc2,
            "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('fees', ARRAY['/rate']) "
            "RETURNING ruleset");
  if (p.ipc1) {
    p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));
    // The heartbeat worker starts a few seconds after the extension exists:
    // wait until ipc1 has replayed one, so the refusal can state its age.
    for (int i = 0;
         i < 600 && sql_value(*p.ipc1, "SELECT count(*) FROM rulekeeper.heartbeat WHERE site = 'ipc2'") == "0"; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

}  // namespace

// The whole story of the seed's "Hotfix - E3 Failover", asserted at every step.
TEST(Failover, FullStory_OrphanRejoinReconcileSwitchBack) {
  Pipeline p(kStory);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  two_rules_in_prod(p);
  ASSERT_EQ(effective(ipc1, "prod"), std::string(kA) + "=1," + kB + "=1");

  // ipc1 is cut off; a hotfix on rule A at ipc2 (the future orphan).
  ipc1.stop();
  const auto before_a = journal_ids(ipc2);
  const std::string a_fix = hotfix(p, kA, R"({"rate": 1.9, "cap": 20})", "card fee fix at ipc2");
  ASSERT_EQ(a_fix, "1.1");
  const auto orphan_ids = new_ids(ipc2, before_a);
  ASSERT_GE(orphan_ids.size(), 2u);  // the version, the hotfix record, the activation

  // ipc2 crashes; ipc1 comes back (still a standby of the dead ipc2).
  ipc2.kill9();
  ipc1.start();
  ASSERT_TRUE(ipc1.in_recovery());

  // Refused: the loss cannot be proven. The evidence is stated.
  CommandResult r = run(p, {"failover", "--yes", "--to", "ipc1", "--wait-catchup", "20"});
  ASSERT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.out, "REFUSED")) << describe(r);
  EXPECT_TRUE(contains(r.out, "last heartbeat of ipc2")) << describe(r);
  EXPECT_TRUE(contains(r.out, "received")) << describe(r);
  EXPECT_TRUE(contains(r.out, "last change held from ipc2: ipc2:")) << describe(r);
  EXPECT_TRUE(ipc1.in_recovery());
  EXPECT_EQ(versions_of(ipc1, kA), "1:sl_validated");

  // Forced: promoted, the failover recorded with the divergence point.
  r = run(p, {"--json", "failover", "--yes", "--to", "ipc1", "--force", "--wait-catchup", "20"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  json fo = json::parse(r.out);
  EXPECT_EQ(fo["result"], "failed over");
  EXPECT_EQ(fo["forced"], true);
  EXPECT_FALSE(fo["steps"].empty());
  EXPECT_FALSE(ipc1.in_recovery());
  EXPECT_EQ(sql_value(ipc1,
                      "SELECT old_site || '>' || new_site || ':' || forced || ':' || new_timeline "
                      "FROM rulekeeper.failover_event"),
            "ipc2>ipc1:true:2");
  EXPECT_EQ(json::parse(sql_value(ipc1, "SELECT divergence::text FROM rulekeeper.failover_event")),
            fo["failover_event"]["divergence"]);

  // A hotfix on rule B at ipc1, the new primary.
  const auto before_b = journal_ids(ipc1);
  const std::string b_fix = hotfix(p, kB, R"({"rate": 0.7, "cap": 30})", "wire fee fix at ipc1");
  ASSERT_EQ(b_fix, "1.1");
  const auto b_ids = new_ids(ipc1, before_b);

  // ipc2 returns as a standby with no upstream: it replays its own WAL, takes
  // no writes, and still holds its orphan.
  start_without_upstream(ipc2);
  ASSERT_TRUE(ipc2.in_recovery());
  EXPECT_EQ(prod_of(ipc2, kA), "1.1");

  // rejoin: the orphans bundle holds exactly the rule-A hotfix, nothing ipc1 made.
  const std::string orphans = (p.set.options().base / "orphans-ipc2.json").string();
  r = run(p, {"rejoin", "--yes", "--site", "ipc2", "--orphans", orphans});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "rejoined: ipc2 is a standby of ipc1")) << describe(r);
  json bundle = read_json_file(orphans);
  std::set<std::string> in_bundle;
  for (const auto& c : bundle["changes"]) {
    in_bundle.insert(c["change_id"].get<std::string>());
    EXPECT_EQ(c["origin_site"], "ipc2") << c.dump();
    EXPECT_EQ(c["rule_key"], kA) << c.dump();
  }
  EXPECT_EQ(in_bundle, orphan_ids);
  // ipc2 follows ipc1 and holds the rule-B hotfix.
  EXPECT_TRUE(ipc2.in_recovery());
  EXPECT_TRUE(streams_from(ipc1, "ipc2"));
  ipc2.wait_replayed(ipc1, std::chrono::seconds(60));
  EXPECT_EQ(prod_of(ipc2, kB), "1.1");
  EXPECT_EQ(prod_of(ipc2, kA), "1");  // rewound: its own hotfix is gone from its data
  EXPECT_EQ(sql_value(
                ipc2, "SELECT count(*) FROM rulekeeper.journal WHERE change_id = ANY($1::uuid[])",
                "{" +
                    [&] {
                      std::string s;
                      for (const auto& id : orphan_ids) s += (s.empty() ? "" : ",") + id;
                      return s;
                    }() +
                    "}"),
            "0");

  // reconcile: rule A's hotfix comes back recovered, not activated.
  r = run(p, {"reconcile", "--yes", "--bundle", orphans, "--to", "ipc1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "1 recovered")) << describe(r);
  EXPECT_EQ(versions_of(ipc1, kA), "1:sl_validated,1.1:recovered");
  EXPECT_EQ(prod_of(ipc1, kA), "1");
  EXPECT_EQ(sql_value(ipc1,
                      "SELECT annotations -> 'recovered_from' ->> 'origin_site' FROM rulekeeper.rule_version "
                      "WHERE rule_key = $1 AND label = '1.1'",
                      std::string(kA)),
            "ipc2");
  ipc2.wait_replayed(ipc1, std::chrono::seconds(60));
  r = run(p, {"compare", "ipc1", "ipc2"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);

  // Switch back: a planned switchover ends with ipc1 as ipc2's standby.
  r = run(p, {"failover", "--yes", "--to", "ipc2"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "zero changes lost")) << describe(r);
  EXPECT_FALSE(ipc2.in_recovery());
  EXPECT_TRUE(ipc1.in_recovery());
  EXPECT_TRUE(streams_from(ipc2, "ipc1"));

  // A new change at ipc2 reaches ipc1; nothing made anywhere is missing.
  const auto before_c = journal_ids(ipc2);
  // (Rule A: prod still serves 1 there; a second hotfix of B's /rate on top
  // of 1.1 would need the hotfix gate's acknowledgement.)
  ASSERT_EQ(hotfix(p, kA, R"({"rate": 2.1, "cap": 20})", "card fee again, back at ipc2"), "1.2");
  const auto c_ids = new_ids(ipc2, before_c);
  ipc1.wait_replayed(ipc2, std::chrono::seconds(60));
  const auto at1 = journal_ids(ipc1), at2 = journal_ids(ipc2);
  for (const auto* ids : {&orphan_ids, &b_ids, &c_ids})
    for (const auto& id : *ids) {
      EXPECT_TRUE(at1.count(id)) << id << " missing at ipc1";
      EXPECT_TRUE(at2.count(id)) << id << " missing at ipc2";
    }
  EXPECT_EQ(at1, at2);
  // Origin numbering after switch-back never collides with the orphan's.
  EXPECT_EQ(sql_value(ipc2,
                      "SELECT count(DISTINCT origin_incarnation) FROM rulekeeper.journal WHERE origin_site = 'ipc2'"),
            "2");
  EXPECT_EQ(
      sql_value(ipc2,
                "SELECT (SELECT max(origin_incarnation) FROM rulekeeper.journal WHERE change_id = ANY($1::uuid[])) "
                "> (SELECT max(origin_incarnation) FROM rulekeeper.journal WHERE change_id = ANY($2::uuid[]))",
                "{" + *c_ids.begin() + "}", "{" + *orphan_ids.begin() + "}"),
      "t");
  r = run(p, {"compare", "ipc1", "ipc2"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

// A planned switchover loses nothing, and the old primary follows the new one.
TEST(Failover, PlannedSwitchover_ZeroLoss_OldPrimaryFollows) {
  Pipeline p(kPlanned);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  two_rules_in_prod(p);
  // Changes right up to the switchover (not waited for at ipc1).
  hotfix(p, kA, R"({"rate": 1.6, "cap": 20})", "just before the switchover");
  const auto before = journal_ids(ipc2);
  CommandResult r = run(p, {"--json", "failover", "--yes", "--to", "ipc1", "--max-lag-bytes", "100000000"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  json doc = json::parse(r.out);
  EXPECT_EQ(doc["result"], "switched over");
  EXPECT_EQ(doc["planned"], true);
  EXPECT_EQ(doc["zero_loss"], true);
  EXPECT_EQ(doc["lost_changes"], 0);
  std::vector<std::string> names;
  for (const auto& s : doc["steps"]) names.push_back(s["step"].get<std::string>());
  EXPECT_GE(names.size(), 8u);
  EXPECT_FALSE(ipc1.in_recovery());
  EXPECT_TRUE(ipc2.in_recovery());
  EXPECT_TRUE(streams_from(ipc1, "ipc2"));
  // Every change ipc2 held is at ipc1.
  const auto at1 = journal_ids(ipc1);
  for (const auto& id : before) EXPECT_TRUE(at1.count(id)) << id;
  // The stale slot ipc2 held for ipc1 is gone; ipc1 holds ipc2's.
  EXPECT_EQ(sql_value(ipc2, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'ipc1'"), "0");
  EXPECT_EQ(sql_value(ipc1, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'ipc2'"), "1");
  EXPECT_EQ(sql_value(ipc1, "SELECT forced::text FROM rulekeeper.failover_event"), "false");
  // A change at the new primary reaches the old one.
  hotfix(p, kB, R"({"rate": 0.6, "cap": 30})", "first change after the switchover");
  ipc2.wait_replayed(ipc1, std::chrono::seconds(60));
  EXPECT_EQ(prod_of(ipc2, kB), "1.1");
}

// Clear refusals, nothing done: a target already primary, a second failover
// while one runs, a target that does not follow the primary, two writable E3 sites.
TEST(Failover, Refusals_AlreadyPrimary_Locked_NotItsStandby_SplitBrain) {
  Pipeline p(kRefusals);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  ipc1.wait_replayed(ipc2);

  CommandResult r = run(p, {"failover", "--yes", "--to", "ipc2"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "ipc2 is already the E3 primary")) << describe(r);

  // Another failover/rejoin holds the lock — in the E3 servers since issue
  // #16 item 4 (ops/control_lock.hpp): here a session at the standby ipc1.
  {
    auto holder = ipc1.connect();
    pqxx::nontransaction tx(*holder);
    tx.exec("SET application_name = 'rulectl failover by alice@ops1 pid 4242'");
    ASSERT_EQ(tx.exec("SELECT pg_try_advisory_lock(1920298085, 3)")[0][0].as<bool>(), true);
    r = run(p, {"failover", "--yes", "--to", "ipc1"});
    EXPECT_EQ(r.exit_code, 3) << describe(r);
    EXPECT_TRUE(contains(r.err, "another failover or rejoin is running: rulectl failover by alice@ops1 pid 4242"))
        << describe(r);
    r = run(p, {"rejoin", "--yes", "--site", "ipc1"});
    EXPECT_EQ(r.exit_code, 3) << describe(r);
  }
  EXPECT_TRUE(ipc1.in_recovery());
  EXPECT_FALSE(ipc2.in_recovery());

  // ipc1 without an upstream is not a standby of the primary ipc2.
  ipc1.stop();
  start_without_upstream(ipc1);
  r = run(p, {"failover", "--yes", "--to", "ipc1"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "ipc1 is not a standby of the E3 primary ipc2")) << describe(r);
  EXPECT_TRUE(ipc1.in_recovery());
  EXPECT_TRUE(ipc2.running());

  // Two writable E3 sites: split brain, refused.
  ipc1.promote();
  r = run(p, {"failover", "--yes", "--to", "ipc1"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "split brain")) << describe(r);
  // rulectl recorded nothing; the one event at ipc1 is the extension's record
  // of the pg_promote() above (issue 16: every promotion is recorded).
  EXPECT_EQ(sql_value(ipc1, "SELECT string_agg(promoted_by, ',') FROM rulekeeper.failover_event"), "external");
  EXPECT_EQ(sql_value(ipc2, "SELECT count(*) FROM rulekeeper.failover_event"), "0");
}

// watch: one line per change of health; exit 4 after N failed checks of the E3 primary.
TEST(Failover, Watch_DetectsKilledPrimary) {
  Pipeline p(kWatch);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  auto fut = std::async(std::launch::async, [&] {
    return run(p, {"watch", "--interval", "200", "--fail-after", "3", "--count", "600"});
  });
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ipc2.kill9();
  CommandResult r = fut.get();
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_TRUE(contains(r.out, "ipc2     primary -> UNREACHABLE") || contains(r.out, "ipc2 primary -> UNREACHABLE") ||
              contains(r.out, "primary -> UNREACHABLE"))
      << describe(r);
  EXPECT_TRUE(contains(r.out, "E3 PRIMARY ipc2 FAILED 3 consecutive checks")) << describe(r);
  EXPECT_TRUE(contains(r.out, "rulectl failover --to ipc1")) << describe(r);
  EXPECT_TRUE(contains(r.out, "ipc1     (start) -> standby, streaming from ipc2")) << describe(r);
}
