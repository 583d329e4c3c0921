#include "ops/keys.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "site/server_error.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {

namespace client = site::client;
using json = nlohmann::json;

json KeyShowReport::to_json() const {
  return {{"key_id", key.key_id}, {"public_key", key.public_key}, {"site", key.site}, {"environment", key.environment}};
}

json KeyListReport::to_json() const {
  json keys = json::array();
  for (const auto& k : this->keys)
    keys.push_back({{"key_id", k.key_id},
                    {"environment", k.environment},
                    {"reason", k.reason},
                    {"added_at", k.added_at},
                    {"added_by", k.added_by},
                    {"revoked_at", k.revoked_at ? json(*k.revoked_at) : json(nullptr)},
                    {"revoked_by", k.revoked_by ? json(*k.revoked_by) : json(nullptr)},
                    {"revoke_reason", k.revoke_reason ? json(*k.revoke_reason) : json(nullptr)}});
  return {{"site", site}, {"keys", keys}};
}

json KeyChangeReport::to_json() const { return {{"site", site}, {"action", action}, {"result", result}}; }

KeyShowReport keys_show(const config::Config& config, const std::string& site_name) {
  site::Site s = site::reader(config, site_name);
  try {
    return {client::signing_public_key(*s.conn)};
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("signing key of {}", s.name()), e);
  }
}

KeyListReport keys_list(const config::Config& config, const std::string& site_name) {
  site::Site s = site::reader(config, site_name);
  try {
    return {s.name(), client::trusted_keys(*s.conn)};
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("trusted keys of {}", s.name()), e);
  }
}

KeyChangeReport keys_trust(const config::Config& config, const KeyTrustRequest& r) {
  if (r.from.empty() == r.public_key_file.empty())
    throw common::ExitError(common::exit_usage, "give either --from SITE or --environment E --public-key-file FILE");
  if (!r.public_key_file.empty() && r.environment.empty())
    throw common::ExitError(common::exit_usage, "--public-key-file needs --environment (e1, e2 or e3)");
  std::string environment = r.environment;
  std::string pem;
  if (!r.from.empty()) {
    // The key the other site signs with, for the environment it is in.
    const KeyShowReport source = keys_show(config, r.from);
    environment = source.key.environment;
    pem = source.key.public_key;
  } else {
    pem = common::read_file(r.public_key_file);
  }
  site::Site s = site::writer(config, r.site, "trust a key");
  try {
    return {s.name(), "trust", client::trust_key(*s.conn, environment, pem, r.reason)};
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("trust_key refused at {}", s.name()), e);
  }
}

KeyChangeReport keys_revoke(const config::Config& config, const std::string& site_name, const std::string& key_id,
                            const std::string& reason) {
  site::Site s = site::writer(config, site_name, "revoke a key");
  try {
    return {s.name(), "revoke", client::revoke_key(*s.conn, key_id, reason)};
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("revoke_key refused at {}", s.name()), e);
  }
}

}  // namespace rulekeeper::ops
