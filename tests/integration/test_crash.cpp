// Crash safety (issue #8, item 4): kill -9 the E3 primary in the middle of a
// large import_release (50,000 versions, mid-statement), a hotfix and a
// transition (open, before COMMIT), and while a COMMIT waits for a
// synchronous standby that is away (remote_apply: the commit record is
// written, the client never hears back). After each restart: the change is
// entirely there or entirely absent, verify_checksums() is empty, the bucket
// sums add up to what the rows say, version vectors agree with the journal
// (per origin: max(origin_seq) = count), and pg_amcheck finds no corruption.
// Port: integration_crash in tests/ports.txt (ipc2).
#include <atomic>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline.hpp"
#include "pgnode/process.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::sql_value;

namespace {

constexpr int kPort = ports::integration_crash[0];

std::string conninfo(const cluster::Node& n) {
  return fmt::format("host=127.0.0.1 port={} user=postgres dbname=rules connect_timeout=5", n.port());
}

// Waits (bounded) until `sql` returns 't'; false on timeout.
bool eventually(const cluster::Node& n, const std::string& sql, int pid, std::chrono::seconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (sql_value(n, sql, pid) == "t") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Runs `statements` on its own connection in a thread (the statement the
// server is killed in never returns normally); reports its backend pid.
class Victim {
public:
  Victim(const cluster::Node& n, std::vector<std::string> statements) : conn_(conninfo(n)) {
    pid_ = std::stoi(pqxx::nontransaction(conn_).exec("SELECT pg_backend_pid()")[0][0].c_str());
    thread_ = std::thread([this, statements] {
      try {
        pqxx::nontransaction tx(conn_);
        for (const auto& s : statements) tx.exec(s);
        finished_ = true;
      } catch (const std::exception&) {
        // The server died under it: expected.
      }
    });
  }
  ~Victim() {
    if (thread_.joinable()) thread_.join();
  }
  int pid() const { return pid_; }
  bool finished() const { return finished_; }
  void join() { thread_.join(); }

private:
  pqxx::connection conn_;
  int pid_ = 0;
  std::thread thread_;
  std::atomic<bool> finished_{false};
};

// Everything that must hold after any crash.
void check_consistent(cluster::Node& n) {
  SCOPED_TRACE("after restart");
  EXPECT_EQ(sql_value(n, "SELECT count(*) FROM rulekeeper.verify_checksums()"), "0");
  // Version vector == per origin max(origin_seq), and gapless (count == max).
  EXPECT_EQ(
      sql_value(n,
                "SELECT coalesce(jsonb_object_agg(o, m), '{}') = rulekeeper.version_vector() FROM ("
                " SELECT origin_site || ':' || origin_incarnation AS o, max(origin_seq) AS m FROM rulekeeper.journal"
                " GROUP BY 1) x"),
      "t");
  EXPECT_EQ(sql_value(n,
                      "SELECT count(*) FROM (SELECT origin_site, origin_incarnation FROM rulekeeper.journal "
                      "GROUP BY 1, 2 HAVING count(*) <> max(origin_seq)) x"),
            "0");
  // Every row carries the journal entry that made it.
  EXPECT_EQ(sql_value(n,
                      "SELECT count(*) FROM rulekeeper.rule_version v WHERE NOT EXISTS "
                      "(SELECT 1 FROM rulekeeper.journal j WHERE j.change_id = v.change_id AND j.kind = 'version')"),
            "0");
  // The bucket sums (written at pre-commit) add up to the rows: the AdHash
  // of every entry digest, recomputed here in numeric, modulo 2^256.
  EXPECT_EQ(
      sql_value(
          n,
          "WITH d AS (SELECT rulekeeper.entry_digest(rule_key, label, content_sha256) AS h FROM rulekeeper.rule_version"
          "          UNION ALL SELECT NULL WHERE false),"
          " num AS (SELECT (SELECT sum(('x' || substr(h, i * 8 + 1, 8))::bit(32)::bigint::numeric"
          "                        * (2::numeric ^ (32 * (7 - i)))) FROM generate_series(0, 7) i) AS v FROM d),"
          " snap AS (SELECT (SELECT sum(('x' || substr(s, i * 8 + 1, 8))::bit(32)::bigint::numeric"
          "                        * (2::numeric ^ (32 * (7 - i)))) FROM generate_series(0, 7) i) AS v"
          "            FROM (SELECT rulekeeper.snapshot_checksum('all') AS s) x)"
          " SELECT mod(coalesce((SELECT sum(v) FROM num), 0), 2::numeric ^ 256) = (SELECT v FROM snap)"),
      "t");
  // pg_amcheck: heap and every btree index, with heapallindexed.
  const auto out = n.node_dir() / "amcheck.out";
  process::RunOptions o;
  o.stdout_file = out;
  o.timeout = std::chrono::seconds(120);
  process::RunResult r = process::run({n.cluster_options().bindir + "/pg_amcheck", "-h", "127.0.0.1", "-p",
                                       std::to_string(n.port()), "-U", "postgres", "-d", "rules", "--heapallindexed"},
                                      o);
  EXPECT_TRUE(r.ok()) << "pg_amcheck " << r.describe() << ":\n" << process::tail_of_file(out);
}

void crash_and_restart(cluster::Node& n) {
  n.kill9();
  n.start();
}

class Crash : public ::testing::Test {
protected:
  void SetUp() override {
    if (!cluster::extension_installed()) GTEST_SKIP() << "rulekeeper is not installed";
  }
};

}  // namespace

TEST_F(Crash, KillNineMidImportHotfixTransitionAllOrNothing) {
  cluster::ClusterSet set(rulekeeper::testing::fresh_cluster_options());
  // A synchronous standby that never comes: a COMMIT under
  // synchronous_commit = remote_apply waits forever after writing its commit
  // record. The server default stays local (docs/design/postgres-traps.md "Synchronous commit").
  cluster::NodeOptions o{"ipc2", "e3", kPort};
  o.synchronous_standby_names = "ipc1";
  o.extra_settings.push_back({"synchronous_commit", "local"});
  cluster::Node& n = set.add(o);
  n.init_primary();
  n.create_database();
  rulekeeper::testing::trust_own_key(n, "e2");  // the test's bundles "from e2" are signed with n's key
  {
    pqxx::connection c(conninfo(n));
    pqxx::nontransaction tx(c);
    tx.exec("CREATE EXTENSION amcheck");
    // A rule in prod (hotfix target), one awaiting validation in sl.
    tx.exec(R"SQL(
      CREATE FUNCTION pg_temp.bundle(rules int, labels int, prefix text) RETURNS jsonb LANGUAGE sql AS $$
        SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b))) FROM (
          SELECT jsonb_build_object('format', 'rulekeeper-bundle/1',
            'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),
            'rules', (SELECT jsonb_agg(jsonb_build_object('rule_key', prefix || r, 'ruleset', 'crash'))
                        FROM generate_series(1, rules) r),
            'versions', (SELECT jsonb_agg(jsonb_build_object('rule_key', prefix || r, 'label', l::text,
                            'body', jsonb_build_object('rate', l, 'r', r),
                            'content_sha256', rulekeeper.content_sha256(jsonb_build_object('rate', l, 'r', r))))
                           FROM generate_series(1, rules) r, generate_series(1, labels) l)) b) x
      $$)SQL");
    tx.exec("SELECT rulekeeper.import_release(pg_temp.bundle(2, 2, 'small.'))");
    tx.exec("INSERT INTO rulekeeper.hotfix_policy VALUES ('crash', ARRAY['/rate'])");
    tx.exec("SELECT rulekeeper.activate('small.1', '1', 'sl')");
    tx.exec("SELECT rulekeeper.transition('small.1', '1', 'sl_validated', 'setup')");
    tx.exec("SELECT rulekeeper.activate('small.1', '1', 'prod')");
    tx.exec("SELECT rulekeeper.activate('small.2', '1', 'sl')");
    // The big bundle, kept in a table: 500 rules x 100 versions.
    tx.exec("CREATE TABLE public.big_bundle AS SELECT pg_temp.bundle(500, 100, 'big.') AS b");
  }
  check_consistent(n);
  const std::string base = rulekeeper::testing::state_fingerprint(n);

  // 1. Mid-statement in a 50,000-version import: killed once it holds the
  //    site lock (verification done, rows being written).
  {
    Victim v(n, {"SELECT rulekeeper.import_release(b) FROM public.big_bundle"});
    ASSERT_TRUE(eventually(n,
                           "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND locktype = 'userlock' "
                           "AND classid = 1381321797 AND objid = 1 AND granted)",
                           v.pid(), std::chrono::seconds(120)))
        << "the import never reached its writing phase";
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let it write some rows
    ASSERT_FALSE(v.finished()) << "the import finished before the kill: make the bundle larger";
    crash_and_restart(n);
  }
  {
    const std::string versions =
        sql_value(n, "SELECT count(*) FROM rulekeeper.rule_version WHERE rule_key LIKE 'big.%'");
    const std::string rules = sql_value(n, "SELECT count(*) FROM rulekeeper.rule WHERE rule_key LIKE 'big.%'");
    const std::string releases = sql_value(n, "SELECT count(*) FROM rulekeeper.release_log");
    // Killed before its commit: entirely absent (never half there).
    EXPECT_EQ(versions, "0");
    EXPECT_EQ(rules, "0");
    EXPECT_EQ(releases, "1");
    EXPECT_EQ(rulekeeper::testing::state_fingerprint(n), base);
    check_consistent(n);
  }

  // 2. An open hotfix, and 3. an open transition, killed before COMMIT.
  for (const std::string& change :
       {std::string("SELECT rulekeeper.hotfix('small.1', '{\"rate\": 1.5, \"r\": 1}', 'crash test')"),
        std::string("SELECT rulekeeper.transition('small.2', '1', 'sl_validated', 'crash test')")}) {
    SCOPED_TRACE(change);
    {
      Victim v(n, {"BEGIN", change, "SELECT pg_sleep(300)", "COMMIT"});
      ASSERT_TRUE(eventually(n,
                             "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'PgSleep')",
                             v.pid(), std::chrono::seconds(60)));
      crash_and_restart(n);
    }
    EXPECT_EQ(rulekeeper::testing::state_fingerprint(n), base);
    EXPECT_EQ(sql_value(n,
                        "SELECT qualification FROM rulekeeper.rule_version WHERE rule_key = 'small.2' AND label = '1'"),
              "awaiting_sl");
    EXPECT_EQ(sql_value(n, "SELECT rulekeeper.effective_version('small.1', 'prod')"), "1");
    check_consistent(n);
  }

  // 4. A hotfix, a transition and an import whose COMMIT waits for the
  //    synchronous standby: the commit record is on disk, so after the crash
  //    all three are entirely there.
  {
    Victim v(n, {"BEGIN", "SET LOCAL synchronous_commit = remote_apply",
                 "SELECT rulekeeper.hotfix('small.1', '{\"rate\": 1.5, \"r\": 1}', 'crash test')",
                 "SELECT rulekeeper.transition('small.2', '1', 'sl_validated', 'crash test')",
                 "SELECT rulekeeper.import_release(b) FROM public.big_bundle", "COMMIT"});
    ASSERT_TRUE(eventually(n,
                           "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'SyncRep')",
                           v.pid(), std::chrono::seconds(180)))
        << "the commit never waited for the standby";
    crash_and_restart(n);
  }
  EXPECT_EQ(sql_value(n, "SELECT rulekeeper.effective_version('small.1', 'prod')"), "1.1");
  EXPECT_EQ(sql_value(n, "SELECT count(*) FROM rulekeeper.hotfix"), "1");
  EXPECT_EQ(sql_value(n,
                      "SELECT qualification FROM rulekeeper.rule_version WHERE rule_key = 'small.2' AND label = '1'"),
            "sl_validated");
  EXPECT_EQ(sql_value(n, "SELECT count(*) FROM rulekeeper.rule_version WHERE rule_key LIKE 'big.%'"), "50000");
  EXPECT_EQ(sql_value(n, "SELECT count(*) FROM rulekeeper.release_log"), "2");
  EXPECT_EQ(sql_value(n,
                      "SELECT post_checksum = rulekeeper.snapshot_checksum('all') FROM rulekeeper.release_log "
                      "ORDER BY imported_at DESC LIMIT 1"),
            "t");
  check_consistent(n);
  // And the site keeps working after all that: a new write journals at the next seq.
  const long long seq = std::stoll(sql_value(n, "SELECT max(origin_seq) FROM rulekeeper.journal"));
  sql_value(n, "SELECT rulekeeper.activate('small.2', '2', 'sl')");
  EXPECT_EQ(sql_value(n, "SELECT max(origin_seq) FROM rulekeeper.journal"), std::to_string(seq + 1));
  check_consistent(n);
}
