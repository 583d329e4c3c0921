// See diff.hpp.
#include "ops/diff.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "rulekeeper/lifecycle.hpp"
#include "site/server_error.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {

using nlohmann::json;

json DiffReport::diff_json() const {
  json out = json::array();
  for (const auto& e : entries) {
    json j = {{"path", e.path}, {"op", e.op}};
    if (e.old_value) j["old_value"] = *e.old_value;
    if (e.new_value) j["new_value"] = *e.new_value;
    out.push_back(std::move(j));
  }
  return out;
}

json DiffReport::to_json() const {
  return {{"site", site}, {"rule_key", rule_key}, {"from", from}, {"to", to}, {"diff", diff_json()}};
}

DiffReport diff(const config::Config& config, const DiffRequest& request) {
  // `e3` addresses the E3 primary unless a site is called that.
  const std::string e3(to_string(Environment::e3));
  site::Site site = request.site == e3 && config.find(e3) == nullptr ? site::writer(config, e3, "diff")
                                                                     : site::reader(config, request.site);
  DiffReport report{site.name(), request.rule, request.from, request.to, {}, 0};
  try {
    report.entries = site::client::diff(*site.conn, request.rule, request.from, request.to);
  } catch (const pqxx::sql_error& e) {
    throw site::sql_failure(fmt::format("diff at {}", site.name()), e);
  }
  return report;
}

}  // namespace rulekeeper::ops
