// Two availability zones in IPC2 (issue #6; docs/design/architecture.md "Replication model"):
// ipc2b is IPC2's synchronous standby in AZ-b (synchronous_standby_names =
// 'ipc2b': every acknowledged commit is in both AZs), ipc1 asynchronous.
// ipc1 cut off, changes committed at ipc2, ipc2 killed: failover --to ipc2b
// refuses without --force and with it loses no acknowledged change; at-risk
// lists what ipc1 lacks; rejoin --site ipc1 makes it follow ipc2b and catch
// up. Ports: integration_two_az in
// tests/ports.txt.
#include "failover_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing::fo;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;

namespace {

constexpr int kTwoAz = ports::integration_two_az[0];
const char* kRule = "routing.weights";

}  // namespace

TEST(TwoAz, SyncStandbyFailover_NoAcknowledgedLoss_Ipc1Follows) {
  Pipeline p(kTwoAz);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  // ipc2b: a standby of ipc2 in AZ-b, made synchronous.
  cluster::Node& ipc2b = p.set.add({"ipc2b", "e3", kTwoAz + 4});
  ipc2b.init_standby_of(ipc2);
  ipc2b.wait_ready();
  ipc2.options().synchronous_standby_names = "ipc2b";
  ipc2.write_config();
  ipc2.exec("SELECT pg_reload_conf()", "postgres");
  ASSERT_TRUE(wait_sync(ipc2, "ipc2b"));
  write_control_toml(p);

  p.create_rule(kRule, "routing");
  p.create_version(kRule, R"({"a": 50, "b": 50})");
  p.ship();
  p.to_prod(kRule, "1");
  sql_value(ipc2,
            "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('routing', ARRAY['/a', '/b']) "
            "RETURNING ruleset");
  ipc1.wait_replayed(ipc2, std::chrono::seconds(60));

  // ipc1 cut off; changes committed at ipc2 (acknowledged once ipc2b has them).
  ipc1.stop();
  const auto before = journal_ids(ipc2);
  hotfix(p, kRule, R"({"a": 70, "b": 30})", "drain AZ-a");
  const auto acknowledged = new_ids(ipc2, before);
  ASSERT_FALSE(acknowledged.empty());
  ipc2.kill9();

  // Refused without --force: ipc2 is unreachable.
  CommandResult r = run(p, {"failover", "--yes", "--to", "ipc2b", "--wait-catchup", "20"});
  ASSERT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.out, "ipc2 is unreachable")) << describe(r);
  EXPECT_TRUE(ipc2b.in_recovery());
  r = run(p, {"failover", "--yes", "--to", "ipc2b", "--force", "--wait-catchup", "20"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_FALSE(ipc2b.in_recovery());
  // No acknowledged change lost.
  const auto at2b = journal_ids(ipc2b);
  for (const auto& id : acknowledged) EXPECT_TRUE(at2b.count(id)) << id << " lost";
  EXPECT_EQ(prod_of(ipc2b, kRule), "1.1");

  // ipc1 comes back (a standby of the dead ipc2): at-risk lists what it lacks.
  ipc1.start();
  r = run(p, {"--json", "at-risk", "--primary", "ipc2b", "--standby", "ipc1"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  json risk = json::parse(r.out);
  std::set<std::string> listed;
  for (const auto& c : risk["changes"]) listed.insert(c["change_id"].get<std::string>());
  for (const auto& id : acknowledged) EXPECT_TRUE(listed.count(id)) << id << " not listed as at risk";

  // rejoin makes it follow ipc2b and catch up.
  r = run(p, {"rejoin", "--yes", "--site", "ipc1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(streams_from(ipc2b, "ipc1"));
  ipc1.wait_replayed(ipc2b, std::chrono::seconds(60));
  EXPECT_EQ(prod_of(ipc1, kRule), "1.1");
  r = run(p, {"at-risk", "--primary", "ipc2b", "--standby", "ipc1"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  r = run(p, {"compare", "ipc2b", "ipc1"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}
