// rulekeeper_admin's direct writes (issue #13, class 7): the admin keeps every
// function and direct writes to configuration (hotfix_policy, journaled
// whoever writes it), but no longer
// writes history or the state the functions derive from it — each forgery
// the issue found is tried here on a real connection as a login in
// rulekeeper_admin and must be refused by the privilege check (42501) with
// nothing changed. A heartbeat dated in the future (written by the owner,
// who still can) reads as an unknown age, never as a negative lag. And a
// pg_dump / pg_restore of the site still works, with the restored copy just
// as closed. docs/permissions.md "What rulekeeper_admin may write directly".
// Ports: integration_admin_writes in tests/ports.txt (site ipc2 in e3).
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pgnode/process.hpp"
#include "raw_connection.hpp"
#include "test_support.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Raw;

namespace {

constexpr int kPort = ports::integration_admin_writes[0];

std::string conninfo_as(const cluster::Node& n, const std::string& user, const std::string& db = "rules") {
  return fmt::format("host=127.0.0.1 port={} user={} dbname={} connect_timeout=5", n.port(), user, db);
}

// Everything a forged row could change, as one comparable text.
std::string fingerprint(const cluster::Node& n, const std::string& db = "rules") {
  return n.query_value(
      "SELECT concat_ws('|', (SELECT count(*) FROM rulekeeper.journal), rulekeeper.version_vector(), "
      "rulekeeper.snapshot_checksum(), rulekeeper.activation_epoch(), "
      "(SELECT string_agg(channel || rule_key || label || pinned || epoch, ',' ORDER BY channel, rule_key) "
      "   FROM rulekeeper.activation), "
      "(SELECT count(*) FROM rulekeeper.activation_history), (SELECT count(*) FROM rulekeeper.qualification_history), "
      "(SELECT string_agg(label || annotations::text || qualification, ',' ORDER BY label) "
      "   FROM rulekeeper.rule_version), "
      "(SELECT string_agg(site || beat_at, ',' ORDER BY site) FROM rulekeeper.heartbeat WHERE site <> 'ipc2'))",
      db);
}

// e3 site ipc2: rule r with 1 (sl_validated, in prod and sl), 2 (awaiting_sl),
// a hotfix 1.1 in prod.
void seed(cluster::Node& n) {
  // A bundle "from e2", signed with this node's key, trusted for e2 (docs/keys.md).
  n.query_value(
      "SELECT count(*) FROM rulekeeper.signing_public_key() k, "
      "rulekeeper.trust_key('e2', k.public_key, 'test: this node stands in for e2') t");
  const std::string b = n.query_value(
      "SELECT rulekeeper.sign_bundle(b || jsonb_build_object('bundle_sha256', rulekeeper._jcs_sha256(b)))::text FROM ("
      " SELECT jsonb_build_object('format', 'rulekeeper-bundle/1',"
      "  'source', jsonb_build_object('site', 'e2', 'environment', 'e2'),"
      "  'rules', '[{\"rule_key\": \"r\", \"ruleset\": \"rs\", \"description\": \"\"}]'::jsonb,"
      "  'versions', (SELECT jsonb_agg(v || jsonb_build_object('content_sha256', "
      "rulekeeper.content_sha256(v -> 'body'))) FROM jsonb_array_elements("
      "'[{\"rule_key\": \"r\", \"label\": \"1\", \"body\": {\"rate\": 1}},"
      "  {\"rule_key\": \"r\", \"label\": \"2\", \"body\": {\"rate\": 2}}]'::jsonb) v)) b) x");
  auto c = n.connect();
  pqxx::nontransaction tx(*c);
  tx.exec_params("SELECT rulekeeper.import_release($1::jsonb)", b);
  tx.exec("SELECT rulekeeper.activate('r', '1', 'sl')");
  tx.exec("SELECT rulekeeper.transition('r', '1', 'sl_validated', 'seed')");
  tx.exec("SELECT rulekeeper.activate('r', '1', 'prod')");
  tx.exec("INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('rs', ARRAY['/rate'])");
  tx.exec("SELECT rulekeeper.hotfix('r', '{\"rate\": 1.5}', 'seed hotfix')");
  tx.exec("CREATE ROLE rk_admin LOGIN IN ROLE rulekeeper_admin");
  tx.exec("CREATE ROLE rk_reader LOGIN IN ROLE rulekeeper_reader");
}

class AdminWrites : public ::testing::Test {
protected:
  void SetUp() override {
    if (!rulekeeper::testing::with_extension()) GTEST_SKIP() << "needs the extension";
    set_ = std::make_unique<cluster::ClusterSet>(rulekeeper::testing::fresh_cluster_options());
    e3_ = &set_->add({"ipc2", "e3", kPort});
    e3_->init_primary();
    e3_->create_database();
    seed(*e3_);
  }
  std::unique_ptr<cluster::ClusterSet> set_;
  cluster::Node* e3_ = nullptr;
};

struct Forgery {
  const char* what;
  std::string sql;
};

// Each forgery of the issue, with the value it needs from the site.
std::vector<Forgery> forgeries(const cluster::Node& n) {
  const std::string other_change =
      n.query_value("SELECT change_id FROM rulekeeper.activation WHERE channel = 'sl' AND rule_key = 'r'");
  const std::string big = std::string(2'000'000, 'x');
  return {
      {"an activation of an awaiting_sl version into prod",
       "INSERT INTO rulekeeper.activation (channel, rule_key, label, pinned, epoch) VALUES ('prod', 'r', '2', false, "
       "0)"},
      {"prod moved to an awaiting_sl version by UPDATE",
       "UPDATE rulekeeper.activation SET label = '2' WHERE channel = 'prod'"},
      {"an activation reusing another change's change_id (no journal, no history)",
       fmt::format("INSERT INTO rulekeeper.activation (channel, rule_key, label, pinned, epoch, change_id) "
                   "VALUES ('prod', 'r', '2', false, 1, '{}') ON CONFLICT (channel, rule_key) DO UPDATE SET "
                   "label = excluded.label, change_id = excluded.change_id",
                   other_change)},
      {"deactivating prod behind the hotfix gate", "DELETE FROM rulekeeper.activation WHERE channel = 'prod'"},
      {"a version born sl_validated over max_body_bytes",
       fmt::format("INSERT INTO rulekeeper.rule_version (rule_key, version, body, qualification) "
                   "VALUES ('r', 9, jsonb_build_object('big', '{}'), 'sl_validated')",
                   big)},
      {"a journal entry naming another site and actor",
       "INSERT INTO rulekeeper.journal (change_id, origin_site, origin_incarnation, origin_seq, kind, rule_key, "
       "label, actor) VALUES (gen_random_uuid(), 'e1', 1, 99, 'version', 'r', '9', 'alice')"},
      {"qualification history that never happened",
       "INSERT INTO rulekeeper.qualification_history (change_id, rule_key, label, from_qualification, "
       "to_qualification, reason, actor) SELECT change_id, 'r', '2', 'awaiting_sl', 'sl_validated', 'forged', 'bob' "
       "FROM rulekeeper.journal ORDER BY origin_seq DESC LIMIT 1"},
      {"activation history with an epoch of 2^63-1",
       "INSERT INTO rulekeeper.activation_history (change_id, channel, rule_key, label, pinned, epoch, action) "
       "SELECT change_id, 'prod', 'r', '2', false, 9223372036854775807, 'activate' "
       "FROM rulekeeper.journal ORDER BY origin_seq DESC LIMIT 1"},
      {"annotations edited without a journal entry",
       "UPDATE rulekeeper.rule_version SET annotations = '{\"hotfix_included\": \"included\"}' WHERE label = '2'"},
      {"a heartbeat dated in the future",
       "INSERT INTO rulekeeper.heartbeat (site, beat_at, beat_seq) VALUES ('ipc1', now() + interval '1 day', 1)"},
      {"the site's own heartbeat moved into the future",
       "UPDATE rulekeeper.heartbeat SET beat_at = now() + interval '1 day'"},
      {"a hotfix record nobody made",
       "INSERT INTO rulekeeper.hotfix (rule_key, base_label, label, site, diff, reason, change_id) "
       "SELECT 'r', '1', '2', 'ipc1', '[]', 'forged', change_id FROM rulekeeper.journal LIMIT 1"},
      {"a conflict whose source resolve_conflict would bring back",
       "INSERT INTO rulekeeper.conflict (rule_key, source_change, target_changes) VALUES ('r', '{}', '[]')"},
      {"a release log row (drift baseline)", "DELETE FROM rulekeeper.release_log"},
      {"a new incarnation", "DELETE FROM rulekeeper.incarnation"},
      {"checksum buckets", "DELETE FROM rulekeeper.checksum_bucket"},
      {"a failover event",
       "INSERT INTO rulekeeper.failover_event (old_site, new_site, forced) VALUES ('ipc1', 'ipc2', false)"},
      {"an activation with a forged action, through the internal writer",
       "SELECT rulekeeper._set_activation('r', '2', 'prod', true, NULL, 'hotfix')"},
      {"a journal entry through the internal writer",
       "SELECT rulekeeper._journal('activation', 'r', '2', '{\"channel\": \"prod\"}')"},
      {"a recovered version through the internal writer",
       "SELECT rulekeeper._recover_version('{\"rule_key\": \"r\", \"body\": {\"rate\": 9}}', '{}')"},
  };
}

}  // namespace

