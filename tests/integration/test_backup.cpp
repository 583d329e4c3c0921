// Backup for E1 (docs/backup.md): a base backup with pg_basebackup plus WAL
// archiving, restored to a point in time (a named restore point taken just
// before a bad batch of changes). The restored database's snapshot checksum,
// version vector and journal equal the original's at that point, and
// verify_checksums() is empty.
#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "sandbox/cluster.hpp"
#include "pgnode/process.hpp"
#include "test_support.hpp"

using namespace rulekeeper;
namespace ports = rulekeeper::testing::ports;

namespace {

void as_postgres(cluster::Node& n, const std::vector<std::string>& argv) {
  process::RunOptions o;
  o.stdout_file = n.node_dir() / "backup-test.log";
  o.timeout = std::chrono::seconds(120);
  o.as_postgres_if_root = true;
  auto r = process::run(argv, o);
  ASSERT_TRUE(r.ok()) << process::quote_command(argv) << ": " << r.describe() << "\n"
                      << process::tail_of_file(o.stdout_file);
}

}  // namespace

TEST(Backup, PointInTimeRestoreGivesTheChecksumOfThatTime) {
  if (!rulekeeper::testing::with_extension()) GTEST_SKIP() << "needs the extension";
  cluster::ClusterSet set(rulekeeper::testing::fresh_cluster_options());
  const auto archive = set.options().base / "wal-archive";
  cluster::NodeOptions e1_options{"e1", "e1", ports::integration_backup[0]};
  e1_options.extra_settings = {{"archive_mode", "on"},
                               {"archive_command", cluster::conf_quote("cp %p " + archive.string() + "/%f")}};
  cluster::Node& e1 = set.add(e1_options);
  e1.init_primary();
  as_postgres(e1, {"mkdir", "-p", archive.string()});
  e1.create_database();

  e1.exec("SELECT rulekeeper.create_rule('r' || g, 'rs') FROM generate_series(1, 20) g");
  e1.exec(
      "SELECT rulekeeper.create_version('r' || (g % 20 + 1), jsonb_build_object('n', g)) "
      "FROM generate_series(1, 100) g");
  const std::string bin = e1.cluster_options().bindir;
  const auto backup = set.options().base / "base-backup";
  as_postgres(e1, {bin + "/pg_basebackup", "-h", "127.0.0.1", "-p", std::to_string(e1.port()), "-U", "postgres", "-D",
                   backup.string(), "-X", "stream", "-c", "fast"});

  // Work after the backup, then the point to return to, then a bad batch.
  e1.exec(
      "SELECT rulekeeper.create_version('r' || (g % 20 + 1), jsonb_build_object('after_backup', g)) "
      "FROM generate_series(1, 50) g");
  e1.exec("SELECT rulekeeper.transition('r1', '1', 'promoted', 'released to e2')");
  const std::string checksum_then = e1.query_value("SELECT rulekeeper.snapshot_checksum('all')");
  const std::string vector_then = e1.query_value("SELECT rulekeeper.version_vector()::text");
  const std::string journal_then =
      e1.query_value("SELECT md5(string_agg(change_id::text, ',' ORDER BY origin_seq)) FROM rulekeeper.journal");
  e1.exec("SELECT pg_create_restore_point('before_bad_batch')", "postgres");
  e1.exec(
      "SELECT rulekeeper.create_version('r' || (g % 20 + 1), jsonb_build_object('bad', g)) "
      "FROM generate_series(1, 30) g");
  ASSERT_NE(e1.query_value("SELECT rulekeeper.snapshot_checksum('all')"), checksum_then);
  e1.exec("SELECT pg_switch_wal()", "postgres");
  // The archiver copies the finished segment: wait for it (bounded).
  std::string archived;
  for (int i = 0; i < 100 && archived != "t"; ++i) {
    archived =
        e1.query_value("SELECT last_archived_wal >= pg_walfile_name(pg_current_wal_lsn() - 1) FROM pg_stat_archiver",
                       "postgres");
    if (archived != "t") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(archived, "t") << "the WAL with the restore point was never archived";
  e1.stop();

  // Restore into a new data directory, replaying the archive up to the point.
  cluster::NodeOptions restored_options{"e1", "e1", ports::integration_backup[1]};
  restored_options.extra_settings = {{"restore_command", cluster::conf_quote("cp " + archive.string() + "/%f %p")},
                                     {"recovery_target_name", cluster::conf_quote("before_bad_batch")},
                                     {"recovery_target_action", cluster::conf_quote("promote")}};
  cluster::ClusterOptions restored_cluster = set.options();
  restored_cluster.base = set.options().base / "restored";
  cluster::ClusterSet restored_set(restored_cluster);
  cluster::Node& restored = restored_set.add(restored_options);
  cluster::prepare_base(restored_cluster);
  as_postgres(e1, {"mkdir", "-p", restored.node_dir().string()});
  as_postgres(e1, {"cp", "-a", backup.string(), restored.data_dir().string()});
  as_postgres(e1, {"touch", (restored.data_dir() / "recovery.signal").string()});
  restored.write_config();
  restored.start();
  for (int i = 0; i < 300 && restored.in_recovery(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_FALSE(restored.in_recovery()) << "recovery did not reach the restore point";

  EXPECT_EQ(restored.query_value("SELECT rulekeeper.snapshot_checksum('all')"), checksum_then);
  EXPECT_EQ(restored.query_value("SELECT rulekeeper.version_vector()::text"), vector_then);
  EXPECT_EQ(restored.query_value(
                "SELECT md5(string_agg(change_id::text, ',' ORDER BY origin_seq)) FROM rulekeeper.journal"),
            journal_then);
  EXPECT_EQ(restored.query_value("SELECT count(*) FROM rulekeeper.verify_checksums()"), "0");
  EXPECT_EQ(restored.query_value("SELECT count(*) FROM rulekeeper.rule_version WHERE body ? 'bad'"), "0");
  // Writes after a point-in-time restore start a new incarnation (a new timeline).
  restored.exec("SELECT rulekeeper.create_version('r1', '{\"after\": \"restore\"}')");
  EXPECT_EQ(restored.query_value("SELECT count(*) FROM jsonb_object_keys(rulekeeper.version_vector())"), "2");
}
