#include "ops/watch.hpp"

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <set>
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
#include "site/deadline.hpp"
#include "site/conninfo.hpp"

namespace rulekeeper::ops {
namespace {

using nlohmann::json;

const std::string kE3{rulekeeper::to_string(Environment::e3)};

// What one check found; written only by the check's own thread, handed over
// through its future.
struct CheckResult {
  bool reachable = false;
  bool writable = false;
  bool refused = false;
  std::optional<site::client::StandbyView> standby;
  std::string health;
  std::string detail;
  std::string server;  // a primary's identity (site/probe.hpp same_server): one server counts once
};

struct Watched {
  const config::SiteConfig* cfg = nullptr;
  // The check running now, if any: each site is checked on its own (a site
  // that does not answer delays no other site's result), and a new check of
  // a site starts only when its previous one ended and at least an interval
  // after the previous one started.
  std::optional<std::future<CheckResult>> running;
  std::chrono::steady_clock::time_point started{};
  bool fresh = false;  // the latest check ended during this tick
  // Result of the latest check.
  bool reachable = false;
  bool writable = false;
  std::string server;                                // CheckResult::server
  bool refused = false;                              // the server answered and refused the login
  std::optional<site::client::StandbyView> standby;  // when it is a standby
  std::string health;                                // the class an event is reported for when it changes
  std::string detail;                                // the error, not part of the class
  std::string last_health;
  bool hidden_reported = false;
};

// One check of one site, on a connection of its own (issue #14 item 2): a
// new connection each time, as `status` opens one, so that a site whose
// postmaster no longer answers (frozen, backends alive) fails here exactly
// as it does there; connect bounded by connect_timeout, the statements by a
// client-side deadline (site/deadline.hpp) — a frozen server answers
// neither statement_timeout nor a cancel.
CheckResult check(const config::SiteConfig& cfg, const config::Config& config, int connect_timeout,
                  std::chrono::milliseconds deadline) {
  CheckResult w;
  site::ConnectFailure failure;
  std::unique_ptr<pqxx::connection> conn = site::try_connect(cfg, failure, connect_timeout, /*bounded=*/true);
  if (!conn) {
    w.reachable = w.writable = false;
    w.refused = failure.refused();
    w.health = w.refused ? "REFUSED BY SERVER" : "UNREACHABLE";
    w.detail = failure.message;
    return w;
  }
  site::StatementDeadline guard(*conn, deadline);
  try {
    const bool in_recovery = site::client::in_recovery(*conn);
    w.reachable = true;
    w.detail.clear();
    w.writable = !in_recovery;
    if (!in_recovery) {
      w.health = "primary";
      const auto id = site::client::system_identifier(*conn);
      const auto started = site::client::postmaster_started(*conn);
      const auto name = site::client::setting(*conn, "rulekeeper.site");
      if (id && started && name && !name->empty()) w.server = *name + "/" + *id + "/" + *started;
      return w;
    }
    const site::client::StandbyView s = site::client::standby_view(*conn);
    w.standby = s;
    if (s.hidden) {
      w.health = "standby, upstream hidden from this role";
    } else if (s.receiver_status.empty()) {
      w.health = "standby, no upstream";
    } else {
      const config::SiteConfig* up =
          s.sender_host.empty() ? nullptr : conninfo::site_at(config, s.sender_host, s.sender_port, cfg.name);
      w.health = fmt::format("standby, {} {}", s.receiver_status,
                             up                      ? "from " + up->name
                             : s.sender_host.empty() ? std::string("")
                                                     : fmt::format("from {}:{}", s.sender_host, s.sender_port));
    }
  } catch (const std::exception& e) {
    w.reachable = w.writable = false;
    w.standby.reset();
    w.health = "UNREACHABLE";
    w.detail = guard.expired() ? "connected, then " + guard.message() : common::one_line(e.what());
  }
  return w;
}

// The E3 primary the standbys last heard from (issue #15 item 9): a
// standby's WAL receiver's sender when it still has one, else the site of
// the newest heartbeat it replayed — across standbys, the newest heartbeat
// wins. "" when no standby tells. `how` says where it came from.
std::string last_known_primary(const config::Config& config, const std::vector<Watched>& sites, std::string& how) {
  std::string best;
  std::optional<double> best_at;
  for (const auto& w : sites) {
    if (w.cfg->environment != kE3 || !w.standby) continue;
    const auto& v = *w.standby;
    std::string candidate;
    std::string why;
    if (!v.sender_host.empty()) {
      const config::SiteConfig* up = conninfo::site_at(config, v.sender_host, v.sender_port, w.cfg->name);
      if (up && up->environment == kE3) {
        candidate = up->name;
        why = fmt::format("{}'s WAL receiver streams from it", w.cfg->name);
      }
    }
    if (candidate.empty() && !v.last_heartbeat_site.empty() && v.last_heartbeat_site != w.cfg->name) {
      const config::SiteConfig* hb = config.find(v.last_heartbeat_site);
      if (hb && hb->environment == kE3) {
        candidate = hb->name;
        why = fmt::format("the newest heartbeat {} replayed is {}'s", w.cfg->name, hb->name);
      }
    }
    if (candidate.empty()) continue;
    const double at = v.last_heartbeat_epoch.value_or(0);
    if (best.empty() || !best_at || at > *best_at) {
      best = candidate;
      best_at = at;
      how = why;
    }
  }
  return best;
}

}  // namespace

json WatchEvent::to_json() const {
  return {{"at", at}, {"kind", kind}, {"site", site}, {"from", from}, {"to", to}, {"detail", detail}};
}

json WatchReport::to_json() const {
  json list = json::array();
  for (const auto& e : events) list.push_back(e.to_json());
  json j = {{"failed", failed ? json(*failed) : json(nullptr)},
            {"outages", outages},
            {"refused_logins", refused_logins},
            {"exit_code", exit_code},
            {"events", list}};
  if (failed) {
    j["consecutive_failures"] = consecutive_failures;
    j["first_failure_at"] = first_failure_at;
  }
  return j;
}

WatchReport watch(const config::Config& config, const WatchRequest& o,
                  const std::function<void(const WatchEvent&)>& on_event) {
  if (o.interval_ms < 10) throw common::ExitError(common::exit_usage, "--interval must be at least 10 ms");
  if (o.fail_after < 1) throw common::ExitError(common::exit_usage, "--fail-after must be at least 1");
  if (o.on_fail_timeout_s < 1) throw common::ExitError(common::exit_usage, "--on-fail-timeout must be at least 1 s");
  std::vector<Watched> sites(config.sites.size());
  for (std::size_t i = 0; i < sites.size(); ++i) sites[i].cfg = &config.sites[i];
  const int connect_timeout = std::max(2, o.interval_ms / 1000);  // libpq's minimum is 2 s
  const std::chrono::milliseconds statement_deadline{std::max(2000, o.interval_ms)};
  const std::chrono::milliseconds interval{o.interval_ms};

  WatchReport report;
  auto emit = [&](const std::string& kind, const std::string& site, const std::string& from, const std::string& to,
                  const std::string& detail) {
    report.events.push_back({common::utc_now_text(), kind, site, from, to, detail});
    on_event(report.events.back());
  };

  // The --on-fail command runs in the background (issue #15 item 11): the
  // checks go on while it runs; its outcome is an event when it ends.
  struct OnFail {
    std::string site;
    std::future<process::RunResult> result;
  };
  std::optional<OnFail> running;
  auto on_fail_outcome = [&](bool wait) {
    if (!running) return;
    if (!wait && running->result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
    std::string outcome;
    try {
      const process::RunResult r = running->result.get();
      outcome = r.timed_out  ? fmt::format("timed out after {} s and was killed", o.on_fail_timeout_s)
                : r.signaled ? fmt::format("was killed by signal {}", r.term_signal)
                             : fmt::format("exited {}", r.exit_code);
    } catch (const std::exception& e) {
      outcome = "could not be started: " + common::one_line(e.what());
    }
    emit("on_fail", kE3, "", fmt::format("--on-fail command for {} {}", running->site, outcome), "");
    running.reset();
  };

  std::string primary;  // the E3 primary being followed
  int failures = 0;
  bool fired = false;
  std::chrono::steady_clock::time_point first_failure;
  std::string split_brain_last;
  std::set<std::string> refused_sites;
  const auto start = std::chrono::steady_clock::now();
  auto next = start + interval;
  for (long long tick = 0; o.count == 0 || tick < o.count; ++tick) {
    for (auto& w : sites) {
      if (w.running || std::chrono::steady_clock::now() - w.started < interval) continue;
      w.started = std::chrono::steady_clock::now();
      w.running = std::async(std::launch::async, [cfg = w.cfg, &config, connect_timeout, statement_deadline] {
        return check(*cfg, config, connect_timeout, statement_deadline);
      });
    }
    // The checks that end within this tick count now; one still running
    // (a site that does not answer yet) counts when it ends, bounded by its
    // connect timeout and statement deadline.
    for (auto& w : sites) {
      w.fresh = false;
      if (w.running && w.running->wait_until(next) == std::future_status::ready) {
        CheckResult r = w.running->get();
        w.running.reset();
        w.fresh = true;
        w.reachable = r.reachable;
        w.writable = r.writable;
        w.server = std::move(r.server);
        w.refused = r.refused;
        w.standby = std::move(r.standby);
        w.health = std::move(r.health);
        w.detail = std::move(r.detail);
      }
    }
    on_fail_outcome(false);

    std::vector<std::string> writable;
    std::set<std::string> writable_servers;  // a server reached through two sites' conninfos is one primary
    const auto writable_server = [&](const Watched& w) {
      return w.server.empty() || writable_servers.insert(w.server).second;
    };
    for (auto& w : sites) {
      if (!w.fresh) {
        if (w.cfg->environment == kE3 && w.writable && writable_server(w)) writable.push_back(w.cfg->name);
        continue;
      }
      if (w.health != w.last_health) {
        emit("site", w.cfg->name, w.last_health, w.health, w.detail);
        if (w.refused)
          emit("configuration", w.cfg->name, "",
               fmt::format("the server of {} answered and refused rulectl's login: fix the conninfo, the role or "
                           "pg_hba.conf — this is not an outage",
                           w.cfg->name),
               "");  // the server's words are on the site's line just before
      }
      w.last_health = w.health;
      if (w.refused) refused_sites.insert(w.cfg->name);
      if (w.standby && w.standby->hidden && !w.hidden_reported) {
        // Issue #15 item 12: say once what the role lacks, not "no upstream".
        emit("configuration", w.cfg->name, "",
             fmt::format("{} runs a WAL receiver, but this role sees none of its fields (no EXECUTE on "
                         "rulekeeper.replication_status, no pg_read_all_stats): grant it rulekeeper_reader or "
                         "pg_monitor to see where {} streams from",
                         w.cfg->name, w.cfg->name),
             "");
        w.hidden_reported = true;
      }
      if (w.cfg->environment == kE3 && w.writable && writable_server(w)) writable.push_back(w.cfg->name);
    }
    std::string sb = writable.size() > 1 ? fmt::format("{}", fmt::join(writable, ", ")) : "";
    if (sb != split_brain_last) {
      if (!sb.empty()) emit("split_brain", kE3, "", "SPLIT BRAIN: " + sb + " accept writes", "");
      split_brain_last = sb;
    }

    // Follow the E3 primary: a new one (after a failover) takes over.
    if (writable.size() == 1 && writable[0] != primary) {
      emit("primary", kE3, primary.empty() ? "" : "primary " + primary, "primary " + writable[0], "");
      primary = writable[0];
      failures = 0;
      fired = false;
    }
    // No site accepts writes and none is followed yet (watch started while
    // the primary was down): follow the one the standbys last heard from.
    if (primary.empty() && writable.empty()) {
      std::string how;
      const std::string last = last_known_primary(config, sites, how);
      if (!last.empty()) {
        primary = last;
        emit("primary", kE3, "", "primary " + primary + " (last known)",
             how + "; it does not accept writes now: counted as failing");
      }
    }
    if (!primary.empty()) {
      const Watched* pw = nullptr;
      for (const auto& w : sites)
        if (w.cfg->name == primary) pw = &w;
      if (pw && !pw->fresh) {
        // Its check still runs (a site that does not answer yet): nothing
        // new about it this tick; it counts when the check ends.
      } else if (pw && (pw->writable || pw->refused)) {
        // A refused login is the server answering: not a failed check.
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
        emit("failed", kE3, "primary " + primary, "FAILED", msg);
        fired = true;
        ++report.outages;
        report.failed = primary;
        report.consecutive_failures = failures;
        if (o.on_fail.empty()) {
          report.exit_code = common::exit_unreachable;
          return report;
        }
        if (running) {
          emit("on_fail", kE3, "",
               fmt::format("--on-fail command for {} not started: the one for {} is still running", primary,
                           running->site),
               "");
        } else {
          process::RunOptions ro;
          ro.timeout = std::chrono::seconds(o.on_fail_timeout_s);
          // Passed in the child's environment only: setenv here would race
          // with the checking threads' getenv (libpq reads PG* variables).
          ro.environment = {"RULECTL_FAILED_SITE=" + primary};
          running = OnFail{primary, std::async(std::launch::async, [cmd = o.on_fail, ro] {
                             return process::run({"/bin/sh", "-c", cmd}, ro);
                           })};
          emit("on_fail", kE3, "",
               fmt::format("--on-fail command for {} started (killed after {} s)", primary, o.on_fail_timeout_s), "");
        }
      }
    }
    // Sleep, but report the --on-fail command's end as soon as it comes.
    while (std::chrono::steady_clock::now() < next) {
      if (running && running->result.wait_until(next) == std::future_status::ready) {
        on_fail_outcome(false);
        continue;
      }
      std::this_thread::sleep_until(next);
    }
    // A late tick does not catch up with checks in a burst: the schedule
    // moves on from now.
    next += interval;
    if (next < std::chrono::steady_clock::now()) next = std::chrono::steady_clock::now() + interval;
  }
  for (auto& w : sites)
    if (w.running) w.running->wait();
  // The run ends: a command still running is waited for (its timeout bounds it).
  on_fail_outcome(true);
  report.refused_logins = static_cast<int>(refused_sites.size());
  report.exit_code = report.outages > 0          ? common::exit_refused
                     : report.refused_logins > 0 ? common::exit_usage
                                                 : common::exit_ok;
  return report;
}

}  // namespace rulekeeper::ops