TEST_F(AdminWrites, EveryForgeryOfTheIssueIsRefusedToTheAdmin) {
  const std::string before = fingerprint(*e3_);
  Raw admin(conninfo_as(*e3_, "rk_admin"));
  for (const Forgery& f : forgeries(*e3_)) {
    Raw::Result r = admin.exec(f.sql);
    EXPECT_FALSE(r.ok) << "rulekeeper_admin could write " << f.what;
    EXPECT_EQ(r.sqlstate, "42501") << f.what << ": " << r.message;
    EXPECT_NE(r.message.find("permission denied for "), std::string::npos) << f.what << ": " << r.message;
  }
  EXPECT_EQ(fingerprint(*e3_), before);
  // export_changes() still works: no epoch or sequence was pushed to its end.
  EXPECT_EQ(e3_->query_value("SELECT jsonb_typeof(rulekeeper.export_changes('{}'))"), "object");
  EXPECT_EQ(e3_->query_value("SELECT count(*) FROM rulekeeper.verify_checksums()"), "0");
}

// What the admin keeps: every function (journaled as the admin, through the
// checks) and configuration written directly.
TEST_F(AdminWrites, AdminKeepsTheFunctionsAndConfiguration) {
  Raw admin(conninfo_as(*e3_, "rk_admin"));
  Raw::Result r = admin.exec("UPDATE rulekeeper.hotfix_policy SET allowed_paths = ARRAY['/rate', '/tiers']");
  EXPECT_TRUE(r.ok) << r.message;
  // Journaled, with who: the policy row carries the entry's change_id.
  EXPECT_EQ(e3_->query_value("SELECT j.actor || ' ' || (j.payload ->> 'op') || ' ' || (j.payload -> 'allowed_paths') "
                             "FROM rulekeeper.hotfix_policy p JOIN rulekeeper.journal j USING (change_id) "
                             "WHERE p.ruleset = 'rs'"),
            "rk_admin update [\"/rate\", \"/tiers\"]");
  // An older entry's change_id cannot bring an older policy back unjournaled.
  const std::string first = e3_->query_value(
      "SELECT change_id FROM rulekeeper.journal WHERE kind = 'hotfix_policy' AND payload ->> 'op' = 'insert'");
  ASSERT_FALSE(first.empty());
  r = admin.exec("DELETE FROM rulekeeper.hotfix_policy");
  EXPECT_TRUE(r.ok) << r.message;
  r = admin.exec(fmt::format(
      "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths, change_id) VALUES ('rs', ARRAY['/rate'], '{}')",
      first));
  EXPECT_EQ(r.sqlstate, "23514") << r.message;
  EXPECT_NE(r.message.find("is not the newest hotfix_policy entry of ruleset rs"), std::string::npos) << r.message;
  r = admin.exec("INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('rs', ARRAY['/rate'])");
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(e3_->query_value("SELECT string_agg(payload ->> 'op', ' ' ORDER BY origin_seq) FROM rulekeeper.journal "
                             "WHERE kind = 'hotfix_policy'"),
            "insert update delete insert");
  r = admin.exec("SELECT rulekeeper.activate('r', '2', 'sl')");
  EXPECT_TRUE(r.ok) << r.message;
  r = admin.exec("SELECT rulekeeper.activate('r', '2', 'prod')");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("channel prod does not admit version 2"), std::string::npos) << r.message;
  r = admin.exec("SELECT rulekeeper.transition('r', '2', 'sl_validated', 'validated by the admin')");
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(e3_->query_value("SELECT actor FROM rulekeeper.qualification_history ORDER BY recorded_at DESC LIMIT 1"),
            "rk_admin");
}

