// Operator safety on real clusters (issue #15 items 1, 2, 6, 8;
// docs/operator-safety.md): hotfix, failover, rejoin, reconcile and
// conflicts resolve show their plan and ask on a terminal (answered here
// through a pseudo-terminal: tests/integration/on_terminal.py), refuse with
// exit 2 and change nothing without a terminal and without --yes, and take
// --dry-run (checked by the database in a transaction that is rolled back:
// nothing stopped, promoted, rewound or written); a hotfix re-serving
// content that failed soft launch needs an acknowledgement naming that
// version; reconcile never carries changes across environments. Ports:
// integration_operator_safety in tests/ports.txt (four per test).
#include <filesystem>
#include <sstream>

#include "failover_support.hpp"
#include "common/files.hpp"
#include "pgnode/process.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing::fo;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
namespace ports = rulekeeper::testing::ports;
namespace fs = std::filesystem;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;

namespace {

constexpr int kHotfix = ports::integration_operator_safety[0];
constexpr int kFailover = ports::integration_operator_safety[4];

const char* kA = "fees.card";
const char* kB = "fees.wire";

// Everything a change would move at a node: the journal, the version vector,
// versions, activations, conflicts, the timeline and whether it is a standby.
std::string fingerprint(const cluster::Node& n) {
  return sql_value(n,
                   "SELECT rulekeeper.snapshot_checksum('all') || ' journal=' || "
                   "(SELECT count(*) FROM rulekeeper.journal) || ' vector=' || rulekeeper.version_vector()::text || "
                   "' versions=' || (SELECT count(*) FROM rulekeeper.rule_version) || ' epoch=' || "
                   "rulekeeper.activation_epoch() || ' conflicts=' || (SELECT count(*) || '/' || count(*) FILTER "
                   "(WHERE status = 'open') FROM rulekeeper.conflict) || ' timeline=' || rulekeeper.timeline() || "
                   "' recovery=' || pg_is_in_recovery()");
}

// rulectl on a pseudo-terminal, answering `answer` to its question; stdout
// holds everything it printed (stderr included: one terminal).
CommandResult on_terminal(const Pipeline& p, const std::string& answer, std::vector<std::string> args) {
  std::vector<std::string> argv{"python3",  RULEKEEPER_SOURCE_DIR "/tests/integration/on_terminal.py",
                                answer,     RULECTL_BINARY,
                                "--config", p.config};
  argv.insert(argv.end(), args.begin(), args.end());
  const fs::path out = rulekeeper::testing::write_temp_file("on-terminal.out", "");
  process::RunOptions opts;
  opts.stdout_file = out;
  opts.stderr_file = out;
  opts.timeout = std::chrono::seconds(120);
  const process::RunResult r = process::run(argv, opts);
  CommandResult c;
  c.exit_code = (r.signaled || r.timed_out) ? -1 : r.exit_code;
  c.out = common::read_file(out);
  std::vector<std::string> shown{"--config", p.config};  // the transcript drops the test's config
  shown.insert(shown.end(), args.begin(), args.end());
  rulekeeper::testing::append_transcript("RULEKEEPER_FAILOVER_TRANSCRIPT", shown, c);
  return c;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

// A dry run's text says so on its first and last line.
void expect_dry_run_banners(const CommandResult& r) {
  const auto lines = lines_of(r.out);
  ASSERT_FALSE(lines.empty()) << describe(r);
  EXPECT_EQ(lines.front().rfind("DRY RUN: ", 0), 0u) << describe(r);
  EXPECT_EQ(lines.back().rfind("DRY RUN: nothing was changed", 0), 0u) << describe(r);
}

// No terminal, no --yes: exit 2, one --json error document on stdout.
void expect_refused_without_terminal(const CommandResult& r, const std::string& verb) {
  ASSERT_EQ(r.exit_code, 2) << describe(r);
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc.value("exit_code", 0), 2) << r.out;
  EXPECT_TRUE(contains(doc.value("message", ""), verb)) << r.out;
  EXPECT_TRUE(contains(doc.value("message", ""), "not a terminal")) << r.out;
  EXPECT_TRUE(contains(doc.value("hint", ""), "--yes")) << r.out;
}

fs::path body_file(const std::string& name, const std::string& body) {
  return rulekeeper::testing::write_temp_file(name, body);
}

}  // namespace

