// `rulectl at-risk [--primary S] [--standby S]`: options, ops::at_risk (how the
// changes a failover would lose are found is there), and the list as a table
// or --json.
#include <algorithm>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "ops/at_risk.hpp"

namespace rulekeeper::cli {
namespace {

void print_report(const ops::AtRiskReport& r) {
  const bool exact = !r.estimate();
  if (r.unknown()) {
    std::cout << fmt::format("at-risk {} -> {}: UNKNOWN\n", r.primary, r.standby);
  } else {
    const std::size_t lost = r.not_received(), kept = r.received_not_replayed();
    std::cout << fmt::format("at-risk {} -> {}: {}{} change{} a failover to {} now would lose ({}){}\n", r.primary,
                             r.standby, exact ? "" : "at least ", lost, lost == 1 ? "" : "s", r.standby,
                             exact ? "exact: version-vector difference" : "ESTIMATE from the slot position",
                             kept == 0 ? std::string()
                                       : fmt::format("; {} more received but not replayed (kept: a promotion "
                                                     "replays them)",
                                                     kept));
    if (!r.changes.empty()) {
      // Issue #14 item 6: which listed change is lost, which is kept.
      common::Table t({"state", "change_id", "origin", "seq", "kind", "rule", "label", "recorded_at"});
      for (std::size_t i = 0; i < r.changes.size(); ++i) {
        const auto& c = r.changes[i];
        const bool received = i < r.received.size() && r.received[i];
        t.add_row({received ? "received, not replayed" : "NOT RECEIVED", c.change_id, c.origin(),
                   std::to_string(c.origin_seq), c.kind, c.rule_key.value_or(""), c.label.value_or(""), c.recorded_at});
      }
      t.print(std::cout);
    }
  }
  for (const auto& n : r.notes) std::cout << n << "\n";
}

int run_at_risk(const GlobalOptions& global, const ops::AtRiskRequest& request) {
  const config::Config config = load_config(global);
  const std::vector<ops::AtRiskRequest> requests = ops::at_risk_requests(config, request);
  std::vector<ops::AtRiskReport> reports;
  int exit_code = common::exit_ok;
  for (const auto& r : requests) {
    reports.push_back(ops::at_risk(config, r));
    exit_code = std::max(exit_code, reports.back().exit_code());
  }
  if (global.json) {
    // One pair named: the report itself (as always); --standby left out: one
    // report per standby, under "reports".
    if (!request.standby.empty()) {
      common::print_json(reports.front().to_json());
    } else {
      nlohmann::json all = nlohmann::json::array();
      for (const auto& r : reports) all.push_back(r.to_json());
      common::print_json({{"primary", requests.front().primary}, {"reports", all}});
    }
    for (const auto& r : reports)
      for (const auto& n : r.notes) std::cerr << "rulectl: " << n << std::endl;
  } else {
    for (const auto& r : reports) print_report(r);
  }
  return exit_code;
}

}  // namespace

void add_at_risk(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto request = std::make_shared<ops::AtRiskRequest>();
  CLI::App* cmd =
      app.add_subcommand("at-risk",
                         "changes the primary holds that the standby has not replayed, each marked NOT RECEIVED (what "
                         "a failover to it now would lose) or received, not replayed (kept: promotion replays it) "
                         "(exit 0 none lost, 3 some or unknown, 4 the primary is unreachable)");
  cmd->add_option("--primary", request->primary,
                  "the E3 primary (site name in rulectl.toml; default: the current one)");
  cmd->add_option("--standby", request->standby,
                  "the standby a failover would promote (default: every other E3 site, one report each)");
  cmd->add_option("--slot", request->slot,
                  "the standby's physical slot on the primary, for the estimate when the standby is "
                  "unreachable (default: the standby's site name)");
  cmd->callback([&global, &exit_code, request] { exit_code = run_at_risk(global, *request); });
}

}  // namespace rulekeeper::cli
