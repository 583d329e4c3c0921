#include "site/waiter.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "common/text.hpp"
#include "site/client/journal.hpp"
#include "site/client/waits.hpp"
#include "site/connect.hpp"
#include "site/deadline.hpp"
#include "site/server_error.hpp"

namespace rulekeeper::site {

using nlohmann::json;

json WaitReport::to_json() const {
  json j;
  j[done_key] = done;
  j["timed_out"] = timed_out;
  j["waited_seconds"] = waited_seconds;
  j["sites"] = json::array();
  for (const auto& s : sites) {
    json row = {{"site", s.site}, {done_key, s.verdict.done}, {"why", s.verdict.why}};
    for (auto it = s.verdict.detail.begin(); it != s.verdict.detail.end(); ++it) row[it.key()] = it.value();
    if (!s.error.empty()) row["error"] = s.error;
    j["sites"].push_back(row);
  }
  return j;
}

std::vector<std::string> WaitReport::satisfied() const {
  std::vector<std::string> out;
  for (const auto& s : sites)
    if (s.verdict.done) out.push_back(s.site);
  return out;
}

std::vector<std::string> WaitReport::unsatisfied() const {
  std::vector<std::string> out;
  for (const auto& s : sites)
    if (!s.verdict.done) out.push_back(fmt::format("{} ({})", s.site, s.verdict.why));
  return out;
}

WaitReport wait_for(const WaitRequest& request, const common::ProgressSink& progress) {
  using clock = std::chrono::steady_clock;
  struct ConnectAttempt {
    std::mutex m;
    bool done = false;
    std::unique_ptr<pqxx::connection> conn;
    std::string error;
  };
  struct Polled {
    const config::SiteConfig* config;
    std::unique_ptr<pqxx::connection> conn;
    std::shared_ptr<ConnectAttempt> attempt;  // a connection being opened
    SiteWait wait;
  };
  std::vector<Polled> polled;
  for (const auto* s : request.sites) {
    polled.push_back({s, nullptr, nullptr, {}});
    polled.back().wait.site = s->name;
    polled.back().wait.verdict.why = "not checked yet";
  }

  WaitReport report;
  report.done_key = request.done_key;
  const auto start = clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(request.timeout_seconds));
  auto next_progress = start + std::chrono::seconds(1);
  for (;;) {
    bool pending = false;
    for (auto& p : polled) {
      Verdict& v = p.wait.verdict;
      if (v.done || v.final) continue;
      try {
        if (!p.conn) {
          // A connection attempt runs on its own thread (issue #14 item 2):
          // one to a frozen site takes its whole connect_timeout (whole
          // seconds, at least 2), and the wait neither waits for it past its
          // own timeout nor lets it hold up the other sites. An attempt
          // still running when the wait ends is left to finish alone.
          if (!p.attempt) {
            p.attempt = std::make_shared<ConnectAttempt>();
            const double left = std::chrono::duration<double>(deadline - clock::now()).count();
            const int secs = std::clamp(static_cast<int>(std::ceil(left)), 2, kConnectTimeoutSeconds);
            std::thread([a = p.attempt, site = *p.config, secs] {
              std::string error;
              std::unique_ptr<pqxx::connection> c;
              try {
                c = try_connect(site, error, secs, /*bounded=*/true);
              } catch (const std::exception& e) {  // a refusal (extension version): nothing may leave a thread
                error = e.what();
              }
              std::lock_guard<std::mutex> lock(a->m);
              a->conn = std::move(c);
              a->error = error;
              a->done = true;
            }).detach();
          }
          {
            std::lock_guard<std::mutex> lock(p.attempt->m);
            if (!p.attempt->done) {
              pending = true;
              continue;
            }
            p.conn = std::move(p.attempt->conn);
            p.wait.error = p.attempt->error;
          }
          p.attempt.reset();
          if (!p.conn) {
            v.why = "unreachable";
            pending = true;
            continue;
          }
        }
        // Nor does a question to a site that stopped answering (frozen):
        // a client-side deadline at the end of the wait.
        StatementDeadline guard(*p.conn, std::max(std::chrono::milliseconds(100),
                                                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                                        clock::now())));
        try {
          v = request.predicate(*p.conn);
        } catch (const std::exception&) {
          if (!guard.expired()) throw;
          p.conn.reset();
          v.why = "no answer";
          p.wait.error = guard.message();
          pending = true;
          continue;
        }
        p.wait.error.clear();
      } catch (const pqxx::broken_connection& e) {
        p.conn.reset();
        v.why = "unreachable";
        p.wait.error = common::one_line(e.what());
      } catch (const pqxx::failure& e) {
        v.why = "the check failed: " + server_message(e);
      } catch (const std::exception& e) {
        p.conn.reset();
        v.why = "unreachable";
        p.wait.error = common::one_line(e.what());
      }
      pending = pending || (!v.done && !v.final);
    }
    const auto now = clock::now();
    if (!pending) break;
    if (now >= deadline) {
      report.timed_out = true;
      break;
    }
    if (now >= next_progress) {
      std::vector<std::string> waiting;
      for (const auto& p : polled)
        if (!p.wait.verdict.done) waiting.push_back(fmt::format("{} ({})", p.wait.site, p.wait.verdict.why));
      progress.step(fmt::format("waiting for {} (up to {}s): {}", request.waiting_for, request.timeout_seconds,
                                fmt::join(waiting, ", ")));
      // Every second at first, then every five; from now, so that a poll
      // that took long (a site that did not answer) is not followed by a
      // burst of lines.
      next_progress = now + std::chrono::seconds(now - start < std::chrono::seconds(5) ? 1 : 5);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  report.done = true;
  for (auto& p : polled) {
    report.done = report.done && p.wait.verdict.done;
    report.sites.push_back(std::move(p.wait));
  }
  report.waited_seconds = std::chrono::duration<double>(clock::now() - start).count();
  return report;
}

std::vector<const config::SiteConfig*> peers_of(const config::Config& config, const std::string& primary) {
  const config::SiteConfig* p = config.find(primary);
  std::vector<const config::SiteConfig*> out;
  if (p == nullptr) return out;
  for (const auto& s : config.sites)
    if (s.environment == p->environment && s.name != primary) out.push_back(&s);
  return out;
}

WaitReport wait_replicated(const config::Config& config, const std::string& primary, const VersionVector& want,
                           double timeout_seconds, const common::ProgressSink& progress) {
  WaitRequest request;
  request.primary = primary;
  request.sites = peers_of(config, primary);
  request.predicate = covers_vector(want);
  request.timeout_seconds = timeout_seconds;
  request.done_key = "replicated";
  request.waiting_for = "replication from " + primary;
  return wait_for(request, progress);
}

std::string replicated_summary(const config::Config& config, const std::string& primary, const WaitReport& report) {
  if (report.sites.empty()) {
    const config::SiteConfig* p = config.find(primary);
    return fmt::format("no other {} site to replicate to", p != nullptr ? p->environment : std::string("?"));
  }
  const auto ok = report.satisfied(), not_ok = report.unsatisfied();
  if (report.done) return fmt::format("replicated to {}", fmt::join(ok, ", "));
  return fmt::format("NOT replicated to {}{}{}", fmt::join(not_ok, ", "), ok.empty() ? "" : "; replicated to ",
                     fmt::join(ok, ", "));
}

WaitReport wait_hotfix_applied(const config::Config& config, const std::string& primary, const std::string& commit_lsn,
                               const std::string& hotfix_id, double timeout_seconds,
                               const common::ProgressSink& progress) {
  WaitRequest request;
  request.primary = primary;
  request.sites = peers_of(config, primary);
  request.predicate = holds_hotfix(commit_lsn, hotfix_id, primary);
  request.timeout_seconds = timeout_seconds;
  request.done_key = "applied";
  request.waiting_for = fmt::format("the hotfix committed at {} (LSN {}) to be applied", primary, commit_lsn);
  return wait_for(request, progress);
}

// Adds what the standby itself shows as the reason it is not catching up
// (replay paused, receiver stopped) to a not-yet verdict: a wait should say
// why it waits when the cause is visible, not only that it does.
static void with_stall_causes(pqxx::connection& c, Verdict& v) {
  std::vector<std::string> causes;
  try {
    causes = client::standby_stall_causes(c);
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception&) {
    return;  // a cause we cannot read is no cause; the wait itself goes on
  }
  if (causes.empty()) return;
  v.why += ": " + fmt::format("{}", fmt::join(causes, "; "));
  v.detail["stalled_because"] = causes;
}

Predicate covers_vector(const VersionVector& want) {
  return [want](pqxx::connection& c) {
    Verdict v;
    const VersionVector have = client::version_vector(c);
    std::vector<std::string> missing;
    for (const SeqRange& r : want.missing_from(have)) missing.push_back(r.describe());
    if (missing.empty()) {
      v.done = true;
      v.why = "holds every change of the commit";
    } else {
      v.why = fmt::format("missing {}", fmt::join(missing, "; "));
      with_stall_causes(c, v);
    }
    return v;
  };
}

Predicate holds_hotfix(const std::string& commit_lsn, const std::string& hotfix_id, const std::string& primary) {
  return [commit_lsn, hotfix_id, primary](pqxx::connection& c) {
    Verdict v;
    const client::HotfixReplay r = client::hotfix_replay(c, commit_lsn, hotfix_id);
    v.detail["replay_lsn"] = r.replay_lsn.empty() ? json() : json(r.replay_lsn);
    const std::string at = r.replay_lsn.empty() ? "?" : r.replay_lsn;
    if (r.holds_hotfix) {
      v.done = true;
      v.why = fmt::format("replayed up to {}", at);
    } else if (!r.in_recovery) {
      v.final = true;
      v.why = "it is not a standby (it accepts writes) and lacks the hotfix: split brain? see `rulectl status`";
    } else if (r.passed_commit) {
      v.final = true;
      v.why = fmt::format(
          "replayed past {} (up to {}) but lacks the hotfix: it does not follow {} (another timeline? see "
          "`rulectl status`)",
          commit_lsn, at, primary);
    } else {
      v.why = fmt::format("replayed up to {}, the commit needs {}", at, commit_lsn);
      with_stall_causes(c, v);
    }
    return v;
  };
}

}  // namespace rulekeeper::site
