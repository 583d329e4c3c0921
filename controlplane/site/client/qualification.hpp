// rulekeeper.transition(): a checked qualification change of one version
// (validate's test outcomes, release's "promoted" at the source).
#pragma once

#include <optional>
#include <string>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

struct QualificationChange {
  std::optional<std::string> from;  // the qualification before, as the server reports it
};

QualificationChange transition(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& label,
                               const std::string& to_qualification, const std::string& reason);

}  // namespace rulekeeper::site::client