// Hotfix: asks (n: nothing; y: made), refuses without a terminal, --dry-run
// changes nothing; content that failed soft launch needs an acknowledgement
// naming that version, recorded in the journal.
TEST(OperatorSafety, Hotfix_Confirmation_DryRun_SlFailedContent) {
  Pipeline p(kHotfix, /*with_ipc1=*/false);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  p.create_rule(kA, "fees");
  p.create_version(kA, R"({"rate": 1.5, "cap": 20})");
  p.create_version(kA, R"({"rate": 1.7, "cap": 20})");
  p.ship();
  p.to_prod(kA, "1");
  // Version 2 fails its soft launch.
  p.ok({"activate", "--site", "e3", "--channel", "sl", "--rule", kA, "--version", "2"});
  p.ok({"validate", "--site", "e3", "--rule", kA, "--version", "2", "--result", "failed", "--reason",
        "error rate doubled"});
  ASSERT_EQ(sql_value(ipc2, "SELECT qualification FROM rulekeeper.rule_version WHERE rule_key = $1 AND label = '2'",
                      kA),
            "sl_failed");
  sql_value(ipc2,
            "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('fees', ARRAY['/rate']) "
            "RETURNING ruleset");

  const std::string fix = body_file("fix.json", R"({"rate": 1.9, "cap": 20})").string();
  const std::vector<std::string> hotfix = {"hotfix",      "--site", "e3",       "--rule",       kA,
                                           "--body-file", fix,      "--reason", "fee complaint"};
  std::string before = fingerprint(ipc2);

  // No terminal, no --yes: exit 2, nothing changed.
  std::vector<std::string> args = hotfix;
  args.insert(args.begin(), "--json");
  CommandResult r = run(p, args);
  expect_refused_without_terminal(r, "rulectl hotfix");
  EXPECT_EQ(fingerprint(ipc2), before);

  // --dry-run: the plan between "dry run" lines, asks nothing, changes nothing.
  args = hotfix;
  args.push_back("--dry-run");
  r = run(p, args);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  expect_dry_run_banners(r);
  EXPECT_TRUE(contains(r.out, "prod: 1 -> 1.1")) << describe(r);
  EXPECT_TRUE(contains(r.out, "/rate: 1.5 -> 1.9")) << describe(r);
  args.insert(args.begin(), "--json");
  r = run(p, args);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  json doc = json::parse(r.out);
  EXPECT_EQ(doc["dry_run"], true) << r.out;
  EXPECT_EQ(doc["hotfix"]["label"], "1.1") << r.out;
  EXPECT_EQ(fingerprint(ipc2), before);
  EXPECT_EQ(prod_of(ipc2, kA), "1");

  // A terminal answering "n": the plan was shown, exit 3, nothing changed.
  r = on_terminal(p, "n", hotfix);
  ASSERT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.out, "Proceed? [y/N]")) << describe(r);
  EXPECT_TRUE(contains(r.out, "prod: 1 -> 1.1")) << describe(r);
  EXPECT_TRUE(contains(r.out, "/rate: 1.5 -> 1.9")) << describe(r);
  EXPECT_TRUE(contains(r.out, "not confirmed; nothing was changed")) << describe(r);
  EXPECT_EQ(fingerprint(ipc2), before);

  // "y": made.
  r = on_terminal(p, "y", hotfix);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "hotfix 1.1 of rule fees.card")) << describe(r);
  EXPECT_EQ(prod_of(ipc2, kA), "1.1");

  // The content of the failed version 2, again: refused, by the database.
  const std::string failed = body_file("failed.json", R"({"cap": 20, "rate": 1.7})").string();
  const std::vector<std::string> again = {"--json", "hotfix",      "--yes", "--site",   "e3",         "--rule",
                                          kA,       "--body-file", failed,  "--reason", "back to 1.7"};
  before = fingerprint(ipc2);
  r = run(p, again);
  ASSERT_EQ(r.exit_code, 3) << describe(r);
  doc = json::parse(r.out);
  EXPECT_TRUE(contains(doc.value("message", ""), "failed soft launch")) << r.out;
  EXPECT_TRUE(contains(doc.value("message", ""), "version(s) 2")) << r.out;
  EXPECT_TRUE(contains(doc.value("hint", ""), "--acknowledge-sl-failed 2")) << r.out;
  EXPECT_EQ(fingerprint(ipc2), before);
  // So is its dry run, and an acknowledgement naming another version.
  args = again;
  args.push_back("--dry-run");
  EXPECT_EQ(run(p, args).exit_code, 3);
  args = again;
  args.insert(args.end(), {"--acknowledge-sl-failed", "1"});
  r = run(p, args);
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_EQ(fingerprint(ipc2), before);
  // Acknowledged by name: made, and the acknowledgement journaled.
  args = again;
  args.insert(args.end(), {"--acknowledge-sl-failed", "2"});
  r = run(p, args);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  doc = json::parse(r.out);
  EXPECT_EQ(doc["hotfix"]["acknowledged_sl_failed"], json::array({"2"})) << r.out;
  EXPECT_EQ(doc["receipt"]["acknowledged_sl_failed"], json::array({"2"})) << r.out;
  EXPECT_EQ(prod_of(ipc2, kA), "1.2");
  EXPECT_EQ(sql_value(ipc2,
                      "SELECT payload ->> 'sl_failed' FROM rulekeeper.journal WHERE kind = 'acknowledgement' "
                      "AND rule_key = $1 AND label = '1.2' AND payload ->> 'action' = 'hotfix'",
                      kA),
            R"(["2"])");
}

