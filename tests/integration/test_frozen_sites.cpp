// Frozen sites (issue #14 item 2): a hung host or a stalled disk is a server
// that accepts TCP and never answers. Simulated with SIGSTOP of a site's
// postmaster and backends; every test continues them (SIGCONT) in a guard's
// destructor, so a failed assertion never leaves a stopped server behind
// (the Pipeline, declared first, stops the servers after). Real clusters
// (pipeline.hpp: e1, e2, ipc2 the E3 primary, ipc1 its streaming standby),
// the built rulectl. Ports: integration_frozen in tests/ports.txt.
//
// Bounds asserted are generous (several times the documented timeout) so a
// loaded machine does not fail them; what they catch is "forever".
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "background_rulectl.hpp"
#include "failover_support.hpp"

using namespace rulekeeper;
using namespace rulekeeper::testing::fo;
using nlohmann::json;
using rulekeeper::testing::CommandResult;
using rulekeeper::testing::Pipeline;
using rulekeeper::testing::sql_value;
namespace ports = rulekeeper::testing::ports;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

const char* kRule = "fees.card";

// The children of `pid` (a postmaster's backends and auxiliary processes).
std::vector<int> children_of(int pid) {
  std::vector<int> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid) out.push_back(std::stoi(name));
  }
  return out;
}

// SIGSTOPs the given processes now and SIGCONTs them when it goes out of
// scope (or at thaw()), whatever happened in between.
class Frozen {
public:
  explicit Frozen(std::vector<int> pids) : pids_(std::move(pids)) {
    for (int pid : pids_) ::kill(pid, SIGSTOP);
  }
  ~Frozen() { thaw(); }
  void thaw() {
    for (int pid : pids_) ::kill(pid, SIGCONT);
    pids_.clear();
  }
  Frozen(const Frozen&) = delete;
  Frozen& operator=(const Frozen&) = delete;

private:
  std::vector<int> pids_;
};

// A whole site: the postmaster first (it forks no new backend then), then
// every child.
std::vector<int> whole_site(const cluster::Node& n) {
  const int pm = n.postmaster_pid();
  EXPECT_NE(pm, 0) << n.site() << " is not running";
  std::vector<int> pids{pm};
  for (int c : children_of(pm)) pids.push_back(c);
  return pids;
}

void rule_in_prod(Pipeline& p) {
  p.create_rule(kRule, "fees");
  p.create_version(kRule, R"({"rate": 1.5, "cap": 20})");
  p.ship();
  p.to_prod(kRule, "1");
  sql_value(*p.ipc2,
            "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES ('fees', ARRAY['/rate']) "
            "RETURNING ruleset");
  p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));
  ASSERT_TRUE(wait_until([&] {
    return sql_value(*p.ipc1, "SELECT count(*) FROM rulekeeper.heartbeat WHERE site = 'ipc2'") != "0";
  })) << "ipc1 never replayed a heartbeat of ipc2";
}

double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

const json* site_row(const json& status, const std::string& site) {
  for (const auto& s : status["sites"])
    if (s["site"] == site) return &s;
  return nullptr;
}

}  // namespace

