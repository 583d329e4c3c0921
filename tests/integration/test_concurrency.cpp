// Concurrency under real load (issue #8, item 2; the deterministic
// interleavings are isolation specs in tests/isolation): 8 writers at once
// at the E3 primary — activations (some rolled back), hotfixes, imports —
// then, by counting: origin_seq is gapless, every change is journaled exactly
// once, version vectors are exact (primary and its standby alike), epochs
// follow commit order. Meanwhile readers at the primary and at the standby
// check that no label a channel serves is missing from their site.
// Ports: integration_concurrency in tests/ports.txt (ipc2, ipc1).
#include <atomic>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::sql_value;

namespace {

constexpr int kPrimary = ports::integration_concurrency[0];
constexpr int kStandby = ports::integration_concurrency[1];
constexpr int kWriters = 8;
constexpr int kRounds = 24;

std::string conninfo(const cluster::Node& n) {
  return fmt::format("host=127.0.0.1 port={} user=postgres dbname=rules connect_timeout=5", n.port());
}

// A bundle "from e2": one rule and labels 1..n (bodies {"rate": label}),
// signed with the primary's key (trusted there for e2).
std::string bundle(pqxx::connection& c, const std::string& rule, int n) {
  pqxx::nontransaction tx(c);
  return tx
      .exec_params(
          "SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))::text "
          "FROM ("
          " SELECT jsonb_build_object('format', 'rulekeeper-bundle/1',"
          "  'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),"
          "  'rules', jsonb_build_array(jsonb_build_object('rule_key', $1::text, 'ruleset', 'conc')),"
          "  'versions', (SELECT jsonb_agg(jsonb_build_object('rule_key', $1::text, 'label', l::text,"
          "     'body', jsonb_build_object('rate', l),"
          "     'content_sha256', rulekeeper.content_sha256(jsonb_build_object('rate', l))))"
          "   FROM generate_series(1, $2::int) l)) b) x",
          rule, n)[0][0]
      .c_str();
}

class Concurrency : public ::testing::Test {
protected:
  void SetUp() override {
    if (!cluster::extension_installed()) GTEST_SKIP() << "rulekeeper is not installed";
  }
};

}  // namespace