// A heartbeat from the future (a skewed clock on the writer, or a row the
// owner forged) reads as an unknown age, never as a negative lag that would
// look "in sync".
TEST_F(AdminWrites, HeartbeatFromTheFutureIsUnknownNotNegativeLag) {
  e3_->exec("INSERT INTO rulekeeper.heartbeat (site, beat_at, beat_seq) VALUES ('ipc1', now() + interval '1 hour', 1)");
  Raw reader(conninfo_as(*e3_, "rk_reader"));
  Raw::Result r = reader.exec(
      "SELECT last_heartbeat_site || ' ' || COALESCE(lag_upper_bound_seconds::text, 'unknown') "
      "FROM rulekeeper.replication_status");
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.value, "ipc1 unknown");
  r = reader.exec("SELECT COALESCE(age_seconds::text, 'unknown') FROM rulekeeper.heartbeat_of('ipc1')");
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.value, "unknown");
  // A heartbeat in the past still has its age.
  e3_->exec("UPDATE rulekeeper.heartbeat SET beat_at = now() - interval '10 seconds' WHERE site = 'ipc1'");
  r = reader.exec("SELECT age_seconds >= 10 FROM rulekeeper.heartbeat_of('ipc1')");
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.value, "t");
}

// The restore path: pg_dump / pg_restore (as the superuser, as docs/backup.md
// says) brings the site back whole, and the restored copy refuses the admin's
// direct writes just the same.
TEST_F(AdminWrites, DumpAndRestoreStillWorkAndTheCopyIsAsClosed) {
  const std::string dump = (e3_->node_dir() / "rules.dump").string();
  const std::string bin = e3_->cluster_options().bindir;
  const std::string port = std::to_string(e3_->port());
  auto run = [&](const std::vector<std::string>& argv) {
    process::RunOptions o;
    o.stdout_file = e3_->node_dir() / "dump-restore.log";
    o.timeout = std::chrono::seconds(120);
    o.as_postgres_if_root = true;
    auto res = process::run(argv, o);
    ASSERT_TRUE(res.ok()) << process::quote_command(argv) << ": " << res.describe() << "\n"
                          << process::tail_of_file(o.stdout_file);
  };
  run({bin + "/pg_dump", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-Fc", "-f", dump, "rules"});
  e3_->exec("CREATE DATABASE restored", "postgres");
  run({bin + "/pg_restore", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "--exit-on-error", "-d", "restored",
       dump});
  EXPECT_EQ(e3_->query_value("SELECT rulekeeper.snapshot_checksum()", "restored"),
            e3_->query_value("SELECT rulekeeper.snapshot_checksum()"));
  EXPECT_EQ(e3_->query_value("SELECT count(*) FROM rulekeeper.journal", "restored"),
            e3_->query_value("SELECT count(*) FROM rulekeeper.journal"));
  EXPECT_EQ(e3_->query_value("SELECT count(*) FROM rulekeeper.verify_checksums()", "restored"), "0");
  EXPECT_EQ(e3_->query_value("SELECT count(*) FROM rulekeeper.hotfix", "restored"), "1");
  Raw admin(conninfo_as(*e3_, "rk_admin", "restored"));
  Raw::Result r = admin.exec(
      "INSERT INTO rulekeeper.activation (channel, rule_key, label, pinned, epoch) "
      "VALUES ('sl', 'r', '2', false, 0) ON CONFLICT DO NOTHING");
  EXPECT_EQ(r.sqlstate, "42501") << r.message;
  r = admin.exec("UPDATE rulekeeper.hotfix_policy SET allowed_paths = ARRAY['/rate']");
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(e3_->query_value("SELECT count(*) FROM rulekeeper.journal WHERE kind = 'hotfix_policy'", "restored"), "2");
}
