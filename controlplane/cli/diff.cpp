// `rulectl diff --site S|e3 --rule K --from V --to V`: options, ops::diff,
// and old and new side by side (colour on a terminal) or --json.
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/diff_render.hpp"
#include "common/output.hpp"
#include "ops/diff.hpp"

namespace rulekeeper::cli {
namespace {

int run_diff(const GlobalOptions& global, const ops::DiffRequest& request) {
  const config::Config config = load_config(global);
  const ops::DiffReport report = ops::diff(config, request);
  if (global.json) {
    common::print_json(report.to_json());
    return report.exit_code;
  }
  std::cout << fmt::format("rule {} at {}: {} -> {}, {} path(s) differ", report.rule_key, report.site, report.from,
                           report.to, report.entries.size())
            << std::endl;
  diff_render::print_table(std::cout, report.diff_json(), report.from, report.to, diff_render::use_colour(global.json),
                           "  ");
  return report.exit_code;
}

}  // namespace

void add_diff(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto a = std::make_shared<ops::DiffRequest>();
  CLI::App* cmd = app.add_subcommand("diff",
                                     "what changes between two versions of a rule (JSON paths, old and new "
                                     "side by side)");
  cmd->add_option("--site", a->site, "site to read at, or e3 for the E3 primary")->required();
  cmd->add_option("--rule", a->rule, "rule key")->required();
  cmd->add_option("--from", a->from, "version label (N or N.k): the old side")->required();
  cmd->add_option("--to", a->to, "version label (N or N.k): the new side")->required();
  cmd->footer("Exit: 0 shown (also when they differ); 1 unknown rule or version; 4 the site is unreachable.");
  cmd->callback([&global, &exit_code, a] { exit_code = run_diff(global, *a); });
}

}  // namespace rulekeeper::cli
