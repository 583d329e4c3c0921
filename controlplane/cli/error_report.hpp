// How a failure leaves rulectl: one line "rulectl: <message>" on stderr and
// the exit code — and, with --json, one JSON document on stdout
//   {"error": "refused", "exit_code": 3, "message": …, "hint": …|null, "sqlstate": …|null}
// unless the verb printed its own document already (a report that carries its
// exit code). Scripts never need to parse stderr (docs/design/contract.md
// "Exit codes").
#pragma once

#include <string>
#include <vector>

#include "common/errors.hpp"

namespace rulekeeper::cli {

class ErrorReport {
public:
  explicit ErrorReport(const bool& json) : json_(json) {}
  // Reports `e` and returns its exit code.
  int report(const common::ExitError& e) const;

private:
  const bool& json_;
};

// "unknown command 'statsu'; did you mean 'status'?" — the closest verb by
// edit distance when one is close, else the list of verbs.
std::string unknown_command_message(const std::string& word, const std::vector<std::string>& verbs);

}  // namespace rulekeeper::cli
