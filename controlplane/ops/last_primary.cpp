// See last_primary.hpp.
#include "ops/last_primary.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "common/files.hpp"
#include "common/json_file.hpp"
#include "common/time.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "site/client/failover.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rulekeeper::ops {
namespace {

const char* const kWrites = "it accepts writes";

fs::path record_file(const config::Config& config) { return fs::path(config.state_dir) / "e3-last-primary.json"; }

}  // namespace

json PrimaryClaim::to_json() const {
  return {{"site", site}, {"timeline", timeline}, {"source", source}, {"at", at.empty() ? json() : json(at)}};
}

std::optional<PrimaryClaim> newest_claim(const std::vector<PrimaryClaim>& claims) {
  std::optional<PrimaryClaim> best;
  for (const auto& c : claims) {
    if (!best || c.timeline > best->timeline) {
      best = c;
      continue;
    }
    if (c.timeline < best->timeline) continue;
    // Same timeline: a site accepting writes, then what a server says (its
    // failover event, a follower) over rulectl's local file, then the later.
    const int c_rank = c.source == kWrites ? 0 : c.from_state_dir ? 2 : 1;
    const int best_rank = best->source == kWrites ? 0 : best->from_state_dir ? 2 : 1;
    if (c_rank < best_rank || (c_rank == best_rank && c.at > best->at)) best = c;
  }
  return best;
}

std::vector<PrimaryClaim> primary_claims(const config::Config& config, const std::vector<site::SiteState>& probes) {
  std::vector<PrimaryClaim> raw;
  const std::string e3(to_string(Environment::e3));
  for (const auto& s : probes) {
    if (s.environment != e3 || !s.role_known()) continue;
    if (s.is_primary()) {
      raw.push_back({s.name, s.timeline.value_or(0), kWrites, ""});
    } else if (const std::string up = site::upstream_site(config, s); !up.empty()) {
      raw.push_back({up, s.timeline.value_or(0), fmt::format("{} follows it", s.name), ""});
    }
    if (!s.connection) continue;
    try {
      if (auto ev = site::client::latest_failover_event(*s.connection))
        raw.push_back(
            {ev->new_site, ev->new_timeline,
             fmt::format("the failover {} -> {} recorded at {} (held at {}{})", ev->old_site, ev->new_site,
                         ev->recorded_at, s.name, ev->promoted_by.empty() ? "" : ", promoted by " + ev->promoted_by),
             ev->recorded_at});
    } catch (const std::exception&) {
      // An older extension, or a role without EXECUTE: no claim from here.
    }
  }
  try {
    if (fs::exists(record_file(config))) {
      const json r = common::read_json_file(record_file(config), "rulectl's record of the last E3 primary");
      raw.push_back({r.value("site", std::string()), r.value("timeline", 0LL),
                     fmt::format("rulectl's record of its failover to it at {} ({})", r.value("at", std::string()),
                                 record_file(config).string()),
                     r.value("at", std::string()), true});
    }
  } catch (const std::exception&) {
    // An unreadable record is no claim.
  }
  // A reachable site that does not accept writes is not the primary, whatever was said about it.
  std::vector<PrimaryClaim> out;
  for (const auto& c : raw) {
    bool contradicted = false;
    for (const auto& s : probes)
      if (s.name == c.site && s.role_known() && !s.is_primary()) contradicted = true;
    if (!c.site.empty() && !contradicted) out.push_back(c);
  }
  return out;
}

void remember_primary(const config::Config& config, const std::string& site, long long timeline,
                      const std::string& event_id) {
  const json r = {{"site", site}, {"timeline", timeline}, {"event_id", event_id}, {"at", common::utc_now_text()}};
  // state_dir may not exist yet: nothing else of a failover writes there
  // since the control lock lives in the E3 servers (ops/control_lock.hpp).
  fs::create_directories(config.state_dir);
  common::write_durably(record_file(config), r.dump(2) + "\n");
}

}  // namespace rulekeeper::ops
