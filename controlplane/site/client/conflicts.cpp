// Reconcile conflicts through the SQL API. See conflicts.hpp.
#include "site/client/conflicts.hpp"

#include "site/client/sql_time.hpp"

namespace rulekeeper::site::client {

std::vector<OpenConflict> open_conflicts(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec("SELECT conflict_id::text, rule_key, " + rfc3339("detected_at") +
                           " FROM rulekeeper.open_conflicts() ORDER BY detected_at");
  std::vector<OpenConflict> out;
  for (const auto& row : r) out.push_back({row[0].c_str(), row[1].c_str(), row[2].c_str()});
  return out;
}

}  // namespace rulekeeper::site::client
