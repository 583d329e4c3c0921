// The seed's soft-launch scenarios SL1, SL2, SL3b, SL4, green becomes blue,
// the refusals of activation, and two operators racing — on real clusters,
// with the operator's steps through rulectl and the checks through SQL.
// Ports: integration_channels in tests/ports.txt (e1, e2, ipc2, ipc1).
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline.hpp"

using namespace rulekeeper;
using rulekeeper::testing::effective;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;
using rulekeeper::testing::state_fingerprint;

namespace {

constexpr int kPorts = ports::integration_channels[0];

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string lifecycle(const cluster::Node& n, const std::string& rule, const std::string& label) {
  return sql_value(n, "SELECT lifecycle::text FROM rulekeeper.version_state WHERE rule_key = $1 AND label = $2", rule,
                   label);
}

std::string qualification(const cluster::Node& n, const std::string& rule, const std::string& label) {
  return sql_value(n, "SELECT qualification FROM rulekeeper.rule_version WHERE rule_key = $1 AND label = $2", rule,
                   label);
}

std::string rule_state(const cluster::Node& n, const std::string& rule, const std::string& column) {
  // column is one of our literals below, never input.
  return sql_value(n, "SELECT " + column + "::text FROM rulekeeper.rule_state WHERE rule_key = $1", rule);
}

// SL1's setting: prod on 1 (pinned), SL testing 2 (pinned), then 3 released.
void sl1(Pipeline& p) {
  p.create_rule("pricing");
  p.create_version("pricing", R"({"rate": 1})");
  p.create_version("pricing", R"({"rate": 2})");
  p.ship();
  p.to_prod("pricing", "1");
  p.ok({"pin", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--version", "1"});
  p.ok({"pin", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "2"});
  p.create_version("pricing", R"({"rate": 3})");
  p.ship();
}

// SL2's step: SL unpinned and switched to 3.
void sl2(Pipeline& p) {
  p.ok({"unpin", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing"});
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "3"});
}

// SL3b's step: 3 failed in SL, SL rolled back to 2, prod unpinned.
void sl3b(Pipeline& p) {
  p.ok({"validate", "--yes", "--site", "e3", "--rule", "pricing", "--version", "3", "--result", "failed", "--reason",
        "defect 4711"});
  p.ok({"rollback", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing"});
  p.ok({"unpin", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing"});
}

}  // namespace

TEST(Channels, SL1_PinnedChannelsDoNotMoveOnReleaseNorRestart) {
  Pipeline p(kPorts);
  sl1(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;

  // 3 arrived at E3 and left e1 and e2 once.
  EXPECT_EQ(qualification(ipc2, "pricing", "3"), "awaiting_sl");
  EXPECT_EQ(qualification(*p.e2, "pricing", "3"), "promoted");
  EXPECT_EQ(qualification(*p.e1, "pricing", "3"), "promoted");
  // Neither channel moved.
  EXPECT_EQ(sql_value(ipc2, "SELECT rulekeeper.effective_version('pricing', 'prod')"), "1");
  EXPECT_EQ(sql_value(ipc2, "SELECT rulekeeper.effective_version('pricing', 'sl')"), "2");
  EXPECT_EQ(rule_state(ipc2, "pricing", "prod_pinned"), "true");
  EXPECT_EQ(rule_state(ipc2, "pricing", "sl_pinned"), "true");

  // Moving the pinned SL to 3 is refused, and changes nothing.
  const std::string before = state_fingerprint(ipc2);
  auto r = p.rulectl({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "pinned in sl at version 2")) << r.err;
  EXPECT_TRUE(contains(r.err, "unpin it first")) << r.err;
  EXPECT_EQ(state_fingerprint(ipc2), before);

  // A standby refuses, naming the primary.
  ipc1.wait_replayed(ipc2);
  auto s = p.rulectl({"activate", "--yes", "--site", "ipc1", "--channel", "sl", "--rule", "pricing", "--version", "3"});
  EXPECT_EQ(s.exit_code, 3) << s.err;
  EXPECT_TRUE(contains(s.err, "ipc1 is a standby")) << s.err;
  EXPECT_TRUE(contains(s.err, "the E3 primary is ipc2")) << s.err;

  // The standby serves the same.
  EXPECT_EQ(effective(ipc1, "prod"), "pricing=1");
  EXPECT_EQ(effective(ipc1, "sl"), "pricing=2");

  // Restarts change nothing.
  ipc2.restart();
  ipc1.restart();
  ipc1.wait_ready();
  for (cluster::Node* n : {&ipc2, &ipc1}) {
    SCOPED_TRACE(n->site());
    EXPECT_EQ(sql_value(*n, "SELECT rulekeeper.effective_version('pricing', 'prod')"), "1");
    EXPECT_EQ(sql_value(*n, "SELECT rulekeeper.effective_version('pricing', 'sl')"), "2");
    EXPECT_EQ(rule_state(*n, "pricing", "prod_pinned"), "true");
    EXPECT_EQ(rule_state(*n, "pricing", "sl_pinned"), "true");
  }
  EXPECT_EQ(state_fingerprint(ipc2), before);
}

TEST(Channels, SL2_UnpinnedSlSwitchesAndTheOldVersionStaysForRollback) {
  Pipeline p(kPorts, /*with_ipc1=*/false);
  sl1(p);
  cluster::Node& ipc2 = *p.ipc2;

  auto u = p.ok({"unpin", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing"});
  EXPECT_TRUE(contains(u.out, "unpinned rule pricing in sl at ipc2: 2 (pinned) -> 2")) << u.out;
  EXPECT_EQ(rule_state(ipc2, "pricing", "sl_pinned"), "false");

  auto a =
      p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "3", "--json"});
  auto doc = nlohmann::json::parse(a.out);
  EXPECT_EQ(doc["before"]["label"], "2");
  EXPECT_EQ(doc["after"]["label"], "3");
  EXPECT_TRUE(doc["changed"].get<bool>());
  EXPECT_EQ(std::to_string(doc["epoch"].get<long long>()), sql_value(ipc2, "SELECT rulekeeper.activation_epoch()"));

  EXPECT_EQ(sql_value(ipc2, "SELECT rulekeeper.effective_version('pricing', 'sl')"), "3");
  EXPECT_EQ(sql_value(ipc2, "SELECT rulekeeper.effective_version('pricing', 'prod')"), "1");
  EXPECT_EQ(lifecycle(ipc2, "pricing", "2"), "{inactive_sl}");
  EXPECT_EQ(lifecycle(ipc2, "pricing", "3"), "{sl_active}");
  EXPECT_EQ(rule_state(ipc2, "pricing", "sl_rollback_to"), "2");
}

TEST(Channels, SL3b_FailedVersionRollsBackAndNeitherEntersProd) {
  Pipeline p(kPorts, /*with_ipc1=*/false);
  sl1(p);
  sl2(p);
  cluster::Node& ipc2 = *p.ipc2;

  auto v = p.ok({"validate", "--yes", "--site", "e3", "--rule", "pricing", "--version", "3", "--result", "failed",
                 "--reason", "defect 4711"});
  EXPECT_TRUE(contains(v.out, "awaiting_sl -> sl_failed")) << v.out;
  EXPECT_EQ(qualification(ipc2, "pricing", "3"), "sl_failed");

  auto rb = p.ok({"rollback", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing"});
  EXPECT_TRUE(contains(rb.out, "rolled back rule pricing in sl at ipc2: 3 -> 2")) << rb.out;
  EXPECT_EQ(sql_value(ipc2, "SELECT rulekeeper.effective_version('pricing', 'sl')"), "2");

  // Prod unpinned, so what refuses below is the admission rule, not the pin.
  p.ok({"unpin", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing"});
  EXPECT_EQ(rule_state(ipc2, "pricing", "prod_pinned"), "false");
  const std::string before = state_fingerprint(ipc2);

  auto r3 =
      p.rulectl({"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--version", "3"});
  EXPECT_EQ(r3.exit_code, 3) << r3.err;
  EXPECT_TRUE(contains(r3.err, "channel prod does not admit version 3 of rule \"pricing\": it is sl_failed")) << r3.err;
  EXPECT_TRUE(contains(r3.err, "prod admits: sl_validated")) << r3.err;
  auto r2 =
      p.rulectl({"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--version", "2"});
  EXPECT_EQ(r2.exit_code, 3) << r2.err;
  EXPECT_TRUE(contains(r2.err, "it is awaiting_sl")) << r2.err;

  EXPECT_EQ(state_fingerprint(ipc2), before);
  EXPECT_EQ(effective(ipc2, "prod"), "pricing=1");
  EXPECT_EQ(lifecycle(ipc2, "pricing", "3"), "{inactive_sl}");
  EXPECT_EQ(qualification(ipc2, "pricing", "2"), "awaiting_sl");
}

TEST(Channels, SL4_ValidatedVersionToProdAndProdRollsStraightBack) {
  Pipeline p(kPorts, /*with_ipc1=*/false);
  sl1(p);
  sl2(p);
  sl3b(p);
  cluster::Node& ipc2 = *p.ipc2;

  EXPECT_EQ(p.create_version("pricing", R"({"rate": 4})"), "4");
  p.ship();
  EXPECT_EQ(qualification(ipc2, "pricing", "4"), "awaiting_sl");
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "4"});
  p.ok({"validate", "--yes", "--site", "e3", "--rule", "pricing", "--version", "4", "--result", "passed"});
  EXPECT_EQ(qualification(ipc2, "pricing", "4"), "sl_validated");
  auto a = p.ok({"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--version", "4"});
  EXPECT_TRUE(contains(a.out, "activated rule pricing in prod at ipc2: 1 -> 4")) << a.out;

  EXPECT_EQ(effective(ipc2, "prod"), "pricing=4");
  const std::string v1 = lifecycle(ipc2, "pricing", "1");
  EXPECT_TRUE(contains(v1, "inactive_prod")) << v1;
  EXPECT_FALSE(contains(v1, "prod_active")) << v1;
  EXPECT_EQ(rule_state(ipc2, "pricing", "prod_rollback_to"), "1");

  auto rb = p.ok({"rollback", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing"});
  EXPECT_TRUE(contains(rb.out, "rolled back rule pricing in prod at ipc2: 4 -> 1")) << rb.out;
  EXPECT_EQ(effective(ipc2, "prod"), "pricing=1");
  EXPECT_TRUE(contains(lifecycle(ipc2, "pricing", "1"), "prod_active"));
  EXPECT_TRUE(contains(lifecycle(ipc2, "pricing", "4"), "inactive_prod"));
}

TEST(Channels, GreenBecomesBlue_CutoverMovesValidatedRulesInOneEpoch) {
  Pipeline p(kPorts, /*with_ipc1=*/false);
  for (const char* rule : {"pricing", "risk", "fees"}) p.create_rule(rule);
  p.create_version("pricing", R"({"rate": 1})");
  p.create_version("pricing", R"({"rate": 2})");
  p.create_version("risk", R"({"max": 10})");
  p.create_version("fees", R"({"fee": 0.5})");
  p.ship();
  cluster::Node& ipc2 = *p.ipc2;

  p.to_prod("pricing", "1");
  // SL (green): pricing 2 and risk 1 validated, fees 1 still under test.
  for (const auto& [rule, label] : std::vector<std::pair<std::string, std::string>>{{"pricing", "2"}, {"risk", "1"}}) {
    p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", rule, "--version", label});
    p.ok({"validate", "--yes", "--site", "e3", "--rule", rule, "--version", label, "--result", "passed"});
  }
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "fees", "--version", "1"});
  EXPECT_EQ(effective(ipc2, "prod"), "pricing=1");

  auto c = p.ok({"cutover", "--yes", "--site", "e3", "--json"});
  auto doc = nlohmann::json::parse(c.out);
  const auto& rep = doc["report"];
  ASSERT_EQ(rep["moved"].size(), 2u) << c.out;
  EXPECT_EQ(rep["moved"][0]["rule_key"], "pricing");
  EXPECT_EQ(rep["moved"][0]["from"], "1");
  EXPECT_EQ(rep["moved"][0]["to"], "2");
  EXPECT_EQ(rep["moved"][1]["rule_key"], "risk");
  EXPECT_TRUE(rep["moved"][1]["from"].is_null());
  ASSERT_EQ(rep["stays"].size(), 1u) << c.out;
  EXPECT_EQ(rep["stays"][0]["rule_key"], "fees");
  EXPECT_TRUE(contains(rep["stays"][0]["why"].get<std::string>(), "awaiting_sl, not sl_validated")) << c.out;

  // One epoch for both moves, and it is the newest.
  const std::string epoch = std::to_string(rep["epoch"].get<long long>());
  EXPECT_EQ(sql_value(ipc2, "SELECT count(DISTINCT epoch) FROM rulekeeper.activation WHERE channel = 'prod'"), "1");
  EXPECT_EQ(sql_value(ipc2, "SELECT min(epoch)::text FROM rulekeeper.activation WHERE channel = 'prod'"), epoch);
  EXPECT_EQ(sql_value(ipc2, "SELECT rulekeeper.activation_epoch()"), epoch);
  EXPECT_EQ(effective(ipc2, "prod"), "pricing=2,risk=1");
  EXPECT_EQ(effective(ipc2, "sl"), "fees=1,pricing=2,risk=1");

  // Again: nothing moves, and the report still says why fees stays.
  auto again = p.ok({"cutover", "--yes", "--site", "e3"});
  EXPECT_TRUE(contains(again.out, "nothing moved")) << again.out;
  EXPECT_TRUE(contains(again.out, "stays: sl version is awaiting_sl, not sl_validated")) << again.out;
  EXPECT_EQ(sql_value(ipc2, "SELECT rulekeeper.activation_epoch()"), epoch);
}

TEST(Channels, RefusedActivationsSayWhyAndChangeNothing) {
  Pipeline p(kPorts, /*with_ipc1=*/false);
  p.create_rule("pricing");
  p.create_version("pricing", R"({"rate": 1})");
  p.create_version("pricing", R"({"rate": 2})");
  p.ship();
  cluster::Node& ipc2 = *p.ipc2;
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "1"});
  p.ok({"validate", "--yes", "--site", "e3", "--rule", "pricing", "--version", "1", "--result", "failed"});
  EXPECT_EQ(qualification(ipc2, "pricing", "1"), "sl_failed");
  const std::string before = state_fingerprint(ipc2);

  auto unknown =
      p.rulectl({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "nope", "--version", "1"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.err;
  EXPECT_TRUE(contains(unknown.err, "rule \"nope\" does not exist")) << unknown.err;
  auto noversion =
      p.rulectl({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "9"});
  EXPECT_EQ(noversion.exit_code, 1) << noversion.err;
  EXPECT_TRUE(contains(noversion.err, "version 9 of rule \"pricing\" does not exist")) << noversion.err;

  auto failed =
      p.rulectl({"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--version", "1"});
  EXPECT_EQ(failed.exit_code, 3) << failed.err;
  EXPECT_TRUE(contains(failed.err, "it is sl_failed")) << failed.err;
  EXPECT_TRUE(contains(failed.err, "SQLSTATE 23514")) << failed.err;
  auto awaiting =
      p.rulectl({"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--version", "2"});
  EXPECT_EQ(awaiting.exit_code, 3) << awaiting.err;
  EXPECT_TRUE(contains(awaiting.err, "it is awaiting_sl")) << awaiting.err;
  EXPECT_TRUE(contains(awaiting.err, "hint: prod admits")) << awaiting.err;

  // sl_failed is final: validating it again is refused too.
  auto again =
      p.rulectl({"validate", "--yes", "--site", "e3", "--rule", "pricing", "--version", "1", "--result", "passed"});
  EXPECT_EQ(again.exit_code, 3) << again.err;
  // Activation happens at E3 only.
  auto at_e2 = p.rulectl({"activate", "--site", "e2", "--channel", "sl", "--rule", "pricing", "--version", "1"});
  EXPECT_EQ(at_e2.exit_code, 3) << at_e2.err;
  EXPECT_TRUE(contains(at_e2.err, "environment e3")) << at_e2.err;
  // Usage errors: a bad channel, an unknown site.
  EXPECT_EQ(p.rulectl({"activate", "--yes", "--site", "e3", "--channel", "blue", "--rule", "pricing", "--version", "2"})
                .exit_code,
            2);
  EXPECT_EQ(p.rulectl({"activate", "--yes", "--site", "ipc9", "--channel", "sl", "--rule", "pricing", "--version", "2"})
                .exit_code,
            2);

  EXPECT_EQ(state_fingerprint(ipc2), before);
  EXPECT_EQ(effective(ipc2, "prod"), "");

  // Deactivation: once it goes, twice there is nothing to deactivate (exit 1).
  auto d = p.ok({"deactivate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing"});
  EXPECT_TRUE(contains(d.out, "deactivated rule pricing in sl at ipc2: 1 -> (none)")) << d.out;
  EXPECT_EQ(effective(ipc2, "sl"), "");
  EXPECT_EQ(lifecycle(ipc2, "pricing", "1"), "{inactive_sl}");
  auto d2 = p.rulectl({"deactivate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing"});
  EXPECT_EQ(d2.exit_code, 1) << d2.err;
  EXPECT_TRUE(contains(d2.err, "is not active in sl")) << d2.err;
}

TEST(Channels, TwoOperatorsRacingWithTheSameExpectedEpochOneWins) {
  Pipeline p(kPorts, /*with_ipc1=*/false);
  p.create_rule("pricing");
  for (int i = 1; i <= 3; ++i) p.create_version("pricing", "{\"rate\": " + std::to_string(i) + "}");
  p.ship();
  cluster::Node& ipc2 = *p.ipc2;
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "1"});
  const long long seen = std::stoll(rule_state(ipc2, "pricing", "sl_epoch"));

  struct Outcome {
    bool won = false;
    std::string sqlstate;
    std::string message;
  };
  Outcome outcomes[2];
  std::mutex m;
  std::condition_variable cv;
  int ready = 0;
  auto racer = [&](int i, std::string label) {
    auto c = ipc2.connect();  // each operator its own connection, opened before the barrier
    {
      std::unique_lock<std::mutex> lock(m);
      ++ready;
      cv.notify_all();
      cv.wait(lock, [&] { return ready == 2; });
    }
    try {
      pqxx::work tx(*c);
      tx.exec_params("SELECT rulekeeper.activate('pricing', $1, 'sl', false, $2)", label, seen);
      tx.commit();
      outcomes[i].won = true;
    } catch (const pqxx::serialization_failure& e) {
      // libpqxx 6.4: SQLSTATE 40001 is this class (not an sql_error).
      outcomes[i].sqlstate = "40001";
      outcomes[i].message = e.what();
    } catch (const pqxx::sql_error& e) {
      outcomes[i].sqlstate = e.sqlstate();
      outcomes[i].message = e.what();
    } catch (const std::exception& e) {
      outcomes[i].message = e.what();
    }
  };
  std::thread a(racer, 0, "2"), b(racer, 1, "3");
  a.join();
  b.join();

  ASSERT_NE(outcomes[0].won, outcomes[1].won) << outcomes[0].message << " / " << outcomes[1].message;
  const Outcome& loser = outcomes[0].won ? outcomes[1] : outcomes[0];
  const std::string winner_label = outcomes[0].won ? "2" : "3";
  EXPECT_EQ(loser.sqlstate, "40001") << loser.message;
  EXPECT_TRUE(contains(loser.message, "changed since you looked")) << loser.message;
  EXPECT_EQ(sql_value(ipc2, "SELECT rulekeeper.effective_version('pricing', 'sl')"), winner_label);
  EXPECT_EQ(sql_value(ipc2, "SELECT count(*) FROM rulekeeper.activation_history WHERE channel = 'sl'"), "2");

  // Through rulectl: a stale --expected-epoch is refused (exit 3) …
  const std::string before = state_fingerprint(ipc2);
  auto stale = p.rulectl({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "1",
                          "--expected-epoch", std::to_string(seen)});
  EXPECT_EQ(stale.exit_code, 3) << stale.err;
  EXPECT_TRUE(contains(stale.err, "changed since you looked")) << stale.err;
  EXPECT_TRUE(contains(stale.err, "SQLSTATE 40001")) << stale.err;
  EXPECT_EQ(state_fingerprint(ipc2), before);
  // … and the current one goes through.
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "1",
        "--expected-epoch", rule_state(ipc2, "pricing", "sl_epoch")});
  EXPECT_EQ(sql_value(ipc2, "SELECT rulekeeper.effective_version('pricing', 'sl')"), "1");
}
