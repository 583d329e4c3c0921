// Content checksums, entry digests, buckets and the AdHash set sum, exactly as
// docs/design/contract.md "Checksums" defines them (an on-the-wire format).
#pragma once
#include "rulekeeper/no_postgres.hpp"
#include "rulekeeper/sha256.hpp"

#include <string>
#include <string_view>

namespace rulekeeper {

inline constexpr const char* kChecksumAlgorithm = "adhash-sha256-v1";
inline constexpr int kBucketBits = 12;
inline constexpr int kBucketCount = 1 << kBucketBits;  // 4096

// Lowercase hex SHA-256 of the JCS form of a body given as JSON text.
// Throws like parse_json/canonicalize, and Error(invalid_input) when the body
// is not a JSON object.
std::string content_sha256(const Sha256& sha, std::string_view body_json);

// SHA-256 over rule_key || 0x00 || label || 0x00 || content_sha256_hex.
Digest entry_digest(const Sha256& sha, std::string_view rule_key, std::string_view label,
                    std::string_view content_sha256_hex);

// First 12 bits of SHA-256(rule_key): 0..4095.
int bucket_of(const Sha256& sha, std::string_view rule_key);

// A 256-bit unsigned integer, big-endian, arithmetic modulo 2^256: the AdHash
// of a set of entry digests (order-independent, add on insert, subtract on
// removal). Default-constructed it is zero, the sum of the empty set.
class SetSum {
public:
  SetSum() { bytes_.fill(0); }
  explicit SetSum(const Digest& d) : bytes_(d) {}
  static SetSum from_hex(std::string_view hex);  // throws like digest_from_hex

  SetSum& add(const Digest& d) noexcept;
  SetSum& subtract(const Digest& d) noexcept;
  SetSum& add(const SetSum& s) noexcept { return add(s.bytes_); }
  SetSum& subtract(const SetSum& s) noexcept { return subtract(s.bytes_); }

  bool is_zero() const;
  std::string hex() const;  // 64 lowercase hex digits
  const Digest& bytes() const { return bytes_; }
  bool operator==(const SetSum& o) const { return bytes_ == o.bytes_; }
  bool operator!=(const SetSum& o) const { return !(*this == o); }

private:
  Digest bytes_;
};

}  // namespace rulekeeper
