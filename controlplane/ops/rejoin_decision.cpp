#include "ops/rejoin_decision.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/errors.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {

using site::SiteState;

RejoinDecision decide_rejoin(const config::Config& config, const config::SiteConfig& sc,
                             const std::function<void(const std::vector<std::string>& seen)>& probed) {
  RejoinDecision d;
  d.all = site::probe_e3(config);
  std::vector<SiteState*> primaries;
  for (auto& n : d.all) {
    if (n.config == &sc)
      d.me = &n;
    else if (n.is_primary() && n.same_server_as.empty())  // a server counts once (site/probe.hpp)
      primaries.push_back(&n);
    d.seen.push_back(fmt::format("{} {}", n.name, n.role()));
  }
  probed(d.seen);
  if (primaries.size() > 1) {
    std::vector<std::string> names;
    for (auto* p : primaries) names.push_back(fmt::format("{} (timeline {})", p->name, p->timeline.value_or(0)));
    throw common::ExitError(common::exit_refused, fmt::format("split brain among the other E3 sites: {}; rejoin them "
                                                              "one at a time",
                                                              fmt::join(names, ", ")));
  }
  if (primaries.empty()) {
    if (d.me->is_primary())
      throw common::ExitError(common::exit_refused,
                              fmt::format("{} is the only E3 site that accepts writes: it is the primary, there is "
                                          "nothing to rejoin it to",
                                          sc.name));
    throw common::ExitError(common::exit_unreachable,
                            fmt::format("no other E3 site accepts writes: no new primary to rejoin {} to", sc.name));
  }
  d.primary = primaries[0];
  const SiteState& me = *d.me;
  d.already_following = me.is_standby() && me.wal_receiver == "streaming" &&
                        site::upstream_site(config, me) == d.primary->name && me.timeline == d.primary->timeline;
  return d;
}

}  // namespace rulekeeper::ops
