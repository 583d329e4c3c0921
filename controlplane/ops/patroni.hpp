// What rulectl asks of Patroni, through its REST API (http/client.hpp), for
// E3 sites with ha = "patroni" in rulectl.toml (docs/failover.md "With
// Patroni"). Patroni promotes, demotes, fences and rewinds; rulectl only
// changes a cluster's dynamic configuration (PATCH /config) and reads what
// Patroni says (GET /cluster, GET /config). Never pg_promote() behind
// Patroni's back: Patroni would see a leader it did not elect.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "site/config.hpp"

namespace rulekeeper::ops::patroni {

// Whether `site` is run by Patroni (ha = "patroni").
bool managed(const config::SiteConfig& site);

// The configured sites that are members of Patroni cluster `cluster`.
std::vector<const config::SiteConfig*> members(const config::Config& config, const std::string& cluster);

// GET /config of the cluster, asked of each member's REST API in turn
// until one answers (the dynamic configuration lives in the DCS: any member
// serves it). Throws common::ExitError(exit_unreachable) when none answers.
nlohmann::json get_config(const config::Config& config, const std::string& cluster);

// PATCH /config with `patch` (JSON merge: null removes a key), sent to the
// first member that answers. Returns the configuration Patroni stored.
// Throws common::ExitError: exit_unreachable when no member answers,
// exit_failed when Patroni refuses the change.
nlohmann::json patch_config(const config::Config& config, const std::string& cluster, const nlohmann::json& patch);

// GET /cluster from the first member that answers: {"members": [...]}, each
// with name, role ("leader", "standby_leader", "replica", "sync_standby"),
// state, timeline. Empty object when no member answers.
nlohmann::json cluster_view(const config::Config& config, const std::string& cluster);

// The member of `view` with role `role` ("" if none).
std::string member_with_role(const nlohmann::json& view, const std::string& role);

// host and port of a site's conninfo (the first of a multi-host one), for
// a standby_cluster section that points at it.
std::pair<std::string, std::string> address_of(const config::SiteConfig& site);

}  // namespace rulekeeper::ops::patroni

namespace rulekeeper::ops::patroni {

// Patroni's on_role_change callback (`rulectl patroni-callback`): Patroni
// runs `<command> on_role_change <role> <cluster>` after it changed a
// member's role. The change is appended as one JSON line to
// <state_dir>/patroni-role-changes.jsonl (rulectl's record of what Patroni
// did; the failover event itself is the extension's). Returns the line.
struct RoleChange {
  std::string action;   // on_role_change, on_start, ...
  std::string role;     // master/primary, replica, standby_leader, ...
  std::string cluster;  // Patroni's scope
  std::string member;   // --member, else $PATRONI_NAME when set
};
nlohmann::json record_role_change(const std::string& state_dir, const RoleChange& change);

}  // namespace rulekeeper::ops::patroni
