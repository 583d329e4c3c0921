#include "site/client/rules_view.hpp"

#include "common/json_file.hpp"
#include "site/client/fields.hpp"
#include "site/client/sql_time.hpp"

namespace rulekeeper::site::client {
namespace {

using nlohmann::json;

std::optional<ServedVersion> served(const pqxx::row& row, int at) {
  if (row[at].is_null()) return std::nullopt;
  ServedVersion v;
  v.label = row[at].c_str();
  v.pinned = row[at + 1].as<bool>();
  v.epoch = row[at + 2].as<long long>();
  v.qualification = row[at + 3].c_str();
  v.origin = row[at + 4].c_str();
  v.hotfix_included = optional_text(row[at + 5]);
  return v;
}

json parse(const pqxx::field& f, const char* what) {
  if (f.is_null()) return nullptr;
  return common::parse_strict_json(f.c_str(), what);
}

std::vector<std::string> strings(const json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& s : j) out.push_back(s.is_string() ? s.get<std::string>() : s.dump());
  return out;
}

}  // namespace

std::vector<RuleServed> rules_served(pqxx::transaction_base& tx, const std::string& ruleset, const std::string& text) {
  pqxx::result r = tx.exec_params(
      "SELECT rule_key, ruleset, prod_label, prod_pinned, prod_epoch, prod_qualification, prod_origin, "
      "prod_hotfix_included, sl_label, sl_pinned, sl_epoch, sl_qualification, sl_origin, sl_hotfix_included "
      "FROM rulekeeper.rules_served($1, $2)",
      ruleset, text);
  std::vector<RuleServed> out;
  for (const auto& row : r) {
    RuleServed s;
    s.rule_key = row[0].c_str();
    s.ruleset = row[1].c_str();
    s.prod = served(row, 2);
    s.sl = served(row, 8);
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<RuleDetail> rule_detail(pqxx::transaction_base& tx, const std::string& rule_key) {
  pqxx::result versions = tx.exec_params(
      "SELECT label, qualification, array_to_json(lifecycle)::text, array_to_json(pinned_in)::text, "
      "annotations::text, origin, parent_label, content_sha256, " +
          rfc3339("created_at") + ", created_by, ruleset, description FROM rulekeeper.rule_versions($1)",
      rule_key);
  if (versions.empty()) return std::nullopt;
  RuleDetail d;
  d.rule_key = rule_key;
  d.ruleset = versions[0][10].c_str();
  d.description = versions[0][11].c_str();
  for (const auto& row : versions) {
    if (row[0].is_null()) continue;  // the rule has no version
    RuleVersionRow v;
    v.label = row[0].c_str();
    v.qualification = row[1].c_str();
    v.lifecycle = strings(parse(row[2], "a version's lifecycle"));
    v.pinned_in = strings(parse(row[3], "a version's pins"));
    v.annotations = parse(row[4], "a version's annotations");
    v.origin = row[5].c_str();
    v.parent_label = optional_text(row[6]);
    v.content_sha256 = row[7].c_str();
    v.created_at = row[8].c_str();
    v.created_by = row[9].c_str();
    d.versions.push_back(std::move(v));
  }
  pqxx::result history = tx.exec_params("SELECT kind, " + rfc3339("recorded_at") +
                                            ", actor, channel, label, previous, what, reason, acknowledged::text "
                                            "FROM rulekeeper.rule_history($1)",
                                        rule_key);
  for (const auto& row : history) {
    RuleHistoryEntry e;
    e.kind = row[0].c_str();
    e.recorded_at = row[1].c_str();
    e.actor = row[2].c_str();
    e.channel = optional_text(row[3]);
    e.label = optional_text(row[4]);
    e.previous = optional_text(row[5]);
    e.what = row[6].c_str();
    e.reason = optional_text(row[7]);
    e.acknowledged = parse(row[8], "an activation's acknowledgement");
    d.history.push_back(std::move(e));
  }
  return d;
}

std::optional<nlohmann::json> version_body(pqxx::transaction_base& tx, const std::string& rule_key,
                                           const std::string& label) {
  pqxx::result r = tx.exec_params("SELECT rulekeeper.version_body($1, $2)::text", rule_key, label);
  if (r.empty() || r[0][0].is_null()) return std::nullopt;
  return common::parse_strict_json(r[0][0].c_str(), "a version's body");
}

}  // namespace rulekeeper::site::client
