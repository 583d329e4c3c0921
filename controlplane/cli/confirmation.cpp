#include "cli/confirmation.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <iostream>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/text.hpp"

namespace rulekeeper::cli {

bool can_ask() { return isatty(STDIN_FILENO) == 1; }

namespace {

bool is_yes(std::string answer) {
  answer = common::trim(answer);
  std::transform(answer.begin(), answer.end(), answer.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return answer == "y" || answer == "yes";
}

}  // namespace

void confirm(const GlobalOptions& global, const Plan& plan) {
  if (global.yes) return;
  if (!can_ask())
    throw common::ExitError(
        common::exit_usage,
        fmt::format("{} changes production and asks first, but standard input is not a terminal: nothing was changed",
                    plan.verb),
        {}, "add --yes to confirm without a question (or --dry-run to see what it would do)");
  std::cerr << plan.verb << ": " << plan.summary << "\n";
  for (const std::string& line : plan.lines) std::cerr << "  " << line << "\n";
  std::cerr << "Proceed? [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer) || !is_yes(answer))
    throw common::ExitError(common::exit_refused, fmt::format("{}: not confirmed; nothing was changed", plan.verb));
}

}  // namespace rulekeeper::cli
