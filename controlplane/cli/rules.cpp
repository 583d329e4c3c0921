// `rulectl rules [--ruleset R] [--grep TEXT] [--site S ...]`: what prod and
// sl serve at every E3 site, one row per rule (issue #19: until then no verb
// listed it). The same ops function as the portal's rules page
// (ops/rules.hpp). A cell: label, then "*" when pinned, "[hotfix]" when the
// version served is or includes a hotfix; "!" in the differs column when
// the sites disagree. Exit 4 when a site did not answer (the others shown).
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/output.hpp"
#include "common/terminal.hpp"
#include "ops/rules.hpp"

namespace rulekeeper::cli {
namespace {

std::string cell(const ops::RulesSite& site, const ops::RulesCell& c,
                 const std::optional<site::client::ServedVersion>& v) {
  if (!site.reachable) return "(down)";
  if (!c.known) return "(no rule)";
  if (!v) return "-";
  return common::escape_controls(v->label) + (v->pinned ? "*" : "") + " " + v->qualification +
         (v->hotfix() ? " [hotfix]" : "");
}

}  // namespace

void add_rules(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto request = std::make_shared<ops::RulesRequest>();
  CLI::App* cmd = app.add_subcommand(
      "rules", "What prod and sl serve at every E3 site, one row per rule (label, qualification, pin, hotfix)");
  cmd->add_option("--ruleset", request->ruleset, "Only this ruleset");
  cmd->add_option("--grep", request->text, "Only rules whose key contains TEXT (case-insensitive)");
  cmd->add_option("--site", request->sites, "Sites to show (repeatable; default: every E3 site)");
  cmd->callback([&global, &exit_code, request] {
    const config::Config config = load_config(global);
    const ops::RulesReport report = ops::rules_matrix(config, *request);
    exit_code = report.exit_code();
    if (global.json) {
      common::print_json(report.to_json());
      return;
    }
    for (const auto& s : report.sites)
      if (!s.reachable)
        std::cerr << fmt::format("rulectl: {} {}: {}", s.site, s.refused ? "refused the login" : "did not answer",
                                 common::escape_controls(s.error))
                  << std::endl;
    std::vector<std::string> headers{"rule", "ruleset"};
    for (const auto& s : report.sites) headers.push_back(s.site + " prod");
    for (const auto& s : report.sites) headers.push_back(s.site + " sl");
    headers.push_back("differs");
    common::Table t(headers);
    for (const auto& r : report.rows) {
      std::vector<std::string> cells{common::escape_controls(r.rule_key), common::escape_controls(r.ruleset)};
      for (std::size_t i = 0; i < report.sites.size(); ++i)
        cells.push_back(cell(report.sites[i], r.cells[i], r.cells[i].prod));
      for (std::size_t i = 0; i < report.sites.size(); ++i)
        cells.push_back(cell(report.sites[i], r.cells[i], r.cells[i].sl));
      std::string differs;
      if (r.prod_differs) differs += "prod ";
      if (r.sl_differs) differs += "sl";
      cells.push_back(differs.empty() ? "" : "! " + differs);
      t.add_row(std::move(cells));
    }
    std::cout << fmt::format("{} rule(s)", report.rows.size()) << std::endl;
    if (!report.rows.empty()) t.print(std::cout);
  });
}

}  // namespace rulekeeper::cli
