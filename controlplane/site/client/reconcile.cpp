#include "site/client/reconcile.hpp"

#include "common/json_file.hpp"
#include "common/time.hpp"
#include "site/client/fields.hpp"
#include "site/client/sql_time.hpp"

namespace rulekeeper::site::client {

nlohmann::json import_changes(pqxx::connection& conn, const std::string& bundle_text, bool dry_run) {
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec_params("SELECT rulekeeper.import_changes($1::jsonb, $2)::text", bundle_text, dry_run);
  nlohmann::json report = common::parse_strict_json(r[0][0].c_str(), "import_changes' report");
  common::rfc3339_timestamps(report);
  return report;
}

std::optional<std::string> recovered_label(pqxx::connection& conn, const std::string& change_id) {
  pqxx::nontransaction tx(conn);
  return optional_text(tx.exec_params("SELECT rulekeeper.recovered_label($1)", change_id)[0][0]);
}

std::vector<Conflict> conflicts(pqxx::connection& conn, bool include_resolved,
                                const std::optional<std::string>& id_prefix) {
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec_params("SELECT conflict_id::text, rule_key, status, " + rfc3339("detected_at") +
                                      ", source_change::text, target_changes::text, " + rfc3339("resolved_at") +
                                      ", resolved_by, resolution::text FROM rulekeeper.conflicts($1, $2)",
                                  include_resolved, id_prefix ? id_prefix->c_str() : static_cast<const char*>(nullptr));
  std::vector<Conflict> out;
  for (const auto& row : r) {
    Conflict c;
    c.conflict_id = row[0].c_str();
    c.rule_key = row[1].c_str();
    c.status = row[2].c_str();
    c.detected_at = row[3].c_str();
    c.source_change = common::parse_strict_json(row[4].c_str(), "a conflict's source change");
    c.target_changes = common::parse_strict_json(row[5].c_str(), "a conflict's target changes");
    c.resolved_at = optional_text(row[6]);
    c.resolved_by = optional_text(row[7]);
    if (!row[8].is_null()) c.resolution = common::parse_strict_json(row[8].c_str(), "a conflict's resolution");
    common::rfc3339_timestamps(c.source_change);
    common::rfc3339_timestamps(c.target_changes);
    common::rfc3339_timestamps(c.resolution);
    out.push_back(std::move(c));
  }
  return out;
}

long long open_conflict_count(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  return tx.exec("SELECT count(*) FROM rulekeeper.conflicts(false)")[0][0].as<long long>();
}

nlohmann::json resolve_conflict(pqxx::connection& conn, const std::string& conflict_id, const std::string& keep) {
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec_params("SELECT rulekeeper.resolve_conflict($1::uuid, $2)::text", conflict_id, keep);
  nlohmann::json report = common::parse_strict_json(r[0][0].c_str(), "resolve_conflict's report");
  common::rfc3339_timestamps(report);
  return report;
}

}  // namespace rulekeeper::site::client
