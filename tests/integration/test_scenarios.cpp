// The seed's E3 failure scenarios on real clusters: SL3 (failover to IPC1,
// which never received the newest version), PR1 (readers on the standby
// while replay pauses and resumes during activations), and IPC2 rebuilt as a
// standby of IPC1 (its pods, online but not taking traffic, read exactly what
// IPC1 serves). Ports: integration_scenarios in
// tests/ports.txt (e1, e2, ipc2, ipc1).
#include <atomic>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline.hpp"

using namespace rulekeeper;
using namespace std::chrono_literals;
using rulekeeper::testing::effective;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;

namespace {

constexpr int kPorts = ports::integration_scenarios[0];

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every column of what `channel`'s pods read, as one text (epochs included).
std::string effective_rows(const cluster::Node& n, const std::string& channel) {
  return sql_value(n,
                   "SELECT coalesce(string_agg(format('%s|%s|%s|%s|%s', rule_key, label, body, content_sha256, "
                   "epoch), E'\\n' ORDER BY rule_key), '') FROM rulekeeper.effective_rules($1)",
                   channel);
}

}  // namespace

TEST(Scenarios, SL3_FailoverToIpc1ThatNeverReceivedTheNewVersion) {
  Pipeline p(kPorts);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  p.create_rule("pricing");
  for (int i = 1; i <= 4; ++i) p.create_version("pricing", "{\"rate\": " + std::to_string(i) + "}");
  p.ship();
  p.to_prod("pricing", "1");
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "2"});
  ipc1.wait_replayed(ipc2);
  const std::string epoch_before = sql_value(ipc1, "SELECT rulekeeper.activation_epoch()");
  EXPECT_EQ(effective(ipc1, "sl"), "pricing=2");

  // ipc1 is stopped, so it never receives 5 (a paused replay would not do:
  // promotion replays everything received first).
  ipc1.stop();
  EXPECT_EQ(p.create_version("pricing", R"({"rate": 5})"), "5");
  p.ship();  // --to e3 resolves to ipc2 with ipc1 down
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "5"});
  EXPECT_EQ(effective(ipc2, "sl"), "pricing=5");

  // IPC2 is lost; IPC1 is started and promoted.
  ipc2.kill9();
  ipc1.start();
  ipc1.wait_ready();
  ipc1.promote();
  ASSERT_FALSE(ipc1.in_recovery());

  EXPECT_EQ(sql_value(ipc1, "SELECT count(*) FROM rulekeeper.rule_version WHERE rule_key = 'pricing' AND label = '5'"),
            "0");
  EXPECT_EQ(sql_value(ipc1, "SELECT max(version) FROM rulekeeper.rule_version WHERE rule_key = 'pricing'"), "4");
  EXPECT_EQ(effective(ipc1, "sl"), "pricing=2");
  EXPECT_EQ(effective(ipc1, "prod"), "pricing=1");
  EXPECT_EQ(sql_value(ipc1, "SELECT rulekeeper.activation_epoch()"), epoch_before);
  EXPECT_EQ(sql_value(ipc1,
                      "SELECT format('%s/%s/%s', sl_label, prod_label, sl_rollback_to) FROM "
                      "rulekeeper.rule_state WHERE rule_key = 'pricing'"),
            "2/1/1");
  EXPECT_EQ(sql_value(ipc1,
                      "SELECT lifecycle::text FROM rulekeeper.version_state "
                      "WHERE rule_key = 'pricing' AND label = '2'"),
            "{sl_active}");

  // `e3` now resolves to ipc1 (ipc2 is down); the next activation there gets
  // an epoch of the new incarnation, above every earlier one.
  auto same = p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "2"});
  EXPECT_TRUE(contains(same.out, "at ipc1")) << same.out;
  EXPECT_TRUE(contains(same.out, "nothing changed")) << same.out;
  auto next =
      p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "3", "--json"});
  const long long epoch = nlohmann::json::parse(next.out)["epoch"].get<long long>();
  EXPECT_GT(epoch, std::stoll(epoch_before));
  EXPECT_GT(epoch >> 32, std::stoll(epoch_before) >> 32);
  EXPECT_EQ(effective(ipc1, "sl"), "pricing=3");
}

