// `rulectl status`: what every configured site is (role, timeline, versions,
// checksum, version vector), one connection per site, all at once.
#include <iostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "errors.hpp"
#include "output.hpp"
#include "sites.hpp"

namespace rulekeeper::cli {

config::Config load_config(const GlobalOptions& global) {
  return config::load(config::resolve_path(global.config_file));
}

int report_status(const config::Config& config, nlohmann::json* json_out) {
  std::vector<sites::SiteStatus> all = sites::probe_all(config);
  std::vector<std::string> warnings = sites::warnings(all);
  bool any_unreachable = false;
  for (const auto& s : all) any_unreachable |= !s.reachable;

  for (const auto& w : warnings) std::cerr << "warning: " << w << std::endl;

  if (json_out != nullptr) {
    nlohmann::json doc;
    doc["config"] = config.path;
    doc["sites"] = nlohmann::json::array();
    for (const auto& s : all) doc["sites"].push_back(s.to_json());
    doc["warnings"] = warnings;
    *json_out = std::move(doc);
  } else {
    output::Table table({"site", "env", "role", "tl", "reachable", "server", "ext", "checksum", "vector"});
    for (const auto& s : all) {
      std::string ext = !s.reachable ? "" : s.extension_version ? *s.extension_version : "missing";
      table.add_row({
          s.name,
          s.dr ? s.environment + "/dr" : s.environment,
          s.role(),
          s.timeline ? std::to_string(*s.timeline) : "",
          s.reachable ? "yes" : "no",
          s.server_version.value_or(""),
          ext,
          s.snapshot_checksum ? output::abbreviate(*s.snapshot_checksum, 16) : "",
          s.version_vector ? output::abbreviate(*s.version_vector, 48) : "",
      });
    }
    table.print(std::cout);
    // Why a row is incomplete, under the table.
    for (const auto& s : all) {
      if (!s.reachable) std::cout << fmt::format("{}: unreachable: {}\n", s.name, s.error);
      for (const auto& n : s.notes) std::cout << fmt::format("{}: {}\n", s.name, n);
    }
  }
  if (any_unreachable) {
    std::cerr << "rulectl: not every site is reachable" << std::endl;
    return exit_unreachable;
  }
  return exit_ok;
}

void add_status(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "status", "every site: environment, role, timeline, versions, snapshot checksum, version vector");
  cmd->callback([&global, &exit_code] {
    config::Config config = load_config(global);
    if (global.json) {
      nlohmann::json doc;
      exit_code = report_status(config, &doc);
      output::print_json(doc);
    } else {
      exit_code = report_status(config, nullptr);
    }
  });
}

}  // namespace rulekeeper::cli
