// `rulectl failover --to S` as an operation (docs/design/architecture.md
// "The control plane"; docs/design/postgres-traps.md "Planned switchover",
// "Timelines"). Prints nothing: progress goes to the sink, the report says
// what happened (to_json() is the CLI's --json document).
//
// Old primary reachable: a planned switchover — stop it cleanly (its
// stop_command, -m fast: the walsenders wait until connected standbys have
// the shutdown checkpoint), check with pg_controldata that the target replayed
// past that checkpoint (zero loss, proven by LSN), pg_promote() the target,
// record the failover there, create the old primary's slot there, and restart
// the old primary as the target's standby (standby.signal, primary_conninfo
// and primary_slot_name in its own settings file), then drop the slot it
// still holds for the target.
//
// Old primary unreachable: let the target replay everything it received,
// then refuse (exit 3) — what the old primary committed and never sent cannot
// be known — stating the last replayed heartbeat and its age, receive vs
// replay LSN and the last change held from the old primary; with force,
// promote and record the failover (forced) with that evidence.
//
// Refused before anything is done (common::ExitError): a target that is
// already primary, that is not a standby of the old primary, two writable E3
// sites, a failover or rejoin already running (state_dir lock).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/output.hpp"
#include "ops/steps.hpp"
#include "pgnode/local_node.hpp"
#include "site/client/failover.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

// The local node of a configured site, as pgnode drives it.
pgnode::LocalNode local_node(const config::SiteConfig& site);
// Where the tool output of an action at a site goes: <state_dir>/logs/<action>-<site>.log.
std::filesystem::path action_log(const config::Config& config, const std::string& action, const std::string& site);

struct FailoverRequest {
  std::string to;
  long long max_lag_bytes = -1;  // -1: no limit
  double wait_catchup = 30;      // seconds
  bool force = false;
  // After a confirmed plan (ops/failover_plan.hpp): the failover goes ahead
  // only if it is still the one shown — from this old primary, planned or
  // forced — else it is refused (exit 3) before anything is done.
  std::optional<std::string> confirmed_old_primary;
  std::optional<bool> confirmed_planned;
};

// Refuses (exit 3, nothing done) when `request` carries a confirmed plan that
// differs from what is about to happen.
void check_confirmed(const FailoverRequest& request, const std::string& old_primary, bool planned);

// What the target can tell about an old primary that is gone.
struct StandbyEvidence {
  std::string old_primary;
  site::client::StandbyPositions positions;
  // The newest origin of the old primary in the target's version vector.
  struct Origin {
    std::string origin;  // "ipc2:1"
    long long seq = 0;
  };
  std::optional<Origin> last_change_from_old_primary;
  nlohmann::json to_json() const;
};

struct FailoverReport {
  enum class Outcome { switched_over, refused, failed_over };
  Outcome outcome = Outcome::refused;
  std::string old_primary;
  std::string target;             // the new primary, unless refused
  std::string old_primary_error;  // unreachable: why
  long long new_timeline = 0;
  // Planned: the divergence vector covers what the old primary reported
  // before it stopped (else `uncovered` says what it lacks).
  std::vector<std::string> uncovered;
  std::string shutdown_checkpoint;
  std::string target_replayed;
  nlohmann::json failover_event;               // as recorded (record_failover)
  std::string stale_slot;                      // what became of the slot the old primary held for the target
  std::vector<std::string> cascaded_standbys;  // still following the old primary
  std::optional<StandbyEvidence> evidence;     // unreachable old primary
  bool all_received_replayed = false;
  std::string why;  // refused: why
  // What was done about the target's synchronous replication before the
  // promotion (ops/sync_promotion.hpp); "" when none is configured.
  std::string sync;
  // The target's upstream is not the last primary (ops/last_primary.hpp):
  // "ipc2b follows ipc2 on timeline 1", and why old_primary is the last one.
  std::string stale_upstream;
  std::string last_primary_evidence;
  std::vector<Step> steps;
  double total_seconds = 0;

  int exit_code() const;
  nlohmann::json to_json() const;
};

FailoverReport failover(const config::Config& config, const FailoverRequest& request,
                        const common::ProgressSink& progress);

}  // namespace rulekeeper::ops
