// `rulectl pods [--site S]` (issue #18 items 2 and 3, docs/gateway.md): reads
// /v1/pods of every configured gateway ([sites.NAME.gateway]; its url, its
// token) — a table per site and channel (pods seen, connected, behind, the
// epoch the gateway serves and the epochs pods were served) and the pods,
// or --json; a gateway that does not answer is reported (exit 4 at the
// end), not fatal.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "http/client.hpp"

namespace rulekeeper::cli {
namespace {

struct PodsOptions {
  std::string site;
};

int run_pods(const GlobalOptions& global, const PodsOptions& options) {
  const config::Config config = load_config(global);
  nlohmann::json gateways = nlohmann::json::array();
  bool any = false, down = false;
  for (const auto& site : config.sites) {
    if (!site.gateway) continue;
    if (!options.site.empty() && site.name != options.site) continue;
    any = true;
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
      down = true;
      entry["reachable"] = false;
      entry["error"] = e.what();
    }
    gateways.push_back(entry);
  }
  if (!any)
    throw common::ExitError(common::exit_usage,
                            options.site.empty()
                                ? fmt::format("{}: no site has a [sites.NAME.gateway] table (docs/gateway.md)",
                                              config.path)
                                : fmt::format("{}: site {} has no gateway", config.path, options.site));
  if (global.json) {
    common::print_json({{"gateways", gateways}});
  } else {
    std::cout << fmt::format("{:<10} {:<8} {:>5} {:>9} {:>6} {:>14} {}", "SITE", "CHANNEL", "PODS", "CONNECTED",
                             "BEHIND", "CURRENT EPOCH", "SERVED EPOCHS")
              << "\n";
    for (const auto& g : gateways) {
      if (!g.value("reachable", false)) {
        std::cout << fmt::format("{:<10} gateway {} DOWN: {}", g["site"].get<std::string>(),
                                 g["url"].get<std::string>(), g.value("error", ""))
                  << "\n";
        continue;
      }
      if (g["channels"].empty())
        std::cout << fmt::format("{:<10} (no pod seen in the last 10 minutes)", g["site"].get<std::string>()) << "\n";
      for (const auto& c : g["channels"]) {
        std::vector<std::string> served;
        for (const auto& s : c["served_epochs"]) served.push_back(s.dump());
        std::cout << fmt::format("{:<10} {:<8} {:>5} {:>9} {:>6} {:>14} {}", g["site"].get<std::string>(),
                                 c["channel"].get<std::string>(), c["pods"].get<int>(), c["connected"].get<int>(),
                                 c["behind"].get<int>(), c["current_epoch"].is_null() ? "-" : c["current_epoch"].dump(),
                                 served.empty() ? "-" : fmt::format("{}", fmt::join(served, ",")))
                  << "\n";
      }
    }
    bool header = false;
    for (const auto& g : gateways) {
      if (!g.value("reachable", false)) continue;
      for (const auto& p : g["pods"]) {
        if (!header) {
          std::cout << "\n"
                    << fmt::format("{:<10} {:<28} {:<8} {:>12} {:<6} {:<9} {}", "SITE", "POD", "CHANNEL", "SERVED",
                                   "BEHIND", "CONNECTED", "LAST SEEN")
                    << "\n";
          header = true;
        }
        std::string labels;
        for (const auto& [k, v] : p["labels"].items())
          labels += (labels.empty() ? " " : ",") + k + "=" + v.get<std::string>();
        std::cout << fmt::format("{:<10} {:<28} {:<8} {:>12} {:<6} {:<9} {}{}", g["site"].get<std::string>(),
                                 p.value("pod", ""), p.value("channel", ""),
                                 p["served_epoch"].is_null() ? "-" : p["served_epoch"].dump(),
                                 p.value("behind", false) ? "yes" : "no", p.value("connected", false) ? "yes" : "no",
                                 p.value("last_seen", ""), labels)
                  << "\n";
      }
    }
  }
  return down ? common::exit_unreachable : common::exit_ok;
}

}  // namespace

void add_pods(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto po = std::make_shared<PodsOptions>();
  CLI::App* pods =
      app.add_subcommand("pods",
                         "which pods loaded which version: every configured gateway's /v1/pods, per site and channel "
                         "(exit 4 when a gateway does not answer)");
  pods->add_option("--site", po->site, "only this site's gateway");
  pods->callback([&global, &exit_code, po] { exit_code = run_pods(global, *po); });
}

}  // namespace rulekeeper::cli
