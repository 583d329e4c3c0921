// `rulectl watch [--interval MS] [--fail-after N] [--on-fail CMD] [--count N]`
// (issue #6, seed "How can Ops detect that master is down?").
//
// Polls every configured site (all at once, one kept connection each), prints
// one line per change of a site's health, and follows the E3 primary: after
// N consecutive failed checks of it (unreachable, or no longer accepting
// writes) it exits 4 — or, with --on-fail, runs that command once per outage
// and keeps watching. Detection only: promotion across data centres stays a
// human decision (the line says which commands would do it).
#include <ctime>
#include <future>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "common/text.hpp"
#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "site/conninfo.hpp"
#include "site/node_probe.hpp"
#include "common/output.hpp"
#include "common/time.hpp"
#include "pgnode/process.hpp"
#include "site/probe.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;

struct WatchOptions {
  int interval_ms = 1000;
  int fail_after = 3;
  std::string on_fail;
  long long count = 0;  // checks, 0 = forever
};

struct Watched {
  const config::SiteConfig* cfg = nullptr;
  std::unique_ptr<pqxx::connection> conn;
  // Result of the latest check.
  bool reachable = false;
  bool writable = false;
  std::string health;  // the class a line is printed for when it changes
  std::string detail;  // the error, not part of the class
  std::string last_health;
};

void check(Watched& w, const config::Config& config, int connect_timeout) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!w.conn) {
      std::string err;
      w.conn = node_probe::try_connect(*w.cfg, err, connect_timeout);
      if (!w.conn) {
        w.reachable = w.writable = false;
        w.health = "UNREACHABLE";
        w.detail = err;
        return;
      }
    }
    try {
      pqxx::nontransaction tx(*w.conn);
      pqxx::result r = tx.exec(
          "SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver), "
          "(SELECT sender_host FROM pg_stat_wal_receiver), (SELECT sender_port::text FROM pg_stat_wal_receiver)");
      w.reachable = true;
      w.detail.clear();
      const bool recovery = r[0][0].as<bool>();
      w.writable = !recovery;
      if (!recovery) {
        w.health = "primary";
      } else if (r[0][1].is_null()) {
        w.health = "standby, no upstream";
      } else {
        const config::SiteConfig* up =
            r[0][2].is_null() ? nullptr : conninfo::site_at(config, r[0][2].c_str(), r[0][3].c_str(), w.cfg->name);
        w.health = fmt::format("standby, {} {}", r[0][1].c_str(),
                               up ? "from " + up->name
                                  : r[0][2].is_null() ? std::string("") : fmt::format("from {}:{}", r[0][2].c_str(),
                                                                                      r[0][3].c_str()));
      }
      return;
    } catch (const std::exception& e) {
      // A broken kept connection: try one new one in the same check.
      w.conn.reset();
      w.detail = common::one_line(e.what());
    }
  }
  w.reachable = w.writable = false;
  w.health = "UNREACHABLE";
}

