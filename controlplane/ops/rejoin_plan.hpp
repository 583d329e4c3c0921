// What `rulectl rejoin --site S` would do, found without changing anything
// (docs/operator-safety.md "Confirmation", "Dry runs"): the question before a
// rejoin and `rejoin --dry-run` show it.
//
// The same read-only checks as ops::rejoin (probe the E3 sites, the one new
// primary, the divergence point: its latest failover event), then the steps
// it would run and the orphans it would capture: when the site answers (a
// standby, or a primary in split brain), its changes beyond the divergence
// point are exported there now, read-only (export_changes) — as of now: a
// site that still accepts writes may take more until rejoin stops it; when it
// is down they cannot be read without starting it, which a plan does not do.
// Nothing is stopped, started, rewound or written (no bundle file either).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/output.hpp"
#include "ops/rejoin.hpp"
#include "site/client/failover.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

struct RejoinPlan {
  std::string site;
  std::string primary;
  std::string site_role;                             // "primary", "standby", "unreachable", ...
  std::vector<std::string> probe;                    // "ipc2 unreachable", "ipc1 primary", ...
  bool nothing_to_do = false;                        // it already streams from the primary on its timeline
  bool changes_production = false;                   // it would stop, start or rewind something
  std::optional<site::client::FailoverEvent> event;  // the divergence point
  std::optional<nlohmann::json> orphans;             // the changes export_changes gives now; nullopt: not readable
  std::string orphans_note;                          // why not, or "as of now"
  std::string orphans_file;                          // where rejoin would write them
  std::string missing_config;                        // the keys rulectl.toml lacks (manual steps)
  std::vector<std::string> steps;

  std::string summary() const;
  nlohmann::json to_json() const;  // with "dry_run": true
};

// Throws common::ExitError for what ops::rejoin refuses before anything is
// done (same exit codes and words).
RejoinPlan plan_rejoin(const config::Config& config, const RejoinRequest& request,
                       const common::ProgressSink& progress);

}  // namespace rulekeeper::ops
