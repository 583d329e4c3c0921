// The site lock (issue #13, class 1): no one outside rulekeeper's own writes
// can take it, a subtransaction abort does not give it up, a transaction
// holding it (or any rulekeeper change) cannot be prepared, and writers
// still serialize on it. Real logins over TCP: a plain login with no grant,
// members of rulekeeper_hotfix and rulekeeper_releaser. A wait on a lock is
// detected with lock_timeout (a blocked call fails the test with "canceling
// statement due to lock timeout" instead of hanging); nothing asserts
// wall-clock speed.
// Port: integration_site_lock in tests/ports.txt (ipc2, e3).
#include <atomic>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pipeline.hpp"
#include "raw_connection.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Raw;
using rulekeeper::testing::sql_value;

namespace {

constexpr int kPort = ports::integration_site_lock[0];

// The key of the advisory lock that used to be the site lock:
// pg_advisory_lock(1381321797, 1) ('RULE', 1).
constexpr const char* kOldKey = "1381321797, 1";

std::string conninfo_as(const cluster::Node& n, const std::string& user) {
  return fmt::format("host=127.0.0.1 port={} user={} dbname=rules connect_timeout=5", n.port(), user);
}

// Asserts that a Raw statement succeeded, showing the error otherwise.
void expect_ok(const Raw::Result& r, const std::string& what) {
  EXPECT_TRUE(r.ok) << what << ": " << r.sqlstate << " " << r.message;
}

class SiteLock : public ::testing::Test {
protected:
  void SetUp() override {
    if (!cluster::extension_installed()) GTEST_SKIP() << "rulekeeper is not installed";
    set_ = std::make_unique<cluster::ClusterSet>(rulekeeper::testing::fresh_cluster_options());
    cluster::NodeOptions o{"ipc2", "e3", kPort};
    // PREPARE TRANSACTION works on this server (off by default).
    o.extra_settings.push_back({"max_prepared_transactions", "4"});
    n_ = &set_->add(o);
    n_->init_primary();
    n_->create_database();
    auto c = n_->connect();
    pqxx::nontransaction tx(*c);
    tx.exec("CREATE ROLE rk_plain LOGIN");
    tx.exec("CREATE ROLE rk_hotfix LOGIN IN ROLE rulekeeper_hotfix");
    tx.exec("CREATE ROLE rk_releaser LOGIN IN ROLE rulekeeper_releaser");
    tx.exec("INSERT INTO rulekeeper.hotfix_policy VALUES ('lock', ARRAY['/rate'])");
    // Bundles "from e2" are signed with this node's key, trusted for e2 (docs/keys.md).
    tx.exec(
        "SELECT rulekeeper.trust_key('e2', public_key, 'test: this node stands in for e2') FROM "
        "rulekeeper.signing_public_key()");
    // Rules lock.a and lock.b, versions 1..3 ({"rate": label}); version 1 in
    // sl, validated, and in prod.
    tx.exec(R"SQL(
      SELECT rulekeeper.import_release(rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))) FROM (
        SELECT jsonb_build_object('format', 'rulekeeper-bundle/1',
          'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),
          'rules', (SELECT jsonb_agg(jsonb_build_object('rule_key', r, 'ruleset', 'lock'))
                      FROM unnest(ARRAY['lock.a', 'lock.b']) r),
          'versions', (SELECT jsonb_agg(jsonb_build_object('rule_key', r, 'label', l::text,
                          'body', jsonb_build_object('rate', l),
                          'content_sha256', rulekeeper.content_sha256(jsonb_build_object('rate', l))))
                         FROM unnest(ARRAY['lock.a', 'lock.b']) r, generate_series(1, 3) l)) b) x)SQL");
    for (const char* rule : {"lock.a", "lock.b"}) {
      tx.exec_params("SELECT rulekeeper.activate($1, '1', 'sl')", rule);
      tx.exec_params("SELECT rulekeeper.transition($1, '1', 'sl_validated', 'setup')", rule);
      tx.exec_params("SELECT rulekeeper.activate($1, '1', 'prod')", rule);
    }
  }
  void TearDown() override { set_.reset(); }

  // A session of `user` in which a lock wait of a second or more fails.
  std::unique_ptr<Raw> impatient(const std::string& user) {
    auto r = std::make_unique<Raw>(conninfo_as(*n_, user));
    expect_ok(r->exec("SET lock_timeout = '1s'"), "lock_timeout");
    return r;
  }

  // origin_seq of this site's journal is gapless: count = max per origin.
  void expect_gapless() {
    EXPECT_EQ(sql_value(*n_,
                        "SELECT count(*) FROM (SELECT origin_site, origin_incarnation FROM rulekeeper.journal "
                        "GROUP BY 1, 2 HAVING count(*) <> max(origin_seq)) x"),
              "0");
  }

  std::unique_ptr<cluster::ClusterSet> set_;
  cluster::Node* n_ = nullptr;
};

}  // namespace

