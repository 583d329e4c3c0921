// Releases through the SQL API. See releases.hpp.
#include "site/client/releases.hpp"

#include "common/json_file.hpp"

namespace rulekeeper::site::client {
namespace {

using nlohmann::json;

std::optional<std::string> text_or_none(const json& doc, const char* key) {
  if (!doc.contains(key) || !doc[key].is_string()) return std::nullopt;
  return doc[key].get<std::string>();
}

}  // namespace

ReleaseBundle export_release(pqxx::connection& conn, const std::vector<std::string>& rule_keys,
                             const std::string& source) {
  pqxx::nontransaction tx(conn);
  std::optional<std::string> keys;
  if (!rule_keys.empty()) keys = json(rule_keys).dump();
  pqxx::result r = tx.exec_params(
      "SELECT rulekeeper.export_release(CASE WHEN $1::jsonb IS NULL THEN NULL "
      "ELSE ARRAY(SELECT jsonb_array_elements_text($1::jsonb)) END)::text",
      keys);
  ReleaseBundle out;
  out.text = r[0][0].c_str();
  const json bundle = common::parse_strict_json(out.text, "the release bundle exported at " + source);
  out.bundle_sha256 = bundle.value("bundle_sha256", std::string());
  if (bundle.contains("versions") && bundle["versions"].is_array())
    for (const auto& v : bundle["versions"])
      out.versions.push_back({v.at("rule_key").get<std::string>(), v.at("label").get<std::string>()});
  return out;
}

std::set<std::pair<std::string, std::string>> versions_present(pqxx::transaction_base& tx,
                                                               const std::string& bundle_text) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& row :
       tx.exec_params("SELECT rule_key, label FROM rulekeeper.release_versions_present($1::jsonb)", bundle_text))
    out.emplace(row[0].c_str(), row[1].c_str());
  return out;
}

ImportReport import_release(pqxx::transaction_base& tx, const std::string& bundle_text,
                            const std::optional<std::string>& expected_checksum) {
  pqxx::result r =
      tx.exec_params("SELECT rulekeeper.import_release($1::jsonb, $2)::text", bundle_text, expected_checksum);
  ImportReport out;
  out.document = common::parse_strict_json(r[0][0].c_str(), "the report of import_release()");
  const json& d = out.document;
  out.drift = d.value("drift", false);
  if (d.contains("drifted_rules") && d["drifted_rules"].is_array())
    for (const auto& rule : d["drifted_rules"]) out.drifted_rules.push_back(rule.get<std::string>());
  out.pre_checksum = text_or_none(d, "pre_checksum");
  out.post_checksum = text_or_none(d, "post_checksum");
  out.algorithm = text_or_none(d, "algorithm");
  out.imported = d.value("imported", 0LL);
  out.skipped = d.value("skipped", 0LL);
  if (d.contains("signature") && d["signature"].is_object()) {
    out.signed_by = text_or_none(d["signature"], "key_id");
    out.unsigned_warning = text_or_none(d["signature"], "warning");
  }
  if (d.contains("annotated") && d["annotated"].is_array())
    for (const auto& a : d["annotated"])
      out.annotated.push_back(
          {a.value("rule_key", std::string()), a.value("label", std::string()), a.value("annotations", json())});
  return out;
}

}  // namespace rulekeeper::site::client
