// Site resolution: which configured site a verb acts at, with the safety
// checks every writing verb shares (docs/design/contract.md "CLI"):
//   - `e3` as a site argument is the E3 primary: the one E3 site that is
//     reachable and not in recovery, even when another E3 site is down (no
//     site may be named `e3`: site/config.cpp refuses it);
//   - two writable E3 sites are a split brain: every write to E3 is refused
//     (exit 3), naming both and their timelines;
//   - a named site that is a standby is refused (exit 3) naming the primary;
//   - a site that does not answer is exit 4.
// The decision is a pure function of probe results (choose_writer), so it is
// unit-tested without servers; writer()/reader() probe and then decide.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "site/config.hpp"
#include "site/probe.hpp"

namespace rulekeeper::site {

// The site argument that means "the E3 primary".
extern const char* const kE3Primary;  // "e3"

// A site a verb acts at, with the connection it uses there.
struct Site {
  const config::SiteConfig* config = nullptr;
  std::shared_ptr<pqxx::connection> conn;  // the probe's connection, kept
  bool in_recovery = false;
  std::optional<long long> timeline;
  std::string reported_environment;  // rulekeeper.environment as the server says it

  const std::string& name() const { return config->name; }
  // The server's environment when it says one, else rulectl.toml's.
  std::string environment() const { return reported_environment.empty() ? config->environment : reported_environment; }
};

// The configured site called `name`, or common::ExitError(exit_usage) listing
// the names there are.
const config::SiteConfig& find_site(const config::Config& config, const std::string& name);

// The index in `probes` of the site to write at, or the refusal as an
// ExitError — see the rules above. `probes` holds the E3 sites when `name`
// is kE3Primary or an E3 site, else just the named site. `action` names the
// verb in messages ("activate"); `flag` the verb's option that names the
// site ("--site"; reconcile's is "--to"), so a refusal's advice is a command
// that works.
std::size_t choose_writer(const std::vector<SiteState>& probes, const std::string& name, const std::string& action,
                          const std::string& config_path, const std::string& flag = "--site");

// A site to write at: kE3Primary or a site name (refusals as above).
Site writer(const config::Config& config, const std::string& name, const std::string& action,
            const std::string& flag = "--site");

// A named site to read from (no role check), e.g. the source of a release;
// kE3Primary reads at the E3 primary.
Site reader(const config::Config& config, const std::string& name);

}  // namespace rulekeeper::site
