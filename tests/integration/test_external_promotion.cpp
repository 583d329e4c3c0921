// Every promotion recorded by the extension, whoever made it (issue 16 item
// 1; docs/failover.md "Promotions rulectl did not make"), and a site judged
// by the server that answers, not by its conninfo (item 2; docs/failover.md
// "Reaching a site through several hosts"). Real clusters; promotions by
// SQL pg_promote() with rulectl not involved. Ports: integration_promotion
// in tests/ports.txt (four per test).
#include <chrono>
#include <fstream>
#include <thread>

#include "common/files.hpp"
#include "failover_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing::fo;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;
using rulekeeper::testing::write_temp_file;

namespace {

constexpr int kExternal = ports::integration_promotion[0];
constexpr int kCrash = ports::integration_promotion[4];
constexpr int kRulectl = ports::integration_promotion[8];
constexpr int kMultiHost = ports::integration_promotion[12];

const char* kA = "fees.card";
const char* kB = "fees.wire";

// Until `sql` answers `want` at `n` (bounded: 60 s); the last answer.
std::string wait_for(const cluster::Node& n, const std::string& sql, const std::string& want) {
  std::string got;
  for (int i = 0; i < 600; ++i) {
    got = sql_value(n, sql);
    if (got == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return got;
}

// Rules A and B in prod at E3, hotfixable at /rate; ipc1 replayed it all,
// including a heartbeat of ipc2.
void two_rules_in_prod(Pipeline& p) {
  p.create_rule(kA, "fees");
  p.create_rule(kB, "fees");
  p.create_version(kA, R"({"rate": 1.5, "cap": 20})");
  p.create_version(kB, R"({"rate": 0.5, "cap": 30})");
  p.ship();
  p.to_prod(kA, "1");
  p.to_prod(kB, "1");
  sql_value(*p.ipc2,
            "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('fees', ARRAY['/rate']) "
            "RETURNING ruleset");
  p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));
  ASSERT_EQ(wait_for(*p.ipc1, "SELECT count(*) FROM rulekeeper.heartbeat WHERE site = 'ipc2'", "1"), "1");
}

// The newest event as failover_events() shows it, one field per key.
json newest_event(const cluster::Node& n) {
  const std::string text = sql_value(n, "SELECT to_jsonb(f)::text FROM rulekeeper.failover_events() f LIMIT 1");
  return text.empty() ? json() : json::parse(text);
}

std::string events_on(const cluster::Node& n, int timeline) {
  return sql_value(n,
                   "SELECT count(*) FROM rulekeeper.failover_event WHERE new_timeline = " + std::to_string(timeline));
}

// Keeps the heartbeat worker from ever starting at `n` (its database does not
// exist), so that nothing but a write can record a promotion there: a line in
// postgresql.auto.conf, read after every other file. Takes effect at the
// next start.
void without_worker(cluster::Node& n, bool off) {
  const auto path = n.data_dir() / "postgresql.auto.conf";
  std::string text = common::read_file(path);
  const std::string line = "rulekeeper.database = 'no_such_database'\n";
  if (const auto at = text.find(line); at != std::string::npos) text.erase(at, line.size());
  if (off) text += line;
  std::ofstream(path, std::ios::trunc) << text;
}

std::set<std::string> orphan_ids_of(const std::string& path) {
  std::ifstream in(path);
  const json bundle = json::parse(in);
  std::set<std::string> out;
  for (const auto& c : bundle["changes"]) out.insert(c["change_id"].get<std::string>());
  return out;
}

}  // namespace

