// Bundle signatures: the signed message and key ids (no OpenSSL here;
// the Ed25519 calls are in ed25519_openssl.cpp).
#include "rulekeeper/signature.hpp"

#include "rulekeeper/error.hpp"

namespace rulekeeper {

std::string signing_message(std::string_view format, std::string_view bundle_sha256) {
  std::string m(kSignatureDomain);
  m.push_back('\0');
  m.append(format);
  m.push_back('\0');
  m.append(bundle_sha256);
  return m;
}

std::string key_id_of(const Sha256& sha, std::string_view raw_public_key) { return to_hex(sha.digest(raw_public_key)); }

}  // namespace rulekeeper
