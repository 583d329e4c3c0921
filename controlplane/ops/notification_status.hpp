// The notifications section of `rulectl status` (issue #18 item 3,
// docs/notifications.md): for each reachable E3 site and channel, the
// channel's epoch at that site's node, and whether the site's channel is
// held — then its gateway serves the held epoch, not the current one.
// Asked of each site's own node (its probe connection): a standby answers
// with what it has replayed, which is what its gateway serves.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "site/probe.hpp"

namespace rulekeeper::ops {

// [{"site", "channel", "current_epoch", "served_epoch", "held", "held_epoch",
//   "held_by", "held_at", "reason"}] in site then channel order; a site that
// could not tell (unreachable, extension older than 0.2, a failed query) is
// named in `notes` instead.
nlohmann::json notification_status(const std::vector<site::SiteState>& sites, std::vector<std::string>& notes);

}  // namespace rulekeeper::ops
