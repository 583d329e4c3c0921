// `rulectl version` / `rulectl --version`: ops/version.hpp, as text or --json.
#include <filesystem>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "ops/version.hpp"

namespace rulekeeper::cli {
namespace {

// A config only when one is named (--config, $RULECTL_CONFIG) or ./rulectl.toml
// exists: `rulectl --version` must work anywhere.
bool config_available(const GlobalOptions& global) {
  if (!global.config_file.empty()) return true;
  if (const char* env = std::getenv("RULECTL_CONFIG"); env != nullptr && *env != '\0') return true;
  return std::filesystem::exists("rulectl.toml");
}

int run_version(const GlobalOptions& global) {
  std::unique_ptr<config::Config> config;
  if (config_available(global)) config = std::make_unique<config::Config>(load_config(global));
  const ops::VersionReport r = ops::versions(config.get());
  for (const auto& w : r.warnings) std::cerr << "rulectl: warning: " << w << std::endl;
  if (global.json) {
    common::print_json(r.to_json());
    return common::exit_ok;
  }
  std::cout << fmt::format("rulectl {} (built for extension rulekeeper {})", r.rulectl, r.extension) << std::endl;
  if (!r.sites.empty()) {
    common::Table t({"site", "extension"});
    for (const auto& s : r.sites)
      t.add_row({s.site, !s.error.empty()      ? "unknown (" + s.error + ")"
                         : s.extension_version ? *s.extension_version
                                               : "not installed"});
    t.print(std::cout);
  }
  return common::exit_ok;
}

}  // namespace

void add_version(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "version", "rulectl's version and, with a config, the extension version of each site (warns when they differ)");
  cmd->callback([&global, &exit_code] { exit_code = run_version(global); });
}

}  // namespace rulekeeper::cli
