// See failover_plan.hpp.
#include "ops/failover_plan.hpp"
#include "ops/failover_patroni.hpp"
#include "ops/failover_decision.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/errors.hpp"
#include "common/poll.hpp"
#include "common/text.hpp"
#include "pgnode/local_node.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "rulekeeper/version_vector.hpp"
#include "site/client/failover.hpp"
#include "site/probe.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {

namespace client = site::client;
using nlohmann::json;
using site::SiteState;

namespace {

void plan_planned(const config::Config& config, const FailoverRequest& o, SiteState& target, SiteState& old,
                  std::vector<SiteState>& all, FailoverPlan& plan) {
  const config::SiteConfig& oc = *old.config;
  const config::SiteConfig& tc = *target.config;
  const std::string missing = pgnode::missing_control(local_node(oc));
  if (!missing.empty())
    throw common::ExitError(common::exit_usage,
                            fmt::format("a planned switchover stops {} and restarts it as {}'s standby: rulectl.toml "
                                        "lacks sites.{}.{} (PostgreSQL 15 has no SQL shutdown); nothing was done",
                                        oc.name, tc.name, oc.name, missing));
  const client::StandbyReplication rep = client::standby_replication(*old.connection, tc.name);
  plan.replication_state = rep.state;
  plan.replay_lag_bytes = rep.replay_lag;
  plan.mode = FailoverPlan::Mode::planned;
  if (rep.state != "streaming") {
    plan.mode = FailoverPlan::Mode::refused;
    plan.why = fmt::format(
        "{} is not streaming from {} ({}): the switchover would be refused before stopping "
        "anything",
        tc.name, oc.name, rep.state.empty() ? "not connected" : "state " + rep.state);
  } else if (o.max_lag_bytes >= 0 && (rep.replay_lag < 0 || rep.replay_lag > o.max_lag_bytes)) {
    plan.notes.push_back(
        fmt::format("{} lags {} by {} bytes of replay, over --max-lag-bytes {}: the switchover "
                    "would wait up to {}s for it, then refuse",
                    tc.name, oc.name, rep.replay_lag, o.max_lag_bytes, o.wait_catchup));
  }
  AtRiskRequest ar;
  ar.primary = oc.name;
  ar.standby = tc.name;
  plan.at_risk = at_risk(config, ar);

  for (const auto& n : all)
    if (n.config != target.config && n.config != old.config && n.is_standby() &&
        site::upstream_site(config, n) == oc.name)
      plan.cascaded_standbys.push_back(n.name);

  plan.steps = {
      fmt::format("check {} streams from {}{}", tc.name, oc.name,
                  o.max_lag_bytes >= 0 ? fmt::format(" with replay lag <= {} bytes", o.max_lag_bytes) : ""),
      fmt::format("stop {} (stop_command, -m fast): E3 takes no writes from here until the promotion", oc.name),
      fmt::format("pg_controldata {}: it shut down cleanly; its shutdown checkpoint", oc.name),
      fmt::format("wait (at most {}s) until {} replayed past that checkpoint; else restart {} as the primary and "
                  "stop",
                  o.wait_catchup, tc.name, oc.name),
      fmt::format("promote {} (pg_promote)", tc.name),
      fmt::format("record the failover at {} (the divergence point); CHECKPOINT there", tc.name),
      fmt::format("create slot '{}' at {}; restart {} as {}'s standby (standby.signal, primary_conninfo)", oc.name,
                  tc.name, oc.name, tc.name),
      fmt::format("wait until {} streams from {}; drop the stale slot '{}' at {}", oc.name, tc.name, tc.name, oc.name)};
}

void plan_unreachable(const FailoverRequest& o, SiteState& target, const config::SiteConfig& oc,
                      const std::string& old_error, FailoverPlan& plan) {
  const config::SiteConfig& tc = *target.config;
  plan.old_primary_error = old_error;
  // As the failover does: let the target replay all it received first, so
  // that the evidence is what a promotion would keep.
  const ReplayedEvidence replayed = evidence_after_replay(target, oc.name, o.wait_catchup);
  plan.all_received_replayed = replayed.all_received_replayed;
  if (!plan.all_received_replayed)
    plan.notes.push_back(fmt::format("{} has NOT replayed all it received after {}s (replay {})", tc.name,
                                     o.wait_catchup, replayed.pause_state));
  plan.evidence = replayed.evidence;
  if (!o.force) {
    plan.mode = FailoverPlan::Mode::refused;
    plan.why = fmt::format(
        "{} is unreachable: whatever it committed after the last WAL {} received cannot be known, so the loss "
        "of a failover cannot be proven; the failover would be refused (add --force to promote {} and accept it)",
        oc.name, tc.name, tc.name);
    return;
  }
  plan.mode = FailoverPlan::Mode::forced;
  plan.steps = {fmt::format("wait (at most {}s) until {} replayed all it received", o.wait_catchup, tc.name),
                fmt::format("promote {} (pg_promote, forced)", tc.name),
                fmt::format("record the failover at {} (forced, with this evidence); CHECKPOINT there", tc.name),
                fmt::format("{} stays down: it comes back only through `rulectl rejoin --site {}` (orphans first)",
                            oc.name, oc.name)};
}

}  // namespace

