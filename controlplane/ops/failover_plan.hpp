// What `rulectl failover --to S` would do, found without changing anything
// (docs/operator-safety.md "Confirmation", "Dry runs"): the question before a
// failover and `failover --dry-run` show it.
//
// The same read-only checks as ops::failover, made the same way (probe the
// E3 sites; refusals for an unknown target, split brain, a target that is
// primary or follows another site), then:
//   - old primary reachable (planned switchover): whether the target streams
//     from it and its replay lag (against --max-lag-bytes), the changes the
//     target has not replayed yet (ops::at_risk: the version-vector
//     difference — kept, because the switchover waits until the target
//     replayed past the old primary's shutdown checkpoint), the standbys that
//     would go on following the old primary, and the steps it would run;
//   - old primary unreachable: waits (at most --wait-catchup) until the
//     target replayed what it received, as the failover would, and reports
//     what it holds of the old primary (last change, last heartbeat, receive
//     and replay positions): whatever the old primary committed after that is
//     what a forced failover loses; without --force the failover refuses.
// Nothing is stopped, promoted, rewound or written; the control lock is not
// taken (a failover or rejoin that runs meanwhile is reported by the real one).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/output.hpp"
#include "ops/at_risk.hpp"
#include "ops/failover.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

struct FailoverPlan {
  enum class Mode { planned, forced, refused };
  Mode mode = Mode::refused;
  std::string target;
  std::string old_primary;
  std::string old_primary_error;            // unreachable: why
  std::vector<std::string> probe;           // "ipc2 primary", "ipc1 standby", ...
  std::string replication_state;            // planned: the target's state at the old primary
  long long replay_lag_bytes = -1;          // planned
  std::optional<AtRiskReport> at_risk;      // planned: not yet replayed at the target (kept)
  std::optional<StandbyEvidence> evidence;  // unreachable: what the target holds of the old primary
  bool all_received_replayed = false;       // unreachable
  std::vector<std::string> cascaded_standbys;
  std::vector<std::string> steps;  // what the failover would run, in order
  std::vector<std::string> notes;  // warnings a person should read first
  std::string why;                 // refused: why

  // "planned switchover ipc2 -> ipc1", "FORCED failover ipc2 -> ipc1", ...
  std::string summary() const;
  int exit_code() const;           // 0 it would go ahead; 3 it would be refused
  nlohmann::json to_json() const;  // with "dry_run": true
};

// Throws common::ExitError for what ops::failover refuses before anything is
// done (exit 2/3/4, same words).
FailoverPlan plan_failover(const config::Config& config, const FailoverRequest& request,
                           const common::ProgressSink& progress);

}  // namespace rulekeeper::ops
