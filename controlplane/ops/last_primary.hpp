// Which E3 site was the primary last (issue #14 item 4; docs/failover.md
// "A second failover before the rejoin"): the one with the newest timeline,
// whatever the order of rulectl.toml and whatever a standby's stale
// primary_conninfo says. After `failover --to ipc1` with ipc2b still set to
// follow the dead ipc2, ipc2b's upstream is ipc2 — but ipc1 (timeline 2) is
// the primary whose changes a failover to ipc2b would lose.
//
// What is known, each a claim "site S was the primary on timeline T":
//   - a reachable E3 site that accepts writes (its own timeline);
//   - a reachable standby: its upstream, on the standby's timeline;
//   - the newest failover event a reachable site holds (new_site, new_timeline);
//   - rulectl's own record of the last failover it made
//     (<state_dir>/e3-last-primary.json), the only witness when the new
//     primary is gone and no standby followed it. Since extension 0.2 every
//     promotion is recorded by the promoted server itself (promoted_by
//     'rulectl' or 'external'), so the events are the primary evidence: on
//     the same timeline they win over this local file, which knows only
//     the failovers this host's rulectl made.
// A claim about a reachable site that does not accept writes now is dropped:
// the site itself says it is not the primary.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "site/config.hpp"
#include "site/probe.hpp"

namespace rulekeeper::ops {

struct PrimaryClaim {
  std::string site;
  long long timeline = 0;
  std::string source;           // who says so, for messages
  std::string at;               // RFC 3339 UTC ms when known (the failover's time)
  bool from_state_dir = false;  // rulectl's local record, the weakest witness
  nlohmann::json to_json() const;
};

// The claim with the newest timeline (ties: a site accepting writes, then a
// server's claim over state_dir's, then the later `at`); none without
// claims. Pure.
std::optional<PrimaryClaim> newest_claim(const std::vector<PrimaryClaim>& claims);

// Every claim the probed E3 sites (with their kept connections) and
// state_dir support, as described above.
std::vector<PrimaryClaim> primary_claims(const config::Config& config, const std::vector<site::SiteState>& probes);

// After a failover made `site` the primary on `timeline`.
void remember_primary(const config::Config& config, const std::string& site, long long timeline,
                      const std::string& event_id);

}  // namespace rulekeeper::ops
