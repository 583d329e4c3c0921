// A promotion never waits for a synchronous standby that cannot be following
// it (issue #14 item 1; docs/design/postgres-traps.md "Synchronous commit",
// docs/failover.md "Synchronous standbys and promotion").
//
// A standby keeps the synchronous_standby_names its primary had (the same
// configuration, or its own conf_file naming the AZ-b standby). Promoted
// while the standbys named there follow some other node (the old primary,
// stopped), every commit at it — the failover record first — would wait in
// SyncRep forever. So before promoting, rulectl reads the target's setting
// and the standbys streaming from it (cascading: they stay with it through
// the promotion): when they cannot satisfy the setting, it relaxes it at the
// target (ALTER SYSTEM SET synchronous_standby_names = '', reloaded) and
// remembers what it was in state_dir; `rulectl rejoin` of a named standby
// restores it once the standby streams from the primary again.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "ops/steps.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

// synchronous_standby_names as PostgreSQL reads it (syncrep_gram.y):
// "[FIRST] N (a, b)", "ANY N (a, b)", or "a, b" (FIRST 1); names may be
// double-quoted; "*" matches any standby. Empty: no synchronous replication.
struct SyncStandbySpec {
  bool any = false;  // ANY (quorum) rather than FIRST (priority)
  int num_sync = 0;  // 0: none configured
  std::vector<std::string> names;
  bool matches(const std::string& standby) const;  // named (case-insensitive), or "*"
};
// Throws std::invalid_argument for a value PostgreSQL would not accept.
SyncStandbySpec parse_sync_standby_names(const std::string& value);
// Whether commits can be acknowledged with `streaming` (application names)
// connected: at least num_sync of them are named.
bool sync_satisfiable(const SyncStandbySpec& spec, const std::vector<std::string>& streaming);

// What was done about synchronous replication at a promotion target.
struct SyncGuard {
  std::string site;
  std::string was;  // the setting before; "" if none
  bool relaxed = false;
  std::string detail;  // one line for the steps and the report
};

// Before promoting `target` (a standby): relaxes its synchronous replication
// when the standbys streaming from it cannot satisfy it (see above); records
// the old value in <state_dir>/sync-relaxed-<target>.json. A step either way
// when a setting is configured.
// `whereabouts`: what each other E3 site is doing ("follows ipc1", "is
// unreachable"), to say where the named standbys are.
SyncGuard guard_sync_before_promotion(const config::Config& config, pqxx::connection& target,
                                      const std::string& target_name, Steps& steps,
                                      const std::map<std::string, std::string>& whereabouts = {});
// Undoes guard_sync_before_promotion when the promotion did not happen.
void undo_sync_guard(const config::Config& config, pqxx::connection& target, const SyncGuard& guard, Steps& steps);

// After `rejoined` streams from `primary`: restores the synchronous_standby_names
// rulectl relaxed at `primary` when the standbys now streaming satisfy it. A
// step when there was something to restore; "" or a one-line account.
std::string restore_sync_after_rejoin(const config::Config& config, pqxx::connection& primary,
                                      const std::string& primary_name, Steps& steps);

}  // namespace rulekeeper::ops
