// Which primary `rulectl rejoin --site S` rejoins S to, decided once for the
// real run (ops::rejoin) and for its plan (ops::plan_rejoin: the question
// and --dry-run), so that both refuse the same way and agree on the primary.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "site/config.hpp"
#include "site/probe.hpp"

namespace rulekeeper::ops {

struct RejoinDecision {
  std::vector<site::SiteState> all;    // every E3 site, probed
  site::SiteState* me = nullptr;       // into `all`: the site to rejoin
  site::SiteState* primary = nullptr;  // into `all`: the one to follow
  std::vector<std::string> seen;       // "ipc2 primary", "ipc1 standby", ...
  // Already a streaming standby of the primary on its timeline.
  bool already_following = false;

  RejoinDecision() = default;
  RejoinDecision(const RejoinDecision&) = delete;  // pointers into `all`
  RejoinDecision(RejoinDecision&&) = default;      // a vector's move keeps its elements
};

// Throws common::ExitError: split brain among the others (3), the site is
// the only primary (3), no other site accepts writes (4). `probed` is called
// with `seen` once the sites are probed, before any refusal.
RejoinDecision decide_rejoin(const config::Config& config, const config::SiteConfig& site,
                             const std::function<void(const std::vector<std::string>& seen)>& probed);

}  // namespace rulekeeper::ops
