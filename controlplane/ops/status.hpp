// `status`: what every configured site is (role, timeline, versions,
// checksum, version vector), one connection per site, all at once
// (site::probe_all); then the E3 replication section: which site is
// primary, each standby's lag in bytes, seconds and changes, heartbeat age,
// slot health, split brain — and, with the primary down, what the standbys
// alone can tell (the last heartbeat); and the open reconcile conflicts.
// Shared by `status` and `sandbox up`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ops/last_primary.hpp"
#include "site/config.hpp"
#include "site/probe.hpp"

namespace rulekeeper::ops {

// An open reconcile conflict at an E3 primary: shown until an operator
// resolves it (`rulectl conflicts list|resolve`).
struct SiteConflict {
  std::string site;
  std::string conflict_id;
  std::string rule_key;
  std::string detected_at;  // RFC 3339 UTC, milliseconds
};

struct StatusReport {
  std::string config_path;
  std::vector<site::SiteState> sites;  // config order
  // The E3 replication section (see replication_report); null when the
  // config names no E3 site.
  nlohmann::json replication;
  std::vector<std::string> warnings;
  // Mistakes in rulectl.toml the servers reveal (site::configuration_errors)
  // and E3 sites refusing rulectl's login: exit 2 when nothing worse.
  std::vector<std::string> configuration_errors;
  std::vector<SiteConflict> open_conflicts;

  bool split_brain() const;
  bool any_unreachable() const;  // down, not refusing the login
  int exit_code() const;         // 3 split brain, else 4 a site is unreachable, else 2 a configuration error, else 0
  // {"config", "sites", "replication", "warnings", "open_conflicts"}
  nlohmann::json to_json() const;
};

StatusReport status(const config::Config& config);

// The E3 replication section from the probed sites:
// {"split_brain", "writable_sites", "primary", "primary_reachable",
//  "unreachable_sites", "primary_timeline"?, "primary_heartbeat_at"?,
//  "primary_heartbeat_age_seconds"?, "last_known_primary", "standbys",
//  "other_replicas", "notes"}; null without E3 sites. Asks the primary (its
// probe connection) how many changes each standby lacks.
// `last`: the newest primary claim (ops/last_primary.hpp); with no writable
// site it names last_known_primary ({"site", "timeline", "source", ...}).
nlohmann::json replication_report(const std::vector<site::SiteState>& all,
                                  const std::optional<PrimaryClaim>& last = std::nullopt);
// One line for a site whose commits wait for a synchronous standby.
std::string sync_rep_warning(const site::SiteState& s);

}  // namespace rulekeeper::ops
