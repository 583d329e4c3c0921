// SHA-256 behind an interface: inside the server the extension supplies one
// built on PostgreSQL's pg_cryptohash; everywhere else (rulectl, tests) the
// OpenSSL one from openssl_sha256(). Both are checked against the same vectors.
#pragma once
#include "rulekeeper/no_postgres.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace rulekeeper {

using Digest = std::array<std::uint8_t, 32>;

class Sha256 {
public:
  virtual ~Sha256() = default;
  virtual Digest digest(std::string_view data) const = 0;
};

// Defined in core/sha256_openssl.cpp (library rulekeeper_core_openssl), which
// the extension does not link.
const Sha256& openssl_sha256();

// Lowercase hex of any bytes (digests, keys, signatures).
std::string hex_encode(std::string_view bytes);
// The bytes of even-length hex (either case); throws Error(invalid_input)
// naming `what` otherwise.
std::string hex_decode(std::string_view hex, const char* what);

std::string to_hex(const Digest& digest);  // 64 lowercase hex digits
// Throws Error(invalid_input) unless exactly 64 hex digits (either case).
Digest digest_from_hex(std::string_view hex);

}  // namespace rulekeeper