std::string FailoverPlan::summary() const {
  switch (mode) {
    case Mode::planned:
      return fmt::format("planned switchover {} -> {}: stop {}, promote {}, restart {} as its standby", old_primary,
                         target, old_primary, target, old_primary);
    case Mode::forced:
      return fmt::format(
          "FORCED failover {} -> {}: promote {} without {} (unreachable); what {} did not send is "
          "lost",
          old_primary, target, target, old_primary, old_primary);
    case Mode::refused: return fmt::format("failover to {} would be REFUSED", target);
  }
  return "";
}

int FailoverPlan::exit_code() const { return mode == Mode::refused ? common::exit_refused : common::exit_ok; }

json FailoverPlan::to_json() const {
  json doc = {{"dry_run", true},
              {"result", mode == Mode::planned  ? "would switch over"
                         : mode == Mode::forced ? "would fail over"
                                                : "would be refused"},
              {"planned", mode == Mode::planned},
              {"forced", mode == Mode::forced},
              {"target", target},
              {"old_primary", old_primary},
              {"probe", probe},
              {"steps", steps},
              {"notes", notes},
              {"cascaded_standbys", cascaded_standbys}};
  if (!old_primary_error.empty()) doc["old_primary_error"] = old_primary_error;
  if (mode == Mode::refused) doc["why"] = why;
  if (!replication_state.empty() || mode == Mode::planned) {
    doc["replication_state"] = replication_state;
    doc["replay_lag_bytes"] = replay_lag_bytes;
  }
  // Planned: what the target has not replayed yet (kept by the switchover's
  // wait). Unreachable: the evidence; the loss itself cannot be listed.
  doc["at_risk"] = at_risk ? at_risk->to_json() : json(nullptr);
  doc["evidence"] = evidence ? evidence->to_json() : json(nullptr);
  if (evidence) doc["all_received_replayed"] = all_received_replayed;
  return doc;
}

FailoverPlan plan_failover(const config::Config& config, const FailoverRequest& o,
                           const common::ProgressSink& progress) {
  const config::SiteConfig& tc = site::find_site(config, o.to);
  if (parse_environment(tc.environment) != Environment::e3)
    throw common::ExitError(common::exit_usage,
                            fmt::format("site {} is not an E3 site (environment {}): failover is within E3", tc.name,
                                        tc.environment));
  // Patroni runs the target (ops/failover_patroni.hpp).
  if (failover_through_patroni(tc)) return plan_failover_patroni(config, o, progress);
  if (o.wait_catchup < 0) throw common::ExitError(common::exit_usage, "--wait-catchup must not be negative");
  FailoverPlan plan;
  plan.target = tc.name;
  progress.step("probe the E3 sites");
  FailoverDecision d = decide_failover(config, tc, [](const std::vector<std::string>&) {});
  plan.probe = d.seen;
  plan.old_primary = d.old->name;
  if (d.planned) {
    plan_planned(config, o, *d.target, *d.old, d.all, plan);
    return plan;
  }
  if (!d.stale_upstream.empty())
    plan.notes.push_back(
        fmt::format("the last E3 primary is {} ({}; {})", d.old->name, d.last_primary_evidence, d.stale_upstream));
  plan_unreachable(o, *d.target, *d.old->config, d.old->error, plan);
  return plan;
}

}  // namespace rulekeeper::ops

namespace rulekeeper::ops {

void check_confirmed(const FailoverRequest& o, const std::string& old_primary, bool planned) {
  if (!o.confirmed_planned) return;
  if (o.confirmed_old_primary.value_or("") == old_primary && *o.confirmed_planned == planned) return;
  throw common::ExitError(
      common::exit_refused,
      fmt::format("the E3 sites changed since the plan was confirmed (it showed a {} from {}; now it would be a {} "
                  "from {}); nothing was done: run the failover again to see the new plan",
                  *o.confirmed_planned ? "planned switchover" : "forced failover",
                  o.confirmed_old_primary.value_or("?"), planned ? "planned switchover" : "forced failover",
                  old_primary));
}

}  // namespace rulekeeper::ops
