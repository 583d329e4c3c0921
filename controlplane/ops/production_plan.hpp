// What a verb that changes production is about to do, for the question the
// CLI asks before the first change (cli/confirmation.hpp; docs/production-changes.md
// "Confirmation"). ops builds the words after its read-only checks — and,
// where the database does the checking, after the same change ran in a
// transaction that was rolled back — and calls the hook; the hook returns
// to go on or throws common::ExitError (exit 2 or 3) to stop with nothing
// changed. An empty hook means: do not ask (--yes, or not production).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace rulekeeper::ops {

struct ProductionPlan {
  std::string summary;             // "activate version 3 of rule pricing in prod at ipc2"
  std::vector<std::string> lines;  // one step or item per line
};

using ConfirmHook = std::function<void(const ProductionPlan&)>;

// Whether `environment` is production (E3): only there do verbs ask.
inline bool is_production(const std::string& environment) { return environment == "e3"; }

}  // namespace rulekeeper::ops