// The standby's host hangs (postmaster and every backend stopped) while
// watch runs: watch goes on checking the primary on its own (a kill -9 of it
// is reported within a few intervals, not after the standby's stall), the
// standby is reported as not answering, `hotfix --sync --sync-timeout 5`
// returns by its timeout saying the standby did not apply it, and `status`
// answers.
TEST(FrozenSites, FrozenStandby_HotfixSyncReturnsByItsTimeout_WatchStillSeesThePrimaryDie) {
  Pipeline p(ports::integration_frozen[0]);
  write_control_toml(p);
  rule_in_prod(p);

  Background w("frozen", {"--config", p.config, "watch", "--interval", "200", "--fail-after", "3", "--count", "600"});
  ASSERT_TRUE(w.wait_for_output("ipc1     (start) -> standby, streaming from ipc2")) << w.out();
  Frozen ipc1(whole_site(*p.ipc1));

  // The standby's stall is reported; the primary keeps being checked.
  EXPECT_TRUE(w.wait_for_output("ipc1     standby, streaming from ipc2 -> UNREACHABLE", std::chrono::seconds(30)))
      << w.out();

  // hotfix --sync with the standby frozen: committed at ipc2, not applied
  // at ipc1, and back by its timeout (5 s; 15 s allowed for the load).
  const auto body = rulekeeper::testing::write_temp_file("frozen-fix.json", R"({"rate": 1.9, "cap": 20})");
  auto t0 = clock_type::now();
  CommandResult h = run(p, {"hotfix", "--yes", "--site", "e3", "--rule", kRule, "--body-file", body.string(),
                            "--reason", "fix while ipc1 hangs", "--sync", "--sync-timeout", "5"});
  const double hotfix_took = seconds_since(t0);
  EXPECT_EQ(h.exit_code, 3) << describe(h);
  EXPECT_LT(hotfix_took, 15.0) << describe(h);
  EXPECT_TRUE(contains(h.out + h.err, "NOT yet at ipc1")) << describe(h);

  // status answers with ipc1 frozen, and says it does not answer.
  t0 = clock_type::now();
  CommandResult s = run(p, {"--json", "status"});
  EXPECT_LT(seconds_since(t0), 20.0) << describe(s);
  const json doc = json::parse(s.out);
  const json* row = site_row(doc, "ipc1");
  ASSERT_NE(row, nullptr) << s.out;
  EXPECT_EQ((*row)["role"], "unreachable") << s.out;
  EXPECT_TRUE(contains((*row)["error"].get<std::string>(), "may be frozen")) << s.out;
  EXPECT_EQ(site_row(doc, "ipc2") == nullptr ? json() : (*site_row(doc, "ipc2"))["role"], "primary") << s.out;

  // The primary dies while the standby hangs: reported within seconds.
  p.ipc2->kill9();
  t0 = clock_type::now();
  EXPECT_TRUE(w.wait_for_output("E3 PRIMARY ipc2 FAILED 3 consecutive checks", std::chrono::seconds(30))) << w.out();
  EXPECT_LT(seconds_since(t0), 30.0);
  ipc1.thaw();
  CommandResult r = w.finish();
  EXPECT_EQ(r.exit_code, 4) << describe(r);
}

// The primary's postmaster hangs but its backends run (new connections are
// never answered, kept ones are): status and watch say the same thing — it
// does not answer — and watch counts it as failing; three failed checks are
// at least an interval apart, never a burst after a stall.
TEST(FrozenSites, FrozenPrimaryPostmaster_StatusAndWatchAgree) {
  Pipeline p(ports::integration_frozen[4]);
  write_control_toml(p);
  p.ipc1->wait_replayed(*p.ipc2, std::chrono::seconds(60));

  Background w("frozen",
               {"--config", p.config, "--json", "watch", "--interval", "300", "--fail-after", "3", "--count", "400"});
  ASSERT_TRUE(w.wait_for_output("\"to\":\"primary\"")) << w.out();
  Frozen postmaster({p.ipc2->postmaster_pid()});
  ASSERT_TRUE(w.wait_for_output("\"kind\":\"failed\"", std::chrono::seconds(60))) << w.out();

  CommandResult s = run(p, {"--json", "status"});
  const json doc = json::parse(s.out);
  const json* row = site_row(doc, "ipc2");
  ASSERT_NE(row, nullptr) << s.out;
  EXPECT_EQ((*row)["role"], "unreachable") << s.out;
  EXPECT_TRUE(contains((*row)["error"].get<std::string>(), "may be frozen")) << s.out;
  postmaster.thaw();

  CommandResult r = w.finish();
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  std::vector<json> events;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) events.push_back(json::parse(line));
  bool unreachable = false;
  for (const auto& e : events)
    if (e["kind"] == "site" && e["site"] == "ipc2" && e["to"] == "UNREACHABLE") {
      unreachable = true;
      EXPECT_TRUE(contains(e["detail"].get<std::string>(), "may be frozen")) << e.dump();
    }
  EXPECT_TRUE(unreachable) << r.out;
  const json& last = events.back();
  ASSERT_EQ(last["kind"], "summary") << r.out;
  EXPECT_EQ(last["failed"], "ipc2") << r.out;
  // Three checks, each started at least an interval (0.3 s) after the one
  // before and each waiting its connect timeout (2 s): never 10 ms apart.
  bool found = false;
  for (const auto& e : events)
    if (e["kind"] == "failed") {
      found = true;
      const std::string d = e["to"].get<std::string>() + e["detail"].get<std::string>();
      const auto ago = d.find("s ago)");
      ASSERT_NE(ago, std::string::npos) << d;
      const auto open = d.rfind(", ", ago);
      const double first_to_third = std::stod(d.substr(open + 2, ago - open - 2));
      EXPECT_GE(first_to_third, 0.6) << d;
    }
  EXPECT_TRUE(found) << r.out;
}
