#include "ops/version.hpp"

#include <fmt/format.h>

#include "site/client/server_state.hpp"
#include "site/connect.hpp"
#include "site/extension_check.hpp"

namespace rulekeeper::ops {

using nlohmann::json;

json VersionReport::to_json() const {
  json rows = json::array();
  for (const auto& s : sites) {
    json r = {{"site", s.site}, {"extension_version", s.extension_version ? json(*s.extension_version) : json()}};
    if (!s.error.empty()) r["error"] = s.error;
    rows.push_back(r);
  }
  return {{"rulectl", rulectl}, {"extension", extension}, {"sites", rows}, {"warnings", warnings}};
}

VersionReport versions(const config::Config* config) {
  VersionReport r;
  r.rulectl = RULECTL_VERSION;
  r.extension = RULEKEEPER_EXTENSION_VERSION;
  if (config == nullptr) return r;
  for (const auto& site : config->sites) {
    const std::string& name = site.name;
    SiteVersion v;
    v.site = name;
    std::string error;
    if (auto conn = site::try_connect(site, error)) {
      try {
        v.extension_version = site::client::extension_version(*conn);
      } catch (const std::exception& e) {
        v.error = e.what();
      }
    } else {
      v.error = error;
    }
    if (!v.error.empty())
      r.warnings.push_back(fmt::format("site {}: version unknown: {}", name, v.error));
    else if (!v.extension_version)
      r.warnings.push_back(fmt::format("site {}: the rulekeeper extension is not installed", name));
    else if (auto m = site::unsupported_extension(name, {v.extension_version, "", false}))
      r.warnings.push_back(*m);  // the words the other verbs refuse with (site/extension_check.hpp)
    r.sites.push_back(std::move(v));
  }
  return r;
}

}  // namespace rulekeeper::ops