// Failover, rejoin, reconcile, conflicts resolve: each asks, refuses without
// a terminal, and (failover, rejoin, reconcile) dry-runs without changing
// anything; reconcile refuses another environment's changes.
TEST(OperatorSafety, Failover_Rejoin_Reconcile_Resolve_ConfirmationAndDryRuns) {
  Pipeline p(kFailover);
  write_control_toml(p);
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  for (const char* k : {kA, kB}) {
    p.create_rule(k, "fees");
    p.create_version(k, R"({"rate": 1.5, "cap": 20})");
  }
  p.ship();
  p.to_prod(kA, "1");
  p.to_prod(kB, "1");
  sql_value(ipc2,
            "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('fees', ARRAY['/rate']) "
            "RETURNING ruleset");
  ipc1.wait_replayed(ipc2, std::chrono::seconds(60));

  // ---- planned switchover: dry run, no terminal, "n" -------------------------
  const int ipc2_pid = ipc2.postmaster_pid(), ipc1_pid = ipc1.postmaster_pid();
  std::string fp2 = fingerprint(ipc2);
  CommandResult r = run(p, {"failover", "--to", "ipc1", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  expect_dry_run_banners(r);
  EXPECT_TRUE(contains(r.out, "planned switchover ipc2 -> ipc1")) << describe(r);
  EXPECT_TRUE(contains(r.out, "at risk: nothing")) << describe(r);
  EXPECT_TRUE(contains(r.out, "promote ipc1 (pg_promote)")) << describe(r);
  r = run(p, {"--json", "failover", "--to", "ipc1", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  json doc = json::parse(r.out);
  EXPECT_EQ(doc["dry_run"], true);
  EXPECT_EQ(doc["planned"], true);
  EXPECT_FALSE(doc["steps"].empty());
  EXPECT_TRUE(doc["at_risk"]["changes"].empty()) << r.out;
  expect_refused_without_terminal(run(p, {"--json", "failover", "--to", "ipc1"}), "rulectl failover");
  r = on_terminal(p, "n", {"failover", "--to", "ipc1"});
  ASSERT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.out, "planned switchover ipc2 -> ipc1")) << describe(r);
  EXPECT_TRUE(contains(r.out, "not confirmed; nothing was changed")) << describe(r);
  // Nothing stopped or promoted: same postmasters, same roles, same history.
  EXPECT_EQ(ipc2.postmaster_pid(), ipc2_pid);
  EXPECT_EQ(ipc1.postmaster_pid(), ipc1_pid);
  EXPECT_FALSE(ipc2.in_recovery());
  EXPECT_TRUE(ipc1.in_recovery());
  EXPECT_EQ(fingerprint(ipc2), fp2);

  // ---- ipc2 dies with an orphan; forced failover -----------------------------
  ipc1.stop();
  hotfix(p, kA, R"({"rate": 1.9, "cap": 20})", "A at ipc2");
  ipc2.kill9();
  ipc1.start();
  std::string fp1 = fingerprint(ipc1);
  r = run(p, {"failover", "--to", "ipc1", "--dry-run", "--wait-catchup", "20"});
  ASSERT_EQ(r.exit_code, 3) << describe(r);  // without --force it would be refused
  expect_dry_run_banners(r);
  EXPECT_TRUE(contains(r.out, "would be REFUSED")) << describe(r);
  r = run(p, {"failover", "--to", "ipc1", "--force", "--dry-run", "--wait-catchup", "20"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  expect_dry_run_banners(r);
  EXPECT_TRUE(contains(r.out, "FORCED failover ipc2 -> ipc1")) << describe(r);
  EXPECT_TRUE(contains(r.out, "LOST by this failover")) << describe(r);
  EXPECT_TRUE(contains(r.out, "last change held from ipc2: ipc2:")) << describe(r);
  expect_refused_without_terminal(run(p, {"--json", "failover", "--to", "ipc1", "--force"}), "rulectl failover");
  EXPECT_TRUE(ipc1.in_recovery());
  EXPECT_EQ(fingerprint(ipc1), fp1);
  r = on_terminal(p, "y", {"failover", "--to", "ipc1", "--force", "--wait-catchup", "20"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "FORCED failover ipc2 -> ipc1")) << describe(r);
  EXPECT_FALSE(ipc1.in_recovery());
  // A conflict to come: rule A hotfixed at ipc1 too.
  hotfix(p, kA, R"({"rate": 1.8, "cap": 20})", "A at ipc1");

  // ---- rejoin: dry runs (down, then answering), no terminal, "y" -------------
  const fs::path state = p.set.options().base / "state";
  auto orphan_files = [&] {
    int n = 0;
    if (fs::exists(state))
      for (const auto& e : fs::directory_iterator(state))
        if (e.path().filename().string().rfind("orphans-", 0) == 0) ++n;
    return n;
  };
  ASSERT_FALSE(ipc2.running());
  r = run(p, {"rejoin", "--site", "ipc2", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  expect_dry_run_banners(r);
  EXPECT_TRUE(contains(r.out, "not readable while ipc2 is down")) << describe(r);
  EXPECT_TRUE(contains(r.out, "start ipc2 as a standby with no upstream")) << describe(r);
  EXPECT_TRUE(contains(r.out, "pg_rewind ipc2 from ipc1")) << describe(r);
  EXPECT_FALSE(ipc2.running()) << "a dry run starts nothing";
  start_without_upstream(ipc2);
  fp2 = fingerprint(ipc2);
  fp1 = fingerprint(ipc1);
  const int rejoin_pid = ipc2.postmaster_pid();
  r = run(p, {"--json", "rejoin", "--site", "ipc2", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  doc = json::parse(r.out);
  EXPECT_EQ(doc["dry_run"], true);
  ASSERT_TRUE(doc["orphans"].is_object()) << r.out;
  EXPECT_GE(doc["orphans"]["count"].get<int>(), 2) << r.out;  // the version, the hotfix, the activation
  expect_refused_without_terminal(run(p, {"--json", "rejoin", "--site", "ipc2"}), "rulectl rejoin");
  EXPECT_EQ(orphan_files(), 0) << "no bundle written";
  EXPECT_EQ(ipc2.postmaster_pid(), rejoin_pid) << "nothing stopped";
  EXPECT_EQ(fingerprint(ipc2), fp2) << "nothing rewound";
  EXPECT_EQ(fingerprint(ipc1), fp1);
  const std::string orphans = (p.set.options().base / "orphans.json").string();
  r = on_terminal(p, "y", {"rejoin", "--site", "ipc2", "--orphans", orphans});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "orphans to capture")) << describe(r);
  EXPECT_TRUE(ipc2.in_recovery());

  // ---- reconcile: another environment refused (also dry), then n / none / y --
  fp1 = fingerprint(ipc1);
  for (bool dry : {false, true}) {
    std::vector<std::string> a = {"--json", "reconcile", "--yes", "--from", "e2", "--to", "e3"};
    if (dry) a.push_back("--dry-run");
    r = run(p, a);
    ASSERT_EQ(r.exit_code, 3) << describe(r);
    EXPECT_TRUE(contains(json::parse(r.out).value("message", ""), "same environment")) << r.out;
  }
  const std::string e2_bundle =
      rulekeeper::testing::write_temp_file("e2-changes.json",
                                           sql_value(*p.e2, "SELECT rulekeeper.export_changes('{}'::jsonb)::text"))
          .string();
  for (bool dry : {false, true}) {
    std::vector<std::string> a = {"--json", "reconcile", "--yes", "--bundle", e2_bundle, "--to", "e3"};
    if (dry) a.push_back("--dry-run");
    r = run(p, a);
    ASSERT_EQ(r.exit_code, 3) << describe(r);
    EXPECT_TRUE(contains(json::parse(r.out).value("message", ""), "(environment e2)")) << r.out;
  }
  EXPECT_EQ(fingerprint(ipc1), fp1);

  r = run(p, {"reconcile", "--bundle", orphans, "--to", "e3", "--dry-run"});
  ASSERT_EQ(r.exit_code, 3) << describe(r);  // a conflict would be recorded
  expect_dry_run_banners(r);
  expect_refused_without_terminal(run(p, {"--json", "reconcile", "--bundle", orphans, "--to", "e3"}),
                                  "rulectl reconcile");
  r = on_terminal(p, "n", {"reconcile", "--bundle", orphans, "--to", "e3"});
  ASSERT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.out, "record a CONFLICT on fees.card")) << describe(r);
  EXPECT_TRUE(contains(r.out, "not confirmed; nothing was changed")) << describe(r);
  EXPECT_EQ(fingerprint(ipc1), fp1);
  r = on_terminal(p, "y", {"reconcile", "--bundle", orphans, "--to", "e3"});
  ASSERT_EQ(r.exit_code, 3) << describe(r);  // the conflict is open
  EXPECT_TRUE(contains(r.out, "CONFLICTS")) << describe(r);
  EXPECT_NE(fingerprint(ipc1), fp1);

  // ---- conflicts resolve: no terminal, "n", "y" ------------------------------
  const std::string id =
      sql_value(ipc1, "SELECT conflict_id::text FROM rulekeeper.conflict WHERE status = 'open' AND rule_key = $1", kA);
  ASSERT_FALSE(id.empty());
  fp1 = fingerprint(ipc1);
  expect_refused_without_terminal(run(p, {"--json", "conflicts", "resolve", id, "--keep", "source"}),
                                  "rulectl conflicts resolve");
  r = on_terminal(p, "n", {"conflicts", "resolve", id, "--keep", "source"});
  ASSERT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.out, "keep the source")) << describe(r);
  EXPECT_EQ(fingerprint(ipc1), fp1);
  r = on_terminal(p, "y", {"conflicts", "resolve", id, "--keep", "source"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(sql_value(ipc1, "SELECT status FROM rulekeeper.conflict WHERE conflict_id = $1::uuid", id), "kept_source");
}
