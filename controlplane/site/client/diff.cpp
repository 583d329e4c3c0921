// rulekeeper.diff() through the SQL API. See diff.hpp.
#include "site/client/diff.hpp"

namespace rulekeeper::site::client {

std::vector<DiffEntry> diff(pqxx::connection& conn, const std::string& rule_key, const std::string& from_label,
                            const std::string& to_label) {
  pqxx::read_transaction tx(conn);
  pqxx::result r = tx.exec_params("SELECT path, op, old_value::text, new_value::text FROM rulekeeper.diff($1, $2, $3)",
                                  rule_key, from_label, to_label);
  std::vector<DiffEntry> out;
  for (const auto& row : r) {
    DiffEntry e{row[0].c_str(), row[1].c_str(), std::nullopt, std::nullopt};
    // jsonb values as the server prints them: valid JSON, no duplicate keys.
    if (!row[2].is_null()) e.old_value = nlohmann::json::parse(row[2].c_str());
    if (!row[3].is_null()) e.new_value = nlohmann::json::parse(row[3].c_str());
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace rulekeeper::site::client
