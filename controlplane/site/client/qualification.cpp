// rulekeeper.transition() through the SQL API. See qualification.hpp.
#include "site/client/qualification.hpp"

#include "common/json_file.hpp"

namespace rulekeeper::site::client {

QualificationChange transition(pqxx::transaction_base& tx, const std::string& rule_key, const std::string& label,
                               const std::string& to_qualification, const std::string& reason) {
  const nlohmann::json change =
      common::parse_strict_json(tx.exec_params("SELECT rulekeeper.transition($1, $2, $3, $4)::text", rule_key, label,
                                               to_qualification, reason)[0][0]
                                    .c_str(),
                                "the report of transition()");
  QualificationChange out;
  if (change.is_object() && change.contains("from") && change["from"].is_string())
    out.from = change["from"].get<std::string>();
  return out;
}

}  // namespace rulekeeper::site::client
