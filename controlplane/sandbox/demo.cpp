// `rulectl sandbox demo`: a narrated tour on the sandbox that runs the real
// commands and shows what each prints — author v1..v3, test in e2, release to
// e3, SL1-SL4, PR1, cutover, a hotfix, the next release flagged for drift, a
// failover with an orphan, the rejoin and the reconcile, the final compare.
// Every rulectl step is this very binary run as a child process with the
// sandbox's rulectl.toml, exactly as a person would type it; SQL steps show
// the statement and its result.
#include "sandbox/demo.hpp"
#include "sandbox/portal.hpp"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "sandbox/cluster.hpp"
#include "site/config.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "pgnode/process.hpp"
#include "common/poll.hpp"
#include "sandbox/patroni.hpp"

namespace fs = std::filesystem;

namespace rulekeeper::sandbox {
namespace {

class Tour {
public:
  Tour(fs::path base, config::Config config) : base_(std::move(base)), config_(std::move(config)) {
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) throw common::ExitError(common::exit_failed, "cannot find the rulectl binary (/proc/self/exe)");
    self_.assign(self, static_cast<std::size_t>(n));
    fs::create_directories(base_ / "demo");
  }

  void chapter(const std::string& title, const std::string& why) {
    ++chapter_;
    // Bold only on a terminal: a redirected tour stays plain text.
    const bool tty = ::isatty(STDOUT_FILENO) != 0;
    std::cout << "\n"
              << (tty ? "\033[1m" : "") << "== " << chapter_ << ". " << title << " ==" << (tty ? "\033[0m" : "")
              << "\n";
    if (!why.empty()) std::cout << why << "\n";
    std::cout.flush();
  }

  // Runs `rulectl ARGS --config <sandbox toml>`; prints the command, its
  // output, and its exit code when not 0. Fails the tour when the exit code
  // is not the expected one.
  int rulectl(std::vector<std::string> args, int expect = 0) {
    std::vector<std::string> argv{self_};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config", (base_ / "rulectl.toml").string()});
    std::cout << "\n$ rulectl " << process::quote_command(args) << "\n";
    std::cout.flush();
    const fs::path out = base_ / "demo" / fmt::format("step-{}.out", ++step_);
    process::RunOptions o;
    o.stdout_file = out;
    o.timeout = std::chrono::seconds(120);
    auto r = process::run(argv, o);
    std::ifstream in(out);
    std::string line;
    while (std::getline(in, line)) std::cout << "  " << line << "\n";
    if (r.exit_code != 0) std::cout << "  (exit " << r.exit_code << ")\n";
    std::cout.flush();
    if (r.exit_code != expect)
      throw common::ExitError(common::exit_failed, fmt::format("demo: `rulectl {}` exited {} (expected {})",
                                                               process::quote_command(args), r.describe(), expect));
    return r.exit_code;
  }

  // Runs SQL at a site and prints it and its rows.
  void sql(const std::string& site, const std::string& statement) {
    std::cout << "\n" << site << "=# " << statement << "\n";
    pqxx::connection c(conninfo(site));
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec(statement);
    if (r.columns() == 0) return;
    std::vector<std::string> headers;
    for (pqxx::row::size_type i = 0; i < r.columns(); ++i) headers.emplace_back(r.column_name(i));
    common::Table t(headers);
    for (const auto& row : r) {
      std::vector<std::string> cells;
      for (const auto& f : row) cells.push_back(f.is_null() ? "" : common::abbreviate(f.c_str(), 70));
      t.add_row(cells);
    }
    std::ostringstream s;
    t.print(s);
    std::istringstream lines(s.str());
    std::string line;
    while (std::getline(lines, line)) std::cout << "  " << line << "\n";
    std::cout.flush();
  }

  // Prints a file the way `cat` would, indented.
  void show_file(const fs::path& path) {
    std::cout << "\n$ cat " << process::shell_quote(path.string()) << "\n";
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) std::cout << "  " << line << "\n";
    std::cout.flush();
  }

  fs::path write_file(const std::string& name, const std::string& text) {
    const fs::path p = base_ / "demo" / name;
    std::ofstream(p) << text;
    return p;
  }

  std::string conninfo(const std::string& site) const {
    const config::SiteConfig* s = config_.find(site);
    if (s == nullptr) throw common::ExitError(common::exit_failed, "demo: no site " + site + " in the sandbox config");
    return s->conninfo;
  }

  const fs::path& base() const { return base_; }

private:
  fs::path base_;
  config::Config config_;
  std::string self_;
  int chapter_ = 0;
  int step_ = 0;
};

}  // namespace