int watch(const GlobalOptions& global, const WatchOptions& o) {
  if (o.interval_ms < 10) throw common::ExitError(common::exit_usage, "--interval must be at least 10 ms");
  if (o.fail_after < 1) throw common::ExitError(common::exit_usage, "--fail-after must be at least 1");
  config::Config config = load_config(global);
  std::vector<Watched> sites(config.sites.size());
  for (std::size_t i = 0; i < sites.size(); ++i) sites[i].cfg = &config.sites[i];
  const int connect_timeout = std::max(2, o.interval_ms / 1000);  // libpq's minimum is 2 s

  std::ostream& out = global.json ? std::cerr : std::cout;
  json events = json::array();
  auto emit = [&](const std::string& site, const std::string& from, const std::string& to, const std::string& detail) {
    std::string line = fmt::format("{}  {:<8} {} -> {}{}", common::utc_now_text(), site, from.empty() ? "(start)" : from, to,
                                   detail.empty() ? "" : " (" + detail + ")");
    out << line << std::endl;
    events.push_back({{"at", common::utc_now_text()}, {"site", site}, {"from", from}, {"to", to}, {"detail", detail}});
  };

  std::string primary;  // the E3 primary being followed
  int failures = 0;
  bool fired = false;
  std::string first_failure_at;
  std::chrono::steady_clock::time_point first_failure;
  std::string split_brain_last;
  const auto start = std::chrono::steady_clock::now();
  for (long long tick = 0; o.count == 0 || tick < o.count; ++tick) {
    std::vector<std::future<void>> fs;
    for (auto& w : sites)
      fs.push_back(std::async(std::launch::async, [&w, &config, connect_timeout] { check(w, config, connect_timeout); }));
    for (auto& f : fs) f.get();

    std::vector<std::string> writable;
    for (auto& w : sites) {
      if (w.health != w.last_health) emit(w.cfg->name, w.last_health, w.health, w.detail);
      w.last_health = w.health;
      if (w.cfg->environment == "e3" && w.writable) writable.push_back(w.cfg->name);
    }
    std::string sb = writable.size() > 1 ? fmt::format("{}", fmt::join(writable, ", ")) : "";
    if (sb != split_brain_last) {
      if (!sb.empty()) emit("e3", "", "SPLIT BRAIN: " + sb + " accept writes", "");
      split_brain_last = sb;
    }

    // Follow the E3 primary: a new one (after a failover) takes over.
    if (writable.size() == 1 && writable[0] != primary) {
      if (!primary.empty()) emit("e3", "primary " + primary, "primary " + writable[0], "");
      primary = writable[0];
      failures = 0;
      fired = false;
    }
    if (!primary.empty()) {
      bool ok = false;
      for (const auto& w : sites)
        if (w.cfg->name == primary) ok = w.writable;
      if (ok) {
        failures = 0;
        fired = false;
      } else if (++failures == 1) {
        first_failure = std::chrono::steady_clock::now();
        first_failure_at = common::utc_now_text();
      }
      if (failures >= o.fail_after && !fired) {
        std::vector<std::string> standbys;
        for (const auto& w : sites)
          if (w.cfg->environment == "e3" && w.cfg->name != primary && w.reachable) standbys.push_back(w.cfg->name);
        const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - first_failure).count();
        std::string msg = fmt::format(
            "E3 PRIMARY {} FAILED {} consecutive checks (first at {}, {:.2f}s ago). Detection only: promotion is a "
            "human decision.{}",
            primary, failures, first_failure_at, since,
            standbys.empty() ? std::string(" No other E3 site answers.")
                             : fmt::format(" What a failover would lose: rulectl at-risk --primary {} --standby {}; "
                                           "to promote: rulectl failover --to {}",
                                           primary, standbys[0], standbys[0]));
        emit("e3", "primary " + primary, "FAILED", msg);
        fired = true;
        if (o.on_fail.empty()) {
          if (global.json)
            common::print_json({{"failed", primary},
                                {"consecutive_failures", failures},
                                {"first_failure_at", first_failure_at},
                                {"events", events}});
          return common::exit_unreachable;
        }
        ::setenv("RULECTL_FAILED_SITE", primary.c_str(), 1);
        process::RunOptions ro;
        ro.timeout = std::chrono::seconds(300);
        process::RunResult r = process::run({"/bin/sh", "-c", o.on_fail}, ro);
        emit("e3", "", fmt::format("--on-fail command ran: {}", r.describe()), "");
      }
    }
    const auto next = start + std::chrono::milliseconds(static_cast<long long>(o.interval_ms) * (tick + 1));
    std::this_thread::sleep_until(next);
  }
  if (global.json) common::print_json({{"failed", nullptr}, {"events", events}});
  return common::exit_ok;
}

}  // namespace

void add_watch(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<WatchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "watch",
      "poll every site, print one line per change of health; exit 4 (or run --on-fail) after N consecutive failed "
      "checks of the E3 primary — detection only, promotion stays a human decision");
  cmd->add_option("--interval", o->interval_ms, "milliseconds between checks")->capture_default_str();
  cmd->add_option("--fail-after", o->fail_after, "consecutive failed checks of the E3 primary that count as down")
      ->capture_default_str();
  cmd->add_option("--on-fail", o->on_fail,
                  "shell command to run (once per outage, RULECTL_FAILED_SITE set) instead of exiting");
  cmd->add_option("--count", o->count, "stop after N checks (0: never)")->capture_default_str();
  cmd->callback([&global, &exit_code, o] { exit_code = watch(global, *o); });
}

}  // namespace rulekeeper::cli