// pg_promote() at a standby, nothing written: the worker records the event
// (external, old site from the heartbeats it replayed, divergence = what it
// replayed); rejoin of the old primary lists no orphan. A second external
// promotion with a write right after: one event; rejoin lists exactly the
// change the old primary made after its standby stopped receiving.
TEST(ExternalPromotion, RecordedWithoutRulectl_RejoinListsExactlyTheOrphans) {
  Pipeline p(kExternal);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  two_rules_in_prod(p);

  // ipc2 stops cleanly (ipc1 received all of it); ipc1 is promoted by SQL.
  const std::string vector_ipc2 = sql_value(ipc2, "SELECT rulekeeper.version_vector()::text");
  const auto journal_before = journal_ids(ipc2);
  ipc2.stop();
  ipc1.wait_ready();
  ipc1.promote();
  ASSERT_EQ(wait_for(ipc1, "SELECT count(*) FROM rulekeeper.failover_events()", "1"), "1");
  json ev = newest_event(ipc1);
  EXPECT_EQ(ev["promoted_by"], "external") << ev.dump();
  EXPECT_EQ(ev["old_site"], "ipc2") << ev.dump();
  EXPECT_EQ(ev["new_site"], "ipc1") << ev.dump();
  EXPECT_EQ(ev["old_timeline"], 1) << ev.dump();
  EXPECT_EQ(ev["new_timeline"], 2) << ev.dump();
  EXPECT_EQ(ev["forced"], false) << ev.dump();
  EXPECT_EQ(ev["details"]["recorded_by"], "worker") << ev.dump();
  EXPECT_EQ(ev["details"]["old_site_evidence"], "heartbeat") << ev.dump();
  EXPECT_EQ(ev["divergence"], json::parse(vector_ipc2)) << ev.dump();
  // Nothing was written but the event itself.
  const auto added = new_ids(ipc1, journal_before);
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(sql_value(ipc1, "SELECT kind FROM rulekeeper.journal WHERE change_id = $1::uuid", *added.begin()),
            "failover");
  EXPECT_EQ(sql_value(ipc1, "SELECT old_site FROM rulekeeper.latest_failover_event()"), "ipc2");

  // record_failover() after the fact attaches its account to that event: still one.
  const json rec = json::parse(
      sql_value(ipc1, "SELECT rulekeeper.record_failover('ipc2', true, '{\"rulectl\": \"by hand\"}')::text"));
  EXPECT_EQ(rec["event_id"], ev["event_id"]) << rec.dump();
  EXPECT_EQ(rec["promoted_by"], "rulectl") << rec.dump();
  EXPECT_EQ(rec["forced"], true) << rec.dump();
  EXPECT_EQ(rec["details"]["rulectl"], "by hand") << rec.dump();
  EXPECT_EQ(events_on(ipc1, 2), "1");
  EXPECT_EQ(sql_value(ipc1, "SELECT count(*) FROM rulekeeper.failover_annotation"), "1");

  // ipc2 comes back (a standby with no upstream): rejoin lists no orphan.
  start_without_upstream(ipc2);
  const std::string none = (p.set.options().base / "orphans-none.json").string();
  CommandResult r = run(p, {"--json", "rejoin", "--yes", "--site", "ipc2", "--orphans", none});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  json rj = json::parse(r.out);
  EXPECT_EQ(rj["orphans"]["count"], 0) << r.out;
  EXPECT_EQ(rj["failover_event"]["new_timeline"], 2) << r.out;
  EXPECT_TRUE(orphan_ids_of(none).empty());
  ipc2.wait_replayed(ipc1, std::chrono::seconds(60));
  ASSERT_EQ(wait_for(ipc2, "SELECT count(*) FROM rulekeeper.heartbeat WHERE site = 'ipc1'", "1"), "1");

  // ipc2 stops receiving; ipc1 makes a change (the orphan) and dies; ipc2
  // is promoted by SQL and written to at once.
  ipc2.stop();
  const auto before_orphan = journal_ids(ipc1);
  ASSERT_EQ(hotfix(p, kA, R"({"rate": 1.9, "cap": 20})", "card fee fix at ipc1"), "1.1");
  const auto orphans = new_ids(ipc1, before_orphan);
  ASSERT_GE(orphans.size(), 2u);
  ipc1.kill9();
  ipc2.start();
  ipc2.promote();
  ASSERT_EQ(hotfix(p, kB, R"({"rate": 0.7, "cap": 30})", "wire fee fix at ipc2"), "1.1");
  ASSERT_EQ(wait_for(ipc2, "SELECT count(*) FROM rulekeeper.failover_event WHERE new_timeline = 3", "1"), "1");
  ev = newest_event(ipc2);
  EXPECT_EQ(ev["promoted_by"], "external") << ev.dump();
  EXPECT_EQ(ev["old_site"], "ipc1") << ev.dump();
  EXPECT_EQ(ev["old_timeline"], 2) << ev.dump();
  EXPECT_EQ(ev["new_timeline"], 3) << ev.dump();
  // The worker may still be about to look: give it the time, then one event.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(events_on(ipc2, 3), "1");

  start_without_upstream(ipc1);
  const std::string some = (p.set.options().base / "orphans-ipc1.json").string();
  r = run(p, {"--json", "rejoin", "--yes", "--site", "ipc1", "--orphans", some});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  rj = json::parse(r.out);
  EXPECT_EQ(rj["failover_event"]["new_timeline"], 3) << r.out;
  EXPECT_EQ(rj["failover_event"]["promoted_by"], "external") << r.out;
  EXPECT_EQ(orphan_ids_of(some), orphans) << r.out;
}

