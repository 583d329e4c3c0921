// Production changes ask before they happen (docs/operator-safety.md "Confirmation").
//
// A verb that changes production (failover, rejoin, reconcile, cutover,
// activate/deactivate/rollback/pin in prod, hotfix, conflicts resolve) builds
// a Plan — what it is about to do, in the words its report will use — and
// calls confirm() after every check that can be made without changing
// anything, right before the first change:
//
//   - `--yes`: no question; the verb goes on.
//   - standard input is a terminal: the plan goes to stderr (stdout stays
//     the verb's output, one JSON document with --json), then
//     "Proceed? [y/N] "; only "y" or "yes" goes on, anything else (or end of
//     input) refuses with exit 3 and "nothing was changed".
//   - no terminal and no `--yes`: refused with exit 2 (usage) before
//     anything is asked or changed — a script must say what it means rather
//     than have rulectl guess.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.hpp"

namespace rulekeeper::cli {

struct Plan {
  std::string verb;                // "rulectl failover", named in the refusal
  std::string summary;             // one line: "promote ipc1 to E3 primary"
  std::vector<std::string> lines;  // what will happen, one step or item per line
};

// Returns when the change may go on; throws common::ExitError otherwise.
void confirm(const GlobalOptions& global, const Plan& plan);

// Whether confirm() would ask (standard input is a terminal). Split out so
// the plan is built only when it will be shown.
bool can_ask();

}  // namespace rulekeeper::cli
