#include "ops/failover_decision.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/errors.hpp"
#include "common/poll.hpp"
#include "rulekeeper/version_vector.hpp"
#include "ops/last_primary.hpp"
#include "site/client/failover.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {

namespace client = rulekeeper::site::client;
using site::SiteState;

namespace {

// A target whose WAL replay is paused (pg_wal_replay_pause()) would make a
// switchover stop the old primary and then wait out --wait-catchup for
// replay that does not happen: refused before anything is done, at once.
void refuse_paused_target(SiteState& target) {
  const client::ReplayCaughtUp r = client::replay_caught_up(*target.connection);
  if (r.pause_state == "not paused") return;
  throw common::ExitError(common::exit_refused,
                          fmt::format("{}'s WAL replay is paused (pg_get_wal_replay_pause_state() = '{}'): a "
                                      "failover to it would wait for replay that does not happen; nothing was done "
                                      "(resume it with SELECT pg_wal_replay_resume() at {}, then fail over)",
                                      target.name, r.pause_state, target.name));
}

// The newest origin of `site` in a version vector.
std::optional<StandbyEvidence::Origin> newest_origin_of(const std::string& vector_text, const std::string& site) {
  std::optional<StandbyEvidence::Origin> best;
  std::int32_t best_inc = -1;
  const VersionVector vector = VersionVector::from_json(vector_text);
  for (const auto& [origin, seq] : vector.entries()) {
    if (origin.site != site || origin.incarnation <= best_inc) continue;
    best_inc = origin.incarnation;
    best = StandbyEvidence::Origin{origin.key(), seq};
  }
  return best;
}

}  // namespace

ReplayedEvidence evidence_after_replay(SiteState& target, const std::string& old_primary, double wait_catchup) {
  ReplayedEvidence out;
  out.all_received_replayed = common::poll_until(std::chrono::milliseconds(static_cast<long long>(wait_catchup * 1000)),
                                                 std::chrono::milliseconds(20), [&] {
                                                   const client::ReplayCaughtUp r =
                                                       client::replay_caught_up(*target.connection);
                                                   out.pause_state = r.pause_state;
                                                   return r.all_replayed;
                                                 });
  out.evidence.old_primary = old_primary;
  out.evidence.positions = client::standby_positions(*target.connection, old_primary);
  out.evidence.last_change_from_old_primary = newest_origin_of(out.evidence.positions.version_vector, old_primary);
  return out;
}

FailoverDecision decide_failover(const config::Config& config, const config::SiteConfig& tc,
                                 const std::function<void(const std::vector<std::string>& seen)>& probed) {
  FailoverDecision d;
  d.all = site::probe_e3(config);
  std::vector<SiteState*> writable;
  for (auto& n : d.all) {
    if (n.config == &tc) d.target = &n;
    if (n.is_primary() && n.same_server_as.empty()) writable.push_back(&n);  // a server counts once
    d.seen.push_back(fmt::format("{} {}", n.name, n.role()));
  }
  probed(d.seen);
  SiteState* target = d.target;
  if (target == nullptr || !target->role_known())
    throw common::ExitError(common::exit_unreachable, fmt::format("target {} is unreachable ({}); nothing was done",
                                                                  tc.name, target ? target->error : "not probed"));
  if (writable.size() > 1) {
    std::vector<std::string> both;
    for (const auto* w : writable) both.push_back(fmt::format("{} (timeline {})", w->name, w->timeline.value_or(0)));
    throw common::ExitError(common::exit_refused,
                            fmt::format("split brain: more than one E3 site accepts writes: {}; refusing to fail "
                                        "over; rejoin the old primary first (`rulectl rejoin --site …`)",
                                        fmt::join(both, ", ")));
  }
  if (!target->is_standby())
    throw common::ExitError(common::exit_refused, fmt::format("{} is already the E3 primary (timeline {}); nothing "
                                                              "was done",
                                                              tc.name, target->timeline.value_or(0)));
  refuse_paused_target(*target);
  const std::string upstream = site::upstream_site(config, *target);
  if (writable.size() == 1) {
    SiteState& old = *writable[0];
    if (upstream != old.name)
      throw common::ExitError(common::exit_refused,
                              fmt::format("{} is not a standby of the E3 primary {} ({}); nothing was done", tc.name,
                                          old.name,
                                          upstream.empty()
                                              ? (target->upstream_port.empty()
                                                     ? std::string("it has no upstream")
                                                     : fmt::format("its upstream {}:{} is no configured site",
                                                                   target->upstream_host, target->upstream_port))
                                              : "it follows " + upstream));
    d.old = &old;
    d.planned = true;
    return d;
  }
  // No writable E3 site. The old primary is the last one (the newest
  // timeline, ops/last_primary.hpp) — the target's upstream unless that is
  // stale: a standby still set to follow a primary that was failed over
  // from (ipc2b following the dead ipc2 after `failover --to ipc1`).
  if (const auto last = newest_claim(primary_claims(config, d.all)); last && !upstream.empty() &&
                                                                     last->site != upstream && last->site != tc.name &&
                                                                     last->timeline > target->timeline.value_or(0)) {
    for (auto& n : d.all) {
      if (n.name != last->site || n.role_known()) continue;
      d.old = &n;
      d.stale_upstream = fmt::format("{} follows {} on timeline {}", tc.name, upstream, target->timeline.value_or(0));
      d.last_primary_evidence = fmt::format("timeline {}, {}", last->timeline, last->source);
      return d;
    }
  }
  if (upstream.empty())
    throw common::ExitError(common::exit_refused,
                            fmt::format("no E3 site accepts writes and {} names no upstream that is a configured site "
                                        "({}); cannot tell which site was the primary; nothing was done",
                                        tc.name,
                                        target->upstream_port.empty()
                                            ? std::string("no primary_conninfo")
                                            : target->upstream_host + ":" + target->upstream_port));
  for (auto& n : d.all) {
    if (n.name != upstream) continue;
    if (n.role_known())
      throw common::ExitError(common::exit_refused,
                              fmt::format("{}'s upstream {} is reachable but is a standby itself (in recovery): "
                                          "there is no primary to fail over from; nothing was done",
                                          tc.name, upstream));
    d.old = &n;
    return d;
  }
  throw common::ExitError(common::exit_failed, "internal: the upstream site was not probed");
}

}  // namespace rulekeeper::ops
