// See patroni.hpp.
#include "ops/patroni.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/time.hpp"
#include "common/text.hpp"
#include "http/client.hpp"
#include "site/conninfo.hpp"

namespace rulekeeper::ops::patroni {

using nlohmann::json;

namespace {

// Calls `f(url)` on each member until one answers; collects why the others
// did not.
template <class F>
auto first_answer(const config::Config& config, const std::string& cluster, const std::string& what, F f) {
  std::vector<std::string> errors;
  for (const config::SiteConfig* m : members(config, cluster)) {
    try {
      return f(*m);
    } catch (const http::Unreachable& e) {
      errors.push_back(fmt::format("{}: {}", m->name, common::one_line(e.what())));
    }
  }
  throw common::ExitError(common::exit_unreachable,
                          fmt::format("no member of Patroni cluster {} answered {} ({})", cluster, what,
                                      errors.empty() ? "no member in rulectl.toml"
                                                     : fmt::format("{}", fmt::join(errors, "; "))));
}

json parse_body(const http::Reply& r, const std::string& what) {
  try {
    return json::parse(r.body);
  } catch (const json::exception&) {
    throw common::ExitError(common::exit_failed,
                            fmt::format("{}: Patroni answered HTTP {} with a body that is not JSON: {}", what, r.status,
                                        common::one_line(r.body)));
  }
}

}  // namespace

bool managed(const config::SiteConfig& site) { return site.ha == "patroni"; }

std::vector<const config::SiteConfig*> members(const config::Config& config, const std::string& cluster) {
  std::vector<const config::SiteConfig*> out;
  for (const auto& s : config.sites)
    if (managed(s) && s.patroni_cluster == cluster) out.push_back(&s);
  return out;
}

json get_config(const config::Config& config, const std::string& cluster) {
  return first_answer(config, cluster, "GET /config", [&](const config::SiteConfig& m) {
    const http::Reply r = http::get(m.patroni_url, "/config");
    if (!r.ok())
      throw common::ExitError(common::exit_failed, fmt::format("GET {}/config: HTTP {}: {}", m.patroni_url, r.status,
                                                               common::one_line(r.body)));
    return parse_body(r, "GET " + m.patroni_url + "/config");
  });
}

json patch_config(const config::Config& config, const std::string& cluster, const json& patch) {
  return first_answer(config, cluster, "PATCH /config", [&](const config::SiteConfig& m) {
    const http::Reply r = http::request("PATCH", m.patroni_url, "/config", patch.dump());
    if (!r.ok())
      throw common::ExitError(common::exit_failed,
                              fmt::format("Patroni refused PATCH {}/config {}: HTTP {}: {}", m.patroni_url,
                                          patch.dump(), r.status, common::one_line(r.body)));
    return parse_body(r, "PATCH " + m.patroni_url + "/config");
  });
}

json cluster_view(const config::Config& config, const std::string& cluster) {
  try {
    return first_answer(config, cluster, "GET /cluster", [&](const config::SiteConfig& m) {
      const http::Reply r = http::get(m.patroni_url, "/cluster");
      if (!r.ok()) throw http::Unreachable(fmt::format("GET {}/cluster: HTTP {}", m.patroni_url, r.status));
      return parse_body(r, "GET " + m.patroni_url + "/cluster");
    });
  } catch (const common::ExitError&) {
    return json::object();
  }
}

std::string member_with_role(const json& view, const std::string& role) {
  if (!view.contains("members") || !view["members"].is_array()) return "";
  for (const auto& m : view["members"])
    if (m.value("role", "") == role) return m.value("name", "");
  return "";
}

std::pair<std::string, std::string> address_of(const config::SiteConfig& site) {
  auto [host, port] = conninfo::address(conninfo::parse(site.conninfo, site.name));
  if (auto comma = host.find(','); comma != std::string::npos) host = host.substr(0, comma);
  if (auto comma = port.find(','); comma != std::string::npos) port = port.substr(0, comma);
  return {host, port.empty() ? "5432" : port};
}

}  // namespace rulekeeper::ops::patroni

namespace rulekeeper::ops::patroni {

json record_role_change(const std::string& state_dir, const RoleChange& change) {
  json line = {{"at", common::utc_now_text()},
               {"action", change.action},
               {"role", change.role},
               {"cluster", change.cluster},
               {"member", change.member.empty() ? json() : json(change.member)}};
  std::filesystem::create_directories(state_dir);
  common::append_file(std::filesystem::path(state_dir) / "patroni-role-changes.jsonl", line.dump() + "\n");
  return line;
}

}  // namespace rulekeeper::ops::patroni
