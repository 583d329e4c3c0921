// Which failover `rulectl failover --to S` is, decided once for the real run
// (ops::failover) and for its plan (ops::plan_failover: the question and
// --dry-run), so that what is shown and what runs cannot disagree about the
// old primary or the kind of failover.
//
// Read-only: probes the E3 sites and refuses — with the words both callers
// print — an unknown or unreachable target, split brain, a target that is
// already primary, a target whose replay is paused (issue #14 item 8: before
// anything is stopped), a target that follows neither the primary nor the
// last one.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ops/failover.hpp"
#include "site/config.hpp"
#include "site/probe.hpp"

namespace rulekeeper::ops {

struct FailoverDecision {
  std::vector<site::SiteState> all;   // every E3 site, probed
  site::SiteState* target = nullptr;  // into `all`
  site::SiteState* old = nullptr;     // into `all`: the old primary
  bool planned = false;               // old reachable and writable: a switchover
  std::vector<std::string> seen;      // "ipc2 primary", "ipc1 standby", ...
  // Set when the old primary is the last one by timeline rather than the
  // target's (stale) upstream (ops/last_primary.hpp, issue #14 item 4).
  std::string stale_upstream;         // "ipc2b follows ipc2 on timeline 1"
  std::string last_primary_evidence;  // "timeline 3, ipc1's failover event"

  FailoverDecision() = default;
  FailoverDecision(const FailoverDecision&) = delete;  // pointers into `all`
  FailoverDecision(FailoverDecision&&) = default;      // a vector's move keeps its elements
};

// Throws common::ExitError (exit 2/3/4) for every refusal above. `probed`
// is called with `seen` once the sites are probed, before any refusal, so a
// caller's progress line ends where the probe ends.
FailoverDecision decide_failover(const config::Config& config, const config::SiteConfig& target_config,
                                 const std::function<void(const std::vector<std::string>& seen)>& probed);

// What the target holds of an old primary that is gone, once it replayed
// all it received (waiting at most `wait_catchup` seconds): the evidence a
// forced failover records and its plan shows.
struct ReplayedEvidence {
  StandbyEvidence evidence;
  bool all_received_replayed = false;
  std::string pause_state;  // pg_get_wal_replay_pause_state() at the last look
};
ReplayedEvidence evidence_after_replay(site::SiteState& target, const std::string& old_primary, double wait_catchup);

}  // namespace rulekeeper::ops