TEST(Scenarios, PR1_StandbyReadersNeverSeeAnActivationOfAMissingVersion) {
  Pipeline p(kPorts);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  constexpr int kRules = 12;
  std::vector<std::string> rules;
  for (int i = 0; i < kRules; ++i) {
    rules.push_back(fmt::format("r{:02}", i));
    p.create_rule(rules.back(), "pr1");
    p.create_version(rules.back(), fmt::format("{{\"n\": {}}}", i));
  }
  p.ok({"release", "--from", "e1", "--to", "e2"});
  for (const auto& r : rules) p.ok({"validate", "--site", "e2", "--rule", r, "--version", "1", "--result", "passed"});
  // One bundle per rule, so that versions keep arriving during the test.
  std::vector<std::string> bundles;
  for (const auto& r : rules)
    bundles.push_back(sql_value(*p.e2, "SELECT rulekeeper.export_release(ARRAY[$1])::text", r));
  ipc1.wait_replayed(ipc2);

  std::atomic<bool> writer_done{false};
  std::string writer_error;
  std::thread writer([&] {
    try {
      auto c = ipc2.connect();
      for (std::size_t i = 0; i < bundles.size(); ++i) {
        {
          pqxx::work tx(*c);
          tx.exec_params("SELECT rulekeeper.import_release($1::jsonb)", bundles[i]);
          tx.commit();
        }
        {
          pqxx::work tx(*c);
          tx.exec_params("SELECT rulekeeper.activate($1, '1', 'sl')", rules[i]);
          tx.commit();
        }
        std::this_thread::sleep_for(40ms);
      }
    } catch (const std::exception& e) {
      writer_error = e.what();
    }
    writer_done = true;
  });

  long long checks = 0, orphans = 0, hidden = 0, max_rows = 0, epoch_went_back = 0, last_epoch = 0;
  std::string reader_error;
  std::atomic<bool> stop_reader{false};
  std::thread reader([&] {
    try {
      auto c = ipc1.connect();
      pqxx::nontransaction tx(*c);
      while (!stop_reader) {
        // One statement: what pods read, activations without their version,
        // and activations the join would hide.
        pqxx::result r = tx.exec(
            "SELECT (SELECT count(*) FROM rulekeeper.effective_rules('sl') e WHERE NOT EXISTS ("
            "          SELECT 1 FROM rulekeeper.rule_version v WHERE v.rule_key = e.rule_key AND v.label = e.label)),"
            "       (SELECT count(*) FROM rulekeeper.activation a WHERE NOT EXISTS ("
            "          SELECT 1 FROM rulekeeper.rule_version v WHERE v.rule_key = a.rule_key AND v.label = a.label)),"
            "       (SELECT count(*) FROM rulekeeper.activation WHERE channel = 'sl')"
            "         - (SELECT count(*) FROM rulekeeper.effective_rules('sl')),"
            "       (SELECT count(*) FROM rulekeeper.effective_rules('sl')),"
            "       rulekeeper.activation_epoch()");
        orphans += r[0][0].as<long long>() + r[0][1].as<long long>();
        hidden += r[0][2].as<long long>();
        max_rows = std::max(max_rows, r[0][3].as<long long>());
        const long long e = r[0][4].as<long long>();
        if (e < last_epoch) ++epoch_went_back;
        last_epoch = e;
        ++checks;
      }
    } catch (const std::exception& e) {
      reader_error = e.what();
    }
  });

  // Pause and resume replay on ipc1 while the writer works (bounded: at least
  // 3 s and until the writer is done, at most 60 s).
  const auto start = std::chrono::steady_clock::now();
  int pauses = 0;
  while ((!writer_done || std::chrono::steady_clock::now() - start < 3s) &&
         std::chrono::steady_clock::now() - start < 60s) {
    ipc1.pause_replay();
    ++pauses;
    std::this_thread::sleep_for(150ms);
    ipc1.resume_replay();
    std::this_thread::sleep_for(100ms);
  }
  writer.join();
  ipc1.resume_replay();
  ipc1.wait_replayed(ipc2);
  stop_reader = true;
  reader.join();

  EXPECT_EQ(writer_error, "");
  EXPECT_EQ(reader_error, "");
  EXPECT_GT(pauses, 0);
  EXPECT_GT(checks, 0);
  EXPECT_EQ(orphans, 0) << "in " << checks << " checks";
  EXPECT_EQ(hidden, 0) << "in " << checks << " checks";
  EXPECT_EQ(epoch_went_back, 0);
  EXPECT_EQ(max_rows, kRules);
  EXPECT_EQ(effective_rows(ipc1, "sl"), effective_rows(ipc2, "sl"));
  EXPECT_EQ(sql_value(ipc1, "SELECT count(*) FROM rulekeeper.effective_rules('sl')"), std::to_string(kRules));
}

