#include "cli/error_report.hpp"

#include <algorithm>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/output.hpp"
#include "common/text.hpp"

namespace rulekeeper::cli {
namespace {

const char* kind_of(common::ExitCode code) {
  switch (code) {
    case common::exit_ok: return "ok";
    case common::exit_usage: return "usage";
    case common::exit_refused: return "refused";
    case common::exit_unreachable: return "unreachable";
    case common::exit_failed: break;
  }
  return "failed";
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

int ErrorReport::report(const common::ExitError& e) const {
  const std::string message = common::one_line(e.what());
  std::cerr << "rulectl: " << message << std::endl;
  // A person reads the hint too, not only a script (once: server errors
  // often carry it in the message already).
  if (!e.hint().empty() && message.find(e.hint()) == std::string::npos)
    std::cerr << "hint: " << common::one_line(e.hint()) << std::endl;
  if (json_ && !common::json_document_printed()) {
    auto optional = [](const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); };
    common::print_json({{"error", kind_of(e.code())},
                        {"exit_code", static_cast<int>(e.code())},
                        {"message", message},
                        {"hint", optional(e.hint())},
                        {"sqlstate", optional(e.sqlstate())}});
  }
  return e.code();
}

std::string unknown_command_message(const std::string& word, const std::vector<std::string>& verbs) {
  std::string best;
  std::size_t best_distance = std::string::npos;
  for (const auto& v : verbs) {
    const std::size_t d = edit_distance(word, v);
    if (d < best_distance) best = v, best_distance = d;
  }
  // Close: at most 2 edits, and fewer than half the word (so "x" is not "diff").
  if (!best.empty() && best_distance <= 2 && best_distance * 2 < std::max(word.size(), best.size()))
    return fmt::format("unknown command '{}'; did you mean '{}'? (rulectl --help lists the commands)", word, best);
  return fmt::format("unknown command '{}'; the commands are: {}", word, fmt::join(verbs, ", "));
}

}  // namespace rulekeeper::cli