// Killed right after the promotion, before anything recorded it (the
// worker kept from starting): the worker records it after the restart,
// with the divergence point of the promotion.
TEST(ExternalPromotion, CrashBeforeRecording_RecordedAfterRestart) {
  Pipeline p(kCrash);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  p.create_rule(kA, "fees");
  p.create_version(kA, R"({"rate": 1.5})");
  p.ship();
  ipc1.wait_replayed(ipc2, std::chrono::seconds(60));
  ASSERT_EQ(wait_for(ipc1, "SELECT count(*) FROM rulekeeper.heartbeat WHERE site = 'ipc2'", "1"), "1");

  without_worker(ipc1, true);
  ipc1.restart();
  const std::string vector_ipc2 = sql_value(ipc2, "SELECT rulekeeper.version_vector()::text");
  ipc2.stop();
  ipc1.promote();
  EXPECT_EQ(sql_value(ipc1, "SELECT count(*) FROM rulekeeper.failover_events()"), "0");
  ipc1.kill9();

  without_worker(ipc1, false);
  ipc1.start();
  ASSERT_EQ(wait_for(ipc1, "SELECT count(*) FROM rulekeeper.failover_events()", "1"), "1");
  const json ev = newest_event(ipc1);
  EXPECT_EQ(ev["promoted_by"], "external") << ev.dump();
  EXPECT_EQ(ev["details"]["recorded_by"], "worker") << ev.dump();
  EXPECT_EQ(ev["old_site"], "ipc2") << ev.dump();
  EXPECT_EQ(ev["new_timeline"], 2) << ev.dump();
  EXPECT_EQ(ev["divergence"], json::parse(vector_ipc2)) << ev.dump();
}

