// How a verb shows an operation's report (ops/): with --json exactly its
// to_json() document on stdout, else the verb's text; the exit code is the
// report's.
#pragma once

#include "cli/commands.hpp"
#include "common/output.hpp"

namespace rulekeeper::cli {

template <class Report, class Text>
int show_report(const GlobalOptions& global, const Report& report, Text print_text) {
  if (global.json)
    common::print_json(report.to_json());
  else
    print_text(report);
  return report.exit_code();
}

}  // namespace rulekeeper::cli
