// Words shared by the verbs that show a plan before a production change
// (hotfix, failover, rejoin, reconcile, conflicts resolve): the "dry run"
// lines at the top and bottom of a dry run's text, and a diff as plan lines
// (docs/operator-safety.md "Dry runs").
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rulekeeper::cli {

// "DRY RUN: <what>; nothing will be changed".
void print_dry_run_top(std::ostream& out, const std::string& what);
// "DRY RUN: nothing was changed (<how it was checked>)".
void print_dry_run_bottom(std::ostream& out, const std::string& how);

// One line per diff entry: "/rate: 0.1 -> 0.15", "/new: (absent) -> 1".
std::vector<std::string> diff_lines(const nlohmann::json& diff);

}  // namespace rulekeeper::cli
