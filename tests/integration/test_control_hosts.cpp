// rulectl across hosts (issue #16 item 4; docs/ha-managers.md "Command
// templates", "The control lock"): failover and rejoin drive a site only
// through its command templates in rulectl.toml — no pgdata there, as when
// the data directory is on another host — and two operators with two
// rulectl.toml and two state directories (two hosts) are kept apart by the
// control lock in the E3 servers. Ports: integration_hosts in tests/ports.txt
// (four per test).
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "background_rulectl.hpp"
#include "failover_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing::fo;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
namespace ports = rulekeeper::testing::ports;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;

namespace {

constexpr int kTemplates = ports::integration_hosts[0];
constexpr int kRace = ports::integration_hosts[4];

const char* kA = "fees.card";

std::string as_postgres(const std::vector<std::string>& argv) {
  std::vector<std::string> all;
  if (process::running_as_root()) all = {"runuser", "-u", "postgres", "--"};
  all.insert(all.end(), argv.begin(), argv.end());
  return process::quote_command(all);
}

std::string tool(const cluster::Node& n, const std::string& name) {
  return (std::filesystem::path(n.cluster_options().bindir) / name).string();
}

struct SiteCommands {
  std::string stop_command;  // default: pg_ctl stop
  bool templates = true;     // false: neither pgdata nor templates
};

// A rulectl.toml like write_control_toml's, but for E3 sites NO pgdata,
// bindir or conf_file: what runs on a node's host is in its templates only
// (here local commands; on real hosts `ssh HOST ...`).
void write_template_toml(Pipeline& p, const std::filesystem::path& file, const std::filesystem::path& state,
                         const std::map<std::string, SiteCommands>& overrides = {}) {
  std::string toml = fmt::format("[rulectl]\nstate_dir = {}\n\n", toml_string(state.string()));
  for (const auto& np : p.set.nodes()) {
    const cluster::Node& n = *np;
    toml += fmt::format(
        "[sites.{}]\nconninfo = \"host=127.0.0.1 port={} user=postgres dbname=rules connect_timeout=3\"\n"
        "environment = \"{}\"\n",
        n.site(), n.port(), n.environment());
    if (n.site() == "ipc1") toml += "dr = true\n";
    if (n.environment() == "e3") {
      SiteCommands sc;
      if (auto it = overrides.find(n.site()); it != overrides.end()) sc = it->second;
      toml += fmt::format("start_command = {}\nstop_command = {}\n", toml_string(pg_ctl(n, true)),
                          toml_string(sc.stop_command.empty() ? pg_ctl(n, false) : sc.stop_command));
      if (sc.templates) {
        const std::string pgdata = n.data_dir().string();
        toml += fmt::format("controldata_command = {}\nrewind_command = {}\nstandby_command = {}\n",
                            toml_string(as_postgres({tool(n, "pg_controldata"), "-D", pgdata})),
                            toml_string(as_postgres({tool(n, "pg_rewind"), "-D", pgdata}) +
                                        " --source-server={source_conninfo} {dry_run}"),
                            toml_string(process::quote_command({RULECTL_BINARY, "node", "standby", "--pgdata", pgdata,
                                                                "--conf-file", n.conf_file().string()}) +
                                        " --primary-conninfo {primary_conninfo} --slot {slot_name}"));
      }
    }
    toml += "\n";
  }
  std::ofstream(file) << toml;
}

CommandResult run_with(const std::filesystem::path& config, std::vector<std::string> args) {
  args.insert(args.begin(), {"--config", config.string()});
  CommandResult r = rulekeeper::testing::run_rulectl(args);
  rulekeeper::testing::append_transcript("RULEKEEPER_FAILOVER_TRANSCRIPT", args, r);
  return r;
}

std::string me_at_host() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  const passwd* pw = ::getpwuid(::geteuid());
  return fmt::format("{}@{}", pw ? pw->pw_name : std::to_string(::geteuid()), host);
}

}  // namespace

