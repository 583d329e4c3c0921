// pg_dump / pg_restore of a rulekeeper database into a new database of the
// same cluster: the snapshot checksum, the version vector and the journal come
// back identical, nothing is journaled twice, verify_checksums() and
// verify_history() are empty, and the restored copy's next write starts a new
// incarnation (it is a different database), so its changes can never collide
// with the original's.
#include <gtest/gtest.h>

#include "sandbox/cluster.hpp"
#include "pgnode/process.hpp"
#include "test_support.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;

namespace {

// Everything a restore must preserve, as one comparable text per database.
struct Snapshot {
  std::string checksum, vector, journal, versions, history, buckets;
};

Snapshot take(cluster::Node& n, const std::string& db) {
  Snapshot s;
  s.checksum = n.query_value("SELECT rulekeeper.snapshot_checksum('all')", db);
  s.vector = n.query_value("SELECT rulekeeper.version_vector()::text", db);
  s.journal = n.query_value(
      "SELECT md5(string_agg(concat_ws('|', change_id, origin_site, origin_incarnation, origin_seq, kind, rule_key, "
      "label, payload, actor, recorded_at), ',' ORDER BY origin_site, origin_incarnation, origin_seq)) "
      "FROM rulekeeper.journal",
      db);
  s.versions = n.query_value(
      "SELECT md5(string_agg(concat_ws('|', rule_key, label, content_sha256, bucket, qualification, change_id, "
      "body), ',' ORDER BY rule_key, version, hotfix)) FROM rulekeeper.rule_version",
      db);
  s.history = n.query_value(
      "SELECT md5(string_agg(concat_ws('|', change_id, rule_key, label, from_qualification, to_qualification, "
      "reason), ',' ORDER BY change_id)) FROM rulekeeper.qualification_history",
      db);
  s.buckets = n.query_value(
      "SELECT md5(string_agg(bucket || '=' || sum, ',' ORDER BY bucket)) FROM rulekeeper.checksum_buckets('all')", db);
  return s;
}

void run_tool(cluster::Node& n, const std::vector<std::string>& argv) {
  process::RunOptions o;
  o.stdout_file = n.node_dir() / "dump-restore.log";
  o.timeout = std::chrono::seconds(120);
  o.as_postgres_if_root = true;  // the dump file lives in the postgres-owned base dir
  auto r = process::run(argv, o);
  ASSERT_TRUE(r.ok()) << process::quote_command(argv) << ": " << r.describe() << "\n"
                      << process::tail_of_file(o.stdout_file);
}

}  // namespace

TEST(DumpRestore, RestoredDatabaseIsIdenticalAndJournalsNothingTwice) {
  if (!rulekeeper::testing::with_extension()) GTEST_SKIP() << "needs the extension";
  cluster::ClusterSet set(rulekeeper::testing::fresh_cluster_options());
  cluster::Node& n = set.add({"e1", "e1", ports::integration_dump_restore[0]});
  n.init_primary();
  n.create_database();

  n.exec("SELECT rulekeeper.create_rule('r' || g, 'rs' || (g % 3), 'rule ' || g) FROM generate_series(1, 40) g");
  n.exec(
      "SELECT rulekeeper.create_version('r' || (g % 40 + 1), jsonb_build_object('n', g, 's', 'größe ' || g, "
      "'ok', g % 2 = 0, 'nested', jsonb_build_object('a', jsonb_build_array(g, g * 2)))) "
      "FROM generate_series(1, 400) g");
  n.exec("SELECT rulekeeper.transition('r' || g, '1', 'promoted', 'released to e2') FROM generate_series(1, 10) g");
  const Snapshot before = take(n, "rules");
  ASSERT_EQ(n.query_value("SELECT count(*) FROM rulekeeper.journal"), "450");

  const std::string dump = (n.node_dir() / "rules.dump").string();
  const std::string bin = n.cluster_options().bindir;
  const std::string port = std::to_string(n.port());
  run_tool(n, {bin + "/pg_dump", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-Fc", "-f", dump, "rules"});
  n.exec("CREATE DATABASE restored", "postgres");
  run_tool(n, {bin + "/pg_restore", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "--exit-on-error", "-d",
               "restored", dump});

  const Snapshot after = take(n, "restored");
  EXPECT_EQ(after.checksum, before.checksum);
  EXPECT_EQ(after.vector, before.vector);
  EXPECT_EQ(after.journal, before.journal) << "the journal must come back entry for entry";
  EXPECT_EQ(after.versions, before.versions);
  EXPECT_EQ(after.history, before.history);
  EXPECT_EQ(after.buckets, before.buckets) << "derived bucket sums are recomputed as rows arrive";
  EXPECT_EQ(n.query_value("SELECT count(*) FROM rulekeeper.journal", "restored"), "450");
  EXPECT_EQ(n.query_value("SELECT count(*) FROM rulekeeper.verify_checksums()", "restored"), "0");
  EXPECT_EQ(n.query_value("SELECT count(*) FROM rulekeeper.verify_checksums()", "rules"), "0");

  // The copy is another database: its next change starts incarnation 2, so
  // origins never collide with the original's e1:1.
  n.exec("SELECT rulekeeper.create_version('r1', '{\"after\": \"restore\"}')", "restored");
  EXPECT_EQ(n.query_value("SELECT rulekeeper.version_vector()::text", "restored"), "{\"e1:1\": 450, \"e1:2\": 1}");
  EXPECT_EQ(n.query_value("SELECT max(incarnation) FROM rulekeeper.incarnation", "restored"), "2");
  // And the original keeps numbering in its own incarnation.
  n.exec("SELECT rulekeeper.create_version('r1', '{\"after\": \"dump\"}')", "rules");
  EXPECT_EQ(n.query_value("SELECT rulekeeper.version_vector()::text", "rules"), "{\"e1:1\": 451}");
  // The hash chains come back with the journal (docs/tamper-evidence.md): the
  // copy's e1:1 is the original's up to entry 450, and both verify clean.
  EXPECT_EQ(n.query_value("SELECT count(*) FROM rulekeeper.verify_history()", "restored"), "0");
  EXPECT_EQ(n.query_value("SELECT count(*) FROM rulekeeper.verify_history()", "rules"), "0");
  EXPECT_EQ(n.query_value("SELECT rulekeeper.chain_hash_at('e1', 1, 450)", "restored"),
            n.query_value("SELECT rulekeeper.chain_hash_at('e1', 1, 450)", "rules"));
}
