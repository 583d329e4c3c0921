// Bundle signatures (docs/design/contract.md "Bundle signatures"): what is
// signed, the key id, and Ed25519 through OpenSSL's libcrypto. The OpenSSL
// calls own their objects with RAII and report failures as rulekeeper::Error,
// so the extension calls them inside pg::guarded() with no PostgreSQL call in
// between (CONTRIBUTING.md "The boundary between C++ and PostgreSQL").
#pragma once
#include "rulekeeper/no_postgres.hpp"
#include "rulekeeper/sha256.hpp"

#include <string>
#include <string_view>

namespace rulekeeper {

inline constexpr const char* kSignatureAlgorithm = "ed25519";
inline constexpr const char* kSignatureDomain = "rulekeeper-signature/1";

// The bytes a bundle's signature covers: "rulekeeper-signature/1" NUL
// <format> NUL <bundle_sha256 hex>. The checksum already covers the whole
// bundle but its "bundle_sha256" and "signature" members, so signing it signs
// the bundle without serializing it again.
std::string signing_message(std::string_view format, std::string_view bundle_sha256);

// Lowercase hex of SHA-256 of the raw 32-byte public key.
std::string key_id_of(const Sha256& sha, std::string_view raw_public_key);

// An Ed25519 private key from PEM (PKCS#8, as `openssl genpkey -algorithm
// ed25519` writes it). Throws Error(invalid_input) for anything else.
class SigningKey {
public:
  explicit SigningKey(std::string_view pem);
  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  std::string raw_public_key() const;                // 32 bytes
  std::string public_key_pem() const;                // SubjectPublicKeyInfo PEM
  std::string sign(std::string_view message) const;  // 64 bytes

  // A new key as PKCS#8 PEM (sandbox and tests).
  static std::string generate_pem();

private:
  void* key_;  // EVP_PKEY*; void so that no OpenSSL header leaks into users
};

// The raw 32 bytes of an Ed25519 public key given as PEM
// (SubjectPublicKeyInfo). Throws Error(invalid_input) for anything else.
std::string raw_public_key_from_pem(std::string_view pem);
// PEM of a raw 32-byte Ed25519 public key.
std::string public_key_pem_from_raw(std::string_view raw);

// True when `signature` (64 bytes) is a valid Ed25519 signature of `message`
// by `raw_public_key` (32 bytes); false for a wrong length or a bad signature.
bool verify_signature(std::string_view raw_public_key, std::string_view message, std::string_view signature);

}  // namespace rulekeeper