// A login with no rulekeeper grant (and no USAGE on the schema) takes every
// lock it can: the old site lock's advisory key (session and transaction
// level, both key forms); pg_relation_size on every relation of the
// extension (which opens it by OID without a privilege check, though it
// lets the lock go at once); rulekeeper._lock_site() is denied to it.
// While it sits in its open transaction, a hotfix, an activation, a
// transition and a superuser's activation all go through without waiting
// a second.
TEST_F(SiteLock, PlainLoginCannotDelayAHotfixOrAnActivation) {
  Raw plain(conninfo_as(*n_, "rk_plain"));
  expect_ok(plain.exec(fmt::format("SELECT pg_advisory_lock({})", kOldKey)), "session advisory lock");
  expect_ok(plain.exec("BEGIN"), "BEGIN");
  expect_ok(plain.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kOldKey)), "xact advisory lock");
  expect_ok(plain.exec("SELECT pg_advisory_xact_lock(1381321797::bigint << 32 | 1)"), "bigint advisory lock");
  expect_ok(plain.exec("SELECT sum(pg_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace s "
                       "ON s.oid = c.relnamespace WHERE s.nspname = 'rulekeeper' AND c.relkind IN ('r', 'i', 'S')"),
            "pg_relation_size of every relation");
  // What it holds, as the server sees it.
  const std::string plain_pid = plain.exec("SELECT pg_backend_pid()").value;
  ASSERT_FALSE(plain_pid.empty());
  EXPECT_EQ(sql_value(*n_,
                      "SELECT count(*) >= 2 FROM pg_locks WHERE pid = $1::int AND locktype = 'advisory' "
                      "AND classid = 1381321797 AND objid = 1 AND granted",
                      plain_pid),
            "t");

  // The plain login cannot reach the lock through rulekeeper either.
  Raw::Result r = plain.exec("SAVEPOINT s");
  r = plain.exec("SELECT rulekeeper._lock_site()");
  EXPECT_EQ(r.sqlstate, "42501") << r.message;
  expect_ok(plain.exec("ROLLBACK TO SAVEPOINT s"), "ROLLBACK TO");

  {
    auto hotfix = impatient("rk_hotfix");
    Raw::Result h = hotfix->exec(R"(SELECT rulekeeper.hotfix('lock.a', '{"rate": 1.5}', 'lock test') ->> 'label')");
    expect_ok(h, "hotfix while a plain login holds every lock it can");
    EXPECT_EQ(h.value, "1.1");
  }
  {
    auto releaser = impatient("rk_releaser");
    expect_ok(releaser->exec("SELECT rulekeeper.activate('lock.b', '2', 'sl')"), "activate");
    expect_ok(releaser->exec("SELECT rulekeeper.transition('lock.b', '2', 'sl_validated', 'lock test')"), "transition");
    expect_ok(releaser->exec("SELECT rulekeeper.activate('lock.b', '2', 'prod')"), "activate prod");
  }
  {
    auto owner = impatient("postgres");
    expect_ok(owner->exec("SELECT rulekeeper.activate('lock.b', '3', 'sl')"), "the superuser's activate");
  }
  // All of it happened while the plain login's transaction was still open
  // and still held its locks.
  EXPECT_EQ(sql_value(*n_, "SELECT state FROM pg_stat_activity WHERE pid = $1::int", plain_pid), "idle in transaction");
  EXPECT_EQ(sql_value(*n_,
                      "SELECT count(*) >= 2 FROM pg_locks WHERE pid = $1::int AND locktype = 'advisory' AND granted",
                      plain_pid),
            "t");
  expect_ok(plain.exec("COMMIT"), "COMMIT");
  EXPECT_EQ(rulekeeper::testing::effective(*n_, "prod"), "lock.a=1.1,lock.b=2");
  // (the hotfix moved sl too: it served the hotfix's parent)
  EXPECT_EQ(rulekeeper::testing::effective(*n_, "sl"), "lock.a=1.1,lock.b=3");
  expect_gapless();
}

