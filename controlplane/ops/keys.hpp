// `rulectl keys show|list|trust|revoke`: the signing keys of bundles
// (docs/keys.md). show reads a site's own public key; list the keys a site
// trusts; trust registers a key at a site for an environment (another site's
// key, read from it, or a PEM file); revoke stops trusting one.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "site/client/keys.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

struct KeyShowReport {
  site::client::SigningKeyInfo key;
  nlohmann::json to_json() const;
};
// Throws common::ExitError: 4 unreachable, 3 when the site has no key.
KeyShowReport keys_show(const config::Config& config, const std::string& site);

struct KeyListReport {
  std::string site;
  std::vector<site::client::TrustedKey> keys;
  nlohmann::json to_json() const;
};
KeyListReport keys_list(const config::Config& config, const std::string& site);

struct KeyTrustRequest {
  std::string site;             // where the key is trusted (its primary for e3)
  std::string from;             // a site whose own key to trust, for its environment; or:
  std::string environment;      // with public_key_file
  std::string public_key_file;  // PEM
  std::string reason;
};

struct KeyChangeReport {
  std::string site;
  std::string action;  // "trust" or "revoke"
  nlohmann::json result;
  nlohmann::json to_json() const;
};
// Throws common::ExitError: 2 for a request that names no key or two, 3 when
// the server refuses (a revoked key, no such key).
KeyChangeReport keys_trust(const config::Config& config, const KeyTrustRequest& request);
KeyChangeReport keys_revoke(const config::Config& config, const std::string& site, const std::string& key_id,
                            const std::string& reason);

}  // namespace rulekeeper::ops
