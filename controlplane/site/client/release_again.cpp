// See release_again.hpp.
#include "site/client/release_again.hpp"

#include <optional>

#include <nlohmann/json.hpp>

#include "common/json_file.hpp"

namespace rulekeeper::site::client {

using nlohmann::json;

ReleaseBundle export_release_again(pqxx::connection& conn, const std::vector<std::string>& rule_keys,
                                   const std::string& source) {
  pqxx::nontransaction tx(conn);
  std::optional<std::string> keys;
  if (!rule_keys.empty()) keys = json(rule_keys).dump();
  pqxx::result r = tx.exec_params(
      "SELECT rulekeeper.export_release_again(CASE WHEN $1::jsonb IS NULL THEN NULL "
      "ELSE ARRAY(SELECT jsonb_array_elements_text($1::jsonb)) END)::text",
      keys);
  ReleaseBundle out;
  out.text = r[0][0].c_str();
  const json bundle = common::parse_strict_json(out.text, "the bundle exported again at " + source);
  out.bundle_sha256 = bundle.value("bundle_sha256", std::string());
  if (bundle.contains("versions") && bundle["versions"].is_array())
    for (const auto& v : bundle["versions"])
      out.versions.push_back({v.at("rule_key").get<std::string>(), v.at("label").get<std::string>()});
  return out;
}

}  // namespace rulekeeper::site::client
