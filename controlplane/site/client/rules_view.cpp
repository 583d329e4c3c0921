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
  // One statement: the rules, each channel's activation and the version it
  // names (qualification, origin, hotfix annotation).
  pqxx::result r = tx.exec_params(
      "SELECT r.rule_key, r.ruleset, "
      "       p.label, p.pinned, p.epoch, pv.qualification, pv.origin, pv.annotations ->> 'hotfix_included', "
      "       s.label, s.pinned, s.epoch, sv.qualification, sv.origin, sv.annotations ->> 'hotfix_included' "
      "  FROM rulekeeper.rule r "
      "  LEFT JOIN rulekeeper.activation p ON p.rule_key = r.rule_key AND p.channel = 'prod' "
      "  LEFT JOIN rulekeeper.rule_version pv ON pv.rule_key = p.rule_key AND pv.label = p.label "
      "  LEFT JOIN rulekeeper.activation s ON s.rule_key = r.rule_key AND s.channel = 'sl' "
      "  LEFT JOIN rulekeeper.rule_version sv ON sv.rule_key = s.rule_key AND sv.label = s.label "
      " WHERE ($1 = '' OR r.ruleset = $1) "
      "   AND ($2 = '' OR strpos(lower(r.rule_key), lower($2)) > 0) "
      " ORDER BY r.rule_key COLLATE \"C\"",
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
  pqxx::result rule =
      tx.exec_params("SELECT rule_key, ruleset, description FROM rulekeeper.rule WHERE rule_key = $1", rule_key);
  if (rule.empty()) return std::nullopt;
  RuleDetail d;
  d.rule_key = rule[0][0].c_str();
  d.ruleset = rule[0][1].c_str();
  d.description = rule[0][2].c_str();

  pqxx::result versions = tx.exec_params(
      "SELECT v.label, v.qualification, array_to_json(s.lifecycle)::text, array_to_json(s.pinned_in)::text, "
      "       v.annotations::text, v.origin, v.parent_label, v.content_sha256, " +
          rfc3339("v.created_at") +
          ", v.created_by "
          "  FROM rulekeeper.rule_version v "
          "  JOIN rulekeeper.version_state s ON s.rule_key = v.rule_key AND s.label = v.label "
          " WHERE v.rule_key = $1 ORDER BY v.version, v.hotfix",
      rule_key);
  for (const auto& row : versions) {
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

  // The three histories in one list, newest first: activations (who moved
  // which channel, acknowledging what), qualification changes (with their
  // reason) and every other journal entry of the rule.
  pqxx::result history = tx.exec_params(
      "SELECT kind, " + rfc3339("at") +
          ", actor, channel, label, previous, what, reason, acknowledged::text FROM ("
          " SELECT 'activation' AS kind, h.recorded_at AS at, h.actor, h.channel, h.label, h.previous_label AS "
          "previous, h.action AS what, j.payload ->> 'reason' AS reason, h.acknowledged "
          "   FROM rulekeeper.activation_history h JOIN rulekeeper.journal j USING (change_id) "
          "  WHERE h.rule_key = $1"
          " UNION ALL"
          " SELECT 'qualification', q.recorded_at, q.actor, NULL, q.label, q.from_qualification, q.to_qualification, "
          "q.reason, NULL"
          "   FROM rulekeeper.qualification_history q WHERE q.rule_key = $1"
          " UNION ALL"
          " SELECT 'journal', j.recorded_at, j.actor, NULL, j.label, NULL, j.kind, j.payload ->> 'reason', NULL"
          "   FROM rulekeeper.journal j"
          "  WHERE j.rule_key = $1"
          "    AND NOT EXISTS (SELECT 1 FROM rulekeeper.activation_history h WHERE h.change_id = j.change_id)"
          "    AND NOT EXISTS (SELECT 1 FROM rulekeeper.qualification_history q WHERE q.change_id = j.change_id)"
          ") x ORDER BY at DESC, kind",
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
  pqxx::result r = tx.exec_params("SELECT body::text FROM rulekeeper.rule_version WHERE rule_key = $1 AND label = $2",
                                  rule_key, label);
  if (r.empty()) return std::nullopt;
  return common::parse_strict_json(r[0][0].c_str(), "a version's body");
}

}  // namespace rulekeeper::site::client
