#include "site/client/keys.hpp"

#include "common/json_file.hpp"
#include "common/time.hpp"
#include "site/client/fields.hpp"
#include "site/client/sql_time.hpp"

namespace rulekeeper::site::client {

SigningKeyInfo signing_public_key(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec("SELECT key_id, public_key, site, environment FROM rulekeeper.signing_public_key()");
  SigningKeyInfo out;
  out.key_id = r[0][0].c_str();
  out.public_key = r[0][1].c_str();
  out.site = optional_text(r[0][2]).value_or("");
  out.environment = optional_text(r[0][3]).value_or("");
  return out;
}

std::vector<TrustedKey> trusted_keys(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec("SELECT key_id, environment, reason, " + rfc3339("added_at") + ", added_by, " +
                           rfc3339("revoked_at") + ", revoked_by, revoke_reason FROM rulekeeper.trusted_keys()");
  std::vector<TrustedKey> out;
  for (const auto& row : r) {
    TrustedKey k;
    k.key_id = row[0].c_str();
    k.environment = row[1].c_str();
    k.reason = row[2].c_str();
    k.added_at = row[3].c_str();
    k.added_by = row[4].c_str();
    k.revoked_at = optional_text(row[5]);
    k.revoked_by = optional_text(row[6]);
    k.revoke_reason = optional_text(row[7]);
    out.push_back(std::move(k));
  }
  return out;
}

nlohmann::json trust_key(pqxx::connection& conn, const std::string& environment, const std::string& public_key_pem,
                         const std::string& reason) {
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec_params("SELECT rulekeeper.trust_key($1, $2, $3)::text", environment, public_key_pem, reason);
  return common::parse_strict_json(r[0][0].c_str(), "trust_key's result");
}

nlohmann::json revoke_key(pqxx::connection& conn, const std::string& key_id, const std::string& reason) {
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec_params("SELECT rulekeeper.revoke_key($1, $2)::text", key_id, reason);
  nlohmann::json result = common::parse_strict_json(r[0][0].c_str(), "revoke_key's result");
  common::rfc3339_timestamps(result);
  return result;
}

}  // namespace rulekeeper::site::client
