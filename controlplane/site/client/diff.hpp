// rulekeeper.diff(): what changes from one version of a rule to another,
// computed at the site (RFC 6901 paths).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace rulekeeper::site::client {

struct DiffEntry {
  std::string path;                         // RFC 6901; "" is the whole body
  std::string op;                           // add, remove, replace
  std::optional<nlohmann::json> old_value;  // absent for an add
  std::optional<nlohmann::json> new_value;  // absent for a remove
};

// rulekeeper.diff(rule_key, from, to), in a read-only transaction.
std::vector<DiffEntry> diff(pqxx::connection& conn, const std::string& rule_key, const std::string& from_label,
                            const std::string& to_label);

}  // namespace rulekeeper::site::client
