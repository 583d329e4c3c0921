// A release lost with IPC2 (issue #14 item 5): `release --from e2 --to e3`
// committed only at IPC2 (IPC1 cut off), IPC2 lost, IPC1 promoted. e2 has
// marked the release's versions promoted, so before this a second release
// said "nothing to release" and IPC1 never got them; docs/data-loss.md's
// remedy (release again with --allow-dr-site) did not work. Now that release
// sends again what the new primary lacks (by rule, label and content), and
// the versions arrive as a release brings them (awaiting_sl); a second run
// sends nothing. Real clusters (pipeline.hpp), the built rulectl. Ports:
// integration_lost_release in tests/ports.txt.
#include <chrono>

#include "failover_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing::fo;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;
namespace ports = rulekeeper::testing::ports;

TEST(LostRelease, ReleaseAgainToTheDrSiteSendsWhatItLacks) {
  Pipeline p(ports::integration_lost_release[0]);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  p.create_rule("fees.card", "fees");
  p.create_version("fees.card", R"({"rate": 1.5, "cap": 20})");
  p.ship();  // 1 at E3, and at ipc1
  ipc1.wait_replayed(ipc2, std::chrono::seconds(60));

  // A second version released while ipc1 is cut off: it is only at ipc2.
  p.create_version("fees.card", R"({"rate": 1.7, "cap": 20})");
  p.ok({"release", "--from", "e1", "--to", "e2"});
  p.ok({"validate", "--site", "e2", "--rule", "fees.card", "--version", "2", "--result", "passed", "--reason",
        "suite green"});
  ipc1.stop();
  p.ok({"release", "--from", "e2", "--to", "e3", "--yes"});
  EXPECT_EQ(versions_of(ipc2, "fees.card"), "1:awaiting_sl,2:awaiting_sl");
  EXPECT_EQ(versions_of(*p.e2, "fees.card"), "1:promoted,2:promoted");

  // IPC2 is lost; ipc1 is promoted by force.
  ipc2.kill9();
  ipc1.start();
  CommandResult r = run(p, {"failover", "--yes", "--to", "ipc1", "--force", "--wait-catchup", "5"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(versions_of(ipc1, "fees.card"), "1:awaiting_sl");

  // The remedy of docs/data-loss.md: the release again, to the DR site.
  r = run(p, {"release", "--yes", "--from", "e2", "--to", "e3", "--allow-dr-site"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "sent again 1 version(s) released earlier from e2 that ipc1 lacked")) << describe(r);
  EXPECT_EQ(versions_of(ipc1, "fees.card"), "1:awaiting_sl,2:awaiting_sl");

  // Repeatable: a second run finds nothing lacking and changes nothing.
  const std::string before = rulekeeper::testing::state_fingerprint(ipc1);
  r = run(p, {"--json", "release", "--yes", "--from", "e2", "--to", "e3", "--allow-dr-site"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc["sent_again"]["imported"].size(), 0u) << r.out;
  EXPECT_EQ(doc["sent_again"]["already_there"], 2) << r.out;
  EXPECT_EQ(rulekeeper::testing::state_fingerprint(ipc1), before);
}

// The other way back: IPC2 returns after all, its orphans are captured by
// rejoin and reconciled. A version the lost release had brought there comes
// back as what it was — awaiting_sl, its own label — not as `recovered`: the
// orphans bundle is signed by ipc2 (a trusted E3 key) and the row says a
// release brought it. (Same ports as the test above: they run one after the
// other.)
TEST(LostRelease, ReconciledFromTheReturningPrimary_ComesBackAsItWas) {
  Pipeline p(ports::integration_lost_release[0]);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  p.create_rule("fees.card", "fees");
  p.create_version("fees.card", R"({"rate": 1.5, "cap": 20})");
  p.ship();
  ipc1.wait_replayed(ipc2, std::chrono::seconds(60));
  p.create_version("fees.card", R"({"rate": 1.7, "cap": 20})");
  p.ok({"release", "--from", "e1", "--to", "e2"});
  p.ok({"validate", "--site", "e2", "--rule", "fees.card", "--version", "2", "--result", "passed", "--reason",
        "suite green"});
  ipc1.stop();
  p.ok({"release", "--from", "e2", "--to", "e3", "--yes"});
  ipc2.kill9();
  ipc1.start();
  CommandResult r = run(p, {"failover", "--yes", "--to", "ipc1", "--force", "--wait-catchup", "5"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);

  start_without_upstream(ipc2);
  const std::string orphans = (p.set.options().base / "orphans-ipc2.json").string();
  r = run(p, {"rejoin", "--yes", "--site", "ipc2", "--orphans", orphans});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  r = run(p, {"reconcile", "--yes", "--bundle", orphans, "--to", "ipc1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(versions_of(ipc1, "fees.card"), "1:awaiting_sl,2:awaiting_sl");
  EXPECT_EQ(sql_value(ipc1,
                      "SELECT (annotations -> 'recovered_from' ->> 'origin_site') || ' ' || "
                      "(annotations -> 'recovered_from' ->> 'returned_as') FROM rulekeeper.rule_version "
                      "WHERE rule_key = 'fees.card' AND label = '2'"),
            "ipc2 awaiting_sl");
  EXPECT_TRUE(contains(r.out, "fees.card  2               2")) << describe(r);  // its label here: its own
}
