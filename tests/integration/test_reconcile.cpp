// reconcile and conflicts on real clusters (issue #6): the same rule
// hotfixed on both sides of a forced failover is a conflict — recorded with
// both sides, never applied, exit 3 until resolved; --dry-run changes nothing;
// reconcile twice changes nothing the second time; a version whose content the
// target already holds is not duplicated; origin numbering after switch-back
// never collides with the orphan's. Ports: integration_reconcile
// in tests/ports.txt.
#include "failover_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing::fo;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;
using rulekeeper::testing::state_fingerprint;

namespace {

constexpr int kConflict = ports::integration_reconcile[0];

const char* kA = "limits.daily";
const char* kB = "limits.weekly";
const char* kC = "limits.monthly";

std::string conflict_state(const cluster::Node& n) {
  return sql_value(n,
                   "SELECT count(*) || ' open=' || count(*) FILTER (WHERE status = 'open') FROM rulekeeper.conflict");
}

}  // namespace

TEST(Reconcile, ConflictRecordedNotApplied_DryRun_Twice_Resolve_NoCollision) {
  Pipeline p(kConflict);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  for (const char* k : {kA, kB, kC}) {
    p.create_rule(k, "limits");
    p.create_version(k, R"({"max": 100, "currency": "EUR"})");
  }
  p.ship();
  for (const char* k : {kA, kB, kC}) p.to_prod(k, "1");
  sql_value(ipc2,
            "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('limits', ARRAY['/max']) "
            "RETURNING ruleset");
  ipc1.wait_replayed(ipc2, std::chrono::seconds(60));

  // Orphans at ipc2: A (will conflict), B (comes back recovered), C (ipc1
  // makes the same content: already held, not duplicated).
  ipc1.stop();
  hotfix(p, kA, R"({"max": 150, "currency": "EUR"})", "A at ipc2");
  hotfix(p, kB, R"({"max": 150, "currency": "EUR"})", "B at ipc2");
  hotfix(p, kC, R"({"max": 175, "currency": "EUR"})", "C at ipc2");
  ipc2.kill9();
  ipc1.start();
  CommandResult r = run(p, {"failover", "--yes", "--to", "ipc1", "--force"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  // The same rule A hotfixed at ipc1 differently; C hotfixed to the same body.
  hotfix(p, kA, R"({"max": 120, "currency": "EUR"})", "A at ipc1");
  hotfix(p, kC, R"({"max": 175, "currency": "EUR"})", "C replayed at ipc1");

  start_without_upstream(ipc2);
  const std::string orphans = (p.set.options().base / "orphans.json").string();
  r = run(p, {"rejoin", "--yes", "--site", "ipc2", "--orphans", orphans});
  ASSERT_EQ(r.exit_code, 0) << describe(r);

  // --dry-run: reports the conflict, changes nothing.
  const std::string fp = state_fingerprint(ipc1);
  r = run(p, {"--json", "reconcile", "--bundle", orphans, "--to", "ipc1", "--dry-run"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  json dry = json::parse(r.out);
  EXPECT_EQ(dry["dry_run"], true);
  ASSERT_EQ(dry["conflicts"].size(), 1u) << r.out;
  EXPECT_EQ(dry["conflicts"][0]["rule_key"], kA);
  EXPECT_EQ(state_fingerprint(ipc1), fp);
  EXPECT_EQ(conflict_state(ipc1), "0 open=0");

  // For real: B recovered, C already held, A a conflict (exit 3).
  r = run(p, {"--json", "reconcile", "--yes", "--bundle", orphans, "--to", "ipc1"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  json rep = json::parse(r.out);
  ASSERT_EQ(rep["recovered"].size(), 1u) << r.out;
  EXPECT_EQ(rep["recovered"][0]["rule_key"], kB);
  ASSERT_EQ(rep["already_held"].size(), 1u) << r.out;
  EXPECT_EQ(rep["already_held"][0]["rule_key"], kC);
  ASSERT_EQ(rep["conflicts"].size(), 1u) << r.out;
  EXPECT_EQ(conflict_state(ipc1), "1 open=1");
  // Never applied over the target's version.
  EXPECT_EQ(prod_of(ipc1, kA), "1.1");
  EXPECT_EQ(sql_value(ipc1, "SELECT body ->> 'max' FROM rulekeeper.rule_version WHERE rule_key = $1 AND label = '1.1'",
                      std::string(kA)),
            "120");
  EXPECT_EQ(versions_of(ipc1, kA), "1:sl_validated,1.1:hotfix");
  EXPECT_EQ(versions_of(ipc1, kB), "1:sl_validated,1.1:recovered");
  EXPECT_EQ(prod_of(ipc1, kB), "1");
  EXPECT_EQ(versions_of(ipc1, kC), "1:sl_validated,1.1:hotfix");

  // Listed with both sides.
  r = run(p, {"--json", "conflicts", "list"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  json list = json::parse(r.out);
  ASSERT_EQ(list["conflicts"].size(), 1u);
  const std::string id = list["conflicts"][0]["conflict_id"];
  EXPECT_EQ(list["conflicts"][0]["source_change"]["origin_site"], "ipc2");
  EXPECT_FALSE(list["conflicts"][0]["target_changes"].empty());
  r = run(p, {"conflicts", "list"});
  EXPECT_TRUE(contains(r.out, kA)) << describe(r);
  // rulectl status shows it until it is resolved.
  r = run(p, {"--json", "status"});
  json st = json::parse(r.out);
  ASSERT_EQ(st["open_conflicts"].size(), 1u) << r.out;
  EXPECT_EQ(st["open_conflicts"][0]["conflict_id"], id);
  EXPECT_EQ(st["open_conflicts"][0]["rule_key"], kA);

  // Twice: nothing changes the second time, still exit 3 (the conflict is open).
  const std::string fp2 = state_fingerprint(ipc1);
  r = run(p, {"--json", "reconcile", "--yes", "--bundle", orphans, "--to", "ipc1"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  json again = json::parse(r.out);
  EXPECT_EQ(again["records"], 0);
  EXPECT_TRUE(again["recovered"].empty());
  EXPECT_TRUE(again["conflicts"].empty());
  EXPECT_EQ(state_fingerprint(ipc1), fp2);
  EXPECT_EQ(conflict_state(ipc1), "1 open=1");

  // Resolve keeping the source: the orphan comes back recovered, not activated.
  r = run(p, {"conflicts", "resolve", "--yes", id.substr(0, 8), "--keep", "source"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(conflict_state(ipc1), "1 open=0");
  r = run(p, {"--json", "status"});
  EXPECT_TRUE(json::parse(r.out)["open_conflicts"].empty()) << r.out;
  EXPECT_EQ(versions_of(ipc1, kA), "1:sl_validated,1.1:hotfix,1.2:recovered");
  EXPECT_EQ(prod_of(ipc1, kA), "1.1");
  r = run(p, {"conflicts", "resolve", "--yes", id, "--keep", "target"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);  // already resolved
  r = run(p, {"reconcile", "--yes", "--bundle", orphans, "--to", "ipc1"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);

  // A tampered bundle is refused.
  {
    std::ifstream in(orphans);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto pos = text.find("A at ipc2");
    ASSERT_NE(pos, std::string::npos);
    text.replace(pos, 9, "A at ipcX");
    std::ofstream(orphans + ".tampered") << text;
  }
  r = run(p, {"reconcile", "--yes", "--bundle", orphans + ".tampered", "--to", "ipc1"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "checksum")) << describe(r);

  // A bundle with a duplicated key is refused before it reaches the target
  // (exit 2), the key named: ::jsonb would have kept the last one silently.
  {
    std::ifstream in(orphans);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto open = text.find('{');
    ASSERT_NE(open, std::string::npos);
    text.insert(open + 1, "\"format\": \"forged\", ");
    std::ofstream(orphans + ".duplicate") << text;
  }
  const std::string fp3 = state_fingerprint(ipc1);
  r = run(p, {"reconcile", "--yes", "--bundle", orphans + ".duplicate", "--to", "ipc1"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "duplicate object key \"format\"")) << describe(r);
  EXPECT_EQ(state_fingerprint(ipc1), fp3);
  EXPECT_EQ(conflict_state(ipc1), "1 open=0");

  // Switch back; origin numbering never collides with the orphan's.
  ipc2.wait_replayed(ipc1, std::chrono::seconds(60));
  r = run(p, {"failover", "--yes", "--to", "ipc2"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  hotfix(p, kB, R"({"max": 160, "currency": "EUR"})", "B after switch-back");
  ipc1.wait_replayed(ipc2, std::chrono::seconds(60));
  EXPECT_EQ(sql_value(ipc2,
                      "SELECT count(DISTINCT origin_incarnation) FROM rulekeeper.journal "
                      "WHERE origin_site = 'ipc2'"),
            "2");
  EXPECT_EQ(sql_value(ipc2,
                      "SELECT count(*) FROM (SELECT origin_site, origin_incarnation, origin_seq "
                      "FROM rulekeeper.journal GROUP BY 1, 2, 3 HAVING count(*) > 1) d"),
            "0");
  EXPECT_EQ(sql_value(ipc2,
                      "SELECT (SELECT origin_incarnation FROM rulekeeper.journal WHERE kind = 'hotfix' "
                      "AND payload::text LIKE '%B after switch-back%' LIMIT 1) > "
                      "(SELECT max(origin_incarnation) FROM rulekeeper.journal WHERE origin_site = 'ipc2' "
                      "AND kind = 'hotfix' AND payload::text LIKE '%at ipc2%')"),
            "t");
  r = run(p, {"compare", "ipc1", "ipc2"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}