TEST(Scenarios, Ipc2RebuiltAsStandbyOfIpc1ReadsExactlyIpc1sActivations) {
  Pipeline p(kPorts);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  p.create_rule("pricing");
  p.create_rule("risk");
  p.create_version("pricing", R"({"rate": 1})");
  p.create_version("pricing", R"({"rate": 2})");
  p.create_version("risk", R"({"max": 10})");
  p.ship();
  p.to_prod("pricing", "1");
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing", "--version", "2"});
  p.ok({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "risk", "--version", "1"});
  ipc1.wait_replayed(ipc2);

  // IPC2 goes down; AMP fails over to IPC1 and keeps working there.
  ipc2.kill9();
  ipc1.promote();
  p.ok({"validate", "--yes", "--site", "e3", "--rule", "pricing", "--version", "2", "--result", "passed"});
  auto a = p.ok({"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--version", "2"});
  EXPECT_TRUE(contains(a.out, "at ipc1")) << a.out;
  p.ok({"validate", "--yes", "--site", "e3", "--rule", "risk", "--version", "1", "--result", "passed"});
  p.ok({"cutover", "--yes", "--site", "e3"});
  EXPECT_EQ(effective(ipc1, "prod"), "pricing=2,risk=1");

  // IPC2 is rebuilt as a standby of IPC1 (its data destroyed; rewind comes later).
  ipc2.destroy();
  ipc2.init_standby_of(ipc1);
  ipc2.wait_ready();
  ipc2.wait_replayed(ipc1);
  ASSERT_TRUE(ipc2.in_recovery());

  // Its pods, online but not taking traffic, read exactly what IPC1 serves.
  for (const char* channel : {"prod", "sl"}) {
    SCOPED_TRACE(channel);
    EXPECT_EQ(effective_rows(ipc2, channel), effective_rows(ipc1, channel));
  }
  EXPECT_EQ(effective(ipc2, "prod"), "pricing=2,risk=1");
  EXPECT_EQ(effective(ipc2, "sl"), "pricing=2,risk=1");
  EXPECT_EQ(sql_value(ipc2, "SELECT rulekeeper.activation_epoch()"),
            sql_value(ipc1, "SELECT rulekeeper.activation_epoch()"));

  // Writes to ipc2 are refused, naming ipc1; a change at ipc1 reaches ipc2's readers.
  auto refused = p.rulectl({"rollback", "--yes", "--site", "ipc2", "--channel", "prod", "--rule", "pricing"});
  EXPECT_EQ(refused.exit_code, 3) << refused.err;
  EXPECT_TRUE(contains(refused.err, "the E3 primary is ipc1")) << refused.err;
  auto rb =
      p.ok({"rollback", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing", "--wait-replicated", "60"});
  EXPECT_TRUE(contains(rb.out, "2 -> 1")) << rb.out;
  EXPECT_TRUE(contains(rb.out, "replicated to ipc2")) << rb.out;
  EXPECT_EQ(effective(ipc2, "prod"), "pricing=1,risk=1");
  EXPECT_EQ(effective_rows(ipc2, "prod"), effective_rows(ipc1, "prod"));
}
