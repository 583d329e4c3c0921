#include "cli/plan_text.hpp"

#include <fmt/format.h>

#include "cli/diff_render.hpp"
#include "common/terminal.hpp"

namespace rulekeeper::cli {

void print_dry_run_top(std::ostream& out, const std::string& what) {
  out << "DRY RUN: " << what << "; nothing will be changed\n";
}

void print_dry_run_bottom(std::ostream& out, const std::string& how) {
  out << "DRY RUN: nothing was changed (" << how << ")\n";
}

std::vector<std::string> diff_lines(const nlohmann::json& diff) {
  std::vector<std::string> out;
  if (!diff.is_array()) return out;
  for (const auto& e : diff)
    out.push_back(fmt::format("{}: {} -> {}", common::escape_controls(e.value("path", std::string("?"))),
                              diff_render::old_text(e), diff_render::new_text(e)));
  return out;
}

}  // namespace rulekeeper::cli
