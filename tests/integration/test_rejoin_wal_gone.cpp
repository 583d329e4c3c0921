// `rejoin` when the WAL the node needs is gone (issue #14 item 7): after a
// forced failover the new primary keeps no slot for the old one; with
// wal_keep_size 0 and a few segment switches and checkpoints it removes the
// segment where its timeline forked. Before this, rejoin rewound the node,
// started it, and the start failed a minute later ("start_command failed"),
// the cause only in the server log and the node left running, inconsistent.
// Now: found before the rewind, said, the node stopped, the orphans saved,
// and the re-clone runbook printed — which the test then follows, to the
// end: the node streams again. Real clusters (pipeline.hpp), the built
// rulectl. Ports: integration_wal_gone in tests/ports.txt.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "failover_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing::fo;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;
namespace ports = rulekeeper::testing::ports;
namespace fs = std::filesystem;

namespace {

// The segment file of `node` (a promoted primary) where its timeline began.
std::string fork_segment(const cluster::Node& n) {
  const std::string tli = sql_value(n, "SELECT timeline_id FROM pg_control_checkpoint()");
  const std::string history =
      sql_value(n, fmt::format("SELECT pg_read_file('pg_wal/{:08X}.history')", std::stoll(tli)));
  std::istringstream in(history);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  std::istringstream fields(last);
  std::string parent, lsn;
  fields >> parent >> lsn;
  // pg_walfile_name uses the current timeline: the one that began there.
  return sql_value(n, "SELECT pg_walfile_name($1::pg_lsn)", lsn);
}

bool has_segment(const cluster::Node& n, const std::string& name) {
  return sql_value(n, "SELECT count(*) FROM pg_ls_waldir() WHERE name = $1", name) == "1";
}

}  // namespace

TEST(RejoinWalGone, DetectedBeforeTheRewind_NodeStopped_OrphansSaved_RecloneWorks) {
  Pipeline p(ports::integration_wal_gone[0]);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  ipc1.wait_replayed(ipc2, std::chrono::seconds(60));

  // An orphan: a change at ipc2 while ipc1 is cut off.
  ipc1.stop();
  const auto before = journal_ids(ipc2);
  ipc2.exec("INSERT INTO rulekeeper.rule (rule_key, ruleset) VALUES ('orphan.rule', 'rs')");
  const auto orphan_ids = new_ids(ipc2, before);
  ASSERT_EQ(orphan_ids.size(), 1u);

  // ipc2 crashes; ipc1 is promoted by force.
  ipc2.kill9();
  ipc1.start();
  CommandResult r = run(p, {"failover", "--yes", "--to", "ipc1", "--force", "--wait-catchup", "5"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);

  // ipc1 keeps no WAL for ipc2: no slot, wal_keep_size 0, small max_wal_size;
  // segments switched and checkpointed until the fork's segment is gone.
  sql_value(ipc1, "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE NOT active");
  sql_value(ipc1, "ALTER SYSTEM SET wal_keep_size = 0");
  sql_value(ipc1, "ALTER SYSTEM SET max_wal_size = '32MB'");
  sql_value(ipc1, "ALTER SYSTEM SET min_wal_size = '32MB'");
  sql_value(ipc1, "SELECT pg_reload_conf()");
  const std::string fork = fork_segment(ipc1);
  ipc1.exec("CREATE TABLE public.wal_filler (x int)");
  for (int i = 0; i < 8 && has_segment(ipc1, fork); ++i) {
    ipc1.exec("INSERT INTO public.wal_filler SELECT generate_series(1, 1000)");
    ipc1.exec("SELECT pg_switch_wal()");
    ipc1.exec("CHECKPOINT");
  }
  ASSERT_FALSE(has_segment(ipc1, fork)) << "ipc1 still holds " << fork;

  // ipc2 back as a standby with no upstream, as the runbook has it.
  start_without_upstream(ipc2);
  const std::string orphans = (p.set.options().base / "orphans-ipc2.json").string();
  const auto t0 = std::chrono::steady_clock::now();
  r = run(p, {"rejoin", "--yes", "--site", "ipc2", "--orphans", orphans});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_LT(took, 60.0) << describe(r);  // before: a start that waited out pg_ctl's timeout
  EXPECT_TRUE(contains(r.err, "ipc2 cannot be rewound to follow ipc1")) << describe(r);
  EXPECT_TRUE(contains(r.err, "ipc1 no longer has WAL segment " + fork)) << describe(r);
  EXPECT_TRUE(contains(r.err, "Nothing was rewound; ipc2 is stopped")) << describe(r);
  EXPECT_TRUE(contains(r.out + r.err, "WAL GONE")) << describe(r);
  EXPECT_FALSE(ipc2.running()) << "ipc2 left running";
  // Orphans first, as always.
  ASSERT_TRUE(fs::exists(orphans));
  std::ifstream in(orphans);
  const json bundle = json::parse(in);
  std::set<std::string> saved;
  for (const auto& c : bundle["changes"]) saved.insert(c["change_id"].get<std::string>());
  EXPECT_EQ(saved, orphan_ids);

  // The re-clone, as printed (one progress line per step), then rejoin:
  // ipc2 streams from ipc1.
  EXPECT_TRUE(contains(r.err, "Re-clone it from ipc1 (pg_basebackup): the 5 steps are listed above")) << describe(r);
  std::istringstream lines(r.err);
  std::vector<std::string> steps;
  for (std::string line; std::getline(lines, line);) {
    const auto at = line.find("re-clone ipc2, step ");
    if (at == std::string::npos || line.rfind("rulectl:", 0) == 0) continue;  // not the error's own line
    const auto colon = line.find(": ", at);
    ASSERT_NE(colon, std::string::npos) << line;
    steps.push_back(line.substr(colon + 2));
  }
  ASSERT_EQ(steps.size(), 5u) << describe(r);
  EXPECT_TRUE(contains(steps[1], "pg_basebackup")) << steps[1];
  EXPECT_EQ(steps[3], "rulectl rejoin --site ipc2");
  EXPECT_TRUE(contains(steps[4], "rulectl reconcile --bundle")) << steps[4];
  for (int i = 0; i < 3; ++i) {
    process::RunOptions ro;
    ro.timeout = std::chrono::seconds(120);
    const process::RunResult rr = process::run({"/bin/sh", "-c", steps[i]}, ro);
    ASSERT_TRUE(rr.ok()) << steps[i] << ": " << rr.describe();
  }
  r = run(p, {"rejoin", "--yes", "--site", "ipc2"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  bool streaming = false;
  for (int i = 0; i < 600 && !(streaming = streams_from(ipc1, "ipc2")); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(streaming) << describe(r);
}
