// See pods.hpp.
#include "ops/pods.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "http/client.hpp"

namespace rulekeeper::ops {

GatewayPods read_gateway_pods(const config::Config& config, const std::string& only_site) {
  GatewayPods out;
  for (const auto& site : config.sites) {
    if (!site.gateway) continue;
    if (!only_site.empty() && site.name != only_site) continue;
    out.any = true;
    nlohmann::json entry = {{"site", site.name}, {"url", site.gateway->url}};
    try {
      std::vector<std::pair<std::string, std::string>> headers;
      if (!site.gateway->token.empty()) headers.emplace_back("Authorization", "Bearer " + site.gateway->token);
      const http::Reply r = http::request("GET", site.gateway->url, "/v1/pods", "", std::chrono::seconds(3), headers);
      if (!r.ok())
        throw http::Unreachable(fmt::format("GET {}/v1/pods: HTTP {}: {}", site.gateway->url, r.status, r.body));
      const nlohmann::json doc = nlohmann::json::parse(r.body);
      entry["reachable"] = true;
      entry["pods"] = doc.value("pods", nlohmann::json::array());
      // Per channel: pods connected and behind, the epochs they were served.
      std::map<std::string, nlohmann::json> channels;
      for (const auto& p : entry["pods"]) {
        const std::string ch = p.value("channel", "");
        nlohmann::json& c = channels[ch];
        if (c.is_null())
          c = {{"channel", ch},
               {"pods", 0},
               {"connected", 0},
               {"behind", 0},
               {"current_epoch", nullptr},
               {"served_epochs", nlohmann::json::array()}};
        c["pods"] = c["pods"].get<int>() + 1;
        if (p.value("connected", false)) c["connected"] = c["connected"].get<int>() + 1;
        if (p.value("behind", false)) c["behind"] = c["behind"].get<int>() + 1;
        if (!p["current_epoch"].is_null()) c["current_epoch"] = p["current_epoch"];
        if (!p["served_epoch"].is_null()) {
          auto& s = c["served_epochs"];
          if (std::find(s.begin(), s.end(), p["served_epoch"]) == s.end()) s.push_back(p["served_epoch"]);
        }
      }
      entry["channels"] = nlohmann::json::array();
      for (auto& [k, v] : channels) entry["channels"].push_back(v);
    } catch (const std::exception& e) {
      out.down = true;
      entry["reachable"] = false;
      entry["error"] = e.what();
    }
    out.gateways.push_back(entry);
  }
  return out;
}

}  // namespace rulekeeper::ops