// No pgdata for the E3 sites: a forced failover after a crash, the rejoin
// (isolate, orphans, controldata, rewind --dry-run and rewind, standby
// settings) and a planned switchover back all go through the templates.
// A site with neither templates nor pgdata, and a misspelt placeholder, are
// exit 2 naming the key.
TEST(Hosts, TemplatesWithoutPgdata_FailoverRejoinSwitchback) {
  Pipeline p(kTemplates);
  const auto base = p.set.options().base;
  const auto config = base / "remote.toml";
  write_template_toml(p, config, base / "state");
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  p.create_rule(kA, "fees");
  p.create_version(kA, R"({"rate": 1.5, "cap": 20})");
  p.ship();
  p.to_prod(kA, "1");
  sql_value(ipc2,
            "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('fees', ARRAY['/rate']) "
            "RETURNING ruleset");
  ipc1.wait_replayed(ipc2, std::chrono::seconds(60));

  // Exit 2, nothing done: ipc2 has no way to be driven.
  {
    const auto bare = base / "bare.toml";
    write_template_toml(p, bare, base / "state-bare", {{"ipc2", {"", false}}});
    CommandResult r = run_with(bare, {"failover", "--yes", "--to", "ipc1"});
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_TRUE(contains(r.err, "lacks sites.ipc2.pgdata (or controldata_command, rewind_command, standby_command)"))
        << describe(r);
    EXPECT_FALSE(ipc2.in_recovery());
    // A placeholder rulectl does not fill is refused when the file is read.
    std::string text = read_text(config);
    const auto at = text.find("{source_conninfo}");
    ASSERT_NE(at, std::string::npos);
    text.replace(at, std::string("{source_conninfo}").size(), "{source}");
    std::ofstream(bare) << text;
    r = run_with(bare, {"status"});
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_TRUE(contains(r.err, "rewind_command: unknown placeholder {source}")) << describe(r);
  }

  // ipc2 crashes with an orphan (a hotfix ipc1 never got); forced failover to ipc1.
  ipc1.stop();
  const auto before = journal_ids(ipc2);
  ASSERT_EQ(hotfix(p, kA, R"({"rate": 1.9, "cap": 20})", "card fee fix at ipc2"), "1.1");
  const auto orphan_ids = new_ids(ipc2, before);
  ASSERT_FALSE(orphan_ids.empty());
  ipc2.kill9();
  ipc1.start();
  CommandResult r = run_with(config, {"failover", "--yes", "--to", "ipc1", "--force", "--wait-catchup", "10"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_FALSE(ipc1.in_recovery());

  // rejoin: ipc2 is down; everything through the templates.
  const auto orphans = base / "orphans-ipc2.json";
  r = run_with(config, {"--json", "rejoin", "--yes", "--site", "ipc2", "--orphans", orphans.string()});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json rj = json::parse(r.out);
  EXPECT_EQ(rj["result"], "rejoined") << r.out;
  EXPECT_EQ(rj["rewind"], "rewound") << r.out;
  EXPECT_TRUE(contains(rj["steps"].dump(), "standby_command")) << r.out;
  EXPECT_TRUE(contains(rj["steps"].dump(), "pg_rewind --dry-run ok")) << r.out;
  std::set<std::string> in_bundle;
  for (const auto& c : rj["orphans"]["changes"]) in_bundle.insert(c["change_id"].get<std::string>());
  EXPECT_EQ(in_bundle, orphan_ids);
  const std::string log = read_text(base / "state" / "logs" / "rejoin-ipc2.log");
  for (const char* key : {"runs standby_command of site ipc2", "runs controldata_command of site ipc2",
                          "runs rewind_command of site ipc2", "--dry-run"})
    EXPECT_TRUE(contains(log, key)) << key << "\n" << log;
  EXPECT_TRUE(ipc2.in_recovery());
  EXPECT_TRUE(streams_from(ipc1, "ipc2"));

  // Switch back, planned: stop, controldata, standby through the templates.
  ipc2.wait_replayed(ipc1, std::chrono::seconds(60));
  r = run_with(config, {"failover", "--yes", "--to", "ipc2"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "zero changes lost")) << describe(r);
  EXPECT_FALSE(ipc2.in_recovery());
  EXPECT_TRUE(ipc1.in_recovery());
  EXPECT_TRUE(streams_from(ipc2, "ipc1"));
  EXPECT_TRUE(
      contains(read_text(base / "state" / "logs" / "failover-ipc1.log"), "runs controldata_command of site ipc1"));
}

// Two operators, two rulectl.toml and two state directories (two hosts): a
// failover whose stop_command is held up holds the control lock in the E3
// servers; the other operator's failover and rejoin are refused (exit 3)
// naming the holder; once it is done the lock is free again.
TEST(Hosts, TwoOperatorsRacing_OneProceedsOneRefused) {
  Pipeline p(kRace);
  const auto base = p.set.options().base;
  cluster::Node& ipc2 = *p.ipc2;
  cluster::Node& ipc1 = *p.ipc1;
  ipc1.wait_replayed(ipc2, std::chrono::seconds(60));
  const auto entered = base / "stop-entered", go = base / "stop-go";
  // Operator A's stop_command for ipc2 waits (bounded) for the test's go.
  const std::string held_stop =
      fmt::format("touch {e}; i=0; while [ ! -e {g} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; {stop}",
                  fmt::arg("e", process::shell_quote(entered.string())),
                  fmt::arg("g", process::shell_quote(go.string())), fmt::arg("stop", pg_ctl(ipc2, false)));
  const auto config_a = base / "operator-a.toml", config_b = base / "operator-b.toml";
  write_template_toml(p, config_a, base / "state-a", {{"ipc2", {held_stop, true}}});
  write_template_toml(p, config_b, base / "state-b");

  Background a("failover-a", {"--config", config_a.string(), "failover", "--yes", "--to", "ipc1"});
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(entered) || !a.running(); }))
      << "operator A's failover never reached its stop_command";
  ASSERT_TRUE(a.running());

  const std::string holder = "another failover or rejoin is running: rulectl failover by " + me_at_host();
  CommandResult b = run_with(config_b, {"failover", "--yes", "--to", "ipc1"});
  EXPECT_EQ(b.exit_code, 3) << describe(b);
  EXPECT_TRUE(contains(b.err, holder)) << describe(b);
  EXPECT_TRUE(contains(b.err, "refusing to failover meanwhile")) << describe(b);
  b = run_with(config_b, {"rejoin", "--yes", "--site", "ipc2"});
  EXPECT_EQ(b.exit_code, 3) << describe(b);
  EXPECT_TRUE(contains(b.err, holder)) << describe(b);
  EXPECT_TRUE(contains(b.err, "refusing to rejoin meanwhile")) << describe(b);
  // B changed nothing, A is still at its stop_command.
  EXPECT_TRUE(ipc1.in_recovery());
  EXPECT_TRUE(a.running());

  { std::ofstream(go.string()) << "go\n"; }
  CommandResult ra = a.finish();
  ASSERT_EQ(ra.exit_code, 0) << describe(ra);
  EXPECT_FALSE(ipc1.in_recovery());
  EXPECT_TRUE(ipc2.in_recovery());

  // The lock went with A's sessions: B's switchover back proceeds.
  ipc2.wait_replayed(ipc1, std::chrono::seconds(60));
  b = run_with(config_b, {"failover", "--yes", "--to", "ipc2"});
  ASSERT_EQ(b.exit_code, 0) << describe(b);
  EXPECT_FALSE(ipc2.in_recovery());
  EXPECT_EQ(
      sql_value(ipc2,
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1920298085 AND objid = 3"),
      "0");
}
