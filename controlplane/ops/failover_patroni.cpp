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
#include "ops/failover_plan.hpp"
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

namespace {

// Who is the target and the old primary, with today's refusals; read-only.
struct PatroniDecision {
  std::vector<SiteState> all;
  SiteState* target = nullptr;  // into `all`
  std::string old;
  std::string old_error;
  std::vector<std::string> seen;
  PatroniDecision() = default;
  PatroniDecision(const PatroniDecision&) = delete;  // a pointer into `all`
  PatroniDecision(PatroniDecision&&) = default;      // a vector's move keeps its elements
};

PatroniDecision decide(const config::Config& config, const config::SiteConfig& tc) {
  PatroniDecision d;
  d.all = site::probe_e3(config);
  for (const auto& s : d.all) d.seen.push_back(s.name + " " + s.role());
  for (auto& s : d.all)
    if (s.config == &tc) d.target = &s;
  if (d.target == nullptr || !d.target->reachable)
    throw common::ExitError(common::exit_unreachable, fmt::format("site {} does not answer: {}; nothing was done",
                                                                  tc.name, d.target ? d.target->error : "not probed"));
  if (d.target->is_primary())
    throw common::ExitError(common::exit_refused,
                            fmt::format("{} already accepts writes: nothing to fail over to", tc.name));
  for (const auto& s : d.all)
    if (s.is_primary() && s.config->patroni_cluster != tc.patroni_cluster)
      throw common::ExitError(
          common::exit_refused,
          fmt::format("{} accepts writes: a planned switchover to {} under Patroni is not made by rulectl (it would "
                      "stop a node Patroni runs). Make {}'s Patroni cluster a standby cluster first, or fail over "
                      "when it is gone; nothing was done (docs/failover.md \"With Patroni\")",
                      s.name, tc.name, s.config->patroni_cluster.empty() ? s.name : s.config->patroni_cluster));
  d.old = old_primary_of(config, d.all, tc);
  if (d.old.empty())
    throw common::ExitError(common::exit_usage,
                            fmt::format("rulectl.toml names no E3 site outside Patroni cluster {} that {} could "
                                        "have followed",
                                        tc.patroni_cluster, tc.name));
  for (const auto& s : d.all)
    if (s.name == d.old) d.old_error = s.error.empty() ? "not accepting writes" : s.error;
  return d;
}

std::string refusal(const std::string& old, const std::string& target) {
  return fmt::format(
      "{} is unreachable: whatever it committed after the last WAL {} received cannot be known, so the loss of "
      "a failover cannot be proven; rerun with --force to have Patroni promote {} and accept it",
      old, target, target);
}

std::string promote_step(const config::SiteConfig& tc) {
  return fmt::format("promote {} through Patroni (PATCH /config of cluster {}: standby_cluster removed)", tc.name,
                     tc.patroni_cluster);
}

}  // namespace

FailoverPlan plan_failover_patroni(const config::Config& config, const FailoverRequest& o,
                                   const common::ProgressSink& progress) {
  const config::SiteConfig& tc = site::find_site(config, o.to);
  if (o.wait_catchup < 0) throw common::ExitError(common::exit_usage, "--wait-catchup must not be negative");
  FailoverPlan plan;
  plan.target = tc.name;
  progress.step("probe the E3 sites");
  PatroniDecision d = decide(config, tc);
  plan.probe = d.seen;
  plan.old_primary = d.old;
  plan.old_primary_error = d.old_error;
  const ReplayedEvidence replayed = evidence_after_replay(*d.target, d.old, o.wait_catchup);
  plan.all_received_replayed = replayed.all_received_replayed;
  if (!plan.all_received_replayed)
    plan.notes.push_back(fmt::format("{} has NOT replayed all it received after {}s (replay {})", tc.name,
                                     o.wait_catchup, replayed.pause_state));
  plan.evidence = replayed.evidence;
  if (!o.force) {
    plan.mode = FailoverPlan::Mode::refused;
    plan.why = refusal(d.old, tc.name);
    return plan;
  }
  plan.mode = FailoverPlan::Mode::forced;
  plan.steps = {fmt::format("wait (at most {}s) until {} replayed all it received", o.wait_catchup, tc.name),
                promote_step(tc) + "; wait until it accepts writes",
                fmt::format("record the failover at {} (forced, with this evidence); CHECKPOINT there", tc.name),
                fmt::format("{}'s Patroni cluster comes back only through `rulectl rejoin --site {}` (fenced, "
                            "orphans first, then a standby cluster of {})",
                            d.old, d.old, tc.name)};
  return plan;
}

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
  PatroniDecision d = decide(config, tc);
  steps.end(fmt::format("{}", fmt::join(d.seen, ", ")));
  SiteState* target = d.target;
  const std::string old = d.old;
  const std::string old_error = d.old_error;
  report.old_primary = old;
  check_confirmed(o, old, false);
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
    report.why = refusal(old, tc.name);
    return finish();
  }

  // Patroni promotes: the standby cluster stops being one.
  steps.begin(promote_step(tc));
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
