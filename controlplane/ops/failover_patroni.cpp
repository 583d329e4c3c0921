// See failover_patroni.hpp.
#include "ops/failover_patroni.hpp"

#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/errors.hpp"
#include "common/poll.hpp"
#include "common/text.hpp"
#include "ops/control_lock.hpp"
#include "ops/failover_decision.hpp"
#include "ops/last_primary.hpp"
#include "ops/patroni.hpp"
#include "site/client/failover.hpp"
#include "site/client/replication.hpp"
#include "site/connect.hpp"
#include "site/probe.hpp"
#include "site/server_error.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {

namespace client = site::client;
using nlohmann::json;
using site::SiteState;
using std::chrono::milliseconds;

namespace {

std::string os_user() {
  if (const passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return std::to_string(::geteuid());
}

// The old primary: the newest claim among the sites outside the target's
// Patroni cluster (ops/last_primary.hpp), else the first of them that is in
// rulectl.toml — the site the target's cluster followed.
std::string old_primary_of(const config::Config& config, const std::vector<SiteState>& all,
                           const config::SiteConfig& tc) {
  std::vector<PrimaryClaim> claims;
  for (const PrimaryClaim& c : primary_claims(config, all)) {
    const config::SiteConfig* s = config.find(c.site);
    if (s != nullptr && s->name != tc.name && (s->patroni_cluster.empty() || s->patroni_cluster != tc.patroni_cluster))
      claims.push_back(c);
  }
  if (auto newest = newest_claim(claims)) return newest->site;
  for (const auto& s : all)
    if (s.config->name != tc.name && (s.config->patroni_cluster != tc.patroni_cluster) && !s.config->dr) return s.name;
  return "";
}

}  // namespace

bool failover_through_patroni(const config::SiteConfig& target) { return patroni::managed(target); }

FailoverReport failover_patroni(const config::Config& config, const FailoverRequest& o,
                                const common::ProgressSink& progress) {
  const config::SiteConfig& tc = site::find_site(config, o.to);
  if (o.wait_catchup < 0) throw common::ExitError(common::exit_usage, "--wait-catchup must not be negative");
  ControlLock lock(config, "failover");
  Steps steps(progress);
  FailoverReport report;
  report.target = tc.name;
  auto finish = [&] {
    report.steps = steps.list();
    report.total_seconds = steps.elapsed();
    return report;
  };

  steps.begin("probe the E3 sites");
  std::vector<SiteState> all = site::probe_e3(config);
  std::vector<std::string> seen;
  for (const auto& s : all) seen.push_back(s.name + " " + s.role());
  steps.end(fmt::format("{}", fmt::join(seen, ", ")));
  SiteState* target = nullptr;
  for (auto& s : all)
    if (s.config == &tc) target = &s;
  if (target == nullptr || !target->reachable)
    throw common::ExitError(common::exit_unreachable, fmt::format("site {} does not answer: {}; nothing was done",
                                                                  tc.name, target ? target->error : "not probed"));
  if (target->is_primary())
    throw common::ExitError(common::exit_refused,
                            fmt::format("{} already accepts writes: nothing to fail over to", tc.name));
  for (const auto& s : all)
    if (s.is_primary() && s.config->patroni_cluster != tc.patroni_cluster)
      throw common::ExitError(
          common::exit_refused,
          fmt::format("{} accepts writes: a planned switchover to {} under Patroni is not made by rulectl (it would "
                      "stop a node Patroni runs). Make {}'s Patroni cluster a standby cluster first, or fail over "
                      "when it is gone; nothing was done (docs/failover.md \"With Patroni\")",
                      s.name, tc.name, s.config->patroni_cluster.empty() ? s.name : s.config->patroni_cluster));
  const std::string old = old_primary_of(config, all, tc);
  if (old.empty())
    throw common::ExitError(common::exit_usage,
                            fmt::format("rulectl.toml names no E3 site outside Patroni cluster {} that {} could "
                                        "have followed",
                                        tc.patroni_cluster, tc.name));
  report.old_primary = old;
  check_confirmed(o, old, false);
  std::string old_error;
  for (const auto& s : all)
    if (s.name == old) old_error = s.error.empty() ? "not accepting writes" : s.error;
  report.old_primary_error = old_error;
  steps.note(fmt::format("{} is unreachable", old), old_error);

  steps.begin(fmt::format("wait until {} replayed all it received", tc.name));
  const ReplayedEvidence replayed = evidence_after_replay(*target, old, o.wait_catchup);
  report.all_received_replayed = replayed.all_received_replayed;
  report.evidence = replayed.evidence;
  steps.end(report.all_received_replayed
                ? "all received WAL replayed"
                : fmt::format("NOT all replayed after {}s (replay {})", o.wait_catchup, replayed.pause_state));
  if (!o.force) {
    report.outcome = FailoverReport::Outcome::refused;
    report.why = fmt::format(
        "{} is unreachable: whatever it committed after the last WAL {} received cannot be known, so the loss of "
        "a failover cannot be proven; rerun with --force to have Patroni promote {} and accept it",
        old, tc.name, tc.name);
    return finish();
  }

  // Patroni promotes: the standby cluster stops being one.
  steps.begin(fmt::format("promote {} through Patroni (PATCH /config of cluster {}: standby_cluster removed)", tc.name,
                          tc.patroni_cluster));
  patroni::patch_config(config, tc.patroni_cluster, json{{"standby_cluster", nullptr}});
  target->connection.reset();
  std::unique_ptr<pqxx::connection> c;
  std::string last;
  const bool writable = common::poll_until(
      std::chrono::seconds(60), milliseconds(100),
      [&] {
        std::string err;
        c = site::try_connect(tc, err, 5);
        if (!c) {
          last = err;
          return false;
        }
        return !client::in_recovery(*c);
      },
      &last);
  if (!writable) {
    steps.end("NOT writable after 60s");
    throw common::ExitError(common::exit_failed,
                            fmt::format("Patroni was asked to promote {} (standby_cluster removed from cluster {}), "
                                        "but {} does not accept writes after 60s ({}); see Patroni's log",
                                        tc.name, tc.patroni_cluster, tc.name, common::one_line(last)));
  }
  steps.end("promoted by Patroni");

  steps.begin(fmt::format("record the failover at {}", tc.name));
  const json details = {{"planned", false},
                        {"rulectl", "failover --force"},
                        {"ha", "patroni"},
                        {"promoted_by", "patroni (standby_cluster removed by rulectl)"},
                        {"os_user", os_user()},
                        {"old_primary_error", old_error},
                        {"evidence", replayed.evidence.to_json()},
                        {"steps", steps.to_json()}};
  json event;
  try {
    event = client::record_failover(*c, old, true, details);
  } catch (const pqxx::failure& e) {
    throw site::sql_failure("record_failover", e);
  }
  try {
    remember_primary(config, tc.name, event.value("new_timeline", 0LL), event.value("event_id", std::string()));
  } catch (const std::exception&) {
    // The event at the new primary is the record; state_dir's is a witness more.
  }
  steps.end(fmt::format("timeline {}, incarnation {}", event.value("new_timeline", 0), event.value("incarnation", 0)));
  steps.begin(fmt::format("CHECKPOINT at {} (control file on the new timeline)", tc.name));
  try {
    client::checkpoint(*c);
    steps.end("done");
  } catch (const std::exception& e) {
    steps.end("failed (not fatal): " + common::one_line(e.what()));
  }
  report.outcome = FailoverReport::Outcome::failed_over;
  report.new_timeline = event.value("new_timeline", 0);
  report.failover_event = event;
  return finish();
}

}  // namespace rulekeeper::ops
