// `rulectl version` (and `rulectl --version`): rulectl's own version, the
// extension version it was built with, and — with a config — the extension
// version each site has installed, warning where they differ (an upgrade
// half done, a site forgotten).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "site/config.hpp"

namespace rulekeeper::ops {

struct SiteVersion {
  std::string site;
  std::optional<std::string> extension_version;  // nullopt: not installed (or unreachable: error set)
  std::string error;                             // one line; empty when the site answered
};

struct VersionReport {
  std::string rulectl;             // this binary's version
  std::string extension;           // the extension version it was built with
  std::vector<SiteVersion> sites;  // empty without a config
  std::vector<std::string> warnings;

  nlohmann::json to_json() const;
};

// Without a config (nullptr) only the built-in versions.
VersionReport versions(const config::Config* config);

}  // namespace rulekeeper::ops