// Two writers serialize on the site lock, which shows in pg_locks as a
// userlock (what a waiting writer waits for), and origin_seq stays gapless.
TEST_F(SiteLock, TwoWritersSerializeOnTheSiteLock) {
  Raw first(conninfo_as(*n_, "rk_releaser"));
  expect_ok(first.exec("BEGIN"), "BEGIN");
  expect_ok(first.exec("SELECT rulekeeper.activate('lock.a', '2', 'sl')"), "first activation");
  const std::string first_pid = first.exec("SELECT pg_backend_pid()").value;
  EXPECT_EQ(sql_value(*n_,
                      "SELECT count(*) FROM pg_locks WHERE pid = $1::int AND locktype = 'userlock' "
                      "AND classid = 1381321797 AND objid = 1 AND mode = 'ExclusiveLock' AND granted",
                      first_pid),
            "1");
  // An impatient second writer gives up: it had to wait for the first.
  {
    auto second = impatient("rk_releaser");
    Raw::Result r = second->exec("SELECT rulekeeper.activate('lock.b', '2', 'sl')");
    EXPECT_EQ(r.sqlstate, "55P03") << r.message;
  }
  // A patient one waits on the userlock, then goes through once the first commits.
  std::atomic<bool> done{false};
  Raw::Result second_result;
  std::thread second([&] {
    Raw c(conninfo_as(*n_, "rk_releaser"));
    second_result = c.exec("SELECT rulekeeper.activate('lock.b', '2', 'sl')");
    done = true;
  });
  bool saw_wait = false;
  for (int i = 0; i < 600 && !saw_wait; ++i) {
    saw_wait = sql_value(*n_,
                         "SELECT count(*) FROM pg_locks WHERE locktype = 'userlock' AND classid = 1381321797 "
                         "AND objid = 1 AND NOT granted") == "1";
    if (!saw_wait) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(saw_wait) << "the second writer never waited on the site lock";
  EXPECT_FALSE(done.load());
  expect_ok(first.exec("COMMIT"), "COMMIT");
  second.join();
  expect_ok(second_result, "second activation after the first committed");
  EXPECT_EQ(rulekeeper::testing::effective(*n_, "sl"), "lock.a=2,lock.b=2");
  // Epochs in commit order: the first's activation is older.
  EXPECT_EQ(sql_value(*n_,
                      "SELECT (SELECT epoch FROM rulekeeper.activation WHERE channel = 'sl' AND rule_key = 'lock.a') < "
                      "(SELECT epoch FROM rulekeeper.activation WHERE channel = 'sl' AND rule_key = 'lock.b')"),
            "t");
  expect_gapless();
}

// A subtransaction that took the site lock and was rolled back leaves it
// with the transaction (it is the top-level transaction's until it ends):
// another writer still waits, and the outer transaction's later writes stay
// ordered under the same lock.
TEST_F(SiteLock, RollbackToSavepointDoesNotReleaseIt) {
  Raw outer(conninfo_as(*n_, "rk_releaser"));
  expect_ok(outer.exec("BEGIN"), "BEGIN");
  expect_ok(outer.exec("SAVEPOINT s"), "SAVEPOINT");
  expect_ok(outer.exec("SELECT rulekeeper.activate('lock.a', '2', 'sl')"), "activation in the savepoint");
  expect_ok(outer.exec("ROLLBACK TO SAVEPOINT s"), "ROLLBACK TO");
  {
    auto other = impatient("rk_releaser");
    Raw::Result r = other->exec("SELECT rulekeeper.activate('lock.b', '2', 'sl')");
    EXPECT_EQ(r.sqlstate, "55P03") << "the site lock was released by ROLLBACK TO SAVEPOINT: " << r.message;
  }
  expect_ok(outer.exec("SELECT rulekeeper.activate('lock.a', '3', 'sl')"), "the outer transaction writes on");
  expect_ok(outer.exec("COMMIT"), "COMMIT");
  auto after = impatient("rk_releaser");
  expect_ok(after->exec("SELECT rulekeeper.activate('lock.b', '2', 'sl')"), "after COMMIT");
  EXPECT_EQ(rulekeeper::testing::effective(*n_, "sl"), "lock.a=3,lock.b=2");
  expect_gapless();
}

// With max_prepared_transactions > 0, PREPARE TRANSACTION of a transaction
// that made a rulekeeper change (here a releaser's activation, journaled,
// which changes no checksum bucket) is refused: no prepared transaction is
// left holding the site lock after its session ends, the change is rolled
// back, and the next writer does not wait. A transaction that only read
// can still be prepared.
TEST_F(SiteLock, PrepareTransactionOfRulekeeperWorkIsRefused) {
  const std::string journal_before = sql_value(*n_, "SELECT count(*) FROM rulekeeper.journal");
  {
    Raw releaser(conninfo_as(*n_, "rk_releaser"));
    expect_ok(releaser.exec("BEGIN"), "BEGIN");
    expect_ok(releaser.exec("SELECT rulekeeper.activate('lock.a', '2', 'sl')"), "activation");
    Raw::Result r = releaser.exec("PREPARE TRANSACTION 'rk_activation'");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.sqlstate, "0A000");
    EXPECT_NE(r.message.find("a transaction that made rulekeeper changes cannot be prepared (PREPARE TRANSACTION)"),
              std::string::npos)
        << r.message;
    // Also when the change was made in a subtransaction that rolled back.
    expect_ok(releaser.exec("BEGIN"), "BEGIN");
    expect_ok(releaser.exec("SAVEPOINT s"), "SAVEPOINT");
    expect_ok(releaser.exec("SELECT rulekeeper.activate('lock.a', '2', 'sl')"), "activation");
    expect_ok(releaser.exec("ROLLBACK TO SAVEPOINT s"), "ROLLBACK TO");
    r = releaser.exec("PREPARE TRANSACTION 'rk_savepoint'");
    EXPECT_EQ(r.sqlstate, "0A000") << r.message;
  }
  {
    auto hotfix = std::make_unique<Raw>(conninfo_as(*n_, "rk_hotfix"));
    expect_ok(hotfix->exec("BEGIN"), "BEGIN");
    expect_ok(hotfix->exec(R"(SELECT rulekeeper.hotfix('lock.a', '{"rate": 1.5}', 'prepared'))"), "hotfix");
    Raw::Result r = hotfix->exec("PREPARE TRANSACTION 'rk_hotfix'");
    EXPECT_EQ(r.sqlstate, "0A000") << r.message;
  }
  EXPECT_EQ(sql_value(*n_, "SELECT count(*) FROM pg_prepared_xacts"), "0");
  EXPECT_EQ(sql_value(*n_, "SELECT count(*) FROM rulekeeper.journal"), journal_before);
  EXPECT_EQ(rulekeeper::testing::effective(*n_, "sl"), "lock.a=1,lock.b=1");
  {
    auto next = impatient("rk_releaser");
    expect_ok(next->exec("SELECT rulekeeper.activate('lock.a', '2', 'sl')"), "the next writer");
  }
  // Reads only: PREPARE works (the refusal is about rulekeeper's changes).
  {
    Raw reader(conninfo_as(*n_, "rk_releaser"));
    expect_ok(reader.exec("BEGIN"), "BEGIN");
    expect_ok(reader.exec("SELECT rulekeeper.effective_version('lock.a', 'sl')"), "read");
    expect_ok(reader.exec("PREPARE TRANSACTION 'rk_read'"), "PREPARE of a read-only transaction");
    expect_ok(reader.exec("COMMIT PREPARED 'rk_read'"), "COMMIT PREPARED");
  }
  EXPECT_EQ(sql_value(*n_, "SELECT count(*) FROM pg_prepared_xacts"), "0");
  expect_gapless();
}
