// See topology.hpp.
#include "site/topology.hpp"

#include <fmt/format.h>

#include "rulekeeper/lifecycle.hpp"

namespace rulekeeper::site {
namespace {

const std::string kE3Name(to_string(Environment::e3));

std::string timeline_text(const SiteState& s) { return s.timeline ? std::to_string(*s.timeline) : "?"; }

// A probed site that can be acted at: moves its connection out. A server
// in another environment than rulectl.toml says is a configuration mistake
// (exit 2): acting there would, say, release into the wrong pipeline stage.
Site take(SiteState& s) {
  if (std::string m = environment_mismatch(s); !m.empty()) throw common::ExitError(common::exit_usage, m);
  Site out;
  out.config = s.config;
  out.conn = std::move(s.connection);
  out.in_recovery = s.recovery.value_or(false);
  out.timeline = s.timeline;
  out.reported_environment = s.reported_environment.value_or("");
  return out;
}

common::ExitError not_answering(const SiteState& s) {
  // Reachable but role unreadable: the site answered, so not exit 4.
  if (s.reachable) return common::ExitError(common::exit_failed, fmt::format("site {}: {}", s.name, s.error));
  return common::ExitError(common::exit_unreachable, fmt::format("site {} is unreachable: {}", s.name, s.error));
}

}  // namespace

const char* const kE3Primary = "e3";

const config::SiteConfig& find_site(const config::Config& config, const std::string& name) {
  if (const config::SiteConfig* s = config.find(name)) return *s;
  std::vector<std::string> names;
  for (const auto& s : config.sites) names.push_back(s.name);
  throw common::ExitError(common::exit_usage, fmt::format("no site '{}' in {} (sites: {}; or {} for the E3 primary)",
                                                          name, config.path, fmt::join(names, ", "), kE3Primary));
}

std::size_t choose_writer(const std::vector<SiteState>& probes, const std::string& name, const std::string& action,
                          const std::string& config_path, const std::string& flag) {
  const bool want_primary = name == kE3Primary;
  if (!want_primary && probes.size() == 1 && probes[0].environment != kE3Name) {
    const SiteState& p = probes[0];
    if (!p.role_known()) throw not_answering(p);
    if (p.is_standby())
      throw common::ExitError(
          common::exit_refused,
          fmt::format("site {} is a standby (in recovery) and takes no writes; {} needs its primary", name, action));
    return 0;
  }
  if (probes.empty())
    throw common::ExitError(common::exit_usage,
                            fmt::format("{} has no site with environment = \"{}\"", config_path, kE3Name));

  std::vector<std::size_t> writable;
  std::vector<std::string> unreachable, standbys;
  for (std::size_t i = 0; i < probes.size(); ++i) {
    const SiteState& p = probes[i];
    if (!p.role_known())
      unreachable.push_back(fmt::format("{} ({})", p.name, p.error));
    else if (p.is_standby())
      standbys.push_back(p.name);
    else if (p.same_server_as.empty())  // one server reached twice is one primary (probe.hpp)
      writable.push_back(i);
  }
  if (writable.size() > 1) {
    std::vector<std::string> both;
    for (std::size_t i : writable)
      both.push_back(fmt::format("{} (timeline {})", probes[i].name, timeline_text(probes[i])));
    throw common::ExitError(common::exit_refused,
                            fmt::format("split brain: more than one E3 site accepts writes: {}; refusing to {} at E3 "
                                        "until only one does (rejoin the old primary as a standby)",
                                        fmt::join(both, ", "), action));
  }
  const SiteState* primary = writable.empty() ? nullptr : &probes[writable[0]];

  if (want_primary) {
    if (primary != nullptr) return writable[0];
    if (!unreachable.empty())
      throw common::ExitError(common::exit_unreachable,
                              fmt::format("no reachable E3 site accepts writes (unreachable: {}{}{}); cannot {}",
                                          fmt::join(unreachable, "; "),
                                          standbys.empty() ? "" : "; standbys: ", fmt::join(standbys, ", "), action));
    throw common::ExitError(common::exit_refused,
                            fmt::format("no E3 site accepts writes: every E3 site is in recovery ({}); cannot {}",
                                        fmt::join(standbys, ", "), action));
  }

  for (std::size_t i = 0; i < probes.size(); ++i) {
    const SiteState& p = probes[i];
    if (p.name != name) continue;
    if (!p.role_known()) throw not_answering(p);
    if (p.is_standby()) {
      std::string where = primary != nullptr ? fmt::format("the E3 primary is {} (use {} {} or {} {})", primary->name,
                                                           flag, primary->name, flag, kE3Primary)
                                             : std::string("no E3 site accepts writes now");
      throw common::ExitError(common::exit_refused,
                              fmt::format("site {} is a standby (in recovery) and takes no writes; {}; {} refused",
                                          name, where, action));
    }
    return i;
  }
  throw common::ExitError(common::exit_failed, "internal: the named site was not probed");  // not reached
}

Site writer(const config::Config& config, const std::string& name, const std::string& action, const std::string& flag) {
  std::vector<const config::SiteConfig*> candidates;
  if (name == kE3Primary) {
    candidates = sites_of(config, kE3Name);
  } else {
    const config::SiteConfig& named = find_site(config, name);
    // An E3 site is judged among all E3 sites: a split brain refuses every E3 write.
    candidates =
        named.environment == kE3Name ? sites_of(config, kE3Name) : std::vector<const config::SiteConfig*>{&named};
  }
  std::vector<SiteState> probes = probe_all(candidates, ProbeDepth::role);
  return take(probes[choose_writer(probes, name, action, config.path, flag)]);
}

Site reader(const config::Config& config, const std::string& name) {
  if (name == kE3Primary) return writer(config, name, "read");
  SiteState p = probe(find_site(config, name), ProbeDepth::role);
  if (!p.role_known()) throw not_answering(p);
  return take(p);
}

}  // namespace rulekeeper::site
