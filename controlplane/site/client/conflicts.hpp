// Reconcile conflicts as rulectl reads them (through the SQL API, never the
// table): what reconcile could not apply, until an operator resolves it.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace rulekeeper::site::client {

struct OpenConflict {
  std::string conflict_id;
  std::string rule_key;
  std::string detected_at;  // RFC 3339 UTC, milliseconds
};

// rulekeeper.open_conflicts(): the site's open conflicts, oldest first.
std::vector<OpenConflict> open_conflicts(pqxx::connection& conn);

}  // namespace rulekeeper::site::client