TEST_F(Concurrency, EightWritersGaplessJournalExactVectorsEpochsInCommitOrder) {
  cluster::ClusterSet set(rulekeeper::testing::fresh_cluster_options());
  cluster::NodeOptions po{"ipc2", "e3", kPrimary};
  po.extra_settings.push_back({"track_commit_timestamp", "on"});
  cluster::Node& primary = set.add(po);
  primary.init_primary();
  primary.create_database();
  rulekeeper::testing::trust_own_key(primary, "e2");
  cluster::Node& standby = set.add({"ipc1", "e3", kStandby});
  standby.init_standby_of(primary);
  standby.wait_ready();

  // Rules w0..w7 with versions 1..3; w6, w7 live in prod (hotfix writers).
  {
    pqxx::connection c(conninfo(primary));
    pqxx::connection cb(conninfo(primary));  // for building bundles beside tx
    pqxx::nontransaction tx(c);
    tx.exec(
        "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) "
        "SELECT 'conc', array_agg('/f' || g) FROM generate_series(0, 99) g");
    for (int w = 0; w < kWriters; ++w) {
      const std::string rule = fmt::format("w{}", w);
      tx.exec_params("SELECT rulekeeper.import_release($1::jsonb)", bundle(cb, rule, 3));
      tx.exec_params("SELECT rulekeeper.activate($1, '1', 'sl')", rule);
      if (w >= 6) {
        tx.exec_params("SELECT rulekeeper.transition($1, '1', 'sl_validated', 'setup')", rule);
        tx.exec_params("SELECT rulekeeper.activate($1, '1', 'prod')", rule);
        tx.exec_params("SELECT rulekeeper.deactivate($1, 'sl')", rule);
      }
    }
  }
  const long long journal_before = std::stoll(sql_value(primary, "SELECT count(*) FROM rulekeeper.journal"));
  const long long epochs_before = std::stoll(sql_value(primary, "SELECT count(*) FROM rulekeeper.activation_history"));

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> errors;
  std::vector<long long> returned_epochs;
  std::atomic<long long> expected_entries{0};
  std::atomic<long long> expected_epochs{0};
  std::atomic<long long> reads{0};
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> g(mu);
    errors.push_back(what);
  };

  // Readers: what a channel serves must exist at the reading site. Two
  // statements on purpose (versions are never deleted: once seen, always there).
  auto reader = [&](const cluster::Node* site) {
    try {
      pqxx::connection c(conninfo(*site));
      while (!stop) {
        for (int w = 0; w < kWriters; ++w) {
          const std::string rule = fmt::format("w{}", w);
          for (const char* channel : {"sl", "prod"}) {
            pqxx::nontransaction tx(c);
            pqxx::result r = tx.exec_params("SELECT rulekeeper.effective_version($1, $2)", rule, channel);
            if (r[0][0].is_null()) continue;
            const std::string label = r[0][0].c_str();
            if (tx.exec_params("SELECT 1 FROM rulekeeper.rule_version WHERE rule_key = $1 AND label = $2", rule, label)
                    .empty())
              fail(fmt::format("{} serves {} {} in {}, a label it lacks", site->site(), rule, label, channel));
            ++reads;
          }
        }
        pqxx::nontransaction tx(c);
        pqxx::result orphans = tx.exec(
            "SELECT e.rule_key, e.label FROM rulekeeper.effective_rules('prod') e "
            "WHERE NOT EXISTS (SELECT 1 FROM rulekeeper.rule_version v WHERE v.rule_key = e.rule_key AND v.label = "
            "e.label)");
        if (!orphans.empty()) fail(site->site() + ": effective_rules returned a label without its version");
      }
    } catch (const std::exception& e) {
      fail(site->site() + " reader: " + e.what());
    }
  };

  auto writer = [&](int w) {
    try {
      pqxx::connection c(conninfo(primary));
      const std::string rule = fmt::format("w{}", w);
      for (int i = 0; i < kRounds; ++i) {
        const std::string fresh = fmt::format("{}-{}", rule, i);
        const std::string fresh_bundle = (w == 4 || w == 5) ? bundle(c, fresh, 2) : std::string();
        pqxx::nontransaction tx(c);
        if (w < 4) {
          // Activations in sl, alternating 2 and 3; every 4th rolled back.
          const std::string label = (i % 2 == 0) ? "2" : "3";
          if (i % 4 == 3) {
            tx.exec("BEGIN");
            tx.exec_params("SELECT rulekeeper.activate($1, $2, 'sl')", rule, label);
            tx.exec("ROLLBACK");
            continue;
          }
          // After a rollback the channel may already hold `label`: then nothing changes.
          const std::string cur = tx.exec_params("SELECT rulekeeper.effective_version($1, 'sl')", rule)[0][0].c_str();
          long long e = tx.exec_params("SELECT rulekeeper.activate($1, $2, 'sl')", rule, label)[0][0].as<long long>();
          if (cur != label) {
            expected_entries += 1;
            expected_epochs += 1;
            std::lock_guard<std::mutex> g(mu);
            returned_epochs.push_back(e);
          }
        } else if (w < 6) {
          // Imports of new rules (rule + 2 versions + release = 4 entries).
          tx.exec_params("SELECT rulekeeper.import_release($1::jsonb)", fresh_bundle);
          expected_entries += 4;
        } else {
          // Hotfixes (version + hotfix + prod activation = 3 entries, one
          // epoch). Each adds /f<i> and keeps the earlier ones, so the hotfix
          // it replaces in prod is included (a hotfix that changes a value an
          // earlier hotfix set is held by the gate, whose acknowledgement
          // hotfix() cannot give).
          pqxx::result r = tx.exec_params(
              "SELECT (rulekeeper.hotfix($1, jsonb_build_object('rate', 1) || "
              "(SELECT jsonb_object_agg('f' || g, true) FROM generate_series(0, $2::int) g), 'load') ->> "
              "'epoch')::bigint",
              rule, i);
          expected_entries += 3;
          expected_epochs += 1;
          std::lock_guard<std::mutex> g(mu);
          returned_epochs.push_back(r[0][0].as<long long>());
        }
      }
    } catch (const std::exception& e) {
      fail(fmt::format("writer {}: {}", w, e.what()));
    }
  };

  std::vector<std::thread> readers;
  readers.emplace_back(reader, &primary);
  readers.emplace_back(reader, &standby);
  readers.emplace_back(reader, &standby);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) writers.emplace_back(writer, w);
  for (auto& t : writers) t.join();
  standby.wait_replayed(primary);
  stop = true;
  for (auto& t : readers) t.join();
  for (const auto& e : errors) ADD_FAILURE() << e;
  ASSERT_TRUE(errors.empty());
  EXPECT_GT(reads.load(), 0);

  // Every change journaled exactly once, gapless, one origin.
  const long long total = journal_before + expected_entries.load();
  EXPECT_EQ(sql_value(primary, "SELECT count(*) FROM rulekeeper.journal"), std::to_string(total));
  EXPECT_EQ(sql_value(primary, "SELECT max(origin_seq) FROM rulekeeper.journal"), std::to_string(total));
  EXPECT_EQ(sql_value(primary, "SELECT count(DISTINCT origin_seq) FROM rulekeeper.journal"), std::to_string(total));
  // Version vectors: exact, and the standby agrees once it has replayed.
  const std::string vv = sql_value(primary, "SELECT rulekeeper.version_vector()::text");
  EXPECT_EQ(nlohmann::json::parse(vv), nlohmann::json::parse(fmt::format(R"({{"ipc2:1": {}}})", total)));
  EXPECT_EQ(sql_value(standby, "SELECT rulekeeper.version_vector()::text"), vv);
  EXPECT_EQ(sql_value(standby, "SELECT count(*) FROM rulekeeper.journal"), std::to_string(total));
  // Epochs: one per committed activation transaction, all distinct, the
  // ones the callers were given, the latest is activation_epoch().
  EXPECT_EQ(sql_value(primary, "SELECT count(DISTINCT epoch) FROM rulekeeper.activation_history"),
            std::to_string(epochs_before + expected_epochs.load()));
  {
    std::string list;
    for (long long e : returned_epochs) list += (list.empty() ? "" : ",") + std::to_string(e);
    EXPECT_EQ(sql_value(primary,
                        "SELECT count(*) FROM unnest(string_to_array($1, ',')::bigint[]) e "
                        "WHERE NOT EXISTS (SELECT 1 FROM rulekeeper.activation_history h WHERE h.epoch = e)",
                        list),
              "0");
    EXPECT_EQ(sql_value(primary, "SELECT count(DISTINCT e) FROM unnest(string_to_array($1, ',')::bigint[]) e", list),
              std::to_string(returned_epochs.size()));
  }
  EXPECT_EQ(sql_value(primary, "SELECT rulekeeper.activation_epoch() = max(epoch) FROM rulekeeper.activation_history"),
            "t");
  // Commit order: along origin_seq, commit timestamps never go back, and the
  // epochs journaled with activations never go back either.
  EXPECT_EQ(
      sql_value(primary,
                "SELECT count(*) FROM (SELECT pg_xact_commit_timestamp(xmin) AS t, "
                "lag(pg_xact_commit_timestamp(xmin)) OVER (ORDER BY origin_seq) AS prev FROM rulekeeper.journal) x "
                "WHERE t < prev"),
      "0");
  EXPECT_EQ(sql_value(primary,
                      "SELECT count(*) FROM (SELECT (payload ->> 'epoch')::bigint AS e, "
                      "lag((payload ->> 'epoch')::bigint) OVER (ORDER BY origin_seq) AS prev FROM rulekeeper.journal "
                      "WHERE kind = 'activation') x WHERE e < prev"),
            "0");
  // A transaction's entries are contiguous: no other transaction's entry
  // falls between the first and last origin_seq of one transaction (xmin).
  EXPECT_EQ(
      sql_value(
          primary,
          "SELECT count(*) FROM (SELECT xmin::text AS x, min(origin_seq) AS lo, max(origin_seq) AS hi, count(*) AS n "
          "FROM rulekeeper.journal GROUP BY xmin::text) t WHERE hi - lo + 1 <> n"),
      "0");
  EXPECT_EQ(sql_value(primary, "SELECT count(*) FROM rulekeeper.verify_checksums()"), "0");
  // Eight writers, one hash chain: each entry links to the one before it
  // (the previous hash travels with the origin_seq cursor under the site
  // lock), and the state re-derived from it is the tables' (docs/tamper-evidence.md).
  EXPECT_EQ(sql_value(primary, "SELECT count(*) FROM rulekeeper.verify_history()"), "0");
  EXPECT_EQ(sql_value(primary, "SELECT rulekeeper.snapshot_checksum('all')"),
            sql_value(standby, "SELECT rulekeeper.snapshot_checksum('all')"));
}
