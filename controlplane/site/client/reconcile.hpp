// The SQL of `reconcile` and `conflicts list|resolve`: import_changes at the
// target, the labels recovered versions got, and the conflicts (export_changes
// and the divergence point are failover.hpp's, shared with rejoin) (docs/design/architecture.md
// "The control plane"). Each call runs in a statement of its own.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace rulekeeper::site::client {

// rulekeeper.import_changes(bundle, dry_run): its report. The bundle text
// goes as it was read, so the server checks the checksum it carries.
nlohmann::json import_changes(pqxx::connection& conn, const std::string& bundle_text, bool dry_run);

// The label the version recovered from orphaned change `change_id` got
// here (nullopt: none).
std::optional<std::string> recovered_label(pqxx::connection& conn, const std::string& change_id);

// One row of rulekeeper.conflicts().
struct Conflict {
  std::string conflict_id;
  std::string rule_key;
  std::string status;  // open, kept_target, kept_source
  std::string detected_at;
  nlohmann::json source_change;
  nlohmann::json target_changes;
  std::optional<std::string> resolved_at;
  std::optional<std::string> resolved_by;
  nlohmann::json resolution;  // null while open
};

// Open conflicts (include_resolved: all), or those whose id starts with
// id_prefix; oldest first.
std::vector<Conflict> conflicts(pqxx::connection& conn, bool include_resolved,
                                const std::optional<std::string>& id_prefix = std::nullopt);
long long open_conflict_count(pqxx::connection& conn);

// rulekeeper.resolve_conflict(id, keep): its report.
nlohmann::json resolve_conflict(pqxx::connection& conn, const std::string& conflict_id, const std::string& keep);

}  // namespace rulekeeper::site::client
