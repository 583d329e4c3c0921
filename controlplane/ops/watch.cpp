#include "ops/watch.hpp"

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "pgnode/process.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "site/client/replication.hpp"
#include "site/client/server_state.hpp"
#include "site/connect.hpp"
#include "site/conninfo.hpp"

namespace rulekeeper::ops {
namespace {

using nlohmann::json;

const std::string kE3{rulekeeper::to_string(Environment::e3)};

struct Watched {
  const config::SiteConfig* cfg = nullptr;
  std::unique_ptr<pqxx::connection> conn;
  // Result of the latest check.
  bool reachable = false;
  bool writable = false;
  std::string health;  // the class an event is reported for when it changes
  std::string detail;  // the error, not part of the class
  std::string last_health;
};

void check(Watched& w, const config::Config& config, int connect_timeout) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!w.conn) {
      std::string err;
      w.conn = site::try_connect(*w.cfg, err, connect_timeout);
      if (!w.conn) {
        w.reachable = w.writable = false;
        w.health = "UNREACHABLE";
        w.detail = err;
        return;
      }
    }
    try {
      const bool in_recovery = site::client::in_recovery(*w.conn);
      const site::client::WalReceiver s =
          in_recovery ? site::client::wal_receiver(*w.conn) : site::client::WalReceiver{};
      w.reachable = true;
      w.detail.clear();
      w.writable = !in_recovery;
      if (!in_recovery) {
        w.health = "primary";
      } else if (s.status.empty()) {
        w.health = "standby, no upstream";
      } else {
        const config::SiteConfig* up =
            s.sender_host.empty() ? nullptr : conninfo::site_at(config, s.sender_host, s.sender_port, w.cfg->name);
        w.health = fmt::format("standby, {} {}", s.status,
                               up                      ? "from " + up->name
                               : s.sender_host.empty() ? std::string("")
                                                       : fmt::format("from {}:{}", s.sender_host, s.sender_port));
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

}  // namespace

json WatchEvent::to_json() const {
  return {{"at", at}, {"site", site}, {"from", from}, {"to", to}, {"detail", detail}};
}

json WatchReport::to_json() const {
  json list = json::array();
  for (const auto& e : events) list.push_back(e.to_json());
  if (!failed) return {{"failed", nullptr}, {"events", list}};
  return {{"failed", *failed},
          {"consecutive_failures", consecutive_failures},
          {"first_failure_at", first_failure_at},
          {"events", list}};
}

WatchReport watch(const config::Config& config, const WatchRequest& o,
                  const std::function<void(const WatchEvent&)>& on_event) {
  if (o.interval_ms < 10) throw common::ExitError(common::exit_usage, "--interval must be at least 10 ms");
  if (o.fail_after < 1) throw common::ExitError(common::exit_usage, "--fail-after must be at least 1");
  std::vector<Watched> sites(config.sites.size());
  for (std::size_t i = 0; i < sites.size(); ++i) sites[i].cfg = &config.sites[i];
  const int connect_timeout = std::max(2, o.interval_ms / 1000);  // libpq's minimum is 2 s

  WatchReport report;
  auto emit = [&](const std::string& site, const std::string& from, const std::string& to, const std::string& detail) {
    report.events.push_back({common::utc_now_text(), site, from, to, detail});
    on_event(report.events.back());
  };

  std::string primary;  // the E3 primary being followed
  int failures = 0;
  bool fired = false;
  std::chrono::steady_clock::time_point first_failure;
  std::string split_brain_last;
  const auto start = std::chrono::steady_clock::now();
  for (long long tick = 0; o.count == 0 || tick < o.count; ++tick) {
    std::vector<std::future<void>> fs;
    for (auto& w : sites)
      fs.push_back(
          std::async(std::launch::async, [&w, &config, connect_timeout] { check(w, config, connect_timeout); }));
    for (auto& f : fs) f.get();

    std::vector<std::string> writable;
    for (auto& w : sites) {
      if (w.health != w.last_health) emit(w.cfg->name, w.last_health, w.health, w.detail);
      w.last_health = w.health;
      if (w.cfg->environment == kE3 && w.writable) writable.push_back(w.cfg->name);
    }
    std::string sb = writable.size() > 1 ? fmt::format("{}", fmt::join(writable, ", ")) : "";
    if (sb != split_brain_last) {
      if (!sb.empty()) emit(kE3, "", "SPLIT BRAIN: " + sb + " accept writes", "");
      split_brain_last = sb;
    }

    // Follow the E3 primary: a new one (after a failover) takes over.
    if (writable.size() == 1 && writable[0] != primary) {
      if (!primary.empty()) emit(kE3, "primary " + primary, "primary " + writable[0], "");
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
        report.first_failure_at = common::utc_now_text();
      }
      if (failures >= o.fail_after && !fired) {
        std::vector<std::string> standbys;
        for (const auto& w : sites)
          if (w.cfg->environment == kE3 && w.cfg->name != primary && w.reachable) standbys.push_back(w.cfg->name);
        const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - first_failure).count();
        std::string msg = fmt::format(
            "E3 PRIMARY {} FAILED {} consecutive checks (first at {}, {:.2f}s ago). Detection only: promotion is a "
            "human decision.{}",
            primary, failures, report.first_failure_at, since,
            standbys.empty() ? std::string(" No other E3 site answers.")
                             : fmt::format(" What a failover would lose: rulectl at-risk --primary {} --standby {}; "
                                           "to promote: rulectl failover --to {}",
                                           primary, standbys[0], standbys[0]));
        emit(kE3, "primary " + primary, "FAILED", msg);
        fired = true;
        if (o.on_fail.empty()) {
          report.failed = primary;
          report.consecutive_failures = failures;
          report.exit_code = common::exit_unreachable;
          return report;
        }
        ::setenv("RULECTL_FAILED_SITE", primary.c_str(), 1);
        process::RunOptions ro;
        ro.timeout = std::chrono::seconds(300);
        process::RunResult r = process::run({"/bin/sh", "-c", o.on_fail}, ro);
        emit(kE3, "", fmt::format("--on-fail command ran: {}", r.describe()), "");
      }
    }
    const auto next = start + std::chrono::milliseconds(static_cast<long long>(o.interval_ms) * (tick + 1));
    std::this_thread::sleep_until(next);
  }
  return report;
}

}  // namespace rulekeeper::ops