int run_demo(const fs::path& base, cluster::ClusterOptions cluster_options,
             const std::vector<cluster::NodeOptions>& nodes, bool under_patroni) {
  const auto started = std::chrono::steady_clock::now();
  Tour tour(base, config::load((base / "rulectl.toml").string()));
  auto node = [&](const std::string& site) {
    for (const auto& n : nodes)
      if (n.site == site) return cluster::Node(cluster_options, n);
    throw common::ExitError(common::exit_failed, "demo: no sandbox node " + site);
  };

  // Waits of the Patroni form: what Patroni does happens in its own time.
  auto wait_until = [](const std::string& what, auto ready) {
    if (!common::poll_until(std::chrono::seconds(90), std::chrono::milliseconds(100), ready))
      throw common::ExitError(common::exit_failed, "demo: timed out after 90s waiting for " + what);
  };

  tour.chapter("Author at E1", "Rules and versions are born at e1; each version is immutable and checksummed.");
  tour.sql("e1",
           "SELECT rulekeeper.create_rule('pricing.discount', 'pricing', 'discount by tier'), "
           "rulekeeper.create_rule('risk.limit', 'risk', 'exposure limit')");
  tour.sql("e1",
           "SELECT rulekeeper.create_version('pricing.discount', '{\"rate\": 0.10, \"tiers\": [100, 500]}') AS v1, "
           "rulekeeper.create_version('pricing.discount', '{\"rate\": 0.12, \"tiers\": [100, 500]}') AS v2, "
           "rulekeeper.create_version('pricing.discount', '{\"rate\": 0.14, \"tiers\": [100, 500]}') AS v3, "
           "rulekeeper.create_version('risk.limit', '{\"max\": 1000}') AS risk_v1");
  tour.sql("e1",
           "SELECT rule_key, label, qualification, left(content_sha256, 16) AS content_sha256 "
           "FROM rulekeeper.rule_version ORDER BY rule_key, version");

  tour.chapter("Release to E2 and test there",
               "A bundle carries the drafts one environment forward; e1 marks them promoted.");
  tour.rulectl({"release", "--from", "e1", "--to", "e2"});
  for (const char* label : {"1", "2", "3"})
    tour.rulectl({"validate", "--site", "e2", "--rule", "pricing.discount", "--version", label, "--result", "passed"});
  tour.rulectl({"validate", "--site", "e2", "--rule", "risk.limit", "--version", "1", "--result", "passed"});

  tour.chapter("Release to E3", "They arrive awaiting_sl: distributed, not active. --wait-replicated waits for IPC1.");
  tour.rulectl({"release", "--yes", "--from", "e2", "--to", "e3", "--wait-replicated", "20"});

  tour.chapter("SL1: prod on 1, SL testing 2, both pinned; a release moves neither",
               "Activations are rows: they survive restarts and replicate to IPC1.");
  tour.rulectl(
      {"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing.discount", "--version", "1"});
  tour.rulectl(
      {"validate", "--yes", "--site", "e3", "--rule", "pricing.discount", "--version", "1", "--result", "passed"});
  tour.rulectl({"pin", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing.discount", "--version", "1"});
  tour.rulectl({"pin", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing.discount", "--version", "2"});
  tour.rulectl({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing.discount", "--version", "3"},
               3);
  tour.sql("ipc2", "SELECT rule_key, sl_label, sl_pinned, prod_label, prod_pinned FROM rulekeeper.rule_state");

  tour.chapter("SL2: SL switches to 3", "Version 2 shows inactive_sl and stays the rollback target.");
  tour.rulectl({"unpin", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing.discount"});
  tour.rulectl(
      {"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing.discount", "--version", "3"});
  tour.sql("ipc2",
           "SELECT label, qualification, lifecycle FROM rulekeeper.version_state "
           "WHERE rule_key = 'pricing.discount' ORDER BY label");

  tour.chapter("SL3: defects in 3", "Failed in SL is final; rollback puts SL back on 2; prod admits neither.");
  tour.rulectl(
      {"validate", "--yes", "--site", "e3", "--rule", "pricing.discount", "--version", "3", "--result", "failed"});
  tour.rulectl({"rollback", "--yes", "--site", "e3", "--channel", "sl", "--rule", "pricing.discount"});
  tour.rulectl({"activate", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing.discount", "--version",
                "3"},
               3);

  tour.chapter("SL4 and green becomes blue",
               "2 passes SL; cutover moves every validated SL version to prod in one epoch.");
  tour.rulectl(
      {"validate", "--yes", "--site", "e3", "--rule", "pricing.discount", "--version", "2", "--result", "passed"});
  tour.rulectl({"activate", "--yes", "--site", "e3", "--channel", "sl", "--rule", "risk.limit", "--version", "1"});
  tour.rulectl({"validate", "--yes", "--site", "e3", "--rule", "risk.limit", "--version", "1", "--result", "passed"});
  tour.rulectl({"unpin", "--yes", "--site", "e3", "--channel", "prod", "--rule", "pricing.discount"});
  tour.rulectl({"cutover", "--yes", "--site", "e3"});
  tour.sql("ipc2",
           "SELECT label, lifecycle FROM rulekeeper.version_state WHERE rule_key = 'pricing.discount' ORDER BY label");

  tour.chapter("PR1: what IPC1's pods see", "One statement on the standby: never an activation of a version it lacks.");
  tour.rulectl({"status"});
  tour.sql("ipc1", "SELECT rule_key, label, epoch FROM rulekeeper.effective_rules('prod')");

  tour.chapter("A hotfix at the E3 primary",
               "Only paths the ruleset's policy allows; a reason; live in prod at once; --sync waits for IPC1 after "
               "the commit.");
  tour.sql("ipc2",
           "INSERT INTO rulekeeper.hotfix_policy (ruleset, allowed_paths) VALUES "
           "('pricing', ARRAY['/rate']), ('risk', ARRAY['/max']) ON CONFLICT DO NOTHING");
  const fs::path fix = tour.write_file("pricing-hotfix.json", "{\"rate\": 0.125, \"tiers\": [100, 500]}\n");
  tour.rulectl({"hotfix", "--yes", "--site", "e3", "--rule", "pricing.discount", "--body-file", fix.string(),
                "--reason", "rate rounding complaint #4711", "--sync"});
  tour.rulectl({"diff", "--site", "e3", "--rule", "pricing.discount", "--from", "2", "--to", "2.1"});

  tour.chapter("The next planned release is flagged for drift",
               "Version 4 was authored without the hotfix's change: it is annotated 'overrides', and prod will refuse "
               "it without acknowledgement.");
  tour.sql(
      "e1",
      "SELECT rulekeeper.create_version('pricing.discount', '{\"rate\": 0.12, \"tiers\": [100, 500, 1000]}') AS v4");
  tour.rulectl({"release", "--from", "e1", "--to", "e2"});
  tour.rulectl({"validate", "--site", "e2", "--rule", "pricing.discount", "--version", "4", "--result", "passed"});
  tour.rulectl({"release", "--yes", "--from", "e2", "--to", "e3", "--wait-replicated", "20"});

  if (under_patroni) {
    tour.chapter("Inside IPC2: Patroni fails over to ipc2b",
                 "kill -9 of ipc2's postmaster: Patroni promotes ipc2b, the synchronous standby (nothing acknowledged "
                 "is lost), brings ipc2 back as its replica, and IPC1's standby leader follows ipc2b. rulectl runs "
                 "nothing; Patroni's on_role_change callback records the change in rulectl's state.");
    cluster::Node ipc2 = node("ipc2");
    cluster::Node ipc2b = node("ipc2b");
    ipc2.kill9();
    wait_until("Patroni to promote ipc2b", [&] { return !ipc2b.in_recovery(); });
    wait_until("ipc2 to follow ipc2b", [&] { return ipc2.in_recovery(); });
    // IPC1 follows ipc2b onto its new timeline (else a later promotion of
    // ipc1 would reuse ipc2b's timeline number on another history).
    cluster::Node ipc1 = node("ipc1");
    wait_until("ipc1 to follow ipc2b onto its timeline", [&] {
      const std::string tl =
          ipc2b.query_value("SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int",
                            "postgres");
      return ipc1.query_value("SELECT received_tli FROM pg_stat_wal_receiver", "postgres") == tl &&
             ipc1.query_value("SELECT pg_last_wal_replay_lsn() >= '" + ipc2b.current_lsn() + "'::pg_lsn", "postgres") ==
                 "t";
    });
    tour.rulectl({"status"});
    tour.sql("ipc2b", "SELECT rule_key, label FROM rulekeeper.effective_rules('prod') ORDER BY rule_key");
    tour.show_file(base / "patroni" / "state" / "patroni-role-changes.jsonl");

    tour.chapter("IPC2 fails with a change IPC1 never got",
                 "IPC1 is cut off (its standby_cluster pointed at nothing), a hotfix on risk.limit lands in IPC2 "
                 "only, then both IPC2 hosts die (kill -9 of Patroni and PostgreSQL).");
    patroni::patch_config(base, "ipc1", "{\"standby_cluster\": {\"host\": \"127.0.0.2\"}}");
    wait_until("ipc1 to stop streaming", [&] {
      return ipc2b.query_value("SELECT count(*) FROM pg_stat_replication WHERE application_name = 'ipc1'",
                               "postgres") == "0";
    });
    const fs::path risk = tour.write_file("risk-hotfix.json", "{\"max\": 1500}\n");
    tour.rulectl({"hotfix", "--yes", "--site", "e3", "--rule", "risk.limit", "--body-file", risk.string(), "--reason",
                  "limit raised for quarter end"});
    patroni::kill_member(base, "ipc2");
    patroni::kill_member(base, "ipc2b");
    tour.rulectl({"status"}, 4);
  } else {
    tour.chapter("IPC2 fails with a change IPC1 never got",
                 "ipc1 is cut off, a hotfix on risk.limit lands at ipc2 only, then ipc2 dies (kill -9).");
    cluster::Node ipc1 = node("ipc1");
    cluster::Node ipc2 = node("ipc2");
    ipc1.stop(cluster::StopMode::fast);
    const fs::path risk = tour.write_file("risk-hotfix.json", "{\"max\": 1500}\n");
    tour.rulectl({"hotfix", "--yes", "--site", "ipc2", "--rule", "risk.limit", "--body-file", risk.string(), "--reason",
                  "limit raised for quarter end"});
    ipc2.kill9();
    ipc1.start();
    tour.rulectl({"status"}, 4);
  }

  tour.chapter("Failover to IPC1",
               "Without IPC2 the loss cannot be proven: refused until --force; --dry-run shows what a forced "
               "failover would keep and lose without doing it; --yes confirms (on a terminal rulectl asks); the "
               "divergence point is recorded.");
  tour.rulectl({"failover", "--to", "ipc1"}, 3);
  tour.rulectl({"failover", "--to", "ipc1", "--force", "--dry-run"});
  tour.rulectl({"failover", "--yes", "--to", "ipc1", "--force"});

  tour.chapter("IPC2 returns: rejoin",
               "Its orphaned change is written to a bundle first, then it is rewound to follow IPC1.");
  if (under_patroni) {
    // Patroni brings IPC2 back (and elects a leader that accepts writes):
    // rejoin fences it through Patroni before it reads the orphans.
    patroni::start_daemon(base, "ipc2");
    patroni::start_daemon(base, "ipc2b");
    wait_until("a member of IPC2 to answer", [&] {
      for (const char* site : {"ipc2", "ipc2b"}) {
        try {
          if (node(site).connect()->is_open()) return true;
        } catch (const std::exception&) {
        }
      }
      return false;
    });
  }
  const fs::path orphans = tour.base() / "demo" / "orphans.json";
  tour.rulectl({"rejoin", "--yes", "--site", "ipc2", "--orphans", orphans.string()});

  tour.chapter("Reconcile",
               "The orphan comes back as 'recovered', not activated; activations are listed, not re-applied.");
  tour.rulectl({"reconcile", "--yes", "--bundle", orphans.string(), "--to", "e3"});
  tour.sql("ipc1",
           "SELECT rule_key, label, qualification, lifecycle FROM rulekeeper.version_state "
           "WHERE rule_key = 'risk.limit' ORDER BY label");

  tour.chapter("Both sites hold the same", "Checksum buckets, then the rules of differing buckets.");
  if (under_patroni) {
    // Patroni brings ipc2 back as a replica of the standby leader in its own
    // time (a rewind too): compare once it has replayed what ipc1 holds.
    cluster::Node ipc1 = node("ipc1");
    cluster::Node ipc2 = node("ipc2");
    wait_until("ipc2 to replay what ipc1 holds", [&] {
      return ipc2.query_value("SELECT pg_last_wal_replay_lsn() >= '" + ipc1.current_lsn() + "'::pg_lsn", "postgres") ==
             "t";
    });
  }
  tour.rulectl({"compare", "ipc1", "ipc2"});

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << fmt::format("\nTour done in {:.1f} s. ", seconds)
            << (under_patroni
                    ? "The sandbox keeps running (ipc1 is now the E3 primary, Patroni cluster ipc2 its standby "
                      "cluster). Explore:\n"
                    : "The sandbox keeps running (ipc1 is now the E3 primary, ipc2 its standby). Explore:\n")
            << closing_hint(base, nodes);
  return common::exit_ok;
}

std::string closing_hint(const std::filesystem::path& base, const std::vector<cluster::NodeOptions>& nodes) {
  std::string out =
      "  export RULECTL_CONFIG=" + process::shell_quote((base / "rulectl.toml").string()) + "\n" + "  rulectl status\n";
  for (const auto& n : nodes)
    out += fmt::format("  psql -h 127.0.0.1 -p {} -U postgres rules    # {}\n", n.port, n.site);
  out += portal::hint(base);
  out += "  rulectl sandbox down --base " + process::shell_quote(base.string()) + "   # when done\n";
  return out;
}

}  // namespace rulekeeper::sandbox