// `rulectl failover` records exactly one event, marked rulectl, with its
// details. Then an external promotion back with the worker kept away: the
// first write records it first (its divergence point excludes the write).
TEST(ExternalPromotion, RulectlFailoverMarkedRulectl_FirstWriteRecordsOtherwise) {
  Pipeline p(kRulectl);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  two_rules_in_prod(p);

  CommandResult r = run(p, {"--json", "failover", "--yes", "--to", "ipc1", "--wait-catchup", "20"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json fo = json::parse(r.out);
  EXPECT_EQ(fo["failover_event"]["promoted_by"], "rulectl") << r.out;
  EXPECT_EQ(sql_value(ipc1, "SELECT count(*) FROM rulekeeper.failover_event"), "1");
  EXPECT_EQ(sql_value(ipc1, "SELECT count(*) FROM rulekeeper.failover_annotation"), "0");
  const json ev = newest_event(ipc1);
  EXPECT_EQ(ev["promoted_by"], "rulectl") << ev.dump();
  EXPECT_EQ(ev["old_site"], "ipc2") << ev.dump();
  EXPECT_EQ(ev["details"]["rulectl"], "failover") << ev.dump();
  EXPECT_EQ(ev["details"]["planned"], true) << ev.dump();
  EXPECT_EQ(ev["event_id"], fo["failover_event"]["event_id"]) << r.out;

  // ipc2 now follows ipc1; kept from running its worker, it is promoted by SQL.
  ipc2.wait_replayed(ipc1, std::chrono::seconds(60));
  without_worker(ipc2, true);
  ipc2.restart();
  ipc2.wait_replayed(ipc1, std::chrono::seconds(60));
  const std::string vector_ipc1 = sql_value(ipc1, "SELECT rulekeeper.version_vector()::text");
  ipc1.stop();
  ipc2.promote();
  EXPECT_EQ(events_on(ipc2, 3), "0");
  sql_value(ipc2,
            "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('wire', ARRAY['/rate']) "
            "RETURNING ruleset");
  EXPECT_EQ(events_on(ipc2, 3), "1");
  const json ev3 = newest_event(ipc2);
  EXPECT_EQ(ev3["promoted_by"], "external") << ev3.dump();
  EXPECT_EQ(ev3["details"]["recorded_by"], "first write") << ev3.dump();
  EXPECT_EQ(ev3["old_site"], "ipc1") << ev3.dump();
  EXPECT_EQ(ev3["divergence"], json::parse(vector_ipc1)) << ev3.dump();
  without_worker(ipc2, false);
}

// A site reached through a multi-host conninfo, and two sites whose
// conninfos reach one server: no split brain, E3 writes go through, status
// names the server behind each site. Two different servers accepting
// writes are still a split brain.
TEST(ServerIdentity, MultiHostConninfo_OneServerIsNoSplitBrain) {
  Pipeline p(kMultiHost);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  write_control_toml(p);
  {
    // ipc2: both hosts, whichever accepts writes (how applications reach an
    // HA cluster); ipc2-vip: a second name for ipc2's server.
    std::ifstream in(p.config);
    std::string toml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string direct = fmt::format("host=127.0.0.1 port={} user=postgres", ipc2.port());
    const auto at = toml.find(direct);
    ASSERT_NE(at, std::string::npos) << toml;
    toml.replace(at, direct.size(),
                 fmt::format("host=127.0.0.1,127.0.0.1 port={},{} target_session_attrs=read-write user=postgres",
                             ipc1.port(), ipc2.port()));
    toml += fmt::format(
        "[sites.ipc2-vip]\nconninfo = \"host=127.0.0.1 port={} user=postgres dbname=rules connect_timeout=3\"\n"
        "environment = \"e3\"\n",
        ipc2.port());
    std::ofstream(p.config, std::ios::trunc) << toml;
  }
  two_rules_in_prod(p);

  CommandResult r = run(p, {"--json", "status"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  json st = json::parse(r.out);
  EXPECT_EQ(st["replication"]["split_brain"], false) << r.out;
  EXPECT_EQ(st["replication"]["primary"], "ipc2") << r.out;
  EXPECT_TRUE(contains(st["warnings"].dump(), "site ipc2-vip: the server behind its conninfo is site ipc2")) << r.out;
  EXPECT_EQ(hotfix(p, kA, R"({"rate": 1.7, "cap": 20})", "through a multi-host conninfo"), "1.1");

  // ipc2 stops, ipc1 is promoted: ipc2's conninfo now reaches ipc1's server.
  ipc2.stop();
  ipc1.promote();
  r = run(p, {"--json", "status"});
  ASSERT_EQ(r.exit_code, 4) << describe(r);  // ipc2-vip (ipc2's own server) is down, nothing refused
  st = json::parse(r.out);
  EXPECT_EQ(st["replication"]["split_brain"], false) << r.out;
  EXPECT_EQ(st["replication"]["primary"], "ipc1") << r.out;
  EXPECT_TRUE(contains(st["warnings"].dump(), "site ipc2: the server behind its conninfo is site ipc1")) << r.out;
  r = run(p, {"status"});
  EXPECT_TRUE(contains(r.out + r.err, "the server behind its conninfo is site ipc1")) << describe(r);
  EXPECT_FALSE(contains(r.out + r.err, "SPLIT BRAIN")) << describe(r);
  EXPECT_FALSE(contains(r.out + r.err, "split brain")) << describe(r);
  EXPECT_EQ(hotfix(p, kB, R"({"rate": 0.6, "cap": 30})", "at ipc1 through ipc2's conninfo too"), "1.1");

  // ipc2 comes back as a primary: two servers accept writes (ipc2-vip reaches it).
  ipc2.start();
  r = run(p, {"--json", "status"});
  st = json::parse(r.out);
  EXPECT_EQ(st["replication"]["split_brain"], true) << r.out;
  r = run(p, {"hotfix", "--yes", "--site", "e3", "--rule", kA, "--body-file",
              write_temp_file("sb.json", R"({"rate": 1.8, "cap": 20})").string(), "--reason", "refused"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err + r.out, "split brain")) << describe(r);
}
