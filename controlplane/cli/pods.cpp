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
#include "ops/pods.hpp"

namespace rulekeeper::cli {
namespace {

struct PodsOptions {
  std::string site;
};

int run_pods(const GlobalOptions& global, const PodsOptions& options) {
  const config::Config config = load_config(global);
  const ops::GatewayPods read = ops::read_gateway_pods(config, options.site);
  const nlohmann::json& gateways = read.gateways;
  const bool any = read.any, down = read.down;
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
