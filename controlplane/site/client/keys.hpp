// Bundle signing keys (docs/keys.md): this site's public key, the keys it
// trusts, trusting and revoking one — the SQL of `rulectl keys`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace rulekeeper::site::client {

struct SigningKeyInfo {
  std::string key_id;
  std::string public_key;  // PEM
  std::string site;
  std::string environment;
};

struct TrustedKey {
  std::string key_id;
  std::string environment;
  std::string reason;
  std::string added_at;  // RFC 3339 UTC
  std::string added_by;
  std::optional<std::string> revoked_at;
  std::optional<std::string> revoked_by;
  std::optional<std::string> revoke_reason;
};

// rulekeeper.signing_public_key(): refused when the site has no key.
SigningKeyInfo signing_public_key(pqxx::connection& conn);
// rulekeeper.trusted_keys(), newest first.
std::vector<TrustedKey> trusted_keys(pqxx::connection& conn);
// rulekeeper.trust_key(environment, pem, reason) and revoke_key(key_id,
// reason): their JSON results.
nlohmann::json trust_key(pqxx::connection& conn, const std::string& environment, const std::string& public_key_pem,
                         const std::string& reason);
nlohmann::json revoke_key(pqxx::connection& conn, const std::string& key_id, const std::string& reason);

}  // namespace rulekeeper::site::client
