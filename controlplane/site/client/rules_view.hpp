// What a site serves and holds, rule by rule (issue #19: `rulectl rules`
// and the portal's rules and rule pages): the activation of each rule in
// sl and prod with the version's qualification and whether it is (or
// includes) a hotfix; one rule's versions with their derived lifecycle and
// annotations; its activation, qualification and journal history. Reads
// only, through the SQL API's rules_served, rule_versions, rule_history and
// version_body (0.2): rulekeeper_reader may run all of it, on a standby too.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace rulekeeper::site::client {

struct ServedVersion {
  std::string label;
  bool pinned = false;
  long long epoch = 0;
  std::string qualification;
  std::string origin;                          // authored, released, hotfix, recovered
  std::optional<std::string> hotfix_included;  // the version's annotation (overrides, includes, unknown…)
  // The version served is a hotfix or carries one: what the portal marks.
  bool hotfix() const { return origin == "hotfix" || hotfix_included.has_value(); }
};

struct RuleServed {
  std::string rule_key;
  std::string ruleset;
  std::optional<ServedVersion> prod;
  std::optional<ServedVersion> sl;
};

// Every rule with what prod and sl serve, by rule key; `ruleset` and `text`
// (a substring of the key, case-insensitive) filter when not empty.
std::vector<RuleServed> rules_served(pqxx::transaction_base& tx, const std::string& ruleset, const std::string& text);

struct RuleVersionRow {
  std::string label;
  std::string qualification;
  std::vector<std::string> lifecycle;
  std::vector<std::string> pinned_in;
  nlohmann::json annotations;
  std::string origin;
  std::optional<std::string> parent_label;
  std::string content_sha256;
  std::string created_at;
  std::string created_by;
};

struct RuleHistoryEntry {
  std::string kind;  // activation, qualification, journal
  std::string recorded_at;
  std::string actor;
  std::optional<std::string> channel;
  std::optional<std::string> label;
  std::optional<std::string> previous;  // previous label / qualification
  std::string what;                     // action, to_qualification, journal kind
  std::optional<std::string> reason;
  nlohmann::json acknowledged;  // activations: what was acknowledged (null: nothing)
};

struct RuleDetail {
  std::string rule_key;
  std::string ruleset;
  std::string description;
  std::vector<RuleVersionRow> versions;   // oldest first
  std::vector<RuleHistoryEntry> history;  // newest first
};

// nullopt: no such rule here.
std::optional<RuleDetail> rule_detail(pqxx::transaction_base& tx, const std::string& rule_key);

// A version's body (nullopt: no such version).
std::optional<nlohmann::json> version_body(pqxx::transaction_base& tx, const std::string& rule_key,
                                           const std::string& label);

}  // namespace rulekeeper::site::client
